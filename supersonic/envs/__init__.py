"""Environments that compile and measure, and the task registry.

Importing this package registers the gymnasium environments
(`gymnasium.make("supersonic/llvm-codesize-v0", benchmark=...)`) and the tasks: `llvm-codesize`,
and `cartpole` (gymnasium's CartPole-v1: a control problem every algorithm must learn, which
checks the learners and the runtime without a compiler in the loop).
"""

from __future__ import annotations

import gymnasium

from supersonic.envs.task import Task, get_task, register_task, task_names

__all__ = ["LLVM_CODESIZE_ID", "TASKS", "Task", "get_task", "task_names"]

LLVM_CODESIZE_ID = "supersonic/llvm-codesize-v0"


def _llvm_codesize() -> Task:
    from supersonic.envs.llvm.task import llvm_codesize_task

    return llvm_codesize_task()


def _cartpole() -> Task:
    from supersonic.envs.gym_task import cartpole_task

    return cartpole_task()


register_task("llvm-codesize", _llvm_codesize)
register_task("cartpole", _cartpole)
TASKS = task_names()

if LLVM_CODESIZE_ID not in gymnasium.registry:
    gymnasium.register(
        id=LLVM_CODESIZE_ID,
        entry_point="supersonic.envs.llvm.env:LlvmCodeSizeEnv",
        disable_env_checker=False,
    )
