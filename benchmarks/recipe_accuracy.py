"""Test accuracy (inference mode) of the default recipe over seeds, beside the course recipe.

Each run is ``resnet_keras.training.train`` on the real SIGNS files: ResNet50, 10 epochs,
the test set read once at the end with ``model.evaluate``. Every run goes in its own
process (op determinism and seeds are per process) and its own run folder; one JSON
line per run is appended to ``--results``, and a Markdown table is printed at the end.

    python benchmarks/recipe_accuracy.py --recipes default course --seeds 1 2 3 \\
        --course-seeds 1 --out runs/recipe-benchmark
    python benchmarks/recipe_accuracy.py --quick --recipes default --seeds 0 \\
        --data-dir DIR --out OUT    # smoke run: 8-layer CIFAR ResNet, 1 epoch, 48 images

The numbers and the command that produced them are in BENCHMARKS.md ("Training recipe").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_one(recipe_name: str, seed: int, out: Path, data_dir: str | None, quick: bool) -> dict:
    """Train one run in this process and return its summary row."""
    from resnet_keras import training

    recipe = {"default": training.DEFAULT_RECIPE, "course": training.COURSE_RECIPE}[recipe_name]
    quick_settings = {"model_name": "cifar_resnet8", "subset": 48} if quick else {}
    if quick:
        recipe = dataclasses.replace(recipe, epochs=1)
    result = training.train(
        out / f"{recipe_name}-seed{seed}",
        recipe=recipe,
        seed=seed,
        data_dir=data_dir,
        verbose=2,
        **quick_settings,
    )
    metrics = result.metrics
    times = metrics["epoch_times_s"]
    return {
        "recipe": recipe_name,
        "seed": seed,
        "test_accuracy": metrics["test_accuracy"],
        "test_loss": metrics["test_loss"],
        "final_val_accuracy": metrics["final_val_accuracy"],
        "epochs": metrics["epochs"],
        "wall_time_s": metrics["wall_time_s"],
        "median_epoch_s": statistics.median(times) if times else None,
        "first_epoch_s": times[0] if times else None,
        "images_per_s": metrics["images_per_s"],
        "history": training.read_history(result.run_dir / "history.csv"),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| recipe | seed | test accuracy (model.evaluate) | final val accuracy "
        "| median s/epoch | first epoch s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        val = row["final_val_accuracy"]
        lines.append(
            f"| {row['recipe']} | {row['seed']} | {row['test_accuracy']:.3f} | "
            f"{'-' if val is None else f'{val:.3f}'} | {row['median_epoch_s']:.1f} | "
            f"{row['first_epoch_s']:.1f} |"
        )
    for recipe in sorted({row["recipe"] for row in rows}):
        accuracies = [row["test_accuracy"] for row in rows if row["recipe"] == recipe]
        lines.append(
            f"\n{recipe}: median {statistics.median(accuracies):.3f}, "
            f"min {min(accuracies):.3f} over {len(accuracies)} seed(s)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", default=["default", "course"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--course-seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--out", type=Path, default=Path("runs/recipe-benchmark"))
    parser.add_argument("--results", type=Path, default=None, help="JSON lines (default: OUT/)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny model, 1 epoch")
    parser.add_argument("--one", nargs=2, metavar=("RECIPE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    results = args.results or args.out / "results.jsonl"

    if args.one:  # the child process: one run, one JSON line
        row = run_one(args.one[0], int(args.one[1]), args.out, args.data_dir, args.quick)
        results.parent.mkdir(parents=True, exist_ok=True)
        with open(results, "a") as file:
            file.write(json.dumps(row) + "\n")
        return 0

    rows = []
    for recipe in args.recipes:
        for seed in args.course_seeds if recipe == "course" else args.seeds:
            command = [sys.executable, __file__, "--one", recipe, str(seed), "--out", str(args.out)]
            command += ["--results", str(results)] + (["--quick"] if args.quick else [])
            if args.data_dir:
                command += ["--data-dir", args.data_dir]
            print("running:", " ".join(command), flush=True)
            subprocess.run(command, check=True)
            rows.append(json.loads(results.read_text().splitlines()[-1]))
            print(table(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
