# FastAPI for GenAI Backends — the two commands: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test venv lint release release-check bench clean

# The environment is rebuilt only when the pinned requirements or the project change.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + ")")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## make lab: JupyterLab on lessons/, with the provider simulator running and the SDKs pointed at it
lab: $(STAMP)
	$(BIN)/python -m grader.lab

## make test: the course's own test suite (CI=true demands the real Redis at 127.0.0.1:6379)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

release: $(STAMP)
	$(BIN)/grader release

release-check: $(STAMP)
	$(BIN)/grader release --check

bench: $(STAMP)
	$(BIN)/python bench/llmsim_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .grader
