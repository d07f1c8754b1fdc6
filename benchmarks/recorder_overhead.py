"""Overhead of GradientNormRecorder on the course ResNet-50 (64x64x3, batch 32).

Two copies of the same network (same initial weights, same random batches)
train in one process, in alternating rounds of ``--steps`` steps each, so that
load from other processes hits both alike: one with no callback, one with
``GradientNormRecorder(every=N)``. The overhead is the ratio of their wall-clock
time per round, median over rounds, minus one.

    python benchmarks/recorder_overhead.py --every 10 --steps 20 --rounds 4
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from resnet_keras.gradients import GradientNormRecorder
from resnet_keras.models import ResNet50


def compiled_resnet50(weights=None) -> keras.Model:
    model = ResNet50((64, 64, 3), 6)
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def timed_fit(model: keras.Model, x, y, batch_size: int, callbacks) -> float:
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, callbacks=callbacks, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=10, help="record every N steps")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds per model")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    count = args.steps * args.batch_size
    x = rng.random((count, 64, 64, 3), dtype="float32")
    y = rng.integers(0, 6, count)
    plain = compiled_resnet50()
    recorded = compiled_resnet50(plain.get_weights())
    recorder = GradientNormRecorder(every=args.every)

    # Warm-up: trace both train functions.
    timed_fit(plain, x, y, args.batch_size, [])
    timed_fit(recorded, x, y, args.batch_size, [recorder])
    ratios, without, with_ = [], [], []
    for _ in range(args.rounds):
        a = timed_fit(plain, x, y, args.batch_size, [])
        b = timed_fit(recorded, x, y, args.batch_size, [recorder])
        without.append(a / args.steps)
        with_.append(b / args.steps)
        ratios.append(b / a)
        print(
            f"round: {a / args.steps:.3f} s/step without, {b / args.steps:.3f} with, "
            f"ratio {b / a:.3f}",
            flush=True,
        )
    recorded_steps = sorted(set(recorder.table["step"]))
    print(
        f"ResNet-50 64x64x3, batch {args.batch_size}, every={args.every}, "
        f"{args.rounds} rounds of {args.steps} steps, {os.cpu_count()} CPUs\n"
        f"median step time: {statistics.median(without):.3f} s without the recorder, "
        f"{statistics.median(with_):.3f} s with it\n"
        f"overhead (median of per-round ratios - 1): {100 * (statistics.median(ratios) - 1):+.1f}%"
        f"  (per-round: {', '.join(f'{100 * (r - 1):+.1f}%' for r in ratios)})\n"
        f"steps recorded: {len(recorded_steps)} ({recorded_steps[:4]} ...), "
        f"{len(recorder.table)} rows"
    )


if __name__ == "__main__":
    main()
