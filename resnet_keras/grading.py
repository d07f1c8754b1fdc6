"""Course-style checks of a student's ``identity_block``, ``convolutional_block`` and ``ResNet50``.

Each check runs the student's function, compares it with the reference in
:mod:`resnet_keras.blocks` and :mod:`resnet_keras.models`, and names the most
likely mistake when the two differ::

    from resnet_keras.grading import check_identity_block
    check_identity_block(identity_block)  # prints a PASSED line, or raises AssertionError

How a check decides, in order:

1. **Structure.** The function is called on a symbolic ``keras.Input`` and the
   graph it builds is read back as *paths*: the main path, the shortcut and the
   merge, each a list of :class:`Step` (layer type, filters, kernel, strides,
   padding, BatchNorm axis, activation, initializer, output shape, parameters,
   and the ``training`` argument each BatchNorm call received). Layer names and
   the style of the code (``layers.Add()`` or ``x + y``, ``Activation('relu')``
   or ``layers.ReLU()``) do not matter. Differences from the reference are
   matched against a catalogue of typical mistakes (:data:`MISTAKES`).
2. **Values.** The function is called on pinned inputs with a constant and a
   seeded initializer, with ``training=True`` and ``training=False``, and its
   outputs are compared with the reference's.

Every check returns a :class:`CheckResult` (``passed``, ``score``,
``messages``, ``mistakes``) so that a grader can total points; with
``raises=True`` (the default, for notebooks) a failure raises ``AssertionError``
whose message is the first diagnosis.
"""

import functools
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers
from keras.src.ops.operation import Operation

from resnet_keras import blocks, models

# --------------------------------------------------------------------------------------
# The catalogue of typical mistakes: code -> what to tell the student.
# --------------------------------------------------------------------------------------

MISTAKES: dict[str, str] = {
    "not_implemented": (
        "not implemented yet: write your code between # YOUR CODE STARTS HERE and "
        "# YOUR CODE ENDS HERE."
    ),
    "raised": "{fn} raised {error}{where}. Read the error, fix that line, and run the check again.",
    "not_symbolic": (
        "{fn} works on arrays but fails on a symbolic keras.Input, which is what ResNet50 "
        "passes it: {error}{where}. Build the block from keras layers (or keras.ops), "
        "not TensorFlow or NumPy functions."
    ),
    "returned_none": "{fn} returned None: the function must end with `return {what}`.",
    "wrong_type": "{fn} returned {found}; expected {expected}.",
    "concatenate_instead_of_add": (
        "the shortcut is joined with Concatenate, which stacks channels; a residual block "
        "adds it: use Add()([X, X_shortcut]) (or X + X_shortcut)."
    ),
    "no_shortcut": (
        "no shortcut found: the output never adds the block's input back. Save "
        "X_shortcut = X at the start and Add it to the main path before the final ReLU."
    ),
    "shortcut_wrong_tensor": (
        "the shortcut starts from the wrong tensor: it branches off after {found} instead "
        "of at the block's input. Save X_shortcut = X before the main path changes X."
    ),
    "relu_before_add": (
        "ReLU is applied before the Add: the main path must end with BatchNormalization, "
        "then Add the shortcut, then apply the ReLU to the sum."
    ),
    "final_relu_missing": (
        "the final ReLU is missing: after Add()([X, X_shortcut]) apply Activation('relu')."
    ),
    "shortcut_not_identity": (
        "the identity block's shortcut must be X itself, unchanged; found {found} on it."
    ),
    "shortcut_projection_missing": (
        "the shortcut has no projection: in the convolutional block X_shortcut goes through "
        "Conv2D(F3, (1, 1), strides=(s, s), padding='valid') and BatchNormalization(axis=3) "
        "before the Add."
    ),
    "shortcut_bn_missing": (
        "BatchNormalization is missing on the projection shortcut: after the shortcut's "
        "Conv2D(F3, (1, 1), strides=(s, s)) add BatchNormalization(axis=3)(X_shortcut, "
        "training=training)."
    ),
    "middle_conv_valid_padding": (
        "the middle f x f convolution uses padding='valid', which shrinks the image; "
        "it needs padding='same' (the two 1x1 convolutions use 'valid')."
    ),
    "stride_on_wrong_conv": (
        "the stride s sits on the wrong convolution: expected strides {expected}, found "
        "{found}. Only the first 1x1 convolution of the main path and the shortcut's 1x1 "
        "convolution take strides=(s, s)."
    ),
    "filters_wrong_order": (
        "the filters are used in the wrong order: the convolutions have {found} filters; "
        "expected {expected}. Unpack F1, F2, F3 = filters and use F1, F2, F3 in that order."
    ),
    "kernel_size_wrong": (
        "the kernel sizes are {found}; expected {expected}: the first and last convolutions "
        "of the main path are 1x1, the middle one f x f."
    ),
    "bn_wrong_axis": (
        "BatchNormalization normalizes axis {found}; expected axis=3 (the channels of "
        "(m, n_H, n_W, n_C)): write BatchNormalization(axis=3)."
    ),
    "bn_missing": "a BatchNormalization is missing {where}: expected {expected}, found {found}.",
    "relu_missing": "a ReLU is missing {where}: expected {expected}, found {found}.",
    "training_not_passed": (
        "`training` is not passed to BatchNormalization: call "
        "BatchNormalization(axis=3)(X, training=training) for every BatchNorm."
    ),
    "training_hard_coded": (
        "BatchNormalization got training={found} when the block was called with "
        "training={expected}: pass the block's own argument, training=training."
    ),
    "initializer_ignored": (
        "a Conv2D does not use the `initializer` argument (found {found}): give every "
        "Conv2D kernel_initializer=initializer(seed=0)."
    ),
    "initializer_seed": (
        "the initializer is called as {found}: write kernel_initializer=initializer(seed=0) "
        "so that the weights are reproducible."
    ),
    "path_differs": "{where}: expected {expected}, found {found}.",
    "shape_differs": (
        "the output has shape {found}; expected {expected} (for the pinned input of shape "
        "{input_shape})."
    ),
    "values_differ": (
        "the output values differ from the reference with {setting}: expected "
        "{where} ~ {expected}, found {found} (largest difference {diff:.3g})."
    ),
    "block_count": (
        "stage {stage} has {found} identity block(s) after its convolutional block; "
        "expected {expected} (stages 2 to 5 have 2, 3, 5 and 2)."
    ),
    "stage_count": (
        "found {found} stage(s) (each starting with a convolutional block); expected {expected}."
    ),
    "wrong_pooling": (
        "the pooling before Flatten is {found}; expected AveragePooling2D(pool_size=(2, 2))."
    ),
    "dense_no_softmax": (
        "the Dense layer has no softmax: write Dense(classes, activation='softmax', "
        "kernel_initializer=glorot_uniform(seed=0))."
    ),
    "block_in_model": "in {where}: {message} (fix the block function, then rerun this check)",
}


def _message(code: str, **fields: Any) -> str:
    return MISTAKES[code].format(**fields)


@dataclass
class CheckResult:
    """What a check found: ``passed``, ``score`` in [0, 1], messages for the student.

    ``mistakes`` lists the catalogue codes (keys of :data:`MISTAKES`) in the same
    order as ``messages``; the first is the most likely mistake.
    """

    name: str
    passed: bool
    score: float
    messages: list[str] = field(default_factory=list)
    mistakes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line (PASSED) or the first diagnosis (FAILED)."""
        if self.passed:
            return f"PASSED {self.name}: {self.messages[0] if self.messages else 'all checks'}"
        return f"FAILED {self.name}: {self.messages[0]}"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.passed,
            "score": self.score,
            "messages": self.messages,
            "mistakes": self.mistakes,
        }


class _Mistake(Exception):  # noqa: N818 (a diagnosis, raised to stop a check)
    """Stops a check with one catalogue diagnosis."""

    def __init__(self, code: str, **fields: Any):
        self.code = code
        super().__init__(_message(code, **fields))


# --------------------------------------------------------------------------------------
# Reading a graph back as paths of steps
# --------------------------------------------------------------------------------------

_ABSENT = "absent"  # a BatchNorm call that received no `training` argument


@dataclass
class Step:
    """One operation, described by what it computes (never by its name)."""

    kind: str
    attrs: dict = field(default_factory=dict)
    shape: tuple | None = None  # output shape without the batch axis
    params: int = 0
    training: Any = None  # BatchNormalization: the `training` argument of its call

    def label(self) -> str:
        a = self.attrs
        if self.kind == "Conv2D":
            k = "x".join(map(str, a["kernel_size"]))
            s = ",".join(map(str, a["strides"]))
            return f"Conv2D({a['filters']}, {k}, strides {s}, padding '{a['padding']}')"
        if self.kind == "BatchNormalization":
            return f"BatchNormalization(axis={a['axis']})"
        if self.kind in ("MaxPooling2D", "AveragePooling2D"):
            return f"{self.kind}({'x'.join(map(str, a['pool_size']))})"
        if self.kind == "Dense":
            return f"Dense({a['units']})"
        return self.kind

    def row(self) -> dict:
        """The layer-by-layer description: type, output shape, parameters, settings."""
        return {"layer": self.kind, "output_shape": self.shape, "params": self.params, **self.attrs}

    def same_as(self, other: "Step") -> bool:
        return (self.kind, self.attrs, self.shape, self.params) == (
            other.kind,
            other.attrs,
            other.shape,
            other.params,
        )


@dataclass
class Merge:
    """A join of paths (Add or Concatenate): the longest branch (main path) first."""

    step: Step
    branches: list[list]
    failed: bool = False  # Keras raised while building this merge

    @property
    def main(self) -> list:
        return self.branches[0]

    @property
    def shortcut(self) -> list:
        return self.branches[-1] if len(self.branches) > 1 else []


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None, None
    operation, node_index, _ = history
    return operation, operation._inbound_nodes[node_index]


def _inputs(tensor) -> list:
    _, node = _producer(tensor)
    return list(node.arguments.keras_tensors) if node is not None else []


def _initializer_name(initializer, given: dict[int, Any]) -> str:
    if id(initializer) in given:
        return f"initializer(seed={given[id(initializer)]})"
    seed = getattr(initializer, "get_config", dict)().get("seed")
    return f"{type(initializer).__name__}(seed={seed})"


def _activation_steps(activation, shape) -> list[Step]:
    name = getattr(activation, "__name__", str(activation))
    if name == "linear":
        return []
    return [
        Step({"relu": "ReLU", "softmax": "Softmax"}.get(name, f"Activation({name})"), {}, shape)
    ]


def _describe(operation, node, output, given: dict[int, Any]) -> list[Step]:
    """The steps one operation contributes (a Conv2D with an activation gives two)."""
    shape = tuple(output.shape[1:])
    params = operation.count_params() if isinstance(operation, layers.Layer) else 0
    kind = type(operation).__name__
    step = Step(kind, {}, shape, params)
    extra: list[Step] = []
    if isinstance(operation, layers.Conv2D):
        step.kind = "Conv2D"
        step.attrs = {
            "filters": operation.filters,
            "kernel_size": tuple(operation.kernel_size),
            "strides": tuple(operation.strides),
            "padding": operation.padding,
            "use_bias": operation.use_bias,
            "initializer": _initializer_name(operation.kernel_initializer, given),
        }
        extra = _activation_steps(operation.activation, shape)
    elif isinstance(operation, layers.BatchNormalization):
        rank = len(node.arguments.keras_tensors[0].shape)
        step.attrs = {"axis": operation.axis % rank}
        args, kwargs = node.arguments.args, node.arguments.kwargs
        step.training = kwargs.get("training", args[1] if len(args) > 1 else _ABSENT)
    elif isinstance(operation, layers.Dense):
        step.attrs = {
            "units": operation.units,
            "initializer": _initializer_name(operation.kernel_initializer, given),
        }
        extra = _activation_steps(operation.activation, shape)
    elif isinstance(operation, (layers.MaxPooling2D, layers.AveragePooling2D)):
        step.kind = "MaxPooling2D" if isinstance(operation, layers.MaxPooling2D) else kind
        step.attrs = {
            "pool_size": tuple(operation.pool_size),
            "strides": tuple(operation.strides),
            "padding": operation.padding,
        }
    elif isinstance(operation, layers.ZeroPadding2D):
        step.attrs = {"padding": tuple(map(tuple, operation.padding))}
    elif isinstance(operation, layers.Activation):
        return _activation_steps(operation.activation, shape) or []
    elif kind in ("ReLU", "Relu"):
        plain = all(not getattr(operation, a, None) for a in ("max_value", "negative_slope"))
        step.kind, step.attrs = ("ReLU", {}) if plain else ("ReLU(variant)", {})
    return [step, *extra]


def _ancestors(tensor) -> dict[int, Any]:
    """Every tensor ``tensor`` depends on, itself included, by id."""
    found, stack = {}, [tensor]
    while stack:
        t = stack.pop()
        if id(t) not in found:
            found[id(t)] = t
            stack.extend(_inputs(t))
    return found


def _depth(tensor, memo: dict[int, int]) -> int:
    if id(tensor) not in memo:
        memo[id(tensor)] = 1 + max((_depth(t, memo) for t in _inputs(tensor)), default=0)
    return memo[id(tensor)]


def _branch_point(tensors: list, memo: dict[int, int]):
    """The latest tensor every one of ``tensors`` depends on (where the branches split)."""
    sets = [_ancestors(t) for t in tensors]
    common = set(sets[0]).intersection(*sets[1:])
    if not common:
        return None
    return max((sets[0][i] for i in common), key=lambda t: _depth(t, memo))


def _merge(operation, inputs: list, output, given, memo, failed=False):
    base = _branch_point(inputs, memo)
    stop = None if base is None else id(base)
    branches = sorted((_walk(t, stop, given, memo) for t in inputs), key=len, reverse=True)
    if output is not None:
        step = _describe(operation, None, output, given)[0]
    else:
        step = Step(type(operation).__name__)
    return Merge(step, branches, failed), base


def _walk(tensor, stop: int | None, given: dict[int, Any], memo: dict[int, int]) -> list:
    """The steps from ``stop`` (a tensor id; None: the graph's input) to ``tensor``, in order."""
    items: list = []
    while tensor is not None and id(tensor) != stop:
        operation, node = _producer(tensor)
        inputs = _inputs(tensor)
        if not inputs:
            break
        if len(inputs) == 1:
            items.extend(reversed(_describe(operation, node, tensor, given)))
            tensor = inputs[0]
        else:
            merge, tensor = _merge(operation, inputs, tensor, given, memo)
            items.append(merge)
    return items[::-1]


def describe(output, given: dict[int, Any] | None = None) -> list:
    """Read the graph behind a symbolic tensor or a functional model as a list of steps.

    A linear stretch is a list of :class:`Step`; a residual block appears as a
    :class:`Merge` whose branches are the main path and the shortcut.
    """
    if isinstance(output, keras.Model):
        output = output.outputs[0]
    return _walk(output, None, given or {}, {})


def describe_rows(items: list, where: str = "") -> list[dict]:
    """Flatten a description into one dict per layer (with ``where`` it stands)."""
    rows = []
    for item in items:
        if isinstance(item, Merge):
            for name, branch in zip(("main path", "shortcut"), item.branches, strict=False):
                rows += describe_rows(branch, f"{where}{name} > ")
            rows.append({"where": where + "merge", **item.step.row()})
        else:
            rows.append({"where": where.rstrip(" >") or "trunk", **item.row()})
    return rows


# --------------------------------------------------------------------------------------
# Running the student's function
# --------------------------------------------------------------------------------------


@contextmanager
def _recording_failures() -> Iterator[list]:
    """Record the operation (and its inputs) that raised while a graph was being built.

    When a student's block fails inside Keras (say, an Add of mismatched shapes),
    the partial graph up to that operation still says what went wrong.
    """
    failures: list = []
    layer_call, symbolic_call = layers.Layer.__call__, Operation.symbolic_call

    def record(original):
        def wrapper(self, *args, **kwargs):
            try:
                return original(self, *args, **kwargs)
            except Exception:
                failures.append((self, args))
                raise

        return wrapper

    layers.Layer.__call__ = record(layer_call)
    Operation.symbolic_call = record(symbolic_call)
    try:
        yield failures
    finally:
        layers.Layer.__call__ = layer_call
        Operation.symbolic_call = symbolic_call


_LIBRARY_DIRS = (str(Path(keras.__file__).parent.parent), str(Path(__file__).parent))


def _where(error: BaseException) -> str:
    """' (line N of your code: `...`)' for the student's deepest frame in the traceback."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith(_LIBRARY_DIRS) and "site-packages" not in f.filename
    ]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (line {frame.lineno} of your code{code})"


def _error_text(error: BaseException) -> str:
    """The error's type and first sentence, at most about 160 characters."""
    text = str(error).strip().splitlines()
    first = text[0].split(". ")[0] if text else ""
    first = first if len(first) <= 160 else first[:157] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def explain_error(error: BaseException) -> str:
    """``'ValueError: first sentence (line N of your code: `...`)'``, for a student."""
    return _error_text(error) + _where(error)


def _call(fn: Callable, name: str, *args, **kwargs):
    """Call the student's function; turn placeholders and crashes into catalogue mistakes."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _Mistake("not_implemented") from None
    except (Exception, SystemExit) as error:
        raise _Mistake("raised", fn=name, error=_error_text(error), where=_where(error)) from None


def _tracking_factory(make: Callable) -> tuple[Callable, dict[int, Any]]:
    """An initializer factory that remembers each initializer it made and its seed."""
    given: dict[int, Any] = {}

    def factory(seed=None):
        initializer = make(seed)
        given[id(initializer)] = seed
        return initializer

    return factory, given


def _constant(seed=None):
    return keras.initializers.Constant(1.0)


def _seeded_glorot(seed=None):
    return keras.initializers.GlorotUniform(seed=seed)


def _symbolic_run(fn: Callable, name: str, input_shape, **kwargs) -> tuple[list, str | None]:
    """Call ``fn`` on ``keras.Input(input_shape)``: its description, and a Keras error if any.

    ``kwargs["initializer"]`` is wrapped so the description can tell whether
    every convolution used it. A partial description comes back when Keras
    raised at a merge (the error text is returned beside it).
    """
    factory, given = _tracking_factory(kwargs.pop("initializer"))
    x = keras.Input(input_shape[1:])
    with _recording_failures() as failures:
        try:
            output = fn(x, initializer=factory, **kwargs)
        except NotImplementedError:
            raise _Mistake("not_implemented") from None
        except (Exception, SystemExit) as error:
            return _partial(failures, given), _error_text(error) + _where(error)
    _check_tensor(output, name)
    return describe(output, given), None


def _partial(failures: list, given) -> list:
    """The graph up to the first operation that raised, ending in a failed Merge if it was one."""
    if not failures:
        return []
    operation, args = failures[0]
    inputs = [t for t in keras.tree.flatten(args) if isinstance(t, keras.KerasTensor)]
    memo: dict[int, int] = {}
    if len(inputs) >= 2:
        merge, base = _merge(operation, inputs, None, given, memo, failed=True)
        return [*_walk(base, None, given, memo), merge] if base is not None else [merge]
    return _walk(inputs[0], None, given, memo) if inputs else []


def _check_tensor(output, name: str) -> None:
    if output is None:
        raise _Mistake("returned_none", fn=name, what="X")
    if not isinstance(output, keras.KerasTensor) and not hasattr(output, "shape"):
        raise _Mistake(
            "wrong_type", fn=name, found=type(output).__name__, expected="the output tensor X"
        )


# --------------------------------------------------------------------------------------
# Diagnosing a block's structure
# --------------------------------------------------------------------------------------


def _kinds(path: list) -> str:
    return " -> ".join(item.label() if isinstance(item, Step) else "(block)" for item in path) or (
        "nothing"
    )


def _convs(path: list) -> list[Step]:
    return [s for s in path if isinstance(s, Step) and s.kind == "Conv2D"]


def _steps(items: list, kind: str) -> list[Step]:
    found = []
    for item in items:
        if isinstance(item, Merge):
            found += [s for b in item.branches for s in _steps(b, kind)]
            found += [item.step] if item.step.kind == kind else []
        elif item.kind == kind:
            found.append(item)
    return found


def _first_merge(items: list) -> tuple[list, Merge | None, list]:
    for i, item in enumerate(items):
        if isinstance(item, Merge):
            return items[:i], item, items[i + 1 :]
    return items, None, []


def _diagnose_block(found: list, expected: list, *, training: Any = None) -> list[_Mistake]:
    """Match a block's description against the reference's; most likely mistake first.

    ``training``: the value the block was called with (None: don't check BatchNorm calls).
    """
    mistakes: list[_Mistake] = []
    if _steps(found, "Concatenate"):
        return [_Mistake("concatenate_instead_of_add")]
    before, merge, after = _first_merge(found)
    _, ref, ref_after = _first_merge(expected)
    if merge is None:
        return [_Mistake("no_shortcut")]
    if before:
        mistakes.append(_Mistake("shortcut_wrong_tensor", found=_kinds(before)))
    main, shortcut = merge.main, merge.shortcut
    if main and isinstance(main[-1], Step) and main[-1].kind == "ReLU":
        mistakes.append(_Mistake("relu_before_add"))
    elif not merge.failed and not any(isinstance(s, Step) and s.kind == "ReLU" for s in after):
        mistakes.append(_Mistake("final_relu_missing"))
    mistakes += _diagnose_shortcut(shortcut, ref.shortcut)
    mistakes += _diagnose_convs(before + main, shortcut, ref.main, ref.shortcut)
    mistakes += _diagnose_batch_norm(found, training)
    if not mistakes:
        paths = [
            ("before the shortcut", before, []),
            ("main path", main, ref.main),
            ("shortcut", shortcut, ref.shortcut),
            ("after the Add", after, ref_after),
        ]
        mistakes += _diagnose_paths(paths)
    return mistakes


def _diagnose_shortcut(shortcut: list, expected: list) -> list[_Mistake]:
    if not expected:
        return [_Mistake("shortcut_not_identity", found=_kinds(shortcut))] if shortcut else []
    if not _convs(shortcut):
        return [_Mistake("shortcut_projection_missing")]
    if not any(isinstance(s, Step) and s.kind == "BatchNormalization" for s in shortcut):
        return [_Mistake("shortcut_bn_missing")]
    return []


def _diagnose_convs(main: list, shortcut: list, ref_main: list, ref_shortcut: list):
    mistakes = []
    convs, ref = _convs(main), _convs(ref_main)
    filters = [c.attrs["filters"] for c in convs]
    ref_filters = [c.attrs["filters"] for c in ref]
    if filters != ref_filters and sorted(filters) == sorted(ref_filters):
        mistakes.append(_Mistake("filters_wrong_order", found=filters, expected=ref_filters))
    if len(convs) != len(ref):
        return mistakes
    sizes = [c.attrs["kernel_size"] for c in convs]
    ref_sizes = [c.attrs["kernel_size"] for c in ref]
    if sizes != ref_sizes:
        fmt = lambda ks: ", ".join("x".join(map(str, k)) for k in ks)  # noqa: E731
        mistakes.append(_Mistake("kernel_size_wrong", found=fmt(sizes), expected=fmt(ref_sizes)))
    for conv, want in zip(convs, ref, strict=True):
        if want.attrs["padding"] == "same" and conv.attrs["padding"] != "same":
            mistakes.append(_Mistake("middle_conv_valid_padding"))
    strides = [c.attrs["strides"][0] for c in convs + _convs(shortcut)]
    ref_strides = [c.attrs["strides"][0] for c in ref + _convs(ref_shortcut)]
    if strides != ref_strides and len(strides) == len(ref_strides):
        names = ["1st 1x1", "f x f", "last 1x1", "shortcut 1x1"]
        fmt = lambda ss: ", ".join(f"{n}: {s}" for n, s in zip(names, ss, strict=False))  # noqa: E731
        mistakes.append(
            _Mistake("stride_on_wrong_conv", found=fmt(strides), expected=fmt(ref_strides))
        )
    initializers = {c.attrs["initializer"] for c in convs + _convs(shortcut)}
    expected = {c.attrs["initializer"] for c in ref + _convs(ref_shortcut)}
    if initializers != expected:
        wrong = sorted(initializers - expected)
        if all(w.startswith("initializer(") for w in wrong):
            mistakes.append(_Mistake("initializer_seed", found=", ".join(wrong)))
        else:
            mistakes.append(_Mistake("initializer_ignored", found=", ".join(wrong)))
    return mistakes


def _diagnose_batch_norm(found: list, training: Any) -> list[_Mistake]:
    norms = _steps(found, "BatchNormalization")
    axes = sorted({s.attrs["axis"] for s in norms} - {3})
    mistakes = [_Mistake("bn_wrong_axis", found=axes[0])] if axes else []
    if training is not None and norms:
        calls = [s.training for s in norms]
        if any(c is _ABSENT for c in calls):
            mistakes.append(_Mistake("training_not_passed"))
        elif any(c is not training for c in calls):
            odd = next(c for c in calls if c is not training)
            mistakes.append(_Mistake("training_hard_coded", found=odd, expected=training))
    return mistakes


def _diagnose_paths(paths: list[tuple[str, list, list]]) -> list[_Mistake]:
    """The first step where a path differs from the reference's (a generic fallback)."""
    for where, path, ref in paths:
        kinds = [s.kind if isinstance(s, Step) else "block" for s in path]
        ref_kinds = [s.kind if isinstance(s, Step) else "block" for s in ref]
        if kinds != ref_kinds:
            return [_path_mistake(where, path, ref)]
        for i, (step, want) in enumerate(zip(path, ref, strict=True), start=1):
            if isinstance(step, Step) and not step.same_as(want):
                return [
                    _Mistake(
                        "path_differs",
                        where=f"{where}, step {i}",
                        expected=_step_text(want),
                        found=_step_text(step),
                    )
                ]
    return []


def _path_mistake(where: str, path: list, ref: list) -> _Mistake:
    """Name the first convolution whose group (Conv2D and what follows it) differs."""
    groups, ref_groups = _conv_groups(path), _conv_groups(ref)
    if len(groups) == len(ref_groups) > 1:
        for i, (group, want) in enumerate(zip(groups, ref_groups, strict=True)):
            if [s.kind for s in group] != [s.kind for s in want]:
                after = f"after convolution {i} ({group[0].label()})" if i else "before any Conv2D"
                where, path, ref = f"{where}, {after}", group, want
                break
    kinds, ref_kinds = [s.kind for s in path], [s.kind for s in ref]
    code = "path_differs"
    if kinds.count("BatchNormalization") < ref_kinds.count("BatchNormalization"):
        code = "bn_missing"
    elif kinds.count("ReLU") < ref_kinds.count("ReLU"):
        code = "relu_missing"
    where = where if code == "path_differs" else f"on the {where}"
    return _Mistake(code, where=where, expected=_kinds(ref), found=_kinds(path))


def _conv_groups(path: list) -> list[list]:
    """The path cut before each Conv2D; the first group holds what comes before any."""
    groups: list[list] = [[]]
    for item in path:
        if isinstance(item, Step) and item.kind == "Conv2D":
            groups.append([])
        groups[-1].append(item)
    return groups


def _step_text(step: Step) -> str:
    return f"{step.label()} -> output {step.shape}, {step.params:,} parameters"


# --------------------------------------------------------------------------------------
# Values on pinned inputs
# --------------------------------------------------------------------------------------


def pinned_input(shape: tuple[int, ...]) -> np.ndarray:
    """A deterministic, non-symmetric float32 batch; image i is offset by 2i - 1 (-1, 1, 3 ...)."""
    n = int(np.prod(shape))
    wave = np.sin(np.arange(n, dtype=np.float64) * 0.7).reshape(shape)
    offsets = (2.0 * np.arange(shape[0]) - 1.0).reshape((-1,) + (1,) * (len(shape) - 1))
    return (wave + offsets).astype("float32")


_INITIALIZERS = {"initializer=constant(1)": _constant, "a seeded glorot_uniform": _seeded_glorot}


def _value_mistakes(fn: Callable, name: str, x: np.ndarray, expected: dict, **kwargs):
    """Compare outputs on ``x`` in both training modes with both initializers.

    ``expected`` maps ``(initializer name, training)`` to the reference's output.
    Returns (mistakes, number of settings checked).
    """
    mistakes: list[_Mistake] = []
    for (init_name, training), want in expected.items():
        init = _INITIALIZERS[init_name]
        found = _call(fn, name, x, training=training, initializer=init, **kwargs)
        _check_tensor(found, name)
        found = _numpy(found)
        if found.shape != want.shape:
            mistakes.append(
                _Mistake(
                    "shape_differs", found=found.shape, expected=want.shape, input_shape=x.shape
                )
            )
        elif training and _close(found, expected[init_name, False]) and not _close(want, found):
            mistakes.append(_Mistake("training_not_passed"))
        elif not _close(found, want):
            mistakes.append(_values_differ(found, want, f"{init_name} and training={training}"))
    return mistakes, len(expected)


@functools.lru_cache(maxsize=4)
def _reference_block(name: str) -> tuple[list, dict]:
    """The reference block's description and its outputs in every setting (computed once)."""
    reference = _BLOCKS[name][0]
    input_shape, case = _block_case(name)
    description, _ = _symbolic_run(
        reference, name, input_shape, training=False, initializer=_constant, **case
    )
    x = pinned_input(input_shape)
    outputs = {
        (init_name, training): _numpy(reference(x, training=training, initializer=init, **case))
        for init_name, init in _INITIALIZERS.items()
        for training in (True, False)
    }
    return description, outputs


def _numpy(tensor) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-4)


def _values_differ(found: np.ndarray, want: np.ndarray, setting: str) -> _Mistake:
    diff = np.abs(found - want)
    index = np.unravel_index(int(np.argmax(diff)), diff.shape)
    head = index[:-1]
    where = f"output[{', '.join(map(str, head))}, :3]"
    fmt = lambda v: "[" + ", ".join(f"{x:.4g}" for x in v[head][:3]) + "]"  # noqa: E731
    return _Mistake(
        "values_differ",
        setting=setting,
        where=where,
        expected=fmt(want),
        found=fmt(found),
        diff=float(diff.max()),
    )


# --------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------

IDENTITY_CASE = {"input_shape": (3, 4, 4, 3), "f": 3, "filters": [4, 2, 3]}
CONVOLUTIONAL_CASE = {"input_shape": (3, 5, 5, 4), "f": 3, "filters": [2, 3, 6], "s": 2}
_BLOCKS = {
    "identity_block": (blocks.identity_block, IDENTITY_CASE),
    "convolutional_block": (blocks.convolutional_block, CONVOLUTIONAL_CASE),
}


def _block_case(name: str) -> tuple[tuple[int, ...], dict]:
    """The checked input shape and the other arguments of block ``name``."""
    case = dict(_BLOCKS[name][1])
    return case.pop("input_shape"), case


def _block_result(fn: Callable, name: str) -> CheckResult:
    """Structure first (half the score), then values in four settings (the other half)."""
    input_shape, case = _block_case(name)
    expected, outputs = _reference_block(name)
    try:
        found, keras_error = _symbolic_run(
            fn, name, input_shape, training=False, initializer=_constant, **case
        )
    except _Mistake as mistake:
        return _failed(name, [mistake])
    structure = _diagnose_block(found, expected, training=False) if found else []
    if keras_error and structure:
        structure[0].args = (f"{structure[0]} (Keras said: {keras_error})",)
    try:
        values, settings = _value_mistakes(fn, name, pinned_input(input_shape), outputs, **case)
    except _Mistake as mistake:
        return _failed(name, structure or [mistake])
    if keras_error and not structure:
        structure = [_Mistake("not_symbolic", fn=name, error=keras_error, where="")]
    if not structure + values:
        note = f"structure and values match the reference ({settings} settings of initializer"
        return CheckResult(name, True, 1.0, [note + " and training)."], [])
    score = 0.5 * (not structure) + 0.5 * (1 - len(values) / settings)
    return _failed(name, structure + values, score)


def _failed(name: str, mistakes: list[_Mistake], score: float = 0.0) -> CheckResult:
    """A failed result; a diagnosis repeated in several settings is listed once."""
    unique = {str(m): m.code for m in mistakes}
    return CheckResult(name, False, round(score, 3), list(unique), list(unique.values()))


def _finish(result: CheckResult, raises: bool, quiet: bool) -> CheckResult:
    if raises and not result.passed:
        extra = len(result.messages) - 1
        more = f"\n(and {extra} more: see CheckResult.messages)" if extra > 0 else ""
        raise AssertionError(f"{result.name}: {result.messages[0]}{more}")
    if not quiet:
        print(result.summary())
    return result


def check_identity_block(fn: Callable, *, raises: bool = True, quiet: bool = False) -> CheckResult:
    """Check a student's ``identity_block(X, f, filters, training, initializer)``.

    Args:
        fn: the student's function.
        raises: raise ``AssertionError`` (naming the most likely mistake) on failure.
        quiet: don't print the PASSED/FAILED line.

    Returns:
        the :class:`CheckResult`.
    """
    result = _block_result(fn, "identity_block")
    return _finish(result, raises, quiet)


def check_convolutional_block(
    fn: Callable, *, raises: bool = True, quiet: bool = False
) -> CheckResult:
    """Check a student's ``convolutional_block(X, f, filters, s, training, initializer)``.

    Arguments and result as in :func:`check_identity_block`.
    """
    result = _block_result(fn, "convolutional_block")
    return _finish(result, raises, quiet)


# --------------------------------------------------------------------------------------
# ResNet50: structure only (building is fast; running 23.6 M parameters is not needed)
# --------------------------------------------------------------------------------------

RESNET50_CASE = {"input_shape": (64, 64, 3), "classes": 6}


@functools.lru_cache(maxsize=1)
def _reference_resnet50() -> tuple[list, int]:
    model = models.ResNet50(**RESNET50_CASE)
    return describe(model), model.count_params()


def _split_model(items: list) -> tuple[list, list[tuple[Merge, list]], list]:
    """(stem, [(merge, steps after it up to the next merge)], head)."""
    stem, rest = [], list(items)
    while rest and not isinstance(rest[0], Merge):
        stem.append(rest.pop(0))
    found_blocks: list[tuple[Merge, list]] = []
    for item in rest:
        if isinstance(item, Merge):
            found_blocks.append((item, []))
        else:
            found_blocks[-1][1].append(item)
    head = []
    if found_blocks:
        tail = found_blocks[-1][1]
        cut = 1 if tail and tail[0].kind == "ReLU" else 0
        head, found_blocks[-1] = tail[cut:], (found_blocks[-1][0], tail[:cut])
    return stem, found_blocks, head


def _stages(model_blocks: list[tuple[Merge, list]]) -> list[int]:
    """Identity blocks after each convolutional (projection) block."""
    counts: list[int] = []
    for merge, _ in model_blocks:
        if merge.shortcut or not counts:
            counts.append(0)
        else:
            counts[-1] += 1
    return counts


def _diagnose_model(found: list, expected: list) -> list[_Mistake]:
    stem, found_blocks, head = _split_model(found)
    ref_stem, ref_blocks, ref_head = _split_model(expected)
    mistakes = _diagnose_head(head, ref_head)
    counts, ref_counts = _stages(found_blocks), _stages(ref_blocks)
    if len(counts) != len(ref_counts):
        mistakes.append(_Mistake("stage_count", found=len(counts), expected=len(ref_counts)))
    elif counts != ref_counts:
        for stage, (n, want) in enumerate(zip(counts, ref_counts, strict=True), start=2):
            if n != want:
                mistakes.append(_Mistake("block_count", stage=stage, found=n, expected=want))
    else:
        mistakes += _diagnose_model_blocks(found_blocks, ref_blocks, ref_counts)
    if not mistakes:
        mistakes += _diagnose_paths([("the stem", stem, ref_stem), ("the head", head, ref_head)])
    return mistakes


def _diagnose_model_blocks(found_blocks, ref_blocks, ref_counts) -> list[_Mistake]:
    names = [
        f"stage {stage}, {'convolutional block' if i == 0 else f'identity block {i}'}"
        for stage, n in enumerate(ref_counts, start=2)
        for i in range(n + 1)
    ]
    for where, (merge, after), (ref, ref_after) in zip(
        names, found_blocks, ref_blocks, strict=True
    ):
        mistakes = _diagnose_block([merge, *after], [ref, *ref_after])
        if mistakes:
            first = mistakes[0]
            return [_Mistake("block_in_model", where=where, message=str(first))]
    return []


def _diagnose_head(head: list, ref_head: list) -> list[_Mistake]:
    mistakes = []
    kinds = [s.kind for s in head]
    if "Flatten" in kinds:
        before = head[: kinds.index("Flatten")]
        pools = [s for s in before if "Pool" in s.kind]
        ref_pool = next(s for s in ref_head if "Pool" in s.kind)
        if len(pools) != 1 or not pools[0].same_as(ref_pool):
            found = ", ".join(_step_text(p) for p in pools) or "no pooling"
            mistakes.append(_Mistake("wrong_pooling", found=found))
    elif any("GlobalAveragePooling" in k or "GlobalMaxPooling" in k for k in kinds):
        pool = next(s for s in head if s.kind.startswith("Global"))
        mistakes.append(_Mistake("wrong_pooling", found=f"{pool.kind} (and no Flatten)"))
    dense = [i for i, s in enumerate(head) if s.kind == "Dense"]
    if dense and (dense[-1] + 1 >= len(head) or head[dense[-1] + 1].kind != "Softmax"):
        mistakes.append(_Mistake("dense_no_softmax"))
    return mistakes


def _model_result(fn: Callable) -> CheckResult:
    name = "ResNet50"
    try:
        with _recording_failures():
            model = _call(fn, name, **RESNET50_CASE)
        if model is None:
            raise _Mistake("returned_none", fn=name, what="model")
        if not isinstance(model, keras.Model):
            raise _Mistake(
                "wrong_type", fn=name, found=type(model).__name__, expected="a keras.Model"
            )
        expected, ref_params = _reference_resnet50()
        found = describe(model)
    except _Mistake as mistake:
        return _failed(name, [mistake])
    mistakes = _diagnose_model(found, expected)
    if not mistakes and model.count_params() != ref_params:
        mistakes.append(
            _Mistake(
                "path_differs",
                where="total parameters",
                expected=f"{ref_params:,}",
                found=f"{model.count_params():,}",
            )
        )
    if mistakes:
        return _failed(name, mistakes)
    note = f"{len(describe_rows(found))} layers match the reference, {ref_params:,} parameters."
    return CheckResult(name, True, 1.0, [note], [])


def check_resnet50(fn: Callable, *, raises: bool = True, quiet: bool = False) -> CheckResult:
    """Check a student's ``ResNet50(input_shape=(64, 64, 3), classes=6)``.

    Builds the student's model once and compares it layer by layer (type,
    output shape, parameters, padding, strides, activation, initializer) with
    the reference; it never runs the network. Arguments as in
    :func:`check_identity_block`.
    """
    return _finish(_model_result(fn), raises, quiet)


# The exercises the notebooks pose, by the name of the function the student writes.
CHECKS: dict[str, Callable[..., CheckResult]] = {
    "identity_block": check_identity_block,
    "convolutional_block": check_convolutional_block,
    "ResNet50": check_resnet50,
}
