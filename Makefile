# make demo: set up .venv and run the demo pipeline end to end.
# make test: set up .venv with everything the tests need, run ruff and pytest.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test setup lint docs clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# CPU torch first: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[all,dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/curate run pipelines/demo.yaml

lint: setup
	$(BIN)/ruff check curate tests benchmarks

docs: setup
	$(BIN)/python -m curate.docs

test: setup lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf runs .pytest_cache .ruff_cache
