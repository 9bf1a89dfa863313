"""The LLVM code-size task: CompilerGym's llvm-v0 service behind a gymnasium env."""

from __future__ import annotations

from supersonic.envs.llvm.env import LlvmCodeSizeEnv, ProgramBaselines

__all__ = ["LlvmCodeSizeEnv", "ProgramBaselines"]
