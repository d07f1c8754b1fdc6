"""Where a training step's time goes: TensorFlow profiler trace, top op types by time.

Traces ``--steps`` training steps of our ResNet50 (64x64x3, batch 32, Adam 1e-3,
``model.fit`` on a prefetched tf.data pipeline) after a warm-up, reads the trace
(``*.xplane.pb``) back, and sums the duration of every TensorFlow op executed on
the compute threads, by op type (``Conv2DBackpropFilter``, ``_MklNativeFusedConv2D``,
``Mul`` ...) and by phase: forward, backward (ops under ``gradient_tape``) and the
optimizer update (ops under ``adam``). Durations are wall-clock on each thread, so
on a busy machine they include time the thread waited for a core; the shares are
what to read.

    python benchmarks/profile_step.py --out results/profile.json
    python benchmarks/profile_step.py --quick         # tiny stand-in model, 1 step
"""

from __future__ import annotations

import collections
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing
import tensorflow as tf

from resnet_keras.models import ResNet50, cifar_resnet


def phase_of(scope: str) -> str:
    lowered = scope.lower()
    if "gradient_tape" in lowered:
        return "backward"
    if "adam" in lowered or "optimizer" in lowered:
        return "optimizer"
    return "forward"


def op_times(trace_dir: Path) -> tuple[collections.Counter, collections.Counter]:
    """Seconds by op type and by phase, from the trace's compute-thread op events."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    by_type, by_phase = collections.Counter(), collections.Counter()
    for path in trace_dir.rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    scope, _, op_type = name.rpartition(":")
                    if "/" not in scope:  # executor bookkeeping, not an op
                        continue
                    seconds = event.duration_ps / 1e12
                    by_type[op_type] += seconds
                    by_phase[phase_of(scope)] += seconds
    return by_type, by_phase


def profile(args) -> dict:
    if args.quick:
        shape, model = _timing.QUICK_SHAPE, cifar_resnet(8, _timing.QUICK_SHAPE, args.classes)
    else:
        shape, model = _timing.FULL_SHAPE, ResNet50(_timing.FULL_SHAPE, args.classes)
    _timing.compile_for_training(model)
    x, y, data_note = _timing.signs_or_synthetic(shape, args.classes)
    dataset = _timing.repeating_dataset(x, y, args.batch_size)
    _timing.fit_dataset_seconds(model, dataset, 2)  # warm-up: trace the step
    with tempfile.TemporaryDirectory() as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        seconds = _timing.fit_dataset_seconds(model, dataset, args.steps)
        tf.profiler.experimental.stop()
        by_type, by_phase = op_times(Path(trace_dir))
    total = sum(by_type.values())
    return {
        "benchmark": "profile_step",
        "environment": _timing.environment(),
        "settings": {
            "model": "cifar_resnet8 stand-in (quick)" if args.quick else "ResNet50",
            "input_shape": list(shape),
            "batch_size": args.batch_size,
            "steps": args.steps,
            "data": data_note,
        },
        "wall_seconds_per_step": seconds / args.steps,
        "op_seconds_per_step": total / args.steps,
        "phases": {k: v / total for k, v in by_phase.most_common()},
        "top_ops": {k: v / total for k, v in by_type.most_common(args.top)},
    }


def report(result: dict) -> None:
    settings = result["settings"]
    print(
        f"{_timing.header(result)}; {settings['model']}, "
        f"batch {settings['batch_size']}, {settings['steps']} traced steps"
    )
    print(
        f"wall {result['wall_seconds_per_step']:.3f} s/step, op time summed over threads "
        f"{result['op_seconds_per_step']:.3f} s/step"
    )
    _timing.print_table(
        ["phase", "share"], [[k, f"{100 * v:.1f}%"] for k, v in result["phases"].items()]
    )
    _timing.print_table(
        ["op type", "share"], [[k, f"{100 * v:.1f}%"] for k, v in result["top_ops"].items()]
    )


def main(argv=None) -> dict:
    parser = _timing.argument_parser(__doc__, "smoke run: tiny model, 1 step")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="traced training steps")
    parser.add_argument("--top", type=int, default=12, help="op types to list")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.steps = 4, 1
    result = profile(args)
    report(result)
    _timing.write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
