"""The ``resnet-keras`` command.

Each sub-command is a function ``add_<name>(subparsers)`` that defines its
arguments and sets ``func`` to the function that runs it. Failures the user can
fix (bad arguments, missing files) end with a one-line error and exit code 1.
"""

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Errors that mean "the input was wrong", reported as one line instead of a traceback.
USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    PermissionError,
    FloatingPointError,  # training diverged (training.TrainingDivergedError)
)

MODEL_NAMES = ("ResNet50", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


def build_model(name: str, input_shape: Sequence[int], classes: int, **options):
    """Build a network by its command-line name: ``ResNet50``, ``resnetD`` or ``cifar_resnetD``."""
    from resnet_keras.training import build_model as build

    return build(name, input_shape, classes, **options)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _input_shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHT,WIDTH,CHANNELS such as 64,64,3; got {text!r}"
        ) from None


def add_summary(subparsers) -> None:
    parser = subparsers.add_parser(
        "summary", help="print a network's layer table and parameter counts"
    )
    parser.add_argument("--model", default="ResNet50", help="network name (default: ResNet50)")
    parser.add_argument("--input-shape", type=_input_shape, default=(64, 64, 3))
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--plain", action="store_true", help="the plain twin (no shortcuts)")
    parser.add_argument("--no-batch-norm", action="store_true", help="drop BatchNormalization")
    parser.set_defaults(func=run_summary)


def run_summary(args: argparse.Namespace) -> None:
    model = build_model(
        args.model,
        args.input_shape,
        args.classes,
        shortcuts=not args.plain,
        batch_norm=not args.no_batch_norm,
    )
    model.summary(line_length=110)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    total = model.count_params()
    print(
        f"{model.name}: {total:,} parameters ({trainable:,} trainable, "
        f"{total - trainable:,} non-trainable)"
    )


def add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a network on SIGNS and write a run folder",
        description="Train on SIGNS with the default recipe (or your changes to it) and write "
        "RUN_DIR: model.keras, best.keras, history.csv, metrics.json, curves.png, "
        "confusion_matrix.png. Running the same command again after an interruption "
        "resumes from the last finished epoch.",
    )
    parser.add_argument("--model", default="ResNet50", help="network name (default: ResNet50)")
    parser.add_argument("--run-dir", default="runs/resnet50-signs", help="the run folder")
    parser.add_argument("--data-dir", default=None, help="folder holding the SIGNS .h5 files")
    # Recipe options default to None: "as the default recipe" (training.DEFAULT_RECIPE).
    parser.add_argument("--epochs", type=_positive_int, help="(default recipe: 10)")
    parser.add_argument(
        "--batch-size", type=_positive_int, help="global batch size (default recipe: 32)"
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="Adam's peak learning rate at batch size 32, scaled linearly with --batch-size "
        "(default recipe: 1e-3)",
    )
    parser.add_argument(
        "--schedule", choices=("cosine", "constant"), help="(default recipe: cosine, to 0)"
    )
    parser.add_argument(
        "--bn-momentum",
        type=float,
        help="BatchNormalization momentum (default recipe: 0.9; the course's: 0.99)",
    )
    parser.add_argument("--label-smoothing", type=float, help="(default recipe: 0)")
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="random label-keeping changes to training images (default recipe: off)",
    )
    parser.add_argument(
        "--validation-split",
        type=float,
        help="fraction of the training file held out, stratified and seeded, for the "
        "best-model checkpoint; 0 for none (default recipe: 0.1)",
    )
    parser.add_argument(
        "--course-recipe",
        action="store_true",
        help="start from the course's recipe instead: Adam 1e-3 constant, BN momentum 0.99, "
        "no validation split",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed everything; deterministic")
    parser.add_argument(
        "--strategy",
        choices=("default", "mirrored", "multiworker"),
        default="default",
        help="tf.distribute: one device, MirroredStrategy (GPUs, or --cpu-devices), "
        "or MultiWorkerMirroredStrategy (workers from TF_CONFIG)",
    )
    parser.add_argument(
        "--cpu-devices",
        type=_positive_int,
        default=None,
        help="split the CPU into N logical devices (for --strategy mirrored without GPUs)",
    )
    parser.add_argument("--tensorboard", action="store_true", help="write RUN_DIR/logs")
    parser.add_argument("--subset", type=_positive_int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> None:
    from resnet_keras import training

    if args.cpu_devices:
        training.split_cpu(args.cpu_devices)
    base = training.COURSE_RECIPE if args.course_recipe else training.DEFAULT_RECIPE
    changes = {
        name: getattr(args, name)
        for name in (
            "epochs",
            "batch_size",
            "learning_rate",
            "schedule",
            "bn_momentum",
            "label_smoothing",
            "augment",
            "validation_split",
        )
        if getattr(args, name) is not None
    }
    if changes.get("validation_split") == 0:
        changes["validation_split"] = None
    recipe = dataclasses.replace(base, **changes)
    result = training.train(
        args.run_dir,
        model_name=args.model,
        recipe=recipe,
        seed=args.seed,
        data_dir=args.data_dir,
        strategy=args.strategy,
        tensorboard=args.tensorboard,
        subset=args.subset,
        verbose=args.verbose,
    )
    metrics = result.metrics
    print(
        f"test accuracy {metrics['test_accuracy']:.4f}, test loss {metrics['test_loss']:.4f} "
        f"(model.evaluate, inference mode) after {metrics['epochs']} epochs; "
        f"run folder: {result.run_dir}"
    )


def add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="test loss and accuracy of a saved model on SIGNS (inference mode)",
        description="Load MODEL (a .keras file, in Keras safe mode) and evaluate it on the "
        "SIGNS test set with model.evaluate.",
    )
    parser.add_argument("model", metavar="MODEL", help="a .keras file, e.g. RUN_DIR/model.keras")
    parser.add_argument("--data-dir", default=None, help="folder holding the SIGNS .h5 files")
    parser.add_argument("--batch-size", type=_positive_int, default=32)
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> None:
    from resnet_keras import training

    result = training.evaluate(args.model, data_dir=args.data_dir, batch_size=args.batch_size)
    print(
        f"test accuracy {result['test_accuracy']:.4f}, test loss {result['test_loss']:.4f} "
        f"on {result['test_images']} images"
    )


def add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="classify image files with a saved model",
        description="Read each IMAGE (any size; BMP, GIF, JPEG, PNG, WebP, or what Pillow "
        "reads if installed), convert to RGB, resize to the model's input, and print the "
        "predicted class and every class's probability.",
    )
    parser.add_argument("model", metavar="MODEL", help="a .keras file, e.g. RUN_DIR/model.keras")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    parser.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> None:
    from resnet_keras import training

    for row in training.predict(args.model, args.images):
        probabilities = " ".join(f"{index}:{p:.3f}" for index, p in enumerate(row["probabilities"]))
        best = row["probabilities"][row["class"]]
        print(f"{row['image']}: class {row['class']} (p={best:.3f}); probabilities {probabilities}")


def add_release(subparsers) -> None:
    parser = subparsers.add_parser(
        "release",
        help="write the student version of a solution notebook",
        description="Copy each NOTEBOOK into DIR with every ### BEGIN SOLUTION ... "
        "### END SOLUTION region replaced by a placeholder that raises NotImplementedError, "
        "hidden tests removed, and outputs cleared (nbgrader not needed).",
    )
    parser.add_argument("notebooks", metavar="NOTEBOOK", nargs="+", help="solution .ipynb files")
    parser.add_argument("-o", "--out-dir", required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run_release)


def run_release(args: argparse.Namespace) -> None:
    from resnet_keras.notebooks import release_notebook

    for notebook in args.notebooks:
        print(f"wrote {release_notebook(notebook, args.out_dir)}")


def add_grade(subparsers) -> None:
    parser = subparsers.add_parser(
        "grade",
        help="grade a student's .py or .ipynb with the notebook's checks",
        description="Run the submission's identity_block, convolutional_block and ResNet50 "
        "through the grading checks in a separate process, with a time limit per exercise, "
        "and write a JSON report (points and message per exercise).",
    )
    parser.add_argument("submission", metavar="NOTEBOOK_OR_PY", help="a .py or .ipynb file")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per exercise (default: 120)"
    )
    parser.add_argument(
        "-o", "--output", help="report path (default: SUBMISSION with suffix .grade.json)"
    )
    parser.add_argument(
        "--run-all",
        action="store_true",
        help="run every top-level statement, not only imports, definitions and assignments",
    )
    parser.set_defaults(func=run_grade)


def run_grade(args: argparse.Namespace) -> None:
    from pathlib import Path

    from resnet_keras.grader import grade, write_report

    report = grade(args.submission, timeout=args.timeout, run_all=args.run_all)
    output = write_report(report, args.output or Path(args.submission).with_suffix(".grade.json"))
    for name, result in report["exercises"].items():
        print(f"{name:<20} {result['points']:5.2f}/{result['max_points']:g}  {result['message']}")
    print(f"total {report['points']:.2f}/{report['max_points']:g}; report written to {output}")


def add_gradients(subparsers) -> None:
    parser = subparsers.add_parser(
        "gradients",
        help="vanishing-gradient study: ResNet-50 vs its plain twin, with and without BatchNorm",
        description="Measure per-layer gradient norms of the course ResNet-50 and its plain "
        "twin, with and without BatchNorm, at initialization (one SIGNS batch) and every "
        "EVERY steps of a short training run; write the tables (CSV) and figures (PNG).",
    )
    _study_arguments(parser, "runs/gradients")
    parser.add_argument(
        "--steps", type=int, default=40, help="training steps each (0: initialization only)"
    )
    parser.add_argument("--every", type=_positive_int, default=5, help="record every N steps")
    parser.add_argument("--probe-size", type=_positive_int, default=64, help="images at init")
    parser.set_defaults(func=run_gradients)


def _study_arguments(parser: argparse.ArgumentParser, out_dir: str) -> None:
    """Output folder, SIGNS folder, batch size and seed: what both studies take."""
    parser.add_argument("-o", "--out-dir", default=out_dir, metavar="DIR")
    parser.add_argument("--data-dir", default=None, help="folder holding the SIGNS .h5 files")
    parser.add_argument("--batch-size", type=_positive_int, default=32)
    parser.add_argument("--seed", type=int, default=0)


def run_gradients(args: argparse.Namespace) -> None:
    from resnet_keras import data, experiments

    written = experiments.run_vanishing_gradients(
        data.load_signs(args.data_dir),
        args.out_dir,
        steps=args.steps,
        every=args.every,
        batch_size=args.batch_size,
        probe_size=args.probe_size,
        seed=args.seed,
    )
    print(f"wrote {len(written)} files to {args.out_dir}: {', '.join(written)}")


def add_degradation(subparsers) -> None:
    parser = subparsers.add_parser(
        "degradation",
        help="degradation study: plain vs residual CIFAR-style networks of several depths",
        description="Train CIFAR-style plain and residual networks of each DEPTH (6n+2) on "
        "SIGNS resized to SIZE x SIZE with the same budget; write per-epoch training and "
        "validation curves (test loss labelled 'report only') as CSV and PNG.",
    )
    _study_arguments(parser, "runs/degradation")
    parser.add_argument("--depths", type=_positive_int, nargs="+", default=[20, 56])
    parser.add_argument("--epochs", type=_positive_int, default=10)
    parser.add_argument("--image-size", type=_positive_int, default=32, metavar="SIZE")
    parser.add_argument(
        "--constant-lr", action="store_true", help="keep Adam's 1e-3 (default: cosine decay to 0)"
    )
    parser.set_defaults(func=run_degradation)


def run_degradation(args: argparse.Namespace) -> None:
    from resnet_keras import data, experiments

    written = experiments.run_degradation(
        data.load_signs(args.data_dir),
        args.out_dir,
        depths=args.depths,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        cosine_decay=not args.constant_lr,
        seed=args.seed,
        verbose=2,
    )
    final = experiments.Table.read_csv(written["degradation_final.csv"])
    for row in final:
        print(
            f"{row['network']:<10} last epoch: train loss {row['train_loss']:.4f}, error "
            f"{row['train_error']:.4f} (training mode); inference mode: train loss "
            f"{row['train_loss_eval']:.4f}, error {row['train_error_eval']:.4f}, "
            f"validation error {row['val_error']:.4f}"
        )
    print(f"wrote {len(written)} files to {args.out_dir}")


COMMANDS = [
    add_summary,
    add_train,
    add_evaluate,
    add_predict,
    add_release,
    add_grade,
    add_gradients,
    add_degradation,
]


class _OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit code 2), as others are."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def make_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="resnet-keras",
        description="Residual networks in Keras 3: build, train, measure and grade.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        args.func(args)
    except USER_ERRORS as error:
        print(f"resnet-keras {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"resnet-keras {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
