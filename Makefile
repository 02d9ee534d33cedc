# skyrl-setup developer targets. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup install lint test test-fast bench lock clean

$(BIN)/skyrl-setup: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

setup: $(BIN)/skyrl-setup   ## the tool in .venv (uv comes with it, from PyPI)

install: setup              ## set up and run the main job: a verified SGLang environment
	$(BIN)/skyrl-setup install

# The suite's tests mostly wait on subprocesses (uv, the CLI, a local index): more workers than cores. loadgroup keeps
# a module's tests that share a module-scoped fixture on one worker, and the real-PyPI ones go first (tests/conftest.py,
# tests/support/scheduling.py).
WORKERS ?= 3
XDIST   ?= -n $(WORKERS) --dist loadgroup

lint: setup                 ## ruff and mypy, as configured in pyproject.toml
	$(BIN)/ruff check skyrl_setup tests benchmarks
	$(BIN)/mypy

test: lint                  ## everything, including the real-PyPI end-to-end install
	$(BIN)/python -m pytest -q $(XDIST)

test-fast: lint             ## everything but the real-PyPI install
	$(BIN)/python -m pytest -q $(XDIST) -m "not network"

bench: setup                ## benchmarks -> docs/benchmarks.md (real PyPI; several minutes)
	$(BIN)/python -m pip install -q matplotlib
	$(BIN)/python -m benchmarks.run

SKYRL_SOURCES ?= ../shared/skyrl-release-0.3.0 ../shared/skyrl-release-0.3.1

lock: setup                 ## the committed lockfiles: each release's (SkyRL's lock, both routes; or its published requirements) and the matrix's set
	for s in $(SKYRL_SOURCES); do $(BIN)/skyrl-setup lock --from-skyrl $$s || exit 1; done
	$(BIN)/skyrl-setup lock --skyrl skyrl==0.4.0 --backend vllm
	$(BIN)/skyrl-setup lock --backend sglang-matrix

clean:
	rm -rf $(VENV) .pytest_cache
