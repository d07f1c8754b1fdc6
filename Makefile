# Two commands: `make train` (the main job) and `make test` (the suite).
# Each installs what it needs into the current Python first.
PYTHON ?= python3
RUN_DIR ?= runs/resnet50-signs

.PHONY: install train test lint format

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev]"

# The default recipe (BENCHMARKS.md, "Training recipe"): ResNet50 on SIGNS, 10 epochs.
# Run it again after an interruption and it resumes from the last finished epoch.
train: install
	$(PYTHON) -m resnet_keras.cli train --run-dir $(RUN_DIR)

test: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .
