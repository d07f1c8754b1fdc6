"""Matplotlib figures. Each function returns a ``Figure`` and can save it as PNG.

Figures are built with ``matplotlib.figure.Figure`` directly, so no pyplot
state and no GUI backend are involved: the module works headless, and importing
it never changes the user's matplotlib backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write ``figure`` to ``path`` as PNG, atomically (a temporary file, then a rename)."""
    path = os.fspath(path)
    temporary = f"{path}.tmp-{os.getpid()}.png"
    figure.savefig(temporary, dpi=dpi, format="png", bbox_inches="tight")
    os.replace(temporary, path)


def plot_training_curves(
    history: Mapping[str, Sequence[float]], save: str | os.PathLike | None = None
) -> Figure:
    """Loss and accuracy per epoch, training beside validation.

    Args:
        history: metric name -> one value per epoch, as in ``keras.callbacks.History.history``
            or the columns of ``history.csv`` (``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``; an ``epoch`` column, 0-based, gives the x values).
            A ``keras.callbacks.History`` is accepted too.
        save: optional PNG path.

    Returns:
        a figure with two panels: cross-entropy loss (log scale) and accuracy.
    """
    history = dict(getattr(history, "history", history))
    epochs = history.pop("epoch", None)
    lengths = {len(values) for values in history.values()}
    if not history or lengths == {0}:
        raise ValueError("history is empty: train at least one epoch before plotting curves.")
    count = max(lengths)
    x = np.asarray(epochs, dtype=float) + 1 if epochs is not None else np.arange(1, count + 1)

    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for axes, metric, label in (
        (loss_axes, "loss", "cross-entropy loss"),
        (accuracy_axes, "accuracy", "accuracy"),
    ):
        series = ((metric, "training", "-o"), (f"val_{metric}", "validation", "--s"))
        for key, name, style in series:
            if key in history and len(history[key]):
                axes.plot(x[: len(history[key])], history[key], style, label=name, markersize=4)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(True, alpha=0.3)
        axes.legend()
    positive = [v for k in ("loss", "val_loss") for v in history.get(k, []) if v > 0]
    if positive and max(positive) / min(positive) > 20:
        loss_axes.set_yscale("log")
    accuracy_axes.set_ylim(0, 1.02)
    loss_axes.set_title("Loss per epoch")
    accuracy_axes.set_title("Accuracy per epoch")
    figure.suptitle("Training curves")
    if save is not None:
        save_figure(figure, save)
    return figure


def plot_confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    class_names: Sequence[str],
    save: str | os.PathLike | None = None,
    title: str = "Confusion matrix",
) -> Figure:
    """Counts of (true class, predicted class) pairs, with the count in each cell.

    Args:
        y_true, y_pred: integer class indices, shape ``(n,)``, each in ``[0, len(class_names))``.
        class_names: one label per class, used on both axes.
        save: optional PNG path.
        title: the figure title; the overall accuracy is appended.

    Returns:
        a figure with the ``(classes, classes)`` matrix: rows are true classes, columns
        predicted ones, so the diagonal holds the correct predictions.
    """
    y_true = np.asarray(y_true, dtype=int).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=int).reshape(-1)
    classes = len(class_names)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} and {y_pred.size}.")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= classes):
            raise ValueError(f"{name} holds class indices outside [0, {classes}).")
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    accuracy = np.trace(matrix) / max(1, matrix.sum())

    figure = Figure(figsize=(1.0 + 0.7 * classes, 0.6 + 0.7 * classes), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, label="images")
    threshold = matrix.max() / 2 if matrix.size else 0
    for row in range(classes):
        for column in range(classes):
            axes.text(
                column,
                row,
                str(matrix[row, column]),
                ha="center",
                va="center",
                color="white" if matrix[row, column] > threshold else "black",
            )
    axes.set_xticks(range(classes), labels=[str(name) for name in class_names])
    axes.set_yticks(range(classes), labels=[str(name) for name in class_names])
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.plot([], [], " ", label=f"{matrix.sum()} images, accuracy {accuracy:.3f}")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    axes.set_title(f"{title} (accuracy {accuracy:.3f})")
    if save is not None:
        save_figure(figure, save)
    return figure


# ---------------------------------------------------------------------------
# Gradient norms and degradation (tables from resnet_keras.gradients/experiments)
#
# A "table" below is anything whose ``table[column]`` gives a column: a
# ``gradients.Table``, a pandas DataFrame, or a dict of equal-length lists.


def _columns(table, *names: str) -> list[np.ndarray]:
    try:
        return [np.asarray(table[name]) for name in names]
    except KeyError as error:
        raise ValueError(
            f"the table lacks column {error}; expected columns {', '.join(names)} "
            "(as gradient_norms, GradientNormRecorder.table or experiments.degradation give)."
        ) from None


def _main_path(table) -> dict[str, np.ndarray]:
    """The main-path rows (shortcut projections dropped), as columns."""
    names = ("depth", "grad_norm", "stage", "path")
    has_step = _has_column(table, "step")
    depth, grad, stage, path = _columns(table, *names)
    step = np.asarray(table["step"]) if has_step else np.zeros(len(depth), dtype=int)
    keep = path == "main"
    return {
        "depth": depth[keep].astype(int),
        "grad_norm": grad[keep].astype(float),
        "stage": np.asarray([_number(s) for s in stage[keep]]),  # NaN where none (the head)
        "step": step[keep].astype(int),
    }


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _has_column(table, name: str) -> bool:
    columns = getattr(table, "columns", None)
    return name in (columns if columns is not None else table)


STEP_LABEL = "training step (optimizer updates before the gradient)"


def _log_line_axes(axes, xlabel: str, ylabel: str, title: str) -> None:
    """Log y axis, labels, title, grid and legend for a one-line-per-network plot."""
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend()


def _finish(figure: Figure, save: str | os.PathLike | None) -> Figure:
    if save is not None:
        save_figure(figure, save)
    return figure


def plot_gradient_norms_by_depth(
    tables: Mapping[str, object],
    save: str | os.PathLike | None = None,
    title: str = "Gradient norm against depth",
) -> Figure:
    """One line per network: each main-path kernel's gradient L2 norm against its depth.

    Args:
        tables: network label -> a :func:`~resnet_keras.gradients.gradient_norms` table
            (one batch). Shortcut projections are left out so each line follows the
            main path, input (depth 1) to output.
        save: optional PNG path.
        title: figure title.

    Returns:
        a figure with one axes: depth (layer index along the main path) on x, gradient
        L2 norm on a log y axis.
    """
    if not tables:
        raise ValueError("tables is empty: pass {network label: gradient_norms table}.")
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.subplots()
    for label, table in tables.items():
        main = _main_path(table)
        order = np.argsort(main["depth"], kind="stable")
        axes.plot(main["depth"][order], main["grad_norm"][order], "-o", markersize=3, label=label)
    xlabel = "depth (layer index along the main path, input to output)"
    _log_line_axes(axes, xlabel, "gradient L2 norm (loss in nats per unit weight)", title)
    return _finish(figure, save)


def plot_gradient_norm_heatmap(
    table,
    save: str | os.PathLike | None = None,
    title: str = "Gradient norm by depth and training step",
) -> Figure:
    """Depth against training step, coloured by gradient L2 norm (log colour scale).

    Args:
        table: a :class:`~resnet_keras.gradients.GradientNormRecorder` table (columns
            ``step``, ``depth``, ``path``, ``grad_norm``, ...); main path only.
        save: optional PNG path.
        title: figure title.

    Returns:
        a figure whose image has one column per recorded step and one row per depth;
        the image array (``figure.axes[0].images[0].get_array()``) holds the norms.
    """
    from matplotlib.colors import LogNorm

    main = _main_path(table)
    if main["depth"].size == 0:
        raise ValueError("the table has no main-path rows to plot.")
    steps, depths = np.unique(main["step"]), np.unique(main["depth"])
    grid = np.full((depths.size, steps.size), np.nan)
    grid[np.searchsorted(depths, main["depth"]), np.searchsorted(steps, main["step"])] = main[
        "grad_norm"
    ]
    positive = grid[np.isfinite(grid) & (grid > 0)]
    norm = LogNorm(positive.min(), positive.max()) if positive.size else None
    masked = np.ma.masked_where(~np.isfinite(grid) | (grid <= 0), grid)

    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(
        masked,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap="viridis",
        norm=norm,
        extent=_extent(steps, depths),
    )
    figure.colorbar(image, ax=axes, label="gradient L2 norm (log scale)")
    axes.set_xlabel(STEP_LABEL)
    axes.set_ylabel("depth (layer index along the main path)")
    axes.set_title(title)
    return _finish(figure, save)


def _extent(steps: np.ndarray, depths: np.ndarray) -> tuple[float, float, float, float]:
    """Image extent with each step and depth at the centre of its cell."""
    step_width = np.diff(steps).min() if steps.size > 1 else 1
    return (
        steps[0] - step_width / 2,
        steps[-1] + step_width / 2,
        depths[0] - 0.5,
        depths[-1] + 0.5,
    )


def stage_ratio(table, early: int | None = None, late: int | None = None) -> np.ndarray:
    """Early-stage over late-stage gradient norm at each recorded step.

    A stage's norm is the L2 norm of all its main-path kernel gradients together
    (square root of the sum of the squared per-kernel norms). ``early`` defaults to
    the first residual stage (the lowest stage above the stem, 2), ``late`` to the
    last stage.

    Returns:
        array ``(steps, 2)``: the step and the ratio (dimensionless).
    """
    main = _main_path(table)
    stage = main["stage"]
    body = sorted({int(s) for s in stage[stage > 1]}) or sorted({int(s) for s in stage[stage > 0]})
    if not body:
        raise ValueError("the table has no stage numbers; name layers conv{S}_block{B}_{P}_conv.")
    early = body[0] if early is None else early
    late = body[-1] if late is None else late
    result = []
    for step in np.unique(main["step"]):
        at = main["step"] == step
        norm = {
            s: np.sqrt(np.sum(main["grad_norm"][at & (stage == s)] ** 2)) for s in (early, late)
        }
        result.append((step, norm[early] / norm[late] if norm[late] > 0 else np.nan))
    return np.asarray(result, dtype=float)


def plot_stage_ratio(
    tables: Mapping[str, object],
    early: int | None = None,
    late: int | None = None,
    save: str | os.PathLike | None = None,
    title: str = "Early-stage over late-stage gradient norm during training",
) -> Figure:
    """One line per network: :func:`stage_ratio` against training step, log scale.

    Args:
        tables: network label -> a :class:`~resnet_keras.gradients.GradientNormRecorder`
            table.
        early, late: stage numbers to compare (default: first and last residual stage).
        save: optional PNG path.
        title: figure title.
    """
    if not tables:
        raise ValueError("tables is empty: pass {network label: recorder table}.")
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.subplots()
    for label, table in tables.items():
        ratio = stage_ratio(table, early, late)
        axes.plot(ratio[:, 0], ratio[:, 1], "-o", markersize=3, label=label)
    axes.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    stages = "first over last residual stage" if early is late is None else f"{early} / {late}"
    _log_line_axes(axes, STEP_LABEL, f"gradient norm ratio, stage {stages}", title)
    return _finish(figure, save)


def plot_degradation(
    curves,
    metric: str = "error",
    held_out: str = "val",
    save: str | os.PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """He et al. (2016) figure 1/6 style: plain networks left, residual right.

    Args:
        curves: per-epoch table from :func:`resnet_keras.experiments.degradation`
            (columns ``network``, ``depth``, ``residual``, ``epoch``, ``train_*``,
            ``val_*``, ``test_*``).
        metric: ``"error"`` (fraction of images misclassified) or ``"loss"``
            (cross-entropy in nats, log scale).
        held_out: ``"val"`` (held-out part of the training data) or ``"test"``
            (the SIGNS test set, for reporting only), drawn dashed; ``None`` for none.
        save: optional PNG path.
        title: figure title.

    Returns:
        a figure with two panels sharing the y axis; one solid (training) and one
        dashed (held-out) line per depth in each panel, one colour per depth.
    """
    if metric not in ("error", "loss"):
        raise ValueError(f"metric must be 'error' or 'loss'; got {metric!r}.")
    if held_out not in ("val", "test", None):
        raise ValueError(f"held_out must be 'val', 'test' or None; got {held_out!r}.")
    depth, residual, epoch, train = _columns(
        curves, "depth", "residual", "epoch", f"train_{metric}"
    )
    other = _columns(curves, f"{held_out}_{metric}")[0] if held_out else None
    residual = np.asarray([str(r) in ("True", "1") for r in residual])
    depths = sorted({int(d) for d in depth})
    held_name = {"val": "validation", "test": "test (report only)"}.get(held_out)
    unit = "error (fraction misclassified)" if metric == "error" else "cross-entropy loss (nats)"

    figure = Figure(figsize=(11, 4.5), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    colours = {d: f"C{i}" for i, d in enumerate(depths)}
    for axes, is_residual, kind in ((panels[0], False, "plain"), (panels[1], True, "ResNet")):
        for d in depths:
            rows = (depth == d) & (residual == is_residual)
            order = np.argsort(epoch[rows])
            x = epoch[rows][order]
            axes.plot(x, train[rows][order], "-", color=colours[d], lw=2, label=f"{kind}-{d} train")
            if other is not None:
                axes.plot(
                    x,
                    other[rows][order],
                    "--",
                    color=colours[d],
                    lw=1,
                    label=f"{kind}-{d} {held_name}",
                )
        axes.set_xlabel("epoch")
        axes.set_title(f"{kind} networks")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    panels[0].set_ylabel(unit)
    if metric == "loss":
        panels[0].set_yscale("log")
    figure.suptitle(title or f"Training {metric}: plain against residual, same budget")
    return _finish(figure, save)
