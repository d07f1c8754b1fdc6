"""Small SIGNS files in the course's layout, written for tests (synthetic pixels)."""

from pathlib import Path

import h5py
import numpy as np

KEYS = {
    "train_signs.h5": ("train_set_x", "train_set_y"),
    "test_signs.h5": ("test_set_x", "test_set_y"),
}


def write_h5(path: Path, **datasets) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        for key, value in datasets.items():
            h5[key] = value
    return path


def synthetic_arrays(per_class: int, classes: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Images whose every pixel holds the image's index, labels 0..classes-1 in turn."""
    m = per_class * classes
    x = np.broadcast_to(np.arange(m, dtype=np.uint8)[:, None, None, None], (m, 64, 64, 3))
    return x.copy(), np.tile(np.arange(classes, dtype=np.int64), per_class)


def write_signs(folder: Path, per_class: int = 2, **overrides) -> Path:
    """Both SIGNS files with `per_class` images a class; `overrides` replace train datasets."""
    for name, (x_key, y_key) in KEYS.items():
        x, y = synthetic_arrays(per_class)
        datasets = {x_key: x, y_key: y, "list_classes": np.arange(6, dtype=np.int64)}
        if name == "train_signs.h5":
            datasets.update(overrides)
        write_h5(folder / name, **{k: v for k, v in datasets.items() if v is not None})
    return folder
