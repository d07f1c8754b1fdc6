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
