"""Smoke tests: each training benchmark script runs with --quick and reports positive figures.

The scripts start together, each in its own process, and their JSON results are
checked for the fields BENCHMARKS.md quotes. Measured 2026-11-23: 72 s of CPU time
in all (TensorFlow's start-up and tracing dominate), 5.5 min of wall time on 2 cores
shared with other TensorFlow jobs (load average 17).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
TIMEOUT_S = 600  # generous: a machine shared with other TensorFlow jobs is many times slower

RUNS = {
    "throughput": ["train_throughput.py", "--quick"],
    "sweep": ["settings_sweep.py", "--quick"],
    "threads": ["settings_sweep.py", "--quick", "--threads"],
    "profile": ["profile_step.py", "--quick"],
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
    assert {"naive", "tf.data b32 no-prefetch", "tf.data b8", "tf.data b16"} <= set(configs)
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


def test_flops_of_the_course_resnet50_match_findings():
    sys.path.insert(0, str(BENCHMARKS))
    from flops import count_flops

    from resnet_keras.models import ResNet50

    flops = count_flops(ResNet50((64, 64, 3), 6))
    assert flops["forward_macs"] / 1e9 == pytest.approx(0.308, abs=0.002)
    assert flops["training_flops"] / 1e9 == pytest.approx(1.85, abs=0.01)
    assert 0 < flops["forward_elementwise_flops"] < 0.01 * flops["forward_product_flops"]
