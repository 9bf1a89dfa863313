"""CompilerGym's LLVM "tool pack", provided offline from Debian's LLVM 14 packages.

CompilerGym 0.2.5 downloads an LLVM 10 tool pack on first use, which cannot work without
internet. Its service only needs a directory holding a `.unpacked` marker, a `LICENSE` and
`bin/` with the LLVM command-line tools (it runs that `clang` to measure object .text size), so
we build that directory from links to Debian's `*-14` tools. The directory lives under
SuperSonic's cache and CompilerGym is pointed at it through `COMPILER_GYM_SITE_DATA`, which must
be set before CompilerGym resolves any path: `configure()` does both and is idempotent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from supersonic.paths import cache_dir

LLVM_VERSION = 14
TOOLS = (
    "clang",
    "opt",
    "llc",
    "lli",
    "llvm-as",
    "llvm-dis",
    "llvm-link",
    "llvm-size",
    "llvm-stress",
    "llvm-diff",
)
FIX_COMMAND = "apt-get install -y clang-14 llvm-14"


class ToolpackError(RuntimeError):
    """An LLVM tool the tool pack needs is not installed on this machine."""


def llvm_tool(name: str) -> Path:
    """Absolute path of Debian's versioned LLVM tool `name` (e.g. `opt` -> /usr/bin/opt-14)."""
    found = shutil.which(f"{name}-{LLVM_VERSION}")
    if found is None:
        raise ToolpackError(f"{name}-{LLVM_VERSION} is not installed; run: {FIX_COMMAND}")
    return Path(found)


def site_data_dir() -> Path:
    """The directory CompilerGym uses as its site data (`COMPILER_GYM_SITE_DATA`)."""
    forced = os.environ.get("COMPILER_GYM_SITE_DATA")
    return Path(forced) if forced else cache_dir() / "compiler_gym"


def ensure_toolpack() -> Path:
    """Create (or repair) the offline tool pack; returns its `llvm-v0` directory."""
    root = site_data_dir() / "llvm-v0"
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        target = llvm_tool(tool)
        link = bin_dir / tool
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)
    license_file = root / "LICENSE"
    if not license_file.exists():
        license_file.write_text(
            "The tools in bin/ are links to Debian's LLVM 14 packages "
            "(Apache-2.0 WITH LLVM-exception).\n"
        )
    (root / ".unpacked").touch()
    return root


def configure() -> Path:
    """Point CompilerGym at the offline tool pack and make sure the pack is complete."""
    os.environ["COMPILER_GYM_SITE_DATA"] = str(site_data_dir())
    return ensure_toolpack()


def is_ready() -> bool:
    """Whether the tool pack exists and every link in it resolves (no side effects)."""
    root = site_data_dir() / "llvm-v0"
    return (root / ".unpacked").is_file() and all((root / "bin" / tool).exists() for tool in TOOLS)


TOOL_TIMEOUT_S = 120.0


def first_error_line(stderr: str) -> str:
    """The line of a tool's diagnostics that says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "no diagnostic"


def run_tool(
    argv: list[str],
    data: bytes | None,
    name: str,
    error: type[Exception],
    timeout_s: float = TOOL_TIMEOUT_S,
) -> bytes:
    """Run a compiler tool on `data`; its stdout, or `error("NAME: first error line")`."""
    try:
        proc = subprocess.run(argv, input=data, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise error(f"{name}: {Path(argv[0]).name} took over {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise error(f"{name}: {first_error_line(proc.stderr.decode(errors='replace'))}")
    return proc.stdout
