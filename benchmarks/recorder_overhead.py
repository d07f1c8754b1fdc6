"""Overhead of GradientNormRecorder on the course ResNet-50 (64x64x3, batch 32).

Two copies of the same network (same initial weights, same random batches)
train in one process, in alternating rounds of ``--steps`` steps each (order
swapped every round: A B, B A, ...), so that load from other processes hits both
alike: one with no callback, one with ``GradientNormRecorder(every=N)``. The
overhead is the ratio of their time per round, median over rounds, minus one,
both in wall-clock seconds and in this process's CPU seconds (which other
processes on a shared machine disturb less).

    python benchmarks/recorder_overhead.py --every 10 --steps 10 --rounds 6
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


def timed_fit(model: keras.Model, x, y, batch_size: int, callbacks) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one epoch of ``model.fit``."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, callbacks=callbacks, verbose=0)
    return time.perf_counter() - wall, time.process_time() - cpu


def summary(name: str, without: list[float], with_: list[float], steps: int) -> str:
    ratios = [b / a for a, b in zip(without, with_, strict=True)]
    return (
        f"{name}: median {statistics.median(without) / steps:.3f} s/step without the recorder, "
        f"{statistics.median(with_) / steps:.3f} with it; overhead (median of per-round "
        f"ratios - 1) {100 * (statistics.median(ratios) - 1):+.1f}% "
        f"(rounds: {', '.join(f'{100 * (r - 1):+.1f}%' for r in ratios)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=10, help="record every N steps")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds per model")
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
    times = {False: [], True: []}  # recorder attached? -> [(wall, cpu)] per round
    for round_index in range(args.rounds):
        order = (False, True) if round_index % 2 == 0 else (True, False)
        for recording in order:
            model, callbacks = (recorded, [recorder]) if recording else (plain, [])
            times[recording].append(timed_fit(model, x, y, args.batch_size, callbacks))
        (a_wall, a_cpu), (b_wall, b_cpu) = times[False][-1], times[True][-1]
        print(
            f"round {round_index + 1}: wall ratio {b_wall / a_wall:.3f}, "
            f"CPU ratio {b_cpu / a_cpu:.3f}",
            flush=True,
        )
    recorded_steps = sorted(set(recorder.table["step"]))
    print(
        f"ResNet-50 64x64x3, batch {args.batch_size}, every={args.every}, "
        f"{args.rounds} rounds of {args.steps} steps each, {os.cpu_count()} CPUs"
    )
    for index, name in enumerate(("wall clock", "process CPU time")):
        without = [t[index] for t in times[False]]
        with_ = [t[index] for t in times[True]]
        print(summary(name, without, with_, args.steps))
    print(f"steps recorded: {len(recorded_steps)} ({recorded_steps[:4]} ...)")


if __name__ == "__main__":
    main()
