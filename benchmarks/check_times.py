"""How long each grading check takes, as a notebook cell would run it.

For each check: the first call in a fresh process (it also builds and caches
the reference) and the median of the following calls, on a correct solution
(the reference itself) and on a wrong one (a block without its final ReLU, a
ResNet-50 with too few identity blocks). Prints a Markdown table for
BENCHMARKS.md.

    python benchmarks/check_times.py [--repeat 3] [--out times.json]
    python benchmarks/check_times.py --quick    # smoke run: the identity-block rows, 1 call

Each row also records whether the check passed, which must be true exactly for
the correct solutions.
"""

import argparse
import functools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

import _timing  # noqa: E402
import grading_mutants as gm  # noqa: E402
import keras  # noqa: E402

from resnet_keras import blocks, grading, models  # noqa: E402

CASES = [
    ("check_identity_block", grading.check_identity_block, blocks.identity_block, "correct"),
    ("check_identity_block", grading.check_identity_block, gm.identity_mutant("final_relu_missing"), "no final ReLU"),  # noqa: E501
    ("check_convolutional_block", grading.check_convolutional_block, blocks.convolutional_block, "correct"),  # noqa: E501
    ("check_convolutional_block", grading.check_convolutional_block, gm.convolutional_mutant("shortcut_bn_missing"), "no shortcut BN"),  # noqa: E501
    ("check_resnet50", grading.check_resnet50, models.ResNet50, "correct"),
    ("check_resnet50", grading.check_resnet50, functools.partial(gm.course_resnet50, stage_blocks=(2, 3, 4, 2)), "4 blocks in stage 4"),  # noqa: E501
]  # fmt: skip


def _timed_check(check, fn) -> tuple[float, bool]:
    """Seconds one call takes, and whether the check passed."""
    start = time.perf_counter()
    result = check(fn, raises=False, quiet=True)
    return time.perf_counter() - start, result.passed


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm calls per case (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: identity block, 1 call")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    cases = CASES[:2] if args.quick else CASES
    repeat = 1 if args.quick else args.repeat
    print(
        f"{platform.machine()}, {os.cpu_count()} CPU cores, load average "
        f"{os.getloadavg()[0]:.1f}; keras {keras.__version__}, backend {keras.backend.backend()}\n"
    )
    print("| check | solution | first call (s) | later calls, median (s) |")
    print("| --- | --- | --- | --- |")
    rows = []
    for name, check, fn, solution in cases:
        first, passed = _timed_check(check, fn)
        warm = statistics.median(_timed_check(check, fn)[0] for _ in range(repeat))
        rows.append(
            {
                "check": name,
                "solution": solution,
                "passed": passed,
                "first_s": first,
                "warm_s": warm,
            }
        )
        print(f"| `{name}` | {solution} | {first:.1f} | {warm:.1f} |", flush=True)
    _timing.write_json(args.out, rows)
    return rows


if __name__ == "__main__":
    main()
