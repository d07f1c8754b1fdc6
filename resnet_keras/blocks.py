"""Residual blocks in the Keras Functional API.

Two block types build every network in this package:

- the *bottleneck* block (1x1 -> f x f -> 1x1 convolutions), which the course
  calls ``identity_block`` when its shortcut is the input itself and
  ``convolutional_block`` when the shortcut is a strided 1x1 projection;
- the *basic* block (two 3x3 convolutions), used by ResNet-18/34 and the
  CIFAR-style networks of He et al. (2016).

Every block takes a ``shortcut`` switch. ``shortcut=None`` drops the skip
connection and the Add, leaving the main path untouched: that is the "plain"
twin of the residual network, built by the same code. ``batch_norm=False``
drops every BatchNormalization layer.

Tensors are channels-last: ``(batch, height, width, channels)``.
"""

from collections.abc import Callable, Sequence
from numbers import Integral

import keras
from keras import layers
from keras.initializers import GlorotUniform, RandomUniform

Initializer = Callable[..., keras.initializers.Initializer]

# What a block adds back onto its main path.
IDENTITY = "identity"  # the block's input, unchanged (shapes must match)
PROJECTION = "projection"  # a strided 1x1 convolution + BatchNorm (He et al. option B)
ZERO_PAD = "zero_pad"  # strided subsampling + zero channels, no parameters (option A)
SHORTCUTS = (IDENTITY, PROJECTION, ZERO_PAD, None)


def random_uniform(seed: int | None = None) -> keras.initializers.Initializer:
    """The course's default for the identity block: uniform in [-0.05, 0.05]."""
    return RandomUniform(seed=seed)


def glorot_uniform(seed: int | None = None) -> keras.initializers.Initializer:
    """Glorot (Xavier) uniform, the course's default for the convolutional block."""
    return GlorotUniform(seed=seed)


@keras.saving.register_keras_serializable(package="resnet_keras")
class ZeroPadShortcut(layers.Layer):
    """Parameter-free shortcut: keep every ``stride``-th pixel, append zero channels.

    Input ``(batch, H, W, C)`` -> output ``(batch, ceil(H/stride), ceil(W/stride), filters)``.
    This is option A of He et al. (2016), used by their CIFAR networks.
    """

    def __init__(self, filters: int, stride: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.stride = stride

    def call(self, x):
        x = x[:, :: self.stride, :: self.stride, :]
        extra = self.filters - x.shape[-1]
        return keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        shrink = lambda n: None if n is None else -(-n // self.stride)  # noqa: E731
        return (batch, shrink(height), shrink(width), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


def _name(prefix: str | None, suffix: str) -> str | None:
    return None if prefix is None else f"{prefix}_{suffix}"


def conv_bn(
    x,
    filters: int,
    kernel_size: int,
    *,
    strides: int = 1,
    padding: str = "valid",
    relu: bool = True,
    name: str | None = None,
    initializer: Initializer = glorot_uniform,
    seed: int | None = 0,
    batch_norm: bool = True,
    bn_momentum: float = 0.99,
    training: bool | None = None,
):
    """Conv2D -> BatchNormalization(axis=3) -> ReLU, each step named ``{name}_conv/_bn/_relu``.

    ``relu=False`` stops after the BatchNorm (the last layer of a main path,
    before the Add). ``initializer(seed=seed)`` makes the kernel initializer.
    """
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        kernel_initializer=initializer(seed=seed),
        name=_name(name, "conv"),
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name=_name(name, "bn"))(
            x, training=training
        )
    if relu:
        x = layers.Activation("relu", name=_name(name, "relu"))(x)
    return x


def _merge(main, shortcut, *, name: str | None):
    """Add the shortcut onto the main path, then ReLU; a plain block (no shortcut) only ReLUs."""
    if shortcut is not None:
        main = layers.Add(name=_name(name, "add"))([shortcut, main])
    return layers.Activation("relu", name=_name(name, "out"))(main)


def _shortcut_branch(x, kind: str | None, filters: int, stride: int, *, name, **conv_options):
    if kind == IDENTITY:
        return x
    if kind == PROJECTION:
        return conv_bn(
            x, filters, 1, strides=stride, relu=False, name=_name(name, "0"), **conv_options
        )
    if kind == ZERO_PAD:
        return ZeroPadShortcut(filters, stride, name=_name(name, "0_pad"))(x)
    return None


def bottleneck_block(
    x,
    kernel_size: int,
    filters: Sequence[int],
    *,
    stride: int = 1,
    shortcut: str | None = IDENTITY,
    name: str | None = None,
    **conv_options,
):
    """Bottleneck residual block: 1x1 (stride) -> f x f 'same' -> 1x1, plus a shortcut.

    Args:
        x: input tensor ``(batch, H, W, C)``.
        kernel_size: ``f``, the middle convolution's window.
        filters: ``(F1, F2, F3)``; the output has ``F3`` channels.
        stride: the first 1x1 convolution's (and the projection's) stride.
        shortcut: ``"identity"``, ``"projection"``, ``"zero_pad"`` or ``None`` (plain).
        name: layer-name prefix such as ``"conv3_block2"``; ``None`` lets Keras choose.
        **conv_options: passed to :func:`conv_bn` (initializer, seed, batch_norm,
            bn_momentum, training).

    Returns:
        tensor ``(batch, ceil(H/stride), ceil(W/stride), F3)`` after the final ReLU.
    """
    F1, F2, F3 = _check_filters(filters, 3)
    _check_positive(f=kernel_size, s=stride)
    _check_shortcut(shortcut, x, F3, stride)
    main = conv_bn(x, F1, 1, strides=stride, name=_name(name, "1"), **conv_options)
    main = conv_bn(main, F2, kernel_size, padding="same", name=_name(name, "2"), **conv_options)
    main = conv_bn(main, F3, 1, relu=False, name=_name(name, "3"), **conv_options)
    side = _shortcut_branch(x, shortcut, F3, stride, name=name, **conv_options)
    return _merge(main, side, name=name)


def basic_block(
    x,
    filters: int,
    *,
    stride: int = 1,
    shortcut: str | None = IDENTITY,
    name: str | None = None,
    **conv_options,
):
    """Basic residual block: 3x3 (stride) -> 3x3, plus a shortcut (ResNet-18/34, CIFAR).

    Input ``(batch, H, W, C)`` -> output ``(batch, ceil(H/stride), ceil(W/stride), filters)``.
    Arguments as in :func:`bottleneck_block`.
    """
    (filters,) = _check_filters([filters], 1)
    _check_positive(s=stride)
    _check_shortcut(shortcut, x, filters, stride)
    main = conv_bn(
        x, filters, 3, strides=stride, padding="same", name=_name(name, "1"), **conv_options
    )
    main = conv_bn(
        main, filters, 3, padding="same", relu=False, name=_name(name, "2"), **conv_options
    )
    side = _shortcut_branch(x, shortcut, filters, stride, name=name, **conv_options)
    return _merge(main, side, name=name)


def identity_block(
    X,
    f: int,
    filters: Sequence[int],
    training: bool | None = True,
    initializer: Initializer = random_uniform,
    **options,
):
    """The course's identity block: a bottleneck block whose shortcut is its input.

    Args:
        X: input tensor ``(m, n_H, n_W, n_C)``; ``n_C`` must equal ``filters[2]``.
        f: window of the middle convolution.
        filters: ``[F1, F2, F3]``, the three convolutions' filter counts.
        training: passed to every BatchNormalization (``True``: batch statistics).
        initializer: called as ``initializer(seed=0)`` for every convolution kernel.
        **options: ``name``, ``shortcut`` (``None`` for the plain twin), ``batch_norm``,
            ``bn_momentum``, ``seed``.

    Returns:
        tensor ``(m, n_H, n_W, F3)``.
    """
    options.setdefault("shortcut", IDENTITY)
    return bottleneck_block(
        X, f, filters, stride=1, training=training, initializer=initializer, **options
    )


def convolutional_block(
    X,
    f: int,
    filters: Sequence[int],
    s: int = 2,
    training: bool | None = True,
    initializer: Initializer = glorot_uniform,
    **options,
):
    """The course's convolutional block: a bottleneck block with a strided 1x1 projection shortcut.

    Args:
        X: input tensor ``(m, n_H, n_W, n_C)``.
        f: window of the middle convolution.
        filters: ``[F1, F2, F3]``.
        s: stride of the first 1x1 convolution and of the shortcut's 1x1 convolution.
        training, initializer, **options: as in :func:`identity_block`.

    Returns:
        tensor ``(m, ceil(n_H/s), ceil(n_W/s), F3)``.
    """
    options.setdefault("shortcut", PROJECTION)
    return bottleneck_block(
        X, f, filters, stride=s, training=training, initializer=initializer, **options
    )


def _check_filters(filters, count: int) -> tuple[int, ...]:
    ok = (
        isinstance(filters, Sequence)
        and not isinstance(filters, str)
        and len(filters) == count
        and all(isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in filters)
    )
    if not ok:
        wanted = "three positive integers [F1, F2, F3]" if count == 3 else "a positive integer"
        raise ValueError(f"filters must be {wanted}; got {filters!r}.")
    return tuple(int(n) for n in filters)


def _check_positive(**values: int) -> None:
    for arg, value in values.items():
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{arg} must be an integer >= 1; got {value!r}.")


def _check_shortcut(kind, x, out_channels: int, stride: int) -> None:
    if kind not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS}; got {kind!r}.")
    in_channels = x.shape[-1]
    if kind == IDENTITY and (stride != 1 or in_channels != out_channels):
        raise ValueError(
            f"an identity shortcut needs the block's output to match its input, but the input "
            f"has {in_channels} channels and the block makes {out_channels} with stride "
            f"{stride}. Set filters[-1] = {in_channels} and stride 1, or use "
            f"convolutional_block (a projection shortcut) to change the shape."
        )
    if kind == ZERO_PAD and in_channels is not None and in_channels > out_channels:
        raise ValueError(
            f"a zero-padding shortcut can only add channels: input has {in_channels}, "
            f"the block makes {out_channels}."
        )
