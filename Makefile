# Two commands: `make train` (the main job) and `make test` (the suite).
# Each installs what it needs into the current Python first.
PYTHON ?= python3
RUN_DIR ?= runs/resnet50-signs

.PHONY: install train test lint format

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev]"

train: install
	$(PYTHON) -m resnet_keras.cli summary

test: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .
