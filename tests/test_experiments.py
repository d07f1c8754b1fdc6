"""The two studies and their commands, on tiny networks and synthetic SIGNS-shaped data."""

import functools
from types import SimpleNamespace

import numpy as np
import pytest

from resnet_keras import cli, data, experiments, models
from resnet_keras.gradients import Table, gradient_norms


def fake_signs(count: int = 48, size: int = 32, classes: int = 3, seed: int = 0):
    """A :func:`data.load_signs`-like result: uint8 images whose class sets the brightness."""
    rng = np.random.default_rng(seed)
    y = np.arange(count) % classes
    x = rng.integers(0, 80, (count, size, size, 3)) + (60 * y)[:, None, None, None]
    x = x.astype("uint8")
    return SimpleNamespace(x_train=x, y_train=y, x_test=x[:12], y_test=y[:12])


def test_prepare_images_scales_and_averages_patches():
    x = np.arange(2 * 4 * 4 * 3, dtype="uint8").reshape(2, 4, 4, 3)
    out = experiments.prepare_images(x, 2)
    assert out.shape == (2, 2, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 0], x[0, :2, :2].mean(axis=(0, 1)) / 255, rtol=1e-6)
    assert experiments.prepare_images(x).max() == pytest.approx(x.max() / 255)


def test_degradation_trains_plain_and_residual_with_the_same_budget(tmp_path):
    signs = fake_signs()
    curves, final = experiments.degradation(
        signs.x_train,
        signs.y_train,
        signs.x_test,
        signs.y_test,
        depths=(8,),
        epochs=2,
        batch_size=16,
        image_size=16,
        validation_fraction=0.25,
        out_dir=tmp_path,
    )
    assert curves.columns == experiments.DEGRADATION_COLUMNS
    assert list(curves["network"]) == ["plain-8", "plain-8", "ResNet-8", "ResNet-8"]
    assert list(curves["epoch"]) == [1, 2, 1, 2]
    assert list(final["network"]) == ["plain-8", "ResNet-8"]
    for column in ("train_error", "val_error", "test_error"):
        assert all(0 <= e <= 1 for e in curves[column])
    assert all(loss > 0 for loss in final["train_loss"])
    # what was written is what was returned
    again = Table.read_csv(tmp_path / "degradation.csv")
    np.testing.assert_allclose(again["train_loss"], curves["train_loss"], rtol=1e-6)
    assert Table.read_csv(tmp_path / "degradation_final.csv")["network"].tolist() == [
        "plain-8",
        "ResNet-8",
    ]


def test_degradation_rejects_a_bad_depth_before_training():
    signs = fake_signs()
    with pytest.raises(ValueError, match="6n \\+ 2"):
        experiments.degradation(signs.x_train, signs.y_train, depths=(8, 21))
    with pytest.raises(ValueError, match="48 images but y_train has 3 labels"):
        experiments.degradation(signs.x_train, signs.y_train[:3], depths=(8,))


def test_vanishing_gradients_probes_and_records_all_four_variants():
    signs = fake_signs(count=24)
    builder = functools.partial(models.cifar_resnet, 8)
    at_init, during = experiments.vanishing_gradients(
        signs.x_train,
        signs.y_train,
        steps=3,
        every=2,
        batch_size=8,
        probe_size=8,
        image_size=16,
        builder=builder,
    )
    names = ["ResNet-8", "plain-8", "ResNet-8 (no BN)", "plain-8 (no BN)"]
    assert list(dict.fromkeys(at_init["network"])) == names
    assert list(dict.fromkeys(during["network"])) == names
    assert len(at_init) == 4 * 8  # eight kernels each
    assert sorted(set(during["step"])) == [0, 2]
    # the init table is gradient_norms on the first probe_size images, same seed
    import keras

    keras.utils.set_random_seed(0)
    model = builder((16, 16, 3), 3, shortcuts=True, batch_norm=True, bn_momentum=0.9)
    x = experiments.prepare_images(signs.x_train[:8], 16)
    probe = gradient_norms(model, x, signs.y_train[:8])
    np.testing.assert_allclose(at_init.where(network="ResNet-8")["grad_norm"], probe["grad_norm"])
    # the recorder at step 0 saw the initial weights: same weight norms as the probe
    np.testing.assert_allclose(
        during.where(network="ResNet-8", step=0)["weight_norm"], probe["weight_norm"], rtol=1e-6
    )


def test_vanishing_gradients_at_initialization_only_writes_the_init_files(tmp_path):
    written = experiments.run_vanishing_gradients(
        fake_signs(count=12),
        tmp_path,
        steps=0,
        probe_size=4,
        image_size=16,
        builder=functools.partial(models.cifar_resnet, 8),
    )
    assert sorted(written) == ["gradient_norms_init.csv", "norm_vs_depth_init.png"]
    table = Table.read_csv(written["gradient_norms_init.csv"])
    assert len(table) == 4 * 8 and set(table["depth"]) == set(range(1, 9))
    with pytest.raises(ValueError, match="steps must be >= 0"):
        experiments.vanishing_gradients(np.zeros((4, 16, 16, 3)), np.zeros(4), steps=-1)


def test_degradation_command_writes_tables_and_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "load_signs", lambda data_dir=None: fake_signs())
    out = tmp_path / "run"
    code = cli.main(
        ["degradation", "--depths", "8", "--epochs", "1", "--image-size", "16", "-o", str(out)]
    )
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "degradation.csv",
        "degradation_final.csv",
        "degradation_error.png",
        "degradation_loss.png",
    } <= names
    printed = capsys.readouterr().out
    assert "plain-8" in printed and "ResNet-8" in printed


def test_commands_report_bad_arguments_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr(data, "load_signs", lambda data_dir=None: fake_signs())
    assert cli.main(["degradation", "--depths", "9"]) == 1
    assert "depth must be 6n + 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["gradients", "--every", "0"])
    assert "positive integer" in capsys.readouterr().err
