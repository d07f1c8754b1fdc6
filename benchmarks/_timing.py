"""Shared helpers for the training benchmarks: environment, statistics, data, timing.

Imported by ``train_throughput.py``, ``settings_sweep.py`` and ``profile_step.py``
(which put this folder on ``sys.path`` first); not part of the package.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras
import numpy as np
import tensorflow as tf

from resnet_keras.data import PREFETCH_BATCHES, pipeline_options

QUICK_SHAPE = (40, 40, 3)  # --quick: small images (the course's ResNet50 needs >= 37)
FULL_SHAPE = (64, 64, 3)


def environment() -> dict:
    """The machine, library versions and the UTC date, to go with every figure."""
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "cpu": _cpu_name(),
        "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")],
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summary(values: list[float]) -> dict:
    """Median, min, max and spread ((max - min) / median) of repeated measurements."""
    middle = statistics.median(values)
    return {
        "median": middle,
        "min": min(values),
        "max": max(values),
        "spread": (max(values) - min(values)) / middle if middle else float("nan"),
        "repeats": len(values),
        "values": values,
    }


def synthetic_data(n: int, shape, classes: int, seed: int = 0):
    """``n`` random float32 images in [0, 1] and one-hot float32 labels (NumPy)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
    return x, y


def signs_or_synthetic(shape, classes: int, n: int = 1080):
    """SIGNS training images scaled to [0, 1] if found locally and ``shape`` fits, else random."""
    if tuple(shape) == FULL_SHAPE and classes == 6:
        try:
            from resnet_keras.data import SignsDataError, load_signs

            data = load_signs(download=False)
            x = data.x_train.astype(np.float32) / 255.0
            order = np.argsort(data.classes)
            index = order[np.searchsorted(data.classes, data.y_train, sorter=order)]
            y = np.eye(classes, dtype=np.float32)[index]
            return x, y, f"SIGNS training images ({len(x)}) from {data.train_path.parent}"
        except (SignsDataError, ImportError) as err:
            reason = str(err).splitlines()[0]
            x, y = synthetic_data(n, shape, classes)
            return x, y, f"random images (SIGNS not found: {reason})"
    x, y = synthetic_data(n, shape, classes)
    return x, y, f"random images of shape {tuple(shape)}"


def repeating_dataset(x, y, batch_size: int) -> tf.data.Dataset:
    """Cached, shuffled, repeated full batches from in-memory arrays, autotuning off.

    One iterator serves every ``fit`` call; autotuning is off (as in the package's
    pipelines) so that ending a ``fit`` call never waits for tf.data's autotuner.
    """
    dataset = _shuffled(x, y).repeat().batch(batch_size, drop_remainder=True)
    return dataset.prefetch(PREFETCH_BATCHES).with_options(pipeline_options())


def epoch_dataset(x, y, batch_size: int, autotune: bool = False) -> tf.data.Dataset:
    """One shuffled epoch of ``x, y`` in batches (the last may be smaller), prefetched.

    ``autotune=False`` is the package's pipeline (fixed prefetch depth, tf.data's
    autotuning off); ``autotune=True`` is the common ``prefetch(AUTOTUNE)`` recipe.
    """
    dataset = _shuffled(x, y).batch(batch_size)
    if autotune:
        return dataset.prefetch(tf.data.AUTOTUNE)
    return dataset.prefetch(PREFETCH_BATCHES).with_options(pipeline_options())


def _shuffled(x, y) -> tf.data.Dataset:
    """In-memory examples, cached, reshuffled (seed 0) on every pass."""
    return tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x), seed=0)


def compile_for_training(model: keras.Model, jit_compile: bool | str = False) -> keras.Model:
    """The course's optimizer and loss: Adam(1e-3), categorical cross-entropy, accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def timed(run: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def fit_dataset_seconds(model: keras.Model, dataset: tf.data.Dataset, steps: int) -> float:
    """Seconds for ``steps`` training steps through ``model.fit`` on a repeating dataset."""
    return timed(lambda: model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0))


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an ``n x n`` float32 matrix product (best of ``reps``), the practical limit."""
    a = tf.random.uniform((n, n), dtype=tf.float32, seed=1)
    b = tf.random.uniform((n, n), dtype=tf.float32, seed=2)
    tf.linalg.matmul(a, b).numpy()  # warm-up
    best = min(timed(lambda: tf.linalg.matmul(a, b).numpy()) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def write_json(path: str | None, result: dict) -> None:
    """Write ``result`` to ``path`` (if given), creating its folder."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2) + "\n")


def argument_parser(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """A parser described by the script's docstring, with --classes, --quick and --out."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", help="write the results as JSON here")
    return parser


def header(result: dict) -> str:
    """One line: when, where, how busy, which libraries."""
    env = result["environment"]
    return (
        f"{env['date_utc']} UTC, {env['machine']} ({env['cpu']}), "
        f"load {env['load_average_1min']}, TF {env['tensorflow']}, Keras {env['keras']}"
    )


def print_table(headers: list[str], rows: list[list]) -> None:
    """A compact, aligned text table."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
