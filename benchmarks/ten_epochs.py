"""Wall time of 10 SIGNS epochs of the course ResNet-50 under any Keras 3 backend.

The GPU row of BENCHMARKS.md (course anchor: under 2 minutes; target: under 15 s).
It needs only keras, numpy and h5py, not TensorFlow, so it also runs on a GPU
machine that has JAX or PyTorch but no TensorFlow:

    KERAS_BACKEND=jax python benchmarks/ten_epochs.py --data-dir DIR --out gpu.json
    python benchmarks/ten_epochs.py --quick --data-dir DIR    # smoke run: 2 epochs, 48 images

It trains ``resnet_keras.models.ResNet50`` with the default recipe's settings
(BatchNorm momentum 0.9, Adam 1e-3 decayed to 0 by a cosine, batch 32) on all 1080
training images, fed as NumPy arrays, then reads the test set once with
``model.evaluate``. There is no validation split: nothing is chosen here, and the
figure is the time. The first epoch includes compiling the training step.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import h5py
import keras
import numpy as np

from resnet_keras.models import ResNet50  # keras only: no TensorFlow needed


def read_signs(folder: Path) -> tuple[np.ndarray, ...]:
    """x_train, y_train, x_test, y_test from the course's two HDF5 files in ``folder``."""
    arrays = []
    for name, split in (("train_signs.h5", "train"), ("test_signs.h5", "test")):
        path = folder / name
        if not path.is_file():
            raise SystemExit(
                f"{path} not found: pass --data-dir (or set SIGNS_DIR) to the folder "
                "holding train_signs.h5 and test_signs.h5"
            )
        with h5py.File(path, "r") as h5:
            arrays += [h5[f"{split}_set_x"][:], h5[f"{split}_set_y"][:].astype(int).ravel()]
    x_train, y_train, x_test, y_test = arrays
    return x_train.astype("float32") / 255.0, y_train, x_test.astype("float32") / 255.0, y_test


class EpochTimes(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def devices() -> list[str]:
    """The accelerators the backend sees (empty on CPU-only machines)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        count = torch.cuda.device_count()
        return [torch.cuda.get_device_name(i) for i in range(count)]
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    return []


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("SIGNS_DIR"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--jit-compile", choices=["auto", "true", "false"], default="auto")
    parser.add_argument(
        "--policy", default="float32", choices=["float32", "mixed_float16", "mixed_bfloat16"]
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs, 48 images")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error("pass --data-dir or set SIGNS_DIR to the SIGNS folder")

    x_train, y_train, x_test, y_test = read_signs(Path(args.data_dir))
    if args.quick:
        args.epochs, args.batch_size = 2, 8
        x_train, y_train, x_test, y_test = x_train[:48], y_train[:48], x_test[:24], y_test[:24]
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(args.policy)
    model = ResNet50(x_train.shape[1:], 6, bn_momentum=0.9)
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps, alpha=0.0)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit,
    )
    timer = EpochTimes()
    start = time.perf_counter()
    model.fit(x_train, y_train, args.batch_size, args.epochs, verbose=2, callbacks=[timer])
    wall = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=args.batch_size, verbose=0)
    result = {
        "benchmark": "ten_epochs",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "backend": keras.backend.backend(),
        "devices": devices(),
        "keras": keras.__version__,
        "policy": args.policy,
        "jit_compile": args.jit_compile,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "training_images": len(x_train),
        "fit_wall_seconds": wall,
        "epoch_seconds": timer.seconds,
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
    }
    later = float(np.median(timer.seconds[1:] or timer.seconds))
    print(
        f"{result['backend']} on {result['devices'] or 'CPU'}: {args.epochs} epochs in "
        f"{wall:.1f} s (first {timer.seconds[0]:.1f} s, then median {later:.1f} s); "
        f"test accuracy {test_accuracy:.3f}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
