# make demo: set up .venv with what the demo needs (pinned by constraints.txt) and run the demo pipeline.
# make test: set up .venv with everything the tests need (pinned by constraints.txt), run ruff and pytest.
# make lock: regenerate constraints.txt from pyproject.toml with uv (after changing a dependency).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := constraints.txt
UV_VERSION := 0.13.8
# uv installs from the lock; every run of it sees only PyPI and the pins, never a newer release.
UV_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python --constraints $(LOCK)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test setup lint docs lock clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# CPU torch first, with pip: pip takes the CPU build of torch 2.13.0 (on these machines a local
# file); uv would pull a multi-GB CUDA build. uv itself comes in the same step.
$(VENV)/.base: $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0" "uv==$(UV_VERSION)"
	touch $@

# The demo's extras only: no Ray, no test tools.
$(VENV)/.demo: pyproject.toml $(LOCK) $(VENV)/.base
	$(UV_INSTALL) -e ".[demo]"
	touch $@

$(VENV)/.installed: pyproject.toml $(LOCK) $(VENV)/.base
	$(UV_INSTALL) -e ".[all,dev]"
	touch $@

setup: $(VENV)/.installed

demo: $(VENV)/.demo
	$(BIN)/curate run pipelines/demo.yaml

lint: setup
	$(BIN)/ruff check curate tests benchmarks

docs: setup
	$(BIN)/python -m curate.docs

test: setup lint
	$(BIN)/python -m pytest -q

# torch resolves with the CPU wheel's requirements ([tool.uv.dependency-metadata] in pyproject.toml).
lock: $(VENV)/.base
	printf 'torch==2.13.0\n' > $(VENV)/torch-pin.txt
	$(BIN)/uv pip compile pyproject.toml --extra all --extra dev --universal --python-version 3.11 \
		--constraints $(VENV)/torch-pin.txt --quiet --output-file $(LOCK)

clean:
	rm -rf runs .pytest_cache .ruff_cache
