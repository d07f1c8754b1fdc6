"""Is the SIGNS tf.data pipeline fast enough? Pipeline images/s against ResNet-50's appetite.

Measures, in one process:
- images/s that ``signs_dataset("train")`` delivers, with and without
  augmentation, after one warm-up epoch (which fills the cache and traces the
  map functions);
- images/s that ResNet-50 consumes in training steps (``train_on_batch``) at the
  same batch size: ``resnet_keras.models.ResNet50`` when it exists, otherwise
  ``keras.applications.ResNet50(weights=None)`` at 64x64x3 (said in the output).

The ratio pipeline/model, using the slower (augmented) pipeline, should be at
least 10. Reads SIGNS through load_signs's search order (set SIGNS_DIR, or pass
--data-dir) and never downloads; without the files it times random images of
the same shape and says so.

    python benchmarks/data_pipeline.py             # the full measurement
    python benchmarks/data_pipeline.py --quick     # a few seconds' smoke run, no model
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras
import numpy as np
import tensorflow as tf

from resnet_keras.data import SignsData, SignsDataError, load_signs, signs_dataset


def signs_or_random(data_dir: str | None) -> tuple[SignsData, str]:
    """The real SIGNS files if they can be found locally, else random images of their shape."""
    try:
        data = load_signs(data_dir, download=False)
        return data, f"SIGNS from {data.train_path.parent}"
    except SignsDataError:
        rng = np.random.default_rng(0)
        data = SignsData(
            x_train=rng.integers(0, 256, (1080, 64, 64, 3), dtype=np.uint8),
            y_train=np.repeat(np.arange(6), 180),
            x_test=rng.integers(0, 256, (120, 64, 64, 3), dtype=np.uint8),
            y_test=np.repeat(np.arange(6), 20),
            classes=np.arange(6),
            train_path=Path("random"),
            test_path=Path("random"),
        )
        return data, "random images of SIGNS's shape (no SIGNS files found; set SIGNS_DIR)"


def pipeline_images_per_s(data: SignsData, batch_size: int, augment: bool, epochs: int) -> float:
    dataset = signs_dataset("train", batch_size, augment=augment, seed=0, data=data)
    for _ in dataset:  # warm-up epoch: fills the cache, traces the map functions
        pass
    images = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for x, _ in dataset:
            images += int(x.shape[0])
    return images / (time.perf_counter() - start)


def resnet50() -> tuple[keras.Model, str]:
    try:
        from resnet_keras.models import ResNet50
    except ImportError:
        model = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6)
        return model, "keras.applications.ResNet50(weights=None) (resnet_keras.models missing)"
    return ResNet50(input_shape=(64, 64, 3), classes=6), "resnet_keras.models.ResNet50"


def model_images_per_s(data: SignsData, batch_size: int, steps: int) -> tuple[float, str]:
    model, which = resnet50()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y = next(iter(signs_dataset("train", batch_size, seed=0, data=data)))
    for _ in range(2):  # warm-up: builds the optimizer and traces the step
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start), which


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed epoch, no model")
    parser.add_argument("--epochs", type=int, default=5, help="timed pipeline epochs")
    parser.add_argument("--steps", type=int, default=10, help="timed ResNet-50 steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data-dir", help="folder with the SIGNS files (else the search order)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    epochs = 1 if args.quick else args.epochs

    data, source = signs_or_random(args.data_dir)
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "data": source,
        "batch_size": args.batch_size,
        "pipeline_images_per_s": pipeline_images_per_s(data, args.batch_size, False, epochs),
        "augmented_images_per_s": pipeline_images_per_s(data, args.batch_size, True, epochs),
    }
    print(f"data: {source}")
    print(f"pipeline, no augmentation: {results['pipeline_images_per_s']:,.0f} images/s")
    print(f"pipeline, augmentation:    {results['augmented_images_per_s']:,.0f} images/s")
    if not args.quick:
        consumed, which = model_images_per_s(data, args.batch_size, args.steps)
        ratio = results["augmented_images_per_s"] / consumed
        results.update(model=which, model_images_per_s=consumed, ratio=ratio)
        print(f"{which} training: {consumed:,.1f} images/s")
        print(f"ratio, augmented pipeline / model: {ratio:,.0f}x (needs >= 10)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
