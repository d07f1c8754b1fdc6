"""Per-layer gradient norms: a one-batch probe and an in-step recorder.

- :func:`gradient_norms` runs one forward and one backward pass on a batch and
  returns a :class:`Table` with one row per trainable kernel.
- :class:`GradientNormRecorder` records the same table every ``N`` training
  steps inside ``model.fit``, from the gradients the training step already has.

Where a layer stands is read from its name (``conv3_block2_1_conv``: stage 3,
block 2, main-path position 1) and its depth index from its order along the
model's main path, never from hand-kept lists.
"""

import csv
import io
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np


class Table:
    """A small tidy table: named columns of equal length, one dict per row.

    Converts to CSV (:meth:`to_csv`) and, if pandas is installed, to a
    ``pandas.DataFrame`` (:meth:`to_pandas`); pandas is never required.
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]):
        self.columns = tuple(columns)
        self.rows = [{name: row[name] for name in self.columns} for row in rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, column: str) -> np.ndarray:
        """One column as a numpy array (strings stay strings)."""
        if column not in self.columns:
            raise KeyError(f"no column {column!r}; the columns are {', '.join(self.columns)}.")
        return np.asarray([row[column] for row in self.rows])

    def __repr__(self) -> str:
        return f"Table({len(self)} rows: {', '.join(self.columns)})"

    def where(self, **equal: Any) -> "Table":
        """The rows whose columns equal the given values, e.g. ``table.where(step=10)``."""
        rows = [row for row in self.rows if all(row[k] == v for k, v in equal.items())]
        return Table(rows, self.columns)

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """The table as CSV text with a header row; also written atomically to ``path`` if given."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        text = buffer.getvalue()
        if path is not None:
            write_text_atomic(path, text)
        return text

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (ImportError with advice if pandas is absent)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "Table.to_pandas needs pandas, which is optional: `pip install pandas`, "
                "or use Table.to_csv() / table.rows without it."
            ) from None
        return pandas.DataFrame(self.rows, columns=list(self.columns))

    @classmethod
    def concat(cls, tables: Sequence["Table"]) -> "Table":
        """Stack tables with the same columns."""
        if not tables:
            raise ValueError("Table.concat needs at least one table.")
        columns = tables[0].columns
        for table in tables:
            if table.columns != columns:
                raise ValueError(f"columns differ: {table.columns} vs {columns}.")
        return cls([row for table in tables for row in table.rows], columns)

    @classmethod
    def read_csv(cls, path: str | os.PathLike) -> "Table":
        """Read a table written by :meth:`to_csv`: numbers as int or float, empty cells as None."""
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [{k: _parse(v) for k, v in row.items()} for row in reader]
            return cls(rows, reader.fieldnames or ())


def _parse(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as file:
            file.write(text)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes it owner-only
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


# One row per trainable kernel, in depth order.
COLUMNS = (
    "layer",  # the layer's name, e.g. "conv3_block2_1_conv"
    "stage",  # 1 for the stem (conv1), 2..5 for conv2_x..conv5_x; empty for the head
    "block",  # block within the stage (1-based); 0 for the stem; empty for the head
    "path",  # "main" (on the main path) or "shortcut" (a projection shortcut)
    "depth",  # 1-based position along the main path; a shortcut gets its block's first
    "parameters",  # number of entries in the kernel
    "grad_norm",  # L2 norm of d(loss)/d(kernel), loss in nats
    "weight_norm",  # L2 norm of the kernel itself
)
RECORDER_COLUMNS = ("step", *COLUMNS)  # step: optimizer updates applied before this gradient

_CONV_NAME = re.compile(r"^conv(?P<stage>\d+)(?:_block(?P<block>\d+)_(?P<position>\d+))?_conv$")


@dataclass(frozen=True)
class Kernel:
    """Where one trainable kernel stands in its model."""

    layer: str
    stage: int | None
    block: int | None
    path: str
    depth: int
    parameters: int
    index: int  # position of the variable in ``model.trainable_weights``


def kernel_layout(model: keras.Model) -> list[Kernel]:
    """Every trainable kernel of ``model``, ordered by depth along the main path.

    Stage and block come from keras.applications-style names (``conv1_conv``,
    ``conv{S}_block{B}_{P}_conv``; ``P = 0`` is a projection shortcut); other layers
    (the Dense head, any unconventionally named layer) have neither. Depth counts
    main-path kernels in the model's (topological) weight order; a shortcut kernel
    shares the depth of its block's first main-path convolution and is listed after it.

    Raises:
        ValueError: the model has no trainable kernels.
    """
    main, shortcuts = [], []
    for index, variable in enumerate(model.trainable_weights):
        if not variable.name.endswith("kernel"):
            continue
        layer = variable.path.split("/")[-2] if "/" in variable.path else variable.path
        match = _CONV_NAME.match(layer)
        stage = int(match["stage"]) if match else None
        block = int(match["block"] or 0) if match else None
        shortcut = bool(match) and match["position"] == "0"
        kernel = Kernel(
            layer,
            stage,
            block,
            "shortcut" if shortcut else "main",
            0,
            math.prod(variable.shape),
            index,
        )
        (shortcuts if shortcut else main).append(kernel)
    if not main and not shortcuts:
        raise ValueError(
            f"model {model.name!r} has no trainable kernels (Conv or Dense weights) to measure; "
            f"it has {len(model.trainable_weights)} trainable weights. Build it with trainable "
            "layers, or set layer.trainable = True on the layers to measure."
        )
    main = [replace(kernel, depth=depth) for depth, kernel in enumerate(main, start=1)]
    first_in_block = {}
    for kernel in main:
        first_in_block.setdefault((kernel.stage, kernel.block), kernel.depth)
    shortcuts = [replace(k, depth=first_in_block.get((k.stage, k.block), 0)) for k in shortcuts]
    return sorted(main + shortcuts, key=lambda k: (k.depth, k.path != "main", k.index))


def _rows(kernels: Sequence[Kernel], grad_norms, weight_norms, **extra) -> list[dict]:
    return [
        {
            **extra,
            "layer": k.layer,
            "stage": k.stage,
            "block": k.block,
            "path": k.path,
            "depth": k.depth,
            "parameters": k.parameters,
            "grad_norm": float(grad_norms[i]),
            "weight_norm": float(weight_norms[i]),
        }
        for i, k in enumerate(kernels)
    ]


def _check_batch(model: keras.Model, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate one batch against the model: same length, input shape, a usable target."""
    x, y = np.asarray(x), np.asarray(y)
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if x.ndim == 0 or (expected is not None and not _shape_fits(x.shape[1:], expected)):
        wanted = ", ".join(str(n) for n in expected or ("...",))
        raise ValueError(
            f"x has shape {x.shape}, but model {model.name!r} takes batches of shape "
            f"(batch, {wanted}). Pass a batch of inputs prepared as for training."
        )
    if y.ndim == 0 or len(y) != len(x):
        raise ValueError(
            f"x and y must hold the same number of examples: x has {len(x)} "
            f"(shape {x.shape}), y has shape {y.shape}."
        )
    classes = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    if y.ndim == 2 and y.shape[1] > 1 and classes is not None and y.shape[1] != classes:
        raise ValueError(
            f"y looks one-hot with {y.shape[1]} columns, but the model predicts {classes} "
            f"classes. Pass integer labels (batch,) or one-hot labels (batch, {classes})."
        )
    return x, y


def _shape_fits(shape, expected) -> bool:
    return len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )


def _loss_function(model: keras.Model, y: np.ndarray, loss) -> Callable:
    """The loss ``(y_true, y_pred) -> scalar`` that a training step would minimize."""
    if loss is None and getattr(model, "compiled", False) and model.loss is not None:
        return lambda y_true, y_pred: model.compute_loss(y=y_true, y_pred=y_pred, training=True)
    if loss is None:
        sparse = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
        loss = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    function = keras.losses.get(loss)
    if isinstance(function, keras.losses.Loss):
        return lambda y_true, y_pred: function(y_true, y_pred) + _regularization(model)
    return lambda y_true, y_pred: keras.ops.mean(function(y_true, y_pred)) + _regularization(model)


def _regularization(model: keras.Model):
    return keras.ops.sum(keras.ops.stack(model.losses)) if model.losses else 0.0


def gradient_norms(model: keras.Model, x, y, loss=None, *, training: bool = True) -> Table:
    """One forward and backward pass on a batch: per-kernel gradient and weight norms.

    Args:
        model: a built Keras model (compiled or not). Its weights and BatchNorm
            moving statistics are left as they were.
        x: a batch of inputs ``(batch, *model input shape)``.
        y: targets ``(batch,)`` integer labels or ``(batch, classes)`` one-hot.
        loss: a Keras loss (name, function or ``keras.losses.Loss``); ``None`` uses the
            compiled loss, else categorical (one-hot ``y``) or sparse categorical
            cross-entropy (integer ``y``). Layer regularization losses are added, as
            in a training step.
        training: run layers in training mode (BatchNorm on batch statistics), as
            ``model.fit`` does; ``False`` for inference mode.

    Returns:
        a :class:`Table` with :data:`COLUMNS`, one row per trainable kernel in depth
        order. Norms are L2 norms (square root of the sum of squares over all
        entries); gradients are of the mean loss over the batch, in nats.

    Raises:
        ValueError: no trainable kernels, or ``x``/``y`` that don't fit the model.
    """
    import tensorflow as tf  # gradient tapes are backend specific

    kernels = kernel_layout(model)
    x, y = _check_batch(model, x, y)
    loss_fn = _loss_function(model, y, loss)
    variables = [model.trainable_weights[k.index] for k in kernels]
    saved = [v.numpy() for v in model.non_trainable_weights]  # BatchNorm moving statistics
    try:
        with tf.GradientTape() as tape:
            y_pred = model(x, training=training)
            value = loss_fn(y, y_pred)
        grads = tape.gradient(
            value, [v.value for v in variables], unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
    finally:
        for variable, value_before in zip(model.non_trainable_weights, saved, strict=True):
            variable.assign(value_before)
    grad_norms = [float(tf.norm(tf.convert_to_tensor(g))) for g in grads]
    weight_norms = [float(tf.norm(v.value)) for v in variables]
    return Table(_rows(kernels, grad_norms, weight_norms), COLUMNS)


class GradientNormRecorder(keras.callbacks.Callback):
    """Record per-kernel gradient norms every ``every`` training steps inside ``model.fit``.

    A Keras callback cannot see gradients, so the recorder wraps the optimizer's
    ``apply`` (which ``train_step`` calls with the gradients it just computed):
    on steps where ``optimizer.iterations % every == 0`` it writes the L2 norm of
    each kernel's gradient, and of the kernel before the update, into
    non-trainable variables inside the compiled step. No second forward or
    backward pass is run. After each step the callback reads the variables and
    appends one row per kernel to :attr:`table`.

    Use it as a callback (it wraps ``model.optimizer`` in ``on_train_begin`` and
    rebuilds the train function so the wrapper is traced)::

        recorder = GradientNormRecorder(every=10)
        model.fit(x, y, callbacks=[recorder])
        recorder.table.to_csv("gradient_norms.csv")

    ``step`` in the table counts optimizer updates applied before the gradient
    was taken: step 0 is the first batch, at the initial weights. With
    ``steps_per_execution = k > 1`` only the last recorded step of each
    execution is read, so choose ``every`` as a multiple of ``k``.
    TensorFlow backend only (``jit_compile`` on or off); for other backends,
    call :func:`gradient_norms` on a batch instead.
    """

    def __init__(self, every: int = 10):
        super().__init__()
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(
                f"every must be an integer >= 1 (record every N training steps); got {every!r}."
            )
        self.every = every
        self.rows: list[dict] = []
        self._optimizer = None
        self._kernels: list[Kernel] = []
        self._last_read = -1

    @property
    def table(self) -> Table:
        """Everything recorded so far: :data:`RECORDER_COLUMNS`, by step then depth."""
        return Table(self.rows, RECORDER_COLUMNS)

    def attach(self, model: keras.Model) -> "GradientNormRecorder":
        """Wrap ``model.optimizer`` now (done for you when used as a fit callback)."""
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "GradientNormRecorder records inside the TensorFlow training step; the Keras "
                f"backend is {keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow, or "
                "call gradient_norms(model, x, y) on a batch every few steps instead."
            )
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            raise ValueError("compile the model (with an optimizer) before attaching the recorder.")
        self.set_model(model)
        if self._optimizer is optimizer:
            return self
        if getattr(optimizer, "_gradient_norm_recorder", None) is not None:
            raise ValueError("this model's optimizer already has a GradientNormRecorder attached.")
        self._kernels = kernel_layout(model)
        count = len(self._kernels)
        self._grad_norms = keras.Variable(
            np.zeros(count), dtype="float32", trainable=False, name="recorded_grad_norms"
        )
        self._weight_norms = keras.Variable(
            np.zeros(count), dtype="float32", trainable=False, name="recorded_weight_norms"
        )
        self._step = keras.Variable(-1, dtype="int64", trainable=False, name="recorded_step")
        self._wrap(optimizer)
        self._optimizer = optimizer
        if getattr(model, "train_function", None) is not None:
            model.make_train_function(force=True)  # retrace with the wrapper inside
        return self

    def _wrap(self, optimizer) -> None:
        import tensorflow as tf

        original = optimizer.apply
        paths = [self.model.trainable_weights[k.index].path for k in self._kernels]

        def record(grads, variables):
            by_path = {v.path: (g, v) for g, v in zip(grads, variables, strict=True)}
            pairs = [by_path[p] for p in paths]
            scale = optimizer.loss_scale_factor
            grad_norms = tf.stack(
                [tf.norm(tf.convert_to_tensor(g) / (scale or 1.0)) for g, _ in pairs]
            )
            weight_norms = tf.stack([tf.norm(v.value) for _, v in pairs])
            self._grad_norms.assign(grad_norms)
            self._weight_norms.assign(weight_norms)
            self._step.assign(tf.cast(optimizer.iterations, "int64"))
            return tf.constant(True)

        def apply(grads, trainable_variables=None):
            variables = trainable_variables or optimizer._trainable_variables
            due = tf.equal(optimizer.iterations % self.every, 0)
            tf.cond(due, lambda: record(grads, variables), lambda: tf.constant(False))
            return original(grads, trainable_variables)

        optimizer.apply = apply
        optimizer._gradient_norm_recorder = self

    def detach(self) -> None:
        """Give the optimizer back its own ``apply``."""
        if self._optimizer is not None:
            del self._optimizer.apply
            self._optimizer._gradient_norm_recorder = None
            self._optimizer = None

    def on_train_begin(self, logs=None):
        self.attach(self.model)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self._step.numpy())
        if step > self._last_read:
            self._last_read = step
            self.rows.extend(
                _rows(
                    self._kernels, self._grad_norms.numpy(), self._weight_norms.numpy(), step=step
                )
            )
