"""SuperSonic: reinforcement-learning architecture search for compiler optimisation.

`supersonic.load_policy(PATH)` loads a search's exported winner (e.g. `RUN_DIR/best`) with
numpy only; see `supersonic.actors.exported`. It is imported on first use, so that
`import supersonic` stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# gRPC (CompilerGym's client; Ray) runs fork handlers around every fork() of a process that
# uses it: its thread pool is stopped before the fork and restarted after. Our processes start
# children with fork() + a `preexec_fn` (lifeline.py: they die with their parent), and gRPC
# 1.85's handler can hang there for good (seen once in the test suite: stuck in
# WorkStealingThreadPoolImpl::PrepareFork while starting an LLVM service; grpc/grpc#37259,
# #40741). The handlers only matter to a child that uses gRPC without exec'ing, and every
# child of ours execs, so they are turned off, before anything imports gRPC.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

if TYPE_CHECKING:
    from supersonic.actors.exported import ExportedPolicy, load_policy

__all__ = ["ExportedPolicy", "load_policy"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from supersonic.actors import exported

        return getattr(exported, name)
    raise AttributeError(f"module 'supersonic' has no attribute {name!r}")
