"""`supersonic doctor`: check this machine for everything the tasks need, and say how to fix it.

Each check is a small function returning a `Check`; a failed required check makes the command
exit non-zero. The fix commands match what the Makefile's set-up step runs, so `make setup`
fixes everything at once.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supersonic.envs.llvm import toolpack

SYSTEM_FIX = "apt-get install -y clang-14 llvm-14 libtinfo5 csmith libcsmith-dev g++"
VENV_FIX = "make setup   (or: .venv/bin/pip install -e '.[dev]')"
COMPILER_GYM_FIX = (
    "bash scripts/install-compiler-gym.sh .venv/bin/python   "
    "(CompilerGym's stale pins break pip's resolver, so it is not in pyproject.toml)"
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    ok = sys.version_info[:2] == (3, 11)
    return Check("python", ok, sys.version.split()[0], "use Python 3.11")


def check_llvm_tools() -> Check:
    missing = [t for t in toolpack.TOOLS if shutil.which(f"{t}-{toolpack.LLVM_VERSION}") is None]
    if missing:
        return Check(
            "llvm-14 tools", False, "missing: " + ", ".join(f"{t}-14" for t in missing), SYSTEM_FIX
        )
    out = subprocess.run(
        [str(toolpack.llvm_tool("clang")), "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return Check("llvm-14 tools", True, out[0] if out else "clang-14")


def check_libtinfo5() -> Check:
    try:
        ctypes.CDLL("libtinfo.so.5")
    except OSError:
        return Check("libtinfo5", False, "libtinfo.so.5 not found", SYSTEM_FIX)
    return Check("libtinfo5", True, "libtinfo.so.5 (CompilerGym's service links it)")


def check_csmith() -> Check:
    ok = shutil.which("csmith") is not None and Path("/usr/include/csmith/csmith.h").exists()
    return Check(
        "csmith",
        ok,
        "csmith and its headers" if ok else "csmith or its headers missing",
        SYSTEM_FIX,
    )


def check_compiler_gym() -> Check:
    version = _version("compiler_gym")
    if version != "0.2.5":
        return Check(
            "compiler_gym", False, f"found {version or 'nothing'}, need 0.2.5", COMPILER_GYM_FIX
        )
    return Check("compiler_gym", True, "0.2.5")


def check_toolpack() -> Check:
    """The tool pack is a rebuildable cache of links: create it when it is missing."""
    if toolpack.is_ready():
        return Check("compilergym tool pack", True, str(toolpack.site_data_dir() / "llvm-v0"))
    try:
        path = toolpack.ensure_toolpack()
    except toolpack.ToolpackError as exc:
        return Check("compilergym tool pack", False, str(exc), SYSTEM_FIX)
    return Check("compilergym tool pack", True, f"created {path}")


def check_host_compiler() -> Check:
    """CompilerGym's LLVM env runs the system `c++` to find system headers when it starts."""
    ok = shutil.which("c++") is not None
    return Check(
        "c++ (host compiler)", ok, "found" if ok else "no c++ on PATH", "apt-get install -y g++"
    )


def check_llvm_env() -> Check:
    """The real thing: start the service and load a built-in program."""
    try:
        from supersonic.envs.llvm.env import LlvmCodeSizeEnv

        env = LlvmCodeSizeEnv()
        try:
            _, info = env.reset()
        finally:
            env.close()
    except Exception as exc:  # any failure here is what the doctor must report
        return Check(
            "llvm code-size env",
            False,
            f"{type(exc).__name__}: {exc}"[:200],
            "fix the checks above, then run supersonic doctor again",
        )
    return Check(
        "llvm code-size env",
        True,
        f"loaded {info['benchmark']} ({info['ir_instruction_count']} instructions)",
    )


def _package(
    name: str, dist: str, wanted: str, module: str, fix: str = VENV_FIX, required: bool = True
) -> Callable[[], Check]:
    def check() -> Check:
        version = _version(dist)
        if version is None:
            return Check(name, False, "not installed", fix, required)
        try:
            importlib.import_module(module)
        except Exception as exc:
            return Check(name, False, f"{version} does not import: {exc}"[:200], fix, required)
        ok = version.startswith(wanted)
        return Check(name, ok, version if ok else f"{version}, need {wanted}", fix, required)

    check.__name__ = f"check_{name}"
    return check


def check_halide_plugins() -> Check:
    try:
        import halide
    except Exception as exc:
        return Check("halide autoschedulers", False, str(exc)[:200], VENV_FIX)
    lib = Path(halide.__file__).parent / "lib64"
    names = ("adams2019", "anderson2021", "li2018", "mullapudi2016")
    missing = [n for n in names if not (lib / f"libautoschedule_{n}.so").exists()]
    if missing:
        return Check("halide autoschedulers", False, "missing: " + ", ".join(missing), VENV_FIX)
    return Check("halide autoschedulers", True, ", ".join(names))


def check_torch_device() -> Check:
    try:
        import torch
    except Exception as exc:
        return Check("torch device", False, str(exc)[:200], VENV_FIX)
    cuda = torch.cuda.is_available()
    return Check(
        "torch device", True, "cuda available" if cuda else "cpu only (fine)", required=False
    )


CHECKS: tuple[Callable[[], Check], ...] = (
    check_python,
    check_llvm_tools,
    check_libtinfo5,
    check_csmith,
    check_compiler_gym,
    check_toolpack,
    check_host_compiler,
    check_llvm_env,
    _package("torch", "torch", "2.13.0", "torch"),
    check_torch_device,
    _package("numpy", "numpy", "1.", "numpy"),
    _package("tvm", "apache-tvm", "0.27", "tvm"),
    _package(
        "tvm-ffi",
        "apache-tvm-ffi",
        "0.1.14",
        "tvm_ffi",
        fix=".venv/bin/pip install apache-tvm-ffi==0.1.14.post1  (0.1.15 segfaults "
        "in tvm.ir.save_json)",
    ),
    _package("halide", "halide", "21.", "halide"),
    check_halide_plugins,
    _package("unicorn", "unicorn", "2.1", "unicorn"),  # superopt: emulator
    _package("keystone", "keystone-engine", "0.9", "keystone"),  # superopt: assembler
    _package("z3", "z3-solver", "5.4", "z3"),  # superopt: equivalence proofs
    _package("gymnasium", "gymnasium", "1.", "gymnasium"),
    _package("pyzmq", "pyzmq", "27.", "zmq"),
    _package("msgpack", "msgpack", "1.", "msgpack"),
    _package("structlog", "structlog", "26.", "structlog"),
    _package("click", "click", "8.", "click"),
    _package("matplotlib", "matplotlib", "3.", "matplotlib"),  # `supersonic report`
)


def run_checks() -> list[Check]:
    """Run every check, in order."""
    return [_run_check(check) for check in CHECKS]


def _run_check(check: Callable[[], Check]) -> Check:
    """A check that crashes is reported as failed, so the doctor itself never crashes."""
    try:
        return check()
    except Exception as exc:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        return Check(
            name,
            False,
            f"the check failed: {type(exc).__name__}: {exc}"[:200],
            "see the error above",
        )
