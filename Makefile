# SuperSonic: `make demo` and `make test` work on a fresh Debian machine with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup system-deps toolpack demo test lint bench clean

setup: system-deps $(STAMP) toolpack

system-deps:
	@bash scripts/install-system-deps.sh

# torch first, from the local CPU wheel (pyproject pins the same version, so nothing else is pulled).
$(STAMP): pyproject.toml scripts/install-compiler-gym.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	bash scripts/install-compiler-gym.sh $(PY)
	@touch $(STAMP)

toolpack: $(STAMP)
	@$(PY) -c "from supersonic.envs.llvm.toolpack import configure; configure()"

# The embedded default search (supervisor, 3 learners, 2 actors; a few minutes on 2 cores).
demo: setup
	$(VENV)/bin/supersonic launch

lint: setup
	$(VENV)/bin/ruff check supersonic tests bench
	$(VENV)/bin/mypy

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/llvm_env.py
	$(PY) bench/transport.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
