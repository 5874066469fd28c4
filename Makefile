# convzoo: the two set-up commands are `make run` and `make test`.
# Both create .venv when it is missing. The torch pin takes the wheels that lie on
# the project's CPU machines' disk; elsewhere pip downloads the same release.
# Override it on another platform, e.g. `make test TORCH="torch torchvision"`.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin
ARCH ?= lenet5

.PHONY: run test lint install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=77"

$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev

run: $(VENV)/.installed
	$(BIN)/convzoo show $(ARCH)

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check convzoo tests benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info
