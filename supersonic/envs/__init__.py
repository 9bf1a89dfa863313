"""Environments that compile and measure, and the task registry.

Importing this package registers the gymnasium environments
(`gymnasium.make("supersonic/llvm-codesize-v0", benchmark=...)`, `supersonic/tvm-schedule-v0`)
and the tasks: `llvm-codesize`, `tvm-schedule` (TVM schedules of neural-network operators),
`halide-schedule` (Halide schedules of image pipelines, `supersonic/halide-schedule-v0`),
`superopt` (superoptimization of loop-free x86-64 functions, `supersonic/superopt-v0`),
and `cartpole` (gymnasium's CartPole-v1: a control problem every algorithm must learn, which
checks the learners and the runtime without a compiler in the loop).
"""

from __future__ import annotations

import gymnasium

from supersonic.envs.task import Task, get_task, register_task, task_names

__all__ = [
    "HALIDE_SCHEDULE_ID",
    "LLVM_CODESIZE_ID",
    "SUPEROPT_ID",
    "TASKS",
    "TVM_SCHEDULE_ID",
    "Task",
    "get_task",
    "task_names",
]

LLVM_CODESIZE_ID = "supersonic/llvm-codesize-v0"
TVM_SCHEDULE_ID = "supersonic/tvm-schedule-v0"
HALIDE_SCHEDULE_ID = "supersonic/halide-schedule-v0"
SUPEROPT_ID = "supersonic/superopt-v0"


def _llvm_codesize() -> Task:
    from supersonic.envs.llvm.task import llvm_codesize_task

    return llvm_codesize_task()


def _cartpole() -> Task:
    from supersonic.envs.gym_task import cartpole_task

    return cartpole_task()


def _tvm_schedule() -> Task:
    from supersonic.envs.tvm.task import tvm_schedule_task

    return tvm_schedule_task()


def _superopt() -> Task:
    from supersonic.envs.superopt.task import superopt_task

    return superopt_task()


register_task("llvm-codesize", _llvm_codesize)
register_task("cartpole", _cartpole)
register_task("tvm-schedule", _tvm_schedule)


def _halide_schedule() -> Task:
    from supersonic.envs.halide.task import halide_schedule_task

    return halide_schedule_task()


register_task("halide-schedule", _halide_schedule)
register_task("superopt", _superopt)
TASKS = task_names()

if LLVM_CODESIZE_ID not in gymnasium.registry:
    gymnasium.register(
        id=LLVM_CODESIZE_ID,
        entry_point="supersonic.envs.llvm.env:LlvmCodeSizeEnv",
        disable_env_checker=False,
    )
if TVM_SCHEDULE_ID not in gymnasium.registry:
    gymnasium.register(id=TVM_SCHEDULE_ID, entry_point="supersonic.envs.tvm.env:TvmScheduleEnv")
if HALIDE_SCHEDULE_ID not in gymnasium.registry:
    gymnasium.register(
        id=HALIDE_SCHEDULE_ID, entry_point="supersonic.envs.halide.env:HalideScheduleEnv"
    )
if SUPEROPT_ID not in gymnasium.registry:
    gymnasium.register(id=SUPEROPT_ID, entry_point="supersonic.envs.superopt.env:SuperoptEnv")
