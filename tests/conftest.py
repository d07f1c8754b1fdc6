"""Shared test setup: TensorFlow backend by default, quiet logs, the real SIGNS folder."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SIGNS = REPO_ROOT.parent / "shared" / "data" / "signs"


@pytest.fixture(scope="session")
def real_signs_dir() -> Path:
    """The real SIGNS files: $SIGNS_DIR, else ../shared/data/signs; skip if neither has them."""
    candidate = Path(os.environ.get("SIGNS_DIR") or SHARED_SIGNS)
    if not (candidate / "train_signs.h5").is_file():
        pytest.skip(f"real SIGNS files not found in {candidate} (set SIGNS_DIR)")
    return candidate
