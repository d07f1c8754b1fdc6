"""Training, evaluation and prediction: the default recipe, its callbacks, and run folders.

The main job, :func:`train`, trains a network on SIGNS and writes a run folder::

    run.json          what was trained: model, recipe, seed (checked on resume)
    backup/           BackupAndRestore's state while a run is unfinished
    best.keras        the model of the epoch with the best validation accuracy
    model.keras       the final model
    history.csv       one row per epoch: loss, accuracy, val_loss, val_accuracy, lr
    metrics.json      test loss and accuracy (inference mode), epochs, seed, wall time,
                      images/s, library versions
    curves.png        training curves; confusion_matrix.png: the test confusion matrix
    logs/             TensorBoard event files, with ``tensorboard=True``

Why the default recipe differs from the course's (measured in BENCHMARKS.md): with
BatchNormalization's momentum at the course's 0.99, the moving statistics that
``model.evaluate`` uses lag far behind the weights in a 10-epoch SIGNS run (about
340 steps), and the network scores near chance in inference mode. Momentum 0.9 lets
them catch up, and a cosine decay of Adam's learning rate to 0 makes the last epoch
dependable. The test set is read only at the end; the validation split (10% of the
training file, stratified, seeded) is what the best-model checkpoint watches.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import platform
import shutil
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from resnet_keras import models

REFERENCE_BATCH_SIZE = 32  # the learning rate is given for this batch size; scaled linearly
STRATEGIES = ("default", "mirrored", "multiworker")


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite, and training stopped."""


class RunFolderError(ValueError):
    """A run folder holds a checkpoint of a different model or recipe."""


class ModelFileError(ValueError):
    """A model file is missing or is not a Keras model."""


class ImageReadError(ValueError):
    """An image file cannot be read or decoded."""


# ---------------------------------------------------------------------------
# The recipe


@dataclass(frozen=True)
class Recipe:
    """How to train: optimizer settings, schedule, BatchNorm momentum, data handling.

    Attributes:
        epochs: passes over the training part.
        batch_size: the global batch size (split across replicas under a strategy).
        learning_rate: Adam's peak learning rate at ``REFERENCE_BATCH_SIZE`` (32); it
            is scaled by ``batch_size / 32``.
        schedule: ``"cosine"`` (decay to 0 over all steps) or ``"constant"``.
        bn_momentum: BatchNormalization's moving-average momentum (course: 0.99).
        label_smoothing: cross-entropy label smoothing, in [0, 1).
        augment: random label-keeping changes to training images (see ``data``).
        validation_split: fraction of the training file held out (stratified,
            seeded) to select checkpoints; ``None`` trains on all of it.
    """

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    bn_momentum: float = 0.9
    label_smoothing: float = 0.0
    augment: bool = False
    validation_split: float | None = 0.1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive; got {self.learning_rate!r}.")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant'; got {self.schedule!r}.")
        if not 0.0 <= self.bn_momentum < 1.0:
            raise ValueError(f"bn_momentum must lie in [0, 1); got {self.bn_momentum!r}.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1); got {self.label_smoothing!r}.")
        if self.validation_split is not None and not 0.0 < self.validation_split < 1.0:
            raise ValueError(
                f"validation_split must lie in (0, 1) or be None; got {self.validation_split!r}."
            )

    @property
    def scaled_learning_rate(self) -> float:
        """The peak learning rate for this global batch size (linear scaling rule)."""
        return self.learning_rate * self.batch_size / REFERENCE_BATCH_SIZE


DEFAULT_RECIPE = Recipe()
"""ResNet50 on SIGNS: Adam 1e-3 with cosine decay to 0 over 10 epochs, BN momentum 0.9."""

COURSE_RECIPE = Recipe(schedule="constant", bn_momentum=0.99, validation_split=None)
"""The course's recipe: Adam 1e-3 constant, BN momentum 0.99, all 1080 images, 10 epochs."""


def make_optimizer(recipe: Recipe, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam with the recipe's (batch-scaled) learning rate and schedule."""
    rate = recipe.scaled_learning_rate
    if recipe.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            rate, decay_steps=max(1, recipe.epochs * steps_per_epoch), alpha=0.0
        )
    return keras.optimizers.Adam(learning_rate=rate)


def compile_model(model: keras.Model, recipe: Recipe, steps_per_epoch: int) -> keras.Model:
    """Compile ``model`` for ``recipe``: Adam, categorical cross-entropy, accuracy."""
    model.compile(
        optimizer=make_optimizer(recipe, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def build_model(name: str, input_shape: Sequence[int], classes: int, **options) -> keras.Model:
    """Build a network by its command-line name: ``ResNet50``, ``resnetD`` or ``cifar_resnetD``."""
    if name == "ResNet50":
        return models.ResNet50(input_shape, classes, **options)
    for prefix, builder in (("cifar_resnet", models.cifar_resnet), ("resnet", models.resnet)):
        depth = name.removeprefix(prefix)
        if name.startswith(prefix) and depth.isdigit():
            return builder(int(depth), input_shape, classes, **options)
    raise ValueError(
        f"unknown model {name!r}; expected ResNet50 (the course's), resnet18, resnet34, "
        "resnet50, resnet101, resnet152, or cifar_resnetD with D = 6n + 2 (20, 32, 44, 56, 110)."
    )


# ---------------------------------------------------------------------------
# Seeds and strategies


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and turn on TensorFlow op determinism.

    With it, the same command on the same machine gives the same weights and metrics
    (op determinism makes some GPU kernels slower, and stays on for the process).
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def split_cpu(devices: int) -> None:
    """Split the CPU into ``devices`` logical devices (before TensorFlow initializes).

    MirroredStrategy then treats them as replicas, which is how to try data
    parallelism on a machine without GPUs.

    Raises:
        RuntimeError: TensorFlow's devices are already initialized in this process.
    """
    if devices < 1:
        raise ValueError(f"devices must be at least 1; got {devices}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)]
    )


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """A ``tf.distribute`` strategy by name.

    - ``"default"``: one device (TensorFlow's default strategy).
    - ``"mirrored"``: ``MirroredStrategy`` over every GPU, or, without GPUs, over every
      logical CPU device (see :func:`split_cpu`).
    - ``"multiworker"``: ``MultiWorkerMirroredStrategy``; the workers and this
      process's place among them come from the ``TF_CONFIG`` environment variable.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "strategy 'multiworker' needs TF_CONFIG, e.g. "
                '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}}, set on every worker.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}.")


def is_chief() -> bool:
    """Whether this process is the chief of a multi-worker cluster (or works alone).

    The chief is the task of type ``chief``, or worker 0 in a cluster without one.
    """
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    if task.get("type") == "chief":
        return True
    return task.get("index", 0) == 0 and "chief" not in config.get("cluster", {})


# ---------------------------------------------------------------------------
# Fitting with callbacks


class _StopOnNaN(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite, and remember where."""

    def __init__(self) -> None:
        super().__init__()
        self.bad: tuple[int, int, float] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.bad = (self._epoch + 1, batch + 1, float(loss))
            self.model.stop_training = True


class _LearningRateLogger(keras.callbacks.Callback):
    """Add the learning rate at the end of each epoch to the logs (so history.csv has it)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            optimizer = self.model.optimizer
            logs["lr"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def fit(
    model: keras.Model,
    train_data: tf.data.Dataset,
    run_dir: str | os.PathLike,
    *,
    epochs: int,
    validation_data: tf.data.Dataset | None = None,
    tensorboard: bool = False,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, list[float]]:
    """Train a compiled ``model`` with the callbacks a run needs, resuming if interrupted.

    Callbacks: the progress bar (``verbose``), ``BackupAndRestore`` in
    ``run_dir/backup`` (a run that stopped resumes after its last finished epoch when
    called again with the same arguments), a best-model checkpoint ``run_dir/best.keras``
    (highest ``val_accuracy``; without validation data, lowest training ``loss``),
    ``CSVLogger`` to ``run_dir/history.csv`` (appending across resumes), a NaN guard,
    and TensorBoard in ``run_dir/logs`` if asked.

    Returns:
        the whole history, read back from ``history.csv``: metric -> one value per epoch,
        including epochs trained before a resume.

    Raises:
        TrainingDivergedError: the loss became NaN or infinite.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    backup_dir = run_dir / "backup"
    history_path = run_dir / "history.csv"
    resuming = (backup_dir / "training_metadata.json").is_file()
    if not resuming:
        history_path.unlink(missing_ok=True)  # a fresh run starts a fresh history

    monitor, mode = ("val_accuracy", "max") if validation_data is not None else ("loss", "min")
    nan_guard = _StopOnNaN()
    wired = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        nan_guard,
        _LearningRateLogger(),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "best.keras"), monitor=monitor, mode=mode, save_best_only=True
        ),
        keras.callbacks.CSVLogger(str(history_path), append=True),
    ]
    if tensorboard:
        wired.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")))
    if isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return _fit_multi_worker(model, train_data, history_path, epochs, verbose)
    model.fit(
        train_data,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=[*wired, *callbacks],
        verbose=verbose,
        shuffle=False,  # the dataset shuffles itself
    )
    if nan_guard.bad is not None:
        epoch, batch, loss = nan_guard.bad
        raise TrainingDivergedError(
            f"the training loss became {loss} at epoch {epoch}, batch {batch}; training "
            "stopped. Lower the learning rate (--learning-rate) or check the input data "
            f"for NaN or infinite values. The last good epoch's state is in {backup_dir}."
        )
    return read_history(history_path)


def _fit_multi_worker(
    model: keras.Model, data: tf.data.Dataset, history_path: Path, epochs: int, verbose
) -> dict[str, list[float]]:
    """A plain distributed training loop for MultiWorkerMirroredStrategy.

    Keras 3's ``Model.fit`` does not run under this strategy (keras-team/keras#20585:
    it reduces per-replica values eagerly and scalar metrics along axis 0), so this loop
    does what ``fit`` would: each replica computes the loss of its share of the global
    batch (cross-entropy with the compiled label smoothing, scaled by the global batch),
    the optimizer all-reduces the gradients and applies them. No callbacks run: no
    resume, checkpoint or TensorBoard; ``history.csv`` gets epoch, loss and lr.
    """
    strategy = model.distribute_strategy
    smoothing = float(getattr(model.loss, "label_smoothing", 0.0))
    distributed = strategy.experimental_distribute_dataset(data)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            per_example = keras.losses.categorical_crossentropy(
                y, model(x, training=True), label_smoothing=smoothing
            )
            loss = tf.nn.compute_average_loss(per_example)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(x, y):
        return strategy.reduce("SUM", strategy.run(replica_step, args=(x, y)), axis=None)

    rows = []
    for epoch in range(epochs):
        losses = [float(step(x, y)) for x, y in distributed]
        rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        rows.append({"epoch": epoch, "loss": float(np.mean(losses)), "lr": rate})
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs} - loss: {rows[-1]['loss']:.4f} - lr: {rate:.4e}")
    with open(history_path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["epoch", "loss", "lr"])
        writer.writeheader()
        writer.writerows(rows)
    return read_history(history_path)


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """``history.csv`` as metric -> list of per-epoch values (``epoch`` is 0-based).

    CSVLogger writes ``NA`` where an epoch has no value (and whole ``val_*`` columns
    when there is no validation data); those become NaN, and all-NA columns are dropped.
    """
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    columns = [name for name in (rows[0] if rows else {}) if any(r[name] != "NA" for r in rows)]
    return {name: [_number(row[name]) for row in rows] for name in columns}


def _number(text: str) -> float:
    return math.nan if text in ("NA", "") else float(text)


# ---------------------------------------------------------------------------
# The main job: train on SIGNS into a run folder


@dataclass(frozen=True)
class RunResult:
    """What :func:`train` produced: the run folder, its metrics and the trained model."""

    run_dir: Path
    metrics: dict
    model: keras.Model


def train(
    run_dir: str | os.PathLike,
    *,
    model_name: str = "ResNet50",
    recipe: Recipe = DEFAULT_RECIPE,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
    strategy: str = "default",
    tensorboard: bool = False,
    subset: int | None = None,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> RunResult:
    """Train ``model_name`` on SIGNS with ``recipe`` and write the run folder.

    Args:
        run_dir: the run folder (created); running the same call again after an
            interruption resumes from the last finished epoch.
        model_name: ``ResNet50`` (the course's network), ``resnetD`` or ``cifar_resnetD``;
            built for SIGNS's (64, 64, 3) images and 6 classes.
        recipe: see :class:`Recipe`; :data:`DEFAULT_RECIPE` by default.
        seed: seeds everything and turns on op determinism; ``None`` leaves runs random.
        data_dir: where SIGNS lies (see ``data.load_signs``).
        strategy: ``default``, ``mirrored`` or ``multiworker`` (see :func:`make_strategy`).
        tensorboard: also write TensorBoard logs to ``run_dir/logs``.
        subset: use only the first ``subset`` training and test images (for quick checks).
        verbose: Keras's progress output: ``"auto"``, 0, 1 or 2.
        callbacks: extra Keras callbacks.

    Returns:
        a :class:`RunResult`; ``metrics`` is also in ``run_dir/metrics.json``.

    Raises:
        RunFolderError: ``run_dir`` holds an unfinished run of another model or recipe.
        TrainingDivergedError: the loss became NaN or infinite.
        ValueError: a bad argument; data.SignsDataError: SIGNS cannot be found or read.
    """
    from resnet_keras import data as signs
    from resnet_keras.plots import plot_confusion_matrix, plot_training_curves

    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of images; got {subset}.")
    distribution = make_strategy(strategy)  # first: a multi-worker strategy must precede TF ops
    if seed is not None:
        set_seed(seed)
    data = signs.load_signs(data_dir)
    if subset is not None:
        data = dataclasses.replace(
            data,
            x_train=data.x_train[:subset],
            y_train=data.y_train[:subset],
            x_test=data.x_test[:subset],
            y_test=data.y_test[:subset],
        )
    split = {"data": data, "seed": seed, "validation_split": recipe.validation_split}
    train_data = signs.signs_dataset(
        "train", recipe.batch_size, shuffle=True, augment=recipe.augment, **split
    )
    validation_data = (
        signs.signs_dataset("validation", recipe.batch_size, shuffle=False, **split)
        if recipe.validation_split is not None
        else None
    )
    counting = signs.signs_dataset("train", 256, shuffle=False, **split)
    train_images = sum(len(labels) for _, labels in counting.as_numpy_iterator())
    steps_per_epoch = math.ceil(train_images / recipe.batch_size)
    with distribution.scope():
        model = build_model(
            model_name,
            signs.IMAGE_SHAPE,
            len(data.classes),
            bn_momentum=recipe.bn_momentum,
        )
        compile_model(model, recipe, steps_per_epoch)

    run_dir = Path(run_dir)
    if strategy == "multiworker" and not is_chief():
        # Every worker runs the same code; only the chief's files are the run's.
        index = json.loads(os.environ["TF_CONFIG"])["task"].get("index", 0)
        run_dir = run_dir / f"worker-{index}"
    config = {
        "model": model_name,
        "input_shape": list(signs.IMAGE_SHAPE),
        "recipe": dataclasses.asdict(recipe),
        "seed": seed,
        "subset": subset,
    }
    _claim_run_dir(run_dir, config)

    timer = _EpochTimer()
    start = time.perf_counter()
    history = fit(
        model,
        train_data,
        run_dir,
        epochs=recipe.epochs,
        validation_data=validation_data,
        tensorboard=tensorboard,
        verbose=verbose,
        callbacks=[timer, *callbacks],
    )
    wall = time.perf_counter() - start
    save_model(model, run_dir / "model.keras")

    # The test set, once, in inference mode (BatchNorm's moving statistics).
    test_data = signs.signs_dataset("test", recipe.batch_size, shuffle=False, data=data)
    y_true = np.argmax(np.concatenate([y for _, y in test_data.as_numpy_iterator()]), axis=1)
    if strategy == "multiworker":  # evaluate/predict share fit's bug (see _fit_multi_worker)
        probabilities = np.concatenate([model(x, training=False) for x, _ in test_data])
        test_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_true))
        test_loss = float(np.mean(-np.log(probabilities[np.arange(len(y_true)), y_true] + 1e-7)))
    else:
        test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
        probabilities = model.predict(test_data, verbose=0)
    y_pred = np.argmax(probabilities, axis=1)
    class_names = [str(c) for c in data.classes]

    trained_epochs = len(timer.seconds)
    metrics = {
        "model": model_name,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "test_images": len(y_true),
        "evaluation": "model.evaluate (inference mode: BatchNorm moving statistics)",
        "epochs": len(history.get("epoch", [])),
        "epochs_this_session": trained_epochs,
        "final_val_accuracy": (history.get("val_accuracy") or [None])[-1],
        "best_val_accuracy": max(history["val_accuracy"]) if "val_accuracy" in history else None,
        "seed": seed,
        "recipe": dataclasses.asdict(recipe),
        "learning_rate_scaled": recipe.scaled_learning_rate,
        "strategy": strategy,
        "replicas": distribution.num_replicas_in_sync,
        "train_images": train_images,
        "wall_time_s": round(wall, 3),
        "epoch_times_s": [round(s, 3) for s in timer.seconds],
        # steady state: the median epoch (the first one also traces and compiles the graph)
        "images_per_s": round(train_images / statistics.median(timer.seconds), 2)
        if trained_epochs
        else None,
        "class_names": class_names,
        "versions": library_versions(),
    }
    _write_json(run_dir / "metrics.json", metrics)
    plot_training_curves(history, save=run_dir / "curves.png")
    plot_confusion_matrix(
        y_true,
        y_pred,
        class_names,
        save=run_dir / "confusion_matrix.png",
        title=f"SIGNS test set, {model_name}",
    )
    return RunResult(run_dir=run_dir, metrics=metrics, model=model)


class _EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch trained in this session (validation included)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _claim_run_dir(run_dir: Path, config: dict) -> None:
    """Record ``config`` in ``run_dir/run.json``; refuse a folder holding another run's state."""
    path = run_dir / "run.json"
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError:
            previous = None
        has_state = any((run_dir / name).exists() for name in ("backup", "model.keras"))
        if previous != config and has_state:
            what = "model" if (previous or {}).get("model") != config["model"] else "recipe"
            raise RunFolderError(
                f"run folder {run_dir} holds a checkpoint of a different {what} "
                f"({_describe(previous)}), not {_describe(config)}; choose another "
                "--run-dir, or delete that folder to start over."
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(path, config)


def _describe(config: dict | None) -> str:
    if not config:
        return "unreadable run.json"
    recipe = ", ".join(f"{key}={value}" for key, value in config.get("recipe", {}).items())
    return f"{config.get('model')} with {recipe}, seed={config.get('seed')}"


def _write_json(path: Path, value: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(temporary, path)


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save ``model`` as a ``.keras`` file atomically (a temporary file, then a rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    model.save(temporary)
    os.replace(temporary, path)


def library_versions() -> dict[str, str]:
    """Versions of Python, TensorFlow, Keras and NumPy, for metrics.json."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


# ---------------------------------------------------------------------------
# Evaluation and prediction of saved models


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` model with Keras's safe mode on (no arbitrary code runs).

    Raises:
        ModelFileError: the file is missing, or is not a Keras model file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"model file {path} does not exist; give the model.keras of a run folder "
            "(resnet-keras train writes runs/<name>/model.keras)."
        )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ModelFileError(
            f"{path} is not a Keras model file that loads in safe mode "
            f"({type(error).__name__}: {first_line}); expected a .keras file written "
            "by model.save() or resnet-keras train."
        ) from error


def evaluate(
    model_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 32,
) -> dict[str, float]:
    """Test loss and accuracy of a saved model on the SIGNS test set, in inference mode.

    Returns:
        ``{"test_loss": ..., "test_accuracy": ..., "test_images": 120}``.
    """
    from resnet_keras import data as signs

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    model = load_model(model_path)
    data = signs.load_signs(data_dir)
    test_data = signs.signs_dataset("test", batch_size, shuffle=False, data=data)
    if not model.compiled:
        model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    result = model.evaluate(test_data, verbose=0, return_dict=True)
    return {
        "test_loss": float(result["loss"]),
        "test_accuracy": float(result.get("accuracy", result.get("compile_metrics", np.nan))),
        "test_images": len(data.y_test),
    }


def read_image(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """Read an image file as RGB float32 in [0, 1], resized to ``size = (height, width)``.

    TensorFlow decodes BMP, GIF (first frame), JPEG, PNG and WebP; if it cannot and
    Pillow is installed (it is optional), Pillow is tried next (TIFF and others).

    Returns:
        an array of shape ``(height, width, 3)``.

    Raises:
        ImageReadError: the file is missing or no decoder reads it.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image file {path} does not exist.")
    try:
        image = tf.io.decode_image(
            tf.io.read_file(str(path)), channels=3, expand_animations=False
        ).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as tf_error:
        image = _read_with_pillow(path, tf_error)
    resized = tf.image.resize(tf.cast(image, tf.float32) / 255.0, size, antialias=True)
    return np.clip(resized.numpy(), 0.0, 1.0)


def _read_with_pillow(path: Path, tf_error: Exception) -> np.ndarray:
    hint = "expected an image in a format TensorFlow reads (BMP, GIF, JPEG, PNG, WebP)"
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImageReadError(
            f"cannot read image {path}: {hint}; install Pillow for more formats."
        ) from tf_error
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise ImageReadError(
            f"cannot read image {path}: neither TensorFlow nor Pillow can decode it; "
            f"{hint} or another format Pillow reads."
        ) from error


def predict(model_path: str | os.PathLike, image_paths: Sequence[str | os.PathLike]) -> list[dict]:
    """Classify image files with a saved model (inference mode).

    Each image is read as RGB, resized to the model's input height and width, and
    scaled to [0, 1], as in training.

    Returns:
        one dict per image: ``{"image": path, "class": index, "probabilities": [...]}``,
        probabilities in class order (SIGNS: the digit shown, 0 to 5).
    """
    if not image_paths:
        raise ValueError("give at least one image file to classify.")
    model = load_model(model_path)
    height, width = model.input_shape[1:3]
    images = np.stack([read_image(path, (height, width)) for path in image_paths])
    probabilities = model.predict(images, verbose=0)
    return [
        {
            "image": str(path),
            "class": int(np.argmax(row)),
            "probabilities": [float(p) for p in row],
        }
        for path, row in zip(image_paths, probabilities, strict=True)
    ]


def remove_backup(run_dir: str | os.PathLike) -> None:
    """Delete an unfinished run's ``backup/`` state so the next run starts afresh."""
    shutil.rmtree(Path(run_dir) / "backup", ignore_errors=True)
