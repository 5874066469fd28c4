# convzoo: the two set-up commands are `make run` and `make test`.
# Both create .venv when it is missing. The torch pin takes the wheels that lie on
# the project's CPU machines' disk; elsewhere pip downloads the same release.
# Override it on another platform, e.g. `make test TORCH="torch torchvision"`.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin
ARCH ?= convnet2
EPOCHS ?= 6
FASHION := /usr/share/datasets/fashion-mnist

.PHONY: run test lint typecheck format fuzz fuzz-cli install dev clean data

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

# The main job: train the default architecture on Fashion-MNIST on the CPU.
run: $(VENV)/.installed data
	$(BIN)/convzoo train $(ARCH) --data fashion_mnist --epochs $(EPOCHS) --accelerator cpu

# Fashion-MNIST from Debian's package where we can install it; otherwise convzoo
# falls back to torchvision's download.
data:
	@if [ ! -d $(FASHION) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) \
		|| echo "dataset-fashion-mnist not installed; convzoo will try torchvision's download"; \
	fi

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

# ruff, then mypy over convzoo/ (its settings are pyproject.toml's [tool.mypy]).
lint: $(VENV)/.dev
	$(BIN)/ruff check convzoo tests benchmarks
	$(BIN)/ruff format --check convzoo tests benchmarks
	$(BIN)/mypy

typecheck: $(VENV)/.dev
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff format convzoo tests benchmarks

# The long profile of tests/test_fuzz.py: 5,000 generated specs (EXAMPLES=N for more).
EXAMPLES ?= 5000
fuzz: $(VENV)/.dev
	$(BIN)/python benchmarks/fuzz_specs.py --examples $(EXAMPLES)

# The command line's fuzz run: SPECS mutated zoo specs, each through `convzoo show` and a
# one-batch `convzoo train`; a traceback, a hang or a refusal that leaves files is a bug.
SPECS ?= 260
fuzz-cli: $(VENV)/.installed
	$(BIN)/python benchmarks/fuzz_cli.py --specs $(SPECS) --out benchmarks/results/fuzz_cli

clean:
	rm -rf $(VENV) build dist *.egg-info
