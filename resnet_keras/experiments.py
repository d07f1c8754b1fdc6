"""Two studies of plain against residual networks, measured on SIGNS.

- :func:`vanishing_gradients`: the course ResNet-50 and its plain twin, with and
  without BatchNorm: per-layer gradient norms at initialization and across a
  short training run (:mod:`resnet_keras.gradients`).
- :func:`degradation`: He et al. (2016), figures 1 and 6: CIFAR-style networks
  of several depths, plain and residual, trained with the same budget; training
  error curves, plus a held-out validation split of the training data.

The SIGNS test set is for final reports only; these studies select nothing, so
they may report test loss too, always labelled "test".
"""

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from resnet_keras import models, plots
from resnet_keras.data import SignsData, stratified_split
from resnet_keras.gradients import (
    COLUMNS,
    RECORDER_COLUMNS,
    GradientNormRecorder,
    Table,
    gradient_norms,
    kernel_layout,
)

DEGRADATION_COLUMNS = (
    "network",
    "depth",
    "residual",
    "epoch",
    "train_loss",
    "train_error",
    "val_loss",
    "val_error",
    "test_loss",
    "test_error",
    "seconds",
)

# one row per network: its last epoch, then the training split re-measured in inference mode
DEGRADATION_FINAL_COLUMNS = (*DEGRADATION_COLUMNS, "train_loss_eval", "train_error_eval")


def prepare_images(x: np.ndarray, size: int | None = None) -> np.ndarray:
    """uint8 images ``(N, H, W, 3)`` -> float32 in [0, 1], resized to ``(N, size, size, 3)``.

    Downscaling by an integer factor averages each ``factor x factor`` patch
    (exact area resampling); other sizes use antialiased bilinear resizing.
    """
    x = np.asarray(x, dtype="float32") / 255.0
    if size is None or size == x.shape[1] == x.shape[2]:
        return x
    n, height, width, channels = x.shape
    if height % size == 0 and width % size == 0:
        fy, fx = height // size, width // size
        return x.reshape(n, size, fy, size, fx, channels).mean(axis=(2, 4))
    resized = keras.ops.image.resize(x, (size, size), interpolation="bilinear", antialias=True)
    return keras.ops.convert_to_numpy(resized).astype("float32")


def _labels(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Integer labels ``(N,)``, checked against the ``N`` images."""
    y = np.asarray(y).reshape(-1).astype("int64")
    if len(x) != len(y):
        raise ValueError(f"x_train has {len(x)} images but y_train has {len(y)} labels.")
    return y


class _EpochLog(keras.callbacks.Callback):
    """After each epoch: training-mode running loss/accuracy from fit, and held-out sets in
    inference mode."""

    def __init__(self, name: str, depth: int, residual: bool, val, test, batch_size: int):
        super().__init__()
        self.name, self.depth, self.residual = name, depth, residual
        self.val, self.test, self.batch_size = val, test, batch_size
        self.rows: list[dict] = []
        self.start = time.perf_counter()

    def _measure(self, data) -> tuple[float, float]:
        if data is None:
            return float("nan"), float("nan")
        loss, accuracy = self.model.evaluate(*data, batch_size=self.batch_size, verbose=0)
        return float(loss), 1.0 - float(accuracy)

    def on_epoch_end(self, epoch, logs=None):
        val_loss, val_error = self._measure(self.val)
        test_loss, test_error = self._measure(self.test)
        self.rows.append(
            {
                "network": self.name,
                "depth": self.depth,
                "residual": self.residual,
                "epoch": epoch + 1,
                "train_loss": float(logs["loss"]),
                "train_error": 1.0 - float(logs["accuracy"]),
                "val_loss": val_loss,
                "val_error": val_error,
                "test_loss": test_loss,
                "test_error": test_error,
                "seconds": time.perf_counter() - self.start,
            }
        )


def network_label(depth: int, residual: bool, batch_norm: bool = True) -> str:
    """``"ResNet-56"``, ``"plain-20"``; ``" (no BN)"`` appended without BatchNorm."""
    name = f"{'ResNet' if residual else 'plain'}-{depth}"
    return name if batch_norm else f"{name} (no BN)"


def degradation(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    depths: Sequence[int] = (20, 56),
    epochs: int = 10,
    batch_size: int = 32,
    image_size: int = 32,
    learning_rate: float = 1e-3,
    cosine_decay: bool = True,
    validation_fraction: float = 0.15,
    seed: int = 0,
    out_dir: str | Path | None = None,
    verbose: int = 0,
) -> tuple[Table, Table]:
    """Train CIFAR-style plain and residual networks of each depth with the same budget.

    Every network sees the same split, image size, batch size, number of epochs,
    optimizer (Adam from ``learning_rate``, cosine-decayed to 0 over the run unless
    ``cosine_decay=False``: the package's default recipe), BatchNorm momentum 0.9, seed.

    Args:
        x_train, y_train: uint8 images ``(N, H, W, 3)`` and integer labels ``(N,)``.
        x_test, y_test: optional test set, reported per epoch and labelled "test".
        depths: ``6n + 2`` depths (20, 56, 110, ...).
        epochs, batch_size, learning_rate: the shared training budget.
        image_size: side in pixels the images are resized to (32: CIFAR's size).
        validation_fraction: share of each class held out of training.
        seed: seeds the split and every network's initialization and shuffling.
        out_dir: if given, ``degradation.csv`` (per epoch) and ``degradation_final.csv``
            are rewritten there after each network, so a stopped run keeps its results.
        verbose: passed to ``model.fit``.

    Returns:
        ``(curves, final)``: per-epoch rows with ``DEGRADATION_COLUMNS`` (losses are mean
        cross-entropy in nats, errors are fractions; ``train_*`` is fit's running
        average in training mode, ``val_*``/``test_*`` are measured after the epoch in
        inference mode), and one row per network (:data:`DEGRADATION_FINAL_COLUMNS`):
        its last epoch, plus ``train_*_eval`` measured on the whole training split in
        inference mode after the last epoch.
    """
    for depth in depths:
        models.cifar_resnet(depth, (8, 8, 3), 2)  # a bad depth fails now, not after hours
    y_train = _labels(x_train, y_train)
    classes = int(y_train.max()) + 1
    x = prepare_images(x_train, image_size)
    fit, val = stratified_split(y_train, validation_fraction, seed)  # as data.signs_dataset
    x_fit, y_fit, x_val, y_val = x[fit], y_train[fit], x[val], y_train[val]
    test = None
    if x_test is not None and y_test is not None:
        test = (prepare_images(x_test, image_size), np.asarray(y_test).reshape(-1))

    curves, finals = [], []
    for depth in depths:
        for residual in (False, True):
            keras.utils.set_random_seed(seed)
            model = models.cifar_resnet(
                depth, x.shape[1:], classes, shortcuts=residual, bn_momentum=0.9
            )
            steps = epochs * -(-len(x_fit) // batch_size)
            rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
            model.compile(
                optimizer=keras.optimizers.Adam(rate if cosine_decay else learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            name = network_label(depth, residual)
            log = _EpochLog(name, depth, residual, (x_val, y_val), test, batch_size)
            model.fit(
                x_fit,
                y_fit,
                batch_size=batch_size,
                epochs=epochs,
                shuffle=True,
                callbacks=[log],
                verbose=verbose,
            )
            train_loss, train_accuracy = model.evaluate(
                x_fit, y_fit, batch_size=batch_size, verbose=0
            )
            last = log.rows[-1]
            finals.append(
                {
                    **last,
                    "train_loss_eval": float(train_loss),
                    "train_error_eval": 1.0 - float(train_accuracy),
                }
            )
            curves.extend(log.rows)
            if out_dir is not None:
                Table(curves, DEGRADATION_COLUMNS).to_csv(Path(out_dir) / "degradation.csv")
                final_path = Path(out_dir) / "degradation_final.csv"
                Table(finals, DEGRADATION_FINAL_COLUMNS).to_csv(final_path)
    return Table(curves, DEGRADATION_COLUMNS), Table(finals, DEGRADATION_FINAL_COLUMNS)


# ---------------------------------------------------------------------------
# Vanishing gradients: ResNet-50 and its plain twin, with and without BatchNorm

VARIANTS = ((True, True), (False, True), (True, False), (False, False))  # (residual, batch_norm)


def vanishing_gradients(
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    steps: int = 40,
    every: int = 5,
    batch_size: int = 32,
    probe_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    image_size: int | None = None,
    builder: Callable[..., keras.Model] = models.ResNet50,
    verbose: int = 0,
) -> tuple[Table, Table]:
    """Gradient norms of the course ResNet-50 and its plain twin, with and without BatchNorm.

    For each of the four variants: :func:`~resnet_keras.gradients.gradient_norms` at
    initialization on the first ``probe_size`` training images, then ``steps`` Adam
    steps (batch ``batch_size``, shuffled with ``seed``, BatchNorm momentum 0.9) with a
    :class:`~resnet_keras.gradients.GradientNormRecorder` every ``every`` steps
    (``steps=0``: initialization only, and the second table is empty).

    Args:
        x_train, y_train: uint8 images ``(N, H, W, 3)`` and integer labels ``(N,)``.
        image_size: resize to this side first (``None``: keep 64x64).
        builder: makes each network, called as ``builder(input_shape, classes,
            shortcuts=..., batch_norm=..., bn_momentum=0.9)``; the course ResNet-50 by
            default (``functools.partial(models.cifar_resnet, 20)`` works too). Labels
            use the depth counted along the main path.

    Returns:
        ``(at_init, during_training)``: gradient-norm tables with a leading ``network``
        column (``"ResNet-50"``, ``"plain-50"``, ``"... (no BN)"``); the second also has
        ``step``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0 (0: initialization only); got {steps}.")
    y = _labels(x_train, y_train)
    x = prepare_images(x_train, image_size)
    classes = int(y.max()) + 1
    order = np.random.default_rng(seed).permutation(len(x))
    take = order[: min(len(x), steps * batch_size)]
    at_init, during = [], []
    for residual, batch_norm in VARIANTS:
        keras.utils.set_random_seed(seed)
        model = builder(
            x.shape[1:], classes, shortcuts=residual, batch_norm=batch_norm, bn_momentum=0.9
        )
        depth = sum(kernel.path == "main" for kernel in kernel_layout(model))
        name = network_label(depth, residual, batch_norm)
        probe = gradient_norms(model, x[:probe_size], y[:probe_size])
        at_init += [{"network": name, **row} for row in probe]
        if steps == 0:
            continue
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy"
        )
        recorder = GradientNormRecorder(every=every)
        epochs = -(-steps * batch_size // len(take))
        model.fit(
            x[take],
            y[take],
            batch_size=batch_size,
            epochs=epochs,
            shuffle=True,
            callbacks=[recorder],
            verbose=verbose,
        )
        during += [{"network": name, **row} for row in recorder.table if row["step"] < steps]
    return Table(at_init, ("network", *COLUMNS)), Table(during, ("network", *RECORDER_COLUMNS))


def _by_network(table: Table) -> dict[str, Table]:
    names = dict.fromkeys(table["network"])  # first-seen order
    return {name: table.where(network=name) for name in names}


def run_vanishing_gradients(data: SignsData, out_dir: str | Path, **options) -> dict[str, Path]:
    """Run :func:`vanishing_gradients` on SIGNS and write its tables and figures.

    Writes ``gradient_norms_init.csv`` and ``norm_vs_depth_init.png``, and unless
    ``steps=0`` ``gradient_norms_training.csv``, ``norm_vs_depth_last_step.png``,
    ``stage_ratio.png`` and one ``heatmap_<network>.png`` per variant, into ``out_dir``.

    Returns:
        file name -> path of everything written.
    """
    out = Path(out_dir)
    at_init, during = vanishing_gradients(data.x_train, data.y_train, **options)
    at_init.to_csv(out / "gradient_norms_init.csv")
    plots.plot_gradient_norms_by_depth(
        _by_network(at_init),
        save=out / "norm_vs_depth_init.png",
        title="Gradient norm against depth at initialization (ResNet-50 shape, SIGNS)",
    )
    if not len(during):
        return _written(out)
    during.to_csv(out / "gradient_norms_training.csv")
    last = max(during["step"])
    plots.plot_gradient_norms_by_depth(
        _by_network(during.where(step=last)),
        save=out / "norm_vs_depth_last_step.png",
        title=f"Gradient norm against depth after {last} training steps",
    )
    plots.plot_stage_ratio(_by_network(during), save=out / "stage_ratio.png")
    for name, table in _by_network(during).items():
        slug = name.lower().replace(" ", "_").replace("(", "").replace(")", "").replace("-", "")
        plots.plot_gradient_norm_heatmap(
            table, save=out / f"heatmap_{slug}.png", title=f"Gradient norm, {name}"
        )
    return _written(out)


def _written(out: Path) -> dict[str, Path]:
    return {path.name: path for path in sorted(out.iterdir()) if path.suffix in (".csv", ".png")}


def run_degradation(data: SignsData, out_dir: str | Path, **options) -> dict[str, Path]:
    """Run :func:`degradation` on SIGNS and write its tables and figures.

    Writes ``degradation.csv`` (per epoch), ``degradation_final.csv`` (per network),
    ``degradation_error.png`` (training error, validation dashed) and
    ``degradation_loss.png`` (training loss, test loss dashed and labelled
    "report only") into ``out_dir``.

    Returns:
        file name -> path of everything written.
    """
    out = Path(out_dir)
    curves, _ = degradation(
        data.x_train, data.y_train, data.x_test, data.y_test, out_dir=out, **options
    )
    plots.plot_degradation(curves, "error", "val", save=out / "degradation_error.png")
    plots.plot_degradation(
        curves,
        "loss",
        "test",
        save=out / "degradation_loss.png",
        title="Training and test loss: plain against residual, same budget",
    )
    return _written(out)
