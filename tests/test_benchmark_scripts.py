"""Smoke tests: each benchmark script runs with --quick and reports sensible figures.

The scripts start together, each in its own process, and their JSON results are
checked for the fields BENCHMARKS.md quotes (``data_pipeline.py`` has its own
file, ``flops.py`` is checked by value below). Measured 2026-11-24 on an idle
2-core machine: 70 s of wall time for this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from signs_files import write_signs

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
TIMEOUT_S = 600  # generous: a machine shared with other TensorFlow jobs is many times slower

RUNS = {
    "throughput": ["train_throughput.py", "--quick"],
    "sweep": ["settings_sweep.py", "--quick"],
    "threads": ["settings_sweep.py", "--quick", "--threads"],
    "profile": ["profile_step.py", "--quick"],
    "checks": ["check_times.py", "--quick"],
    "recorder": ["recorder_overhead.py", "--quick"],
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    """Start every --quick run at once, wait for all, and read back their JSON."""
    folder = tmp_path_factory.mktemp("benchmarks")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    running = {
        name: subprocess.Popen(
            [sys.executable, str(BENCHMARKS / script), *flags, "--out", str(folder / name)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, (script, *flags) in RUNS.items()
    }
    outputs = {}
    for name, process in running.items():
        try:
            output, _ = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        outputs[name] = (process.returncode, output)
    found = {}
    for name, (code, output) in outputs.items():
        assert code == 0, f"{RUNS[name]} failed ({code}):\n{output[-3000:]}"
        found[name] = json.loads((folder / name).read_text())
    return found


def _positive(summary: dict) -> None:
    assert summary["repeats"] >= 1
    assert 0 < summary["min"] <= summary["median"] <= summary["max"]


def test_train_throughput(results):
    result = results["throughput"]
    assert result["environment"]["tensorflow"] and result["environment"]["keras"]
    _positive(result["ratio_ours_over_reference"])
    _positive(result["matmul_gflops"])
    for role in ("ours", "reference"):
        model = result["models"][role]
        assert model["training_gflop_per_image"] > 0
        for field in ("images_per_second", "achieved_gflops", "fraction_of_matmul"):
            _positive(model[field])


def test_settings_sweep(results):
    configs = results["sweep"]["configs"]
    assert results["sweep"]["settings"]["images_per_round"] == 16  # --quick: one 16-image epoch
    assert {"naive", "tf.data b32 autotuned", "tf.data b8", "tf.data b16"} <= set(configs)
    for config in configs.values():
        _positive(config["images_per_second"])
        _positive(config["ratio_vs_naive"])
    assert configs["naive"]["ratio_vs_naive"]["median"] == pytest.approx(1.0)


def test_thread_sweep_runs_each_setting_in_a_child_process(results):
    configs = results["threads"]["configs"]
    assert list(configs) == ["default", "intra1 inter1"]
    for config in configs.values():
        _positive(config["images_per_second"])
        assert config["matmul_gflops"] > 0


def test_profile_step(results):
    result = results["profile"]
    assert result["wall_seconds_per_step"] > 0 and result["op_seconds_per_step"] > 0
    assert sum(result["phases"].values()) == pytest.approx(1.0)
    assert {"forward", "backward"} <= set(result["phases"])
    assert result["top_ops"] and all(share > 0 for share in result["top_ops"].values())


def test_check_times_pass_exactly_the_correct_solution(results):
    rows = results["checks"]
    assert [(row["solution"], row["passed"]) for row in rows] == [
        ("correct", True),
        ("no final ReLU", False),
    ]
    assert all(row["first_s"] > 0 and row["warm_s"] > 0 for row in rows)


def test_recorder_overhead_times_both_copies_and_records_every_step(results):
    result = results["recorder"]
    # --quick: every=1, one warm-up and one timed round of 2 steps each; a step counts
    # the optimizer updates made before it
    assert result["recorded_steps"] == [0, 1, 2, 3]
    for clock in ("wall clock", "process CPU time"):
        assert all(t > 0 for t in result[clock]["without_s"] + result[clock]["with_s"])


def run_script(name: str, *flags: str) -> None:
    """Run one benchmark script in a child process on the CPU; fail with its output."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, str(BENCHMARKS / name), *flags]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_recipe_accuracy_runs_a_recipe_in_a_child_process(tmp_path):
    signs = write_signs(tmp_path / "signs", per_class=10)
    out = tmp_path / "runs"
    run_script(
        "recipe_accuracy.py", "--quick", "--recipes", "default", "--seeds", "0",
        "--data-dir", str(signs), "--out", str(out),
    )  # fmt: skip
    (row,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert (row["recipe"], row["seed"], row["epochs"]) == ("default", 0, 1)
    assert 0.0 <= row["test_accuracy"] <= 1.0
    assert row["median_epoch_s"] > 0 and row["wall_time_s"] >= row["median_epoch_s"]
    assert (out / "default-seed0" / "metrics.json").is_file()


def test_ten_epochs_times_each_epoch_and_reads_the_test_set_once(tmp_path):
    signs = write_signs(tmp_path / "signs", per_class=10)
    out = tmp_path / "ten_epochs.json"
    run_script("ten_epochs.py", "--quick", "--data-dir", str(signs), "--out", str(out))
    result = json.loads(out.read_text())
    assert result["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert (result["epochs"], result["training_images"]) == (2, 48)
    assert len(result["epoch_seconds"]) == 2 and min(result["epoch_seconds"]) > 0
    assert result["fit_wall_seconds"] >= sum(result["epoch_seconds"])
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["test_loss"] > 0


def test_flops_of_the_course_resnet50_match_findings():
    sys.path.insert(0, str(BENCHMARKS))
    from flops import count_flops

    from resnet_keras.models import ResNet50

    flops = count_flops(ResNet50((64, 64, 3), 6))
    assert flops["forward_macs"] / 1e9 == pytest.approx(0.308, abs=0.002)
    assert flops["training_flops"] / 1e9 == pytest.approx(1.85, abs=0.01)
    assert 0 < flops["forward_elementwise_flops"] < 0.01 * flops["forward_product_flops"]
