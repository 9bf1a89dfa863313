"""Where SuperSonic keeps files it derives and can always rebuild (caches, tool packs).

One place decides this so every part agrees, and `SUPERSONIC_CACHE` moves it all (tests point
it at a temporary directory; CI and users keep the default under the XDG cache home).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of SuperSonic's rebuildable caches (created on first use)."""
    forced = os.environ.get("SUPERSONIC_CACHE")
    if forced:
        root = Path(forced)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "supersonic"
    root.mkdir(parents=True, exist_ok=True)
    return root
