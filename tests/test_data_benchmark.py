"""Smoke run of benchmarks/data_pipeline.py --quick: it runs and reports positive rates."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "data_pipeline.py"


def test_quick_benchmark_reports_pipeline_images_per_second(tmp_path):
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if k != "SIGNS_DIR"}  # random images: no files
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        cwd=tmp_path,
        env={**env, "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    rate_line = r"pipeline, (no augmentation|augmentation): +([\d,]+) images/s"
    printed = re.findall(rate_line, run.stdout)
    assert [label for label, _ in printed] == ["no augmentation", "augmentation"]
    assert all(int(rate.replace(",", "")) > 0 for _, rate in printed)
    results = json.loads(out.read_text())
    assert results["pipeline_images_per_s"] > 0 and results["augmented_images_per_s"] > 0
    assert results["data"].startswith("random images")
    assert results["batch_size"] == 32 and "ratio" not in results  # --quick times no model
