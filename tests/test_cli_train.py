"""The train, evaluate and predict commands: help, a small end-to-end run, one-line errors."""

import json

import numpy as np
import pytest
import tensorflow as tf

from resnet_keras import cli
from resnet_keras.models import cifar_resnet


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command in this process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse: --help (0) and usage errors (2)
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0]
    for word in words:
        assert word in lines[0], lines[0]


def _png(path, height: int, width: int, channels: int = 3) -> str:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, channels), dtype=np.uint8)
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return str(path)


@pytest.fixture(scope="module")
def small_model_file(tmp_path_factory) -> str:
    """An untrained cifar_resnet(8) for 64x64x3 SIGNS images, saved as .keras."""
    path = tmp_path_factory.mktemp("model") / "small.keras"
    cifar_resnet(8, (64, 64, 3), 6).save(path)
    return str(path)


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "summary"])
def test_every_command_has_help(capsys, command):
    code, out, _ = _run(capsys, command, "--help")
    assert code == 0
    assert f"resnet-keras {command}" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--epochs", "0"], ["--epochs", "positive"]),
        (["train", "--epochs", "-2"], ["--epochs", "positive"]),
        (["train", "--batch-size", "0"], ["--batch-size", "positive"]),
        (["train", "--strategy", "ring"], ["--strategy"]),
    ],
)
def test_bad_numbers_and_choices_are_one_line_errors(capsys, argv, words):
    code, _, err = _run(capsys, *argv)
    _assert_one_line_error(code, err, *words)


def test_unknown_model_is_a_one_line_error(capsys, tmp_path, real_signs_dir):
    code, _, err = _run(
        capsys, "train", "--model", "vgg16", "--run-dir", str(tmp_path / "run"),
        "--data-dir", str(real_signs_dir),
    )  # fmt: skip
    _assert_one_line_error(code, err, "unknown model 'vgg16'")


def test_run_folder_of_another_model_is_refused(capsys, tmp_path, real_signs_dir):
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"model": "ResNet50", "recipe": {}, "seed": 1}))
    code, _, err = _run(
        capsys, "train", "--model", "cifar_resnet8", "--run-dir", str(run),
        "--data-dir", str(real_signs_dir), "--epochs", "1",
    )  # fmt: skip
    _assert_one_line_error(code, err, "different model", "ResNet50", "--run-dir")


def test_model_file_missing_or_not_keras_is_a_one_line_error(capsys, tmp_path):
    code, _, err = _run(capsys, "evaluate", str(tmp_path / "none.keras"))
    _assert_one_line_error(code, err, "does not exist")
    fake = tmp_path / "fake.keras"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    image = _png(tmp_path / "a.png", 10, 10)
    code, _, err = _run(capsys, "predict", str(fake), image)
    _assert_one_line_error(code, err, "not a Keras model file")


def test_unreadable_image_is_a_one_line_error(capsys, tmp_path, small_model_file):
    bad = tmp_path / "photo.png"
    bad.write_text("this is text, not an image")
    code, _, err = _run(capsys, "predict", small_model_file, str(bad))
    _assert_one_line_error(code, err, "cannot read image", "photo.png")


def test_predict_any_size_and_channels_prints_class_and_probabilities(
    capsys, tmp_path, small_model_file
):
    images = [_png(tmp_path / "wide.png", 40, 90), _png(tmp_path / "gray.png", 200, 120, 1)]
    code, out, err = _run(capsys, "predict", small_model_file, *images)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    for line, image in zip(lines, images, strict=True):
        assert line.startswith(f"{image}: class ")
        probabilities = [
            float(part.split(":")[1]) for part in line.split("probabilities ")[1].split()
        ]
        assert len(probabilities) == 6 and sum(probabilities) == pytest.approx(1.0, abs=0.01)


def test_train_writes_the_run_folder_and_evaluate_reads_it(capsys, tmp_path, real_signs_dir):
    run = tmp_path / "run"
    code, out, err = _run(
        capsys, "train", "--model", "cifar_resnet8", "--run-dir", str(run),
        "--data-dir", str(real_signs_dir), "--epochs", "2", "--batch-size", "16",
        "--subset", "64", "--seed", "5", "--verbose", "0",
    )  # fmt: skip
    assert code == 0, err
    assert "test accuracy" in out
    for name in ("model.keras", "best.keras", "history.csv", "metrics.json", "run.json"):
        assert (run / name).is_file(), name
    for name in ("curves.png", "confusion_matrix.png"):
        assert (run / name).read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["seed"] == 5
    assert metrics["test_images"] == 64 and 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["recipe"]["bn_momentum"] == 0.9  # the default recipe
    assert metrics["images_per_s"] > 0 and metrics["wall_time_s"] > 0
    assert set(metrics["versions"]) >= {"tensorflow", "keras", "numpy", "python"}
    assert not (run / "backup").exists()

    code, out, err = _run(
        capsys, "evaluate", str(run / "model.keras"), "--data-dir", str(real_signs_dir)
    )
    assert code == 0, err
    assert "on 120 images" in out
