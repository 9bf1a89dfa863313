"""Environments that compile and measure, and the task registry.

Importing this package registers the gymnasium environments:
`gymnasium.make("supersonic/llvm-codesize-v0", benchmark=...)`.
"""

from __future__ import annotations

import gymnasium

from supersonic.envs.task import Task, get_task, register_task, task_names

__all__ = ["LLVM_CODESIZE_ID", "TASKS", "Task", "get_task"]

LLVM_CODESIZE_ID = "supersonic/llvm-codesize-v0"


def _llvm_codesize() -> Task:
    from supersonic.envs.llvm.task import llvm_codesize_task

    return llvm_codesize_task()


register_task("llvm-codesize", _llvm_codesize)
TASKS = task_names()

if LLVM_CODESIZE_ID not in gymnasium.registry:
    gymnasium.register(
        id=LLVM_CODESIZE_ID,
        entry_point="supersonic.envs.llvm.env:LlvmCodeSizeEnv",
        disable_env_checker=False,
    )
