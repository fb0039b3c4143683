# FastAPI for GenAI Backends — the two commands: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test venv lint release release-check bench mutation reliability clean

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

## make reliability: the production projects under Redis faults, provider faults, hostile input
## and load, ending with a table of what was tried and what held (one process, so the table is whole)
reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -n 0 $(PYTEST_ARGS)

## make mutation: how many mutants of each solution the grader kills (a benchmark, not in CI)
MUTATION_VENV := .venv-mutation
$(MUTATION_VENV)/.installed: bench/requirements-mutation.txt
	test -x $(MUTATION_VENV)/bin/python || $(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-mutation.txt
	touch $@

mutation: $(STAMP) $(MUTATION_VENV)/.installed
	nice -n 10 $(BIN)/python bench/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) .venv-mutation .pytest_cache .ruff_cache .grader
