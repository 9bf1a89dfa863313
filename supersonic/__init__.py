"""SuperSonic: reinforcement-learning architecture search for compiler optimisation.

`supersonic.load_policy(PATH)` loads a search's exported winner (e.g. `RUN_DIR/best`) with
numpy only; see `supersonic.actors.exported`. It is imported on first use, so that
`import supersonic` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supersonic.actors.exported import ExportedPolicy, load_policy

__all__ = ["ExportedPolicy", "load_policy"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from supersonic.actors import exported

        return getattr(exported, name)
    raise AttributeError(f"module 'supersonic' has no attribute {name!r}")
