"""tf.distribute: MirroredStrategy on 2 logical CPU devices, MultiWorkerMirroredStrategy
with 2 worker processes on 127.0.0.1.

Logical devices and multi-worker clusters must be set up before TensorFlow initializes,
so every run here is a fresh Python process, bounded by a timeout. Each trains a small
CIFAR-style network (cifar_resnet(8) at 16x16) for a few steps through ``training.fit``
(so the run-folder callbacks work under the strategy too) and saves its trainable
weights. Under MultiWorkerMirroredStrategy ``fit`` uses its own loop (Keras 3's
``Model.fit`` does not run there: keras-team/keras#20585).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

TIMEOUT_S = 420

# Trains cifar_resnet(8) for 2 epochs of 2 steps on a fixed synthetic batch set.
# argv: OUT_DIR STRATEGY LOGICAL_CPUS BATCH_NORM
WORKER = textwrap.dedent(
    """
    import os, sys, json
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out, strategy_name, cpus, batch_norm = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    from resnet_keras import training
    if cpus > 1:
        training.split_cpu(cpus)
    strategy = training.make_strategy(strategy_name)
    import numpy as np, tensorflow as tf
    from resnet_keras.models import cifar_resnet

    rng = np.random.default_rng(0)
    x = rng.random((32, 16, 16, 3), dtype=np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 32)]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)  # global batch 16, 2 steps
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = data.with_options(options)
    recipe = training.Recipe(epochs=2, batch_size=16, validation_split=None)

    training.set_seed(7)
    with strategy.scope():
        model = cifar_resnet(8, (16, 16, 3), 4, batch_norm=batch_norm == "bn")
        training.compile_model(model, recipe, steps_per_epoch=2)
    def trainable():  # BatchNorm's moving statistics stay local to each worker, as in tf.keras
        return [np.array(w.numpy()) for w in model.trainable_weights]

    initial = trainable()
    history = training.fit(model, data, out, epochs=recipe.epochs, verbose=0)
    np.savez(os.path.join(out, "weights.npz"), *trainable())
    np.savez(os.path.join(out, "initial.npz"), *initial)
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"replicas": strategy.num_replicas_in_sync,
                   "epochs": len(history["epoch"]),
                   "iterations": int(model.optimizer.iterations.numpy())}, f)
    """
)


def _run_worker(tmp_path: Path, out: Path, *args: str, env: dict | None = None):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(script), str(out), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen) -> str:
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"worker timed out after {TIMEOUT_S} s; output:\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]
    return output


def _weights(folder: Path, name: str = "weights.npz") -> list[np.ndarray]:
    with np.load(folder / name) as archive:
        return [archive[f"arr_{i}"] for i in range(len(archive.files))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path):
    # Without BatchNorm, the mean gradient over the global batch is the same whether
    # one device computes it or two replicas each compute half and all-reduce.
    single = _run_worker(tmp_path, tmp_path / "single", "default", "1", "nobn")
    mirrored = _run_worker(tmp_path, tmp_path / "mirrored", "mirrored", "2", "nobn")
    _finish(single)
    _finish(mirrored)

    result = json.loads((tmp_path / "mirrored" / "result.json").read_text())
    assert result == {"replicas": 2, "epochs": 2, "iterations": 4}
    one, two = _weights(tmp_path / "single"), _weights(tmp_path / "mirrored")
    start = _weights(tmp_path / "mirrored", "initial.npz")
    assert any(not np.allclose(a, b) for a, b in zip(start, two, strict=True)), "no training"
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert (tmp_path / "mirrored" / "history.csv").is_file()


def test_multiworker_two_processes_agree_on_weights(tmp_path):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [
        _run_worker(
            tmp_path,
            tmp_path / f"worker{index}",
            "multiworker",
            "1",
            "bn",
            env={
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}}
                )
            },
        )
        for index in range(2)
    ]
    try:
        for worker in workers:
            _finish(worker)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    for index in range(2):
        result = json.loads((tmp_path / f"worker{index}" / "result.json").read_text())
        assert result == {"replicas": 2, "epochs": 2, "iterations": 4}
    first, second = _weights(tmp_path / "worker0"), _weights(tmp_path / "worker1")
    start = _weights(tmp_path / "worker0", "initial.npz")
    assert any(not np.allclose(a, b) for a, b in zip(start, first, strict=True)), "no training"
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
