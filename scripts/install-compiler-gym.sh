#!/usr/bin/env bash
# Install CompilerGym 0.2.5 into the given venv python, the way ../shared/STACK.md measured it:
# its metadata pins (Python <= 3.10, gym <= 0.21, grpcio < 1.44, protobuf < 4.21) are stale, so it
# is installed without dependencies and its real run-time needs are installed with versions that
# work on Python 3.11. Idempotent: does nothing when compiler_gym 0.2.5 already imports.
set -euo pipefail
PY=${1:?usage: install-compiler-gym.sh PATH/TO/venv/bin/python}
if "$PY" - <<'PYEOF' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if m.version("compiler_gym") == "0.2.5" and m.version("gym") == "0.21.0" else 1)
PYEOF
then
  echo "compiler_gym 0.2.5 already installed"
  exit 0
fi
# gym 0.21's setup.py only builds with old setuptools/wheel, outside build isolation, and its
# metadata ("opencv-python (>=3.)") is rejected by pip >= 24.1, so an older pip installs it.
"$PY" -m pip install -q "pip<24.1" "setuptools<66" "wheel<0.40"
"$PY" -m pip install -q --no-build-isolation "gym==0.21.0"
"$PY" -m pip install -q "numpy>=1.26.4,<2" "pydantic<2" "protobuf<4.21" "networkx<3.4" \
  grpcio absl-py deprecated docker fasteners humanize requests tabulate
"$PY" -m pip install -q --no-deps "compiler-gym==0.2.5"
# Restore a modern setuptools for everything else (torch needs >= 77.0.3).
"$PY" -m pip install -q "setuptools>=77.0.3" "wheel"
echo "compiler_gym 0.2.5 installed"
