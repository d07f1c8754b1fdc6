"""Which settings make ResNet-50 train faster: data feeding, batch, threads, oneDNN, XLA, precision.

In one process (default TensorFlow threading), alternating over ``--repeats`` rounds
with the order rotating each round, on our ResNet50 (64x64x3, 6 classes, Adam 1e-3).
Each configuration trains one epoch of ``--images`` images per round (default 1080,
a SIGNS training epoch) in one ``fit`` call, so it pays its per-epoch costs as in
real training (Keras starts a new data iterator every epoch):

- ``naive``: the course's recipe, ``model.fit(x, y, batch_size=32)`` on NumPy arrays;
- ``tf.data b32 autotuned``: a cached, shuffled ``tf.data`` epoch at batch 32 with
  ``prefetch(AUTOTUNE)`` and tf.data's autotuning on (its default);
- ``tf.data bN``: the same with autotuning off and a fixed prefetch depth, as
  :func:`resnet_keras.data.signs_dataset` builds it, at batch N (16 ... 256);
- ``XLA b32`` (``--xla``; default: with a GPU) and ``<policy> b32`` for each mixed
  precision policy in ``--policies`` (default: both, with a GPU), each its own model.

Each configuration's images/s is compared with ``naive`` in the same round.

Threading and oneDNN can only be set before TensorFlow starts, so ``--threads``
runs one child process per setting (intra-op/inter-op threads, and
``TF_ENABLE_ONEDNN_OPTS=0``), in turn, the default setting first and last to
bracket drift in the machine's load; those figures come from different processes
and are noisier than the in-process ones.

    python benchmarks/settings_sweep.py --out results/sweep.json            # in-process sweep
    python benchmarks/settings_sweep.py --threads --out results/threads.json  # threading, oneDNN
    python benchmarks/settings_sweep.py --quick                               # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing
import keras

from resnet_keras.models import ResNet50, cifar_resnet

THREAD_SETTINGS = [  # (label, intra-op threads, inter-op threads, extra environment)
    ("default", 0, 0, {}),
    ("intra1 inter1", 1, 1, {}),
    ("intra2 inter1", 2, 1, {}),
    ("intra4 inter2", 4, 2, {}),
    ("oneDNN off", 0, 0, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    ("default (again)", 0, 0, {}),
]


def build(quick: bool, classes: int, jit_compile: bool = False) -> keras.Model:
    """Our ResNet50 (or, with --quick, an 8-layer CIFAR ResNet stand-in), compiled."""
    if quick:
        model = cifar_resnet(8, _timing.QUICK_SHAPE, classes)
    else:
        model = ResNet50(_timing.FULL_SHAPE, classes)
    return _timing.compile_for_training(model, jit_compile=jit_compile)


def in_process_configs(args, x, y) -> dict:
    """Configuration label -> a function that trains one epoch and returns images/s."""
    model = build(args.quick, args.classes)
    n = min(args.images, len(x))
    x, y = x[:n], y[:n]

    def numpy_fit(batch: int):
        def run():
            return n / _timing.timed(lambda: model.fit(x, y, batch_size=batch, verbose=0))

        return run

    def dataset_fit(target: keras.Model, batch: int, autotune: bool = False):
        dataset = _timing.epoch_dataset(x, y, batch, autotune=autotune)
        return lambda: n / _timing.timed(lambda: target.fit(dataset, verbose=0, shuffle=False))

    configs = {"naive": numpy_fit(32), "tf.data b32 autotuned": dataset_fit(model, 32, True)}
    for batch in args.batch_sizes:
        configs[f"tf.data b{batch}"] = dataset_fit(model, batch)
    if args.xla:
        configs["XLA b32"] = dataset_fit(build(args.quick, args.classes, jit_compile=True), 32)
    for policy in args.policies:
        keras.mixed_precision.set_global_policy(policy)
        configs[f"{policy} b32"] = dataset_fit(build(args.quick, args.classes), 32)
        keras.mixed_precision.set_global_policy("float32")
    return configs


def sweep(args) -> dict:
    shape = _timing.QUICK_SHAPE if args.quick else _timing.FULL_SHAPE
    x, y, data_note = _timing.signs_or_synthetic(shape, args.classes)
    configs = in_process_configs(args, x, y)
    for run in configs.values():  # warm-up: trace each batch shape and model once
        run()
    speeds = {label: [] for label in configs}
    labels = list(configs)
    for round_ in range(args.repeats):
        shift = round_ % len(labels)
        for label in labels[shift:] + labels[:shift]:
            speeds[label].append(configs[label]())
    results = {}
    for label, values in speeds.items():
        ratios = [v / n for v, n in zip(values, speeds["naive"], strict=True)]
        results[label] = {
            "images_per_second": _timing.summary(values),
            "ratio_vs_naive": _timing.summary(ratios),
        }
    return {
        "benchmark": "settings_sweep",
        "environment": _timing.environment(),
        "settings": {
            "input_shape": list(shape),
            "model": "cifar_resnet8 stand-in (quick)" if args.quick else "ResNet50",
            "images_per_round": min(args.images, len(x)),
            "repeats": args.repeats,
            "data": data_note,
        },
        "configs": results,
    }


def worker(args) -> dict:
    """One child process: our model at batch 32 on tf.data, threads as given."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    shape = _timing.QUICK_SHAPE if args.quick else _timing.FULL_SHAPE
    x, y, _ = _timing.signs_or_synthetic(shape, args.classes)
    model = build(args.quick, args.classes)
    dataset = _timing.repeating_dataset(x, y, 32)
    steps = max(1, args.images // 32)
    _timing.fit_dataset_seconds(model, dataset, 2)
    values = [
        steps * 32 / _timing.fit_dataset_seconds(model, dataset, steps) for _ in range(args.repeats)
    ]
    return {
        "images_per_second": _timing.summary(values),
        "matmul_gflops": _timing.matmul_gflops(256 if args.quick else 2048),
        "load_average_1min": _timing.environment()["load_average_1min"],
    }


def thread_sweep(args) -> dict:
    """Each thread/oneDNN setting in its own child process, in turn."""
    results = {}
    settings = THREAD_SETTINGS[:2] if args.quick else THREAD_SETTINGS
    for label, intra, inter, extra in settings:
        command = [sys.executable, __file__, "--worker", f"--intra={intra}", f"--inter={inter}"]
        command += [f"--images={args.images}", f"--repeats={args.repeats}"]
        command += ["--quick"] if args.quick else []
        env = {**os.environ, **extra}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        results[label] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {label}: {results[label]['images_per_second']['median']:.1f} img/s", flush=True)
    return {
        "benchmark": "settings_sweep --threads",
        "environment": _timing.environment(),
        "settings": {
            "model": "cifar_resnet8 stand-in (quick)" if args.quick else "ResNet50",
            "batch_size": 32,
            "images_per_round": args.images,
            "repeats": args.repeats,
        },
        "configs": results,
    }


def report(result: dict) -> None:
    settings = result["settings"]
    print(
        f"{_timing.header(result)}; {settings['model']}, "
        f"{settings['repeats']} rounds of {settings['images_per_round']} images"
    )
    rows = []
    for label, config in result["configs"].items():
        ips = config["images_per_second"]
        ratio = config.get("ratio_vs_naive", {}).get("median", "")
        rows.append([label, ips["median"], ips["min"], ips["max"], ratio])
    _timing.print_table(["config", "img/s", "min", "max", "vs naive"], rows)


def main(argv=None) -> dict | None:
    parser = _timing.argument_parser(__doc__, "smoke run: tiny model, 1 round")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument(
        "--images", type=int, default=1080, help="images per configuration and round (one epoch)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="rounds")
    parser.add_argument("--threads", action="store_true", help="sweep threads and oneDNN instead")
    parser.add_argument(
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also jit_compile=True (default: only with a GPU)",
    )
    parser.add_argument(
        "--policies",
        nargs="*",
        choices=["mixed_float16", "mixed_bfloat16"],
        help="mixed precision policies to add (default: both with a GPU, none without)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--intra", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--inter", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.images, args.repeats = [8, 16], 16, 1
    if args.worker:
        print(json.dumps(worker(args)))
        return None
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    args.xla = gpu if args.xla is None else args.xla
    if args.policies is None:
        args.policies = ["mixed_float16", "mixed_bfloat16"] if gpu else []
    result = thread_sweep(args) if args.threads else sweep(args)
    report(result)
    _timing.write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
