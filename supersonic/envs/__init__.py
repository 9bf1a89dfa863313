"""Environments that compile and measure, and the task registry.

Importing this package registers the gymnasium environments:
`gymnasium.make("supersonic/llvm-codesize-v0", benchmark=...)`.
"""

from __future__ import annotations

import gymnasium

LLVM_CODESIZE_ID = "supersonic/llvm-codesize-v0"
# The tasks SuperSonic can run (the full Task registry with state and reward functions grows here).
TASKS = ("llvm-codesize",)

if LLVM_CODESIZE_ID not in gymnasium.registry:
    gymnasium.register(
        id=LLVM_CODESIZE_ID,
        entry_point="supersonic.envs.llvm.env:LlvmCodeSizeEnv",
        disable_env_checker=False,
    )
