"""The `resnet-keras summary` sub-command and the command's error handling."""

import pytest

from resnet_keras import cifar_resnet
from resnet_keras.cli import build_model, main


def test_summary_prints_the_parameter_counts(capsys):
    assert (
        main(
            ["summary", "--model", "cifar_resnet20", "--input-shape", "32,32,3", "--classes", "10"]
        )
        == 0
    )
    out = capsys.readouterr().out
    expected = cifar_resnet(20).count_params()
    assert f"cifar_resnet20: {expected:,} parameters" in out
    assert "conv4_block3_add" in out  # the layer table


def test_summary_of_the_plain_twin_without_batch_norm(capsys):
    args = [
        "summary",
        "--model",
        "cifar_resnet8",
        "--input-shape",
        "32,32,3",
        "--plain",
        "--no-batch-norm",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "cifar_plain8_nobn:" in out and "0 non-trainable)" in out
    assert "Add" not in out and "BatchNormalization" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["summary", "--model", "vgg16"], "unknown model 'vgg16'; expected ResNet50"),
        (["summary", "--model", "resnet20"], r"depth must be one of [18, 34, 50, 101, 152]"),
        (["summary", "--input-shape", "20,20,3"], "at least 37 pixels"),
        (["summary", "--classes", "0"], "classes must be an integer >= 1"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_1(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("resnet-keras summary: error: ") and message in err
    assert "\n" not in err and "Traceback" not in err


def test_malformed_input_shape_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", "--input-shape", "64x64x3"])
    assert exit_info.value.code == 2
    assert "expected HEIGHT,WIDTH,CHANNELS" in capsys.readouterr().err


def test_build_model_by_name():
    assert build_model("resnet18", (32, 32, 3), 5).name == "resnet18"
    assert build_model("ResNet50", (64, 64, 3), 6, shortcuts=False).name == "PlainNet50"
