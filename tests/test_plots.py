"""Figures for gradient norms and degradation: checked for what they show, not only that they exist.

The tables are synthetic (known numbers), built in the layout that
``gradients.gradient_norms``, ``GradientNormRecorder.table`` and
``experiments.degradation`` produce, so these tests need no training.
"""

import matplotlib.colors
import numpy as np
import pytest

from resnet_keras.gradients import COLUMNS, RECORDER_COLUMNS, Table
from resnet_keras.plots import (
    plot_degradation,
    plot_gradient_norm_heatmap,
    plot_gradient_norms_by_depth,
    plot_stage_ratio,
    stage_ratio,
)

# conv1 (stage 1), two stage-2 convs with a shortcut, two stage-3 convs, the head
LAYOUT = [
    ("conv1_conv", 1, 0, "main", 1),
    ("conv2_block1_1_conv", 2, 1, "main", 2),
    ("conv2_block1_0_conv", 2, 1, "shortcut", 2),
    ("conv2_block1_2_conv", 2, 1, "main", 3),
    ("conv3_block1_1_conv", 3, 1, "main", 4),
    ("conv3_block1_2_conv", 3, 1, "main", 5),
    ("predictions", None, None, "main", 6),
]


def norms_table(norms, step=None) -> Table:
    """A gradient-norm table whose i-th kernel has gradient norm ``norms[i]``."""
    rows = [
        {
            "step": step,
            "layer": layer,
            "stage": stage,
            "block": block,
            "path": path,
            "depth": depth,
            "parameters": 10,
            "grad_norm": float(norm),
            "weight_norm": 1.0,
        }
        for (layer, stage, block, path, depth), norm in zip(LAYOUT, norms, strict=True)
    ]
    return Table(rows, COLUMNS if step is None else RECORDER_COLUMNS)


def recorded(steps, scale) -> Table:
    """A recorder table: at step s, kernel i has norm scale(s) * (i + 1)."""
    return Table.concat([norms_table(scale(s) * np.arange(1, 8), step=s) for s in steps])


VARIANTS = {
    "ResNet-50": norms_table([590, 100, 999, 16, 8, 2.6, 1]),
    "plain-50": norms_table([9140, 500, 999, 56, 10, 2.7, 1]),
    "ResNet-50 (no BN)": norms_table([0.075, 0.06, 999, 0.052, 0.03, 0.02, 0.01]),
    "plain-50 (no BN)": norms_table([3.8e-11, 3.8e-11, 999, 3.9e-11, 4e-11, 5.1e-11, 1e-10]),
}


def test_norm_against_depth_one_log_line_per_network(tmp_path):
    figure = plot_gradient_norms_by_depth(VARIANTS, save=tmp_path / "depth.png")
    (axes,) = figure.axes
    assert axes.get_yscale() == "log"
    assert "depth" in axes.get_xlabel() and "gradient L2 norm" in axes.get_ylabel()
    assert axes.get_title()
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == list(VARIANTS)
    assert [t.get_text() for t in axes.get_legend().get_texts()] == list(VARIANTS)
    for line, table in zip(lines, VARIANTS.values(), strict=True):
        main = table.where(path="main")  # the shortcut's 999 is not on the line
        np.testing.assert_array_equal(line.get_xdata(), main["depth"])
        np.testing.assert_allclose(line.get_ydata(), main["grad_norm"])
    assert (tmp_path / "depth.png").stat().st_size > 1000


def test_heatmap_holds_the_recorded_norms_by_depth_and_step(tmp_path):
    table = recorded([0, 10, 20], scale=lambda s: 10.0 ** (-s / 10))
    figure = plot_gradient_norm_heatmap(table, save=tmp_path / "heat.png")
    axes = figure.axes[0]
    (image,) = axes.images
    grid = image.get_array()
    assert grid.shape == (6, 3)  # main-path depths 1..6 by steps 0, 10, 20
    main = np.arange(1, 8)[[0, 1, 3, 4, 5, 6]]  # kernel numbers on the main path
    for column, step in enumerate([0, 10, 20]):
        np.testing.assert_allclose(grid[:, column], 10.0 ** (-step / 10) * main)
    assert isinstance(image.norm, matplotlib.colors.LogNorm)
    assert "step" in axes.get_xlabel() and "depth" in axes.get_ylabel()
    assert "log" in figure.axes[1].get_ylabel()  # the colour bar says its scale
    assert (tmp_path / "heat.png").is_file()


def test_stage_ratio_is_the_ratio_of_stage_norms():
    table = recorded([0, 5], scale=lambda s: 1.0 + s)
    ratio = stage_ratio(table)  # stage 2 (kernels 2, 4 on the main path) / stage 3 (5, 6)
    expected = np.hypot(2, 4) / np.hypot(5, 6)
    np.testing.assert_allclose(ratio, [[0, expected], [5, expected]])
    np.testing.assert_allclose(stage_ratio(table, early=1, late=2)[:, 1], 1 / np.hypot(2, 4))


def test_stage_ratio_figure_has_one_log_line_per_network():
    tables = {
        "residual": recorded([0, 10], scale=lambda s: 1.0),
        "plain": recorded([0, 10], scale=lambda s: 2.0),
    }
    figure = plot_stage_ratio(tables)
    (axes,) = figure.axes
    assert axes.get_yscale() == "log"
    assert "step" in axes.get_xlabel() and "ratio" in axes.get_ylabel()
    lines = [line for line in axes.get_lines() if line.get_label() in tables]
    assert [line.get_label() for line in lines] == ["residual", "plain"]
    for line, table in zip(lines, tables.values(), strict=True):
        np.testing.assert_allclose(line.get_ydata(), stage_ratio(table)[:, 1])


def degradation_curves() -> Table:
    rows = []
    for depth in (20, 56):
        for residual in (False, True):
            for epoch in (1, 2, 3):
                error = 0.5 / epoch + (0.2 if depth == 56 and not residual else 0.0)
                rows.append(
                    {
                        "network": f"{'ResNet' if residual else 'plain'}-{depth}",
                        "depth": depth,
                        "residual": residual,
                        "epoch": epoch,
                        "train_loss": 2 * error,
                        "train_error": error,
                        "val_loss": 3 * error,
                        "val_error": error + 0.1,
                        "test_loss": 4 * error,
                        "test_error": error + 0.2,
                        "seconds": 1.0,
                    }
                )
    return Table(rows, list(rows[0]))


@pytest.mark.parametrize("metric", ["error", "loss"])
def test_degradation_panels_plain_and_residual(metric, tmp_path):
    curves = degradation_curves()
    figure = plot_degradation(curves, metric=metric, held_out="test", save=tmp_path / "d.png")
    plain, residual = figure.axes[:2]
    assert plain.get_title() == "plain networks" and residual.get_title() == "ResNet networks"
    assert plain.get_xlabel() == "epoch"
    assert (plain.get_yscale() == "log") == (metric == "loss")
    for axes, kind, is_residual in ((plain, "plain", False), (residual, "ResNet", True)):
        labels = [line.get_label() for line in axes.get_lines()]
        assert labels == [
            f"{kind}-20 train",
            f"{kind}-20 test (report only)",
            f"{kind}-56 train",
            f"{kind}-56 test (report only)",
        ]
        for line in axes.get_lines():
            depth = int(line.get_label().split("-")[1].split()[0])
            column = f"{'train' if 'train' in line.get_label() else 'test'}_{metric}"
            rows = curves.where(depth=depth, residual=is_residual)
            np.testing.assert_allclose(line.get_ydata(), rows[column])
            np.testing.assert_array_equal(line.get_xdata(), rows["epoch"])


def test_bad_figure_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="tables is empty"):
        plot_gradient_norms_by_depth({})
    with pytest.raises(ValueError, match="metric must be"):
        plot_degradation(degradation_curves(), metric="accuracy")
    with pytest.raises(ValueError, match="lacks column"):
        plot_gradient_norms_by_depth({"x": {"depth": [1], "grad_norm": [1.0]}})
