"""Overhead of GradientNormRecorder on the course ResNet-50 (64x64x3, batch 32).

Two copies of the same network (same initial weights, same random batches)
train in one process, in alternating rounds of ``--steps`` steps each (order
swapped every round: A B, B A, ...), so that load from other processes hits both
alike: one with no callback, one with ``GradientNormRecorder(every=N)``. The
overhead is the ratio of their time per round, median over rounds, minus one,
both in wall-clock seconds and in this process's CPU seconds (which other
processes on a shared machine disturb less). The batches come from a ``tf.data``
pipeline with autotuning off, as in the package (see
:func:`resnet_keras.data.pipeline_options`), so no round waits for tf.data's autotuner.

    python benchmarks/recorder_overhead.py --every 10 --steps 10 --rounds 6
    python benchmarks/recorder_overhead.py --quick    # smoke run: 8-layer CIFAR ResNet, tiny
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing
import keras
import numpy as np
import tensorflow as tf

from resnet_keras.data import PREFETCH_BATCHES, pipeline_options
from resnet_keras.gradients import GradientNormRecorder
from resnet_keras.models import ResNet50, cifar_resnet

SHAPE, QUICK_SHAPE = (64, 64, 3), (32, 32, 3)


def compiled_resnet50(weights=None, quick: bool = False) -> keras.Model:
    """The course ResNet-50 (with ``quick``, an 8-layer CIFAR ResNet), compiled."""
    model = cifar_resnet(8, QUICK_SHAPE, 6) if quick else ResNet50(SHAPE, 6)
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def timed_fit(model: keras.Model, data: tf.data.Dataset, callbacks) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one epoch of ``model.fit``."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(data, epochs=1, shuffle=False, callbacks=callbacks, verbose=0)
    return time.perf_counter() - wall, time.process_time() - cpu


def summary(name: str, without: list[float], with_: list[float], steps: int) -> str:
    ratios = [b / a for a, b in zip(without, with_, strict=True)]
    return (
        f"{name}: median {statistics.median(without) / steps:.3f} s/step without the recorder, "
        f"{statistics.median(with_) / steps:.3f} with it; overhead (median of per-round "
        f"ratios - 1) {100 * (statistics.median(ratios) - 1):+.1f}% "
        f"(rounds: {', '.join(f'{100 * (r - 1):+.1f}%' for r in ratios)})"
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=10, help="record every N steps")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds per model")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny model, 1 round")
    parser.add_argument("--out", type=Path, help="write the measurements as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.every, args.steps, args.rounds, args.batch_size = 1, 2, 1, 4

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    count = args.steps * args.batch_size
    x = rng.random((count, *(QUICK_SHAPE if args.quick else SHAPE)), dtype="float32")
    y = rng.integers(0, 6, count)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size)
    data = data.prefetch(PREFETCH_BATCHES).with_options(pipeline_options())
    plain = compiled_resnet50(quick=args.quick)
    recorded = compiled_resnet50(plain.get_weights(), quick=args.quick)
    recorder = GradientNormRecorder(every=args.every)

    # Warm-up: trace both train functions.
    timed_fit(plain, data, [])
    timed_fit(recorded, data, [recorder])
    times = {False: [], True: []}  # recorder attached? -> [(wall, cpu)] per round
    for round_index in range(args.rounds):
        order = (False, True) if round_index % 2 == 0 else (True, False)
        for recording in order:
            model, callbacks = (recorded, [recorder]) if recording else (plain, [])
            times[recording].append(timed_fit(model, data, callbacks))
        (a_wall, a_cpu), (b_wall, b_cpu) = times[False][-1], times[True][-1]
        print(
            f"round {round_index + 1}: wall ratio {b_wall / a_wall:.3f}, "
            f"CPU ratio {b_cpu / a_cpu:.3f}",
            flush=True,
        )
    recorded_steps = sorted({int(step) for step in recorder.table["step"]})
    model_name = "8-layer CIFAR ResNet" if args.quick else "ResNet-50 64x64x3"
    print(
        f"{model_name}, batch {args.batch_size}, every={args.every}, "
        f"{args.rounds} rounds of {args.steps} steps each, {os.cpu_count()} CPUs"
    )
    result = {"every": args.every, "steps_per_round": args.steps, "recorded_steps": recorded_steps}
    for index, name in enumerate(("wall clock", "process CPU time")):
        without = [t[index] for t in times[False]]
        with_ = [t[index] for t in times[True]]
        print(summary(name, without, with_, args.steps))
        result[name] = {"without_s": without, "with_s": with_}
    print(f"steps recorded: {len(recorded_steps)} ({recorded_steps[:4]} ...)")
    _timing.write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
