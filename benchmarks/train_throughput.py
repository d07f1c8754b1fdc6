"""Training images/s: our ResNet50 against keras.applications.ResNet50, in one process.

Both networks get the same input size (64x64x3), classes (6), batch size, optimizer
(Adam 1e-3, categorical cross-entropy, accuracy) and data (SIGNS training images if
found locally, else random images), fed by ``model.fit`` from a cached, repeating,
prefetched ``tf.data`` pipeline. After a warm-up (which traces the training step),
the two alternate over ``--repeats`` rounds of ``--steps`` steps each, the order
flipping every round so that drift in a shared machine's load hits both alike.
Each round also times a float32 matrix product (the machine's practical limit).

Reported: images/s (median, min, max, spread) of each, the per-round ratio
ours / keras.applications, FLOPs per training image counted from the layers
(see ``flops.py``), the achieved GFLOP/s, and that as a fraction of the matrix
product's GFLOP/s measured in the same round.

    python benchmarks/train_throughput.py                      # 5 rounds of 10 steps, batch 32
    python benchmarks/train_throughput.py --out results/throughput.json
    python benchmarks/train_throughput.py --quick              # smoke run: tiny stand-in models
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing
import keras
from flops import count_flops

from resnet_keras.models import ResNet50, cifar_resnet


def build_models(shape, classes: int, quick: bool) -> dict[str, tuple[str, keras.Model]]:
    """The two contenders, compiled alike: role -> (name, model).

    With ``quick``, 8-layer CIFAR ResNets stand in for both (a smoke run of the code,
    whose numbers mean nothing): a ResNet-50 alone takes minutes to trace on a busy CPU.
    """
    if quick:
        ours = ("cifar_resnet8 (quick stand-in)", cifar_resnet(8, shape, classes))
        reference = ("cifar_plain8 (quick stand-in)", cifar_resnet(8, shape, classes, False))
    else:
        ours = ("resnet_keras.models.ResNet50", ResNet50(shape, classes))
        reference = (
            "keras.applications.ResNet50",
            keras.applications.ResNet50(weights=None, input_shape=shape, classes=classes),
        )
    return {
        role: (name, _timing.compile_for_training(model))
        for role, (name, model) in {"ours": ours, "reference": reference}.items()
    }


def measure(args) -> dict:
    shape = _timing.QUICK_SHAPE if args.quick else _timing.FULL_SHAPE
    x, y, data_note = _timing.signs_or_synthetic(shape, args.classes)
    named = build_models(shape, args.classes, args.quick)
    models = {role: model for role, (_, model) in named.items()}
    datasets = {name: _timing.repeating_dataset(x, y, args.batch_size) for name in models}
    flops = {name: count_flops(model)["training_flops"] for name, model in models.items()}
    for name, model in models.items():  # warm-up: trace and run a few steps
        _timing.fit_dataset_seconds(model, datasets[name], args.warmup_steps)

    images = args.steps * args.batch_size
    speed = {name: [] for name in models}
    matmul = []
    names = list(models)
    for round_ in range(args.repeats):
        matmul.append(_timing.matmul_gflops(args.matmul_size))
        for name in names if round_ % 2 == 0 else names[::-1]:
            seconds = _timing.fit_dataset_seconds(models[name], datasets[name], args.steps)
            speed[name].append(images / seconds)

    ratios = [a / b for a, b in zip(speed["ours"], speed["reference"], strict=True)]
    result = {
        "benchmark": "train_throughput",
        "environment": _timing.environment(),
        "settings": {
            "input_shape": list(shape),
            "classes": args.classes,
            "batch_size": args.batch_size,
            "steps_per_repeat": args.steps,
            "warmup_steps": args.warmup_steps,
            "repeats": args.repeats,
            "optimizer": "Adam(1e-3)",
            "data": data_note,
            "matmul_size": args.matmul_size,
        },
        "matmul_gflops": _timing.summary(matmul),
        "ratio_ours_over_reference": _timing.summary(ratios),
        "models": {},
    }
    for name in models:
        achieved = [s * flops[name] / 1e9 for s in speed[name]]
        result["models"][name] = {
            "name": named[name][0],
            "parameters": models[name].count_params(),
            "training_gflop_per_image": flops[name] / 1e9,
            "images_per_second": _timing.summary(speed[name]),
            "achieved_gflops": _timing.summary(achieved),
            "fraction_of_matmul": _timing.summary(
                [a / m for a, m in zip(achieved, matmul, strict=True)]
            ),
        }
    return result


def report(result: dict) -> None:
    settings = result["settings"]
    print(_timing.header(result))
    print(
        f"input {tuple(settings['input_shape'])}, batch {settings['batch_size']}, "
        f"{settings['repeats']} alternating rounds of {settings['steps_per_repeat']} steps; "
        f"{settings['data']}"
    )
    rows = []
    for model in result["models"].values():
        ips = model["images_per_second"]
        rows.append(
            [
                model["name"],
                model["training_gflop_per_image"],
                ips["median"],
                ips["min"],
                ips["max"],
                f"{100 * ips['spread']:.0f}%",
                model["achieved_gflops"]["median"],
                f"{100 * model['fraction_of_matmul']['median']:.0f}%",
            ]
        )
    _timing.print_table(
        ["model", "GFLOP/img", "img/s", "min", "max", "spread", "GFLOP/s", "of matmul"], rows
    )
    ratio, matmul = result["ratio_ours_over_reference"], result["matmul_gflops"]
    print(
        f"ratio ours/reference: median {ratio['median']:.3f} "
        f"(min {ratio['min']:.3f}, max {ratio['max']:.3f}, {ratio['repeats']} rounds)"
    )
    print(
        f"float32 {settings['matmul_size']}^2 matmul: median {matmul['median']:.1f} GFLOP/s "
        f"(min {matmul['min']:.1f}, max {matmul['max']:.1f})"
    )


def main(argv=None) -> dict:
    parser = _timing.argument_parser(__doc__, "smoke run: tiny stand-ins, 1 round, 2 steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--matmul-size", type=int, default=2048)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.repeats, args.steps, args.warmup_steps = 4, 1, 2, 1
        args.matmul_size = 256
    result = measure(args)
    report(result)
    _timing.write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
