"""The ``resnet-keras`` command.

Each sub-command is a function ``add_<name>(subparsers)`` that defines its
arguments and sets ``func`` to the function that runs it. Failures the user can
fix (bad arguments, missing files) end with a one-line error and exit code 1.
"""

import argparse
import math
import os
import sys
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Errors that mean "the input was wrong", reported as one line instead of a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError)

MODEL_NAMES = ("ResNet50", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


def build_model(name: str, input_shape: Sequence[int], classes: int, **options):
    """Build a network by its command-line name: ``ResNet50``, ``resnetD`` or ``cifar_resnetD``."""
    from resnet_keras import models

    if name == "ResNet50":
        return models.ResNet50(input_shape, classes, **options)
    for prefix, builder in (("cifar_resnet", models.cifar_resnet), ("resnet", models.resnet)):
        depth = name.removeprefix(prefix)
        if name.startswith(prefix) and depth.isdigit():
            return builder(int(depth), input_shape, classes, **options)
    raise ValueError(
        f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}, "
        "or cifar_resnetD with D = 6n + 2 (20, 32, 44, 56, 110)."
    )


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


COMMANDS = [add_summary]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
