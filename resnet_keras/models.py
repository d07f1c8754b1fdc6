"""Residual networks and their plain twins, all from one builder.

- :func:`ResNet50`: the course's ResNet-50 for 64x64 SIGNS images, layer for layer.
- :func:`resnet`: ResNet-18/34/50/101/152 with keras.applications' structure
  (``resnet(50, (224, 224, 3), 1000)`` has the same 25,636,712 parameters).
- :func:`cifar_resnet`: the 6n+2-layer CIFAR networks of He et al. (2016), section 4.2.

Every builder takes ``shortcuts`` (``False`` gives the plain twin: the same
layers with every skip connection and Add removed) and ``batch_norm``.
Layers are named by where they stand, as keras.applications names them:
``conv1_conv``, ``conv3_block2_1_conv``, ``conv3_block2_add``, ``predictions``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import keras
from keras import layers

from resnet_keras.blocks import (
    IDENTITY,
    PROJECTION,
    ZERO_PAD,
    Initializer,
    basic_block,
    bottleneck_block,
    conv_bn,
    glorot_uniform,
    random_uniform,
)

# blocks per stage (conv2_x ... conv5_x), by depth
BOTTLENECK_STAGES = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
BASIC_STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
IMAGENET_FILTERS = (64, 128, 256, 512)
CIFAR_FILTERS = (16, 32, 64)
CIFAR_DEPTHS = (20, 32, 44, 56, 110)  # the paper's; any 6n+2 >= 8 builds


@dataclass(frozen=True)
class _Spec:
    """Everything that tells one network of the family from another."""

    stem: str  # "imagenet" (7x7/2 conv, 3x3/2 max-pool) or "cifar" (3x3/1 conv)
    block: str  # "bottleneck" or "basic"
    blocks_per_stage: tuple[int, ...]
    filters: tuple[int, ...]  # per stage; a bottleneck stage outputs 4x this
    downsample: str  # shortcut where a block changes shape: PROJECTION or ZERO_PAD
    pool_padding: bool = True  # keras.applications pads before the max-pool; the course doesn't
    head: str = "global"  # "global" average pool, or the course's "avg2_flatten"
    first_initializer: Initializer = glorot_uniform  # first block of each stage, stem, head
    other_initializer: Initializer = glorot_uniform  # the remaining blocks
    seed: int | None = None  # passed to every initializer call


def ResNet50(
    input_shape: Sequence[int] = (64, 64, 3),
    classes: int = 6,
    *,
    shortcuts: bool = True,
    batch_norm: bool = True,
    bn_momentum: float = 0.99,
) -> keras.Model:
    """The course's ResNet-50: 23,600,006 parameters at (64, 64, 3) and 6 classes.

    ZeroPadding2D(3) -> Conv2D(64, 7x7, stride 2) -> BN -> ReLU -> MaxPool(3x3, stride 2)
    -> stages of [1 convolutional + 2, 3, 5, 2 identity] bottleneck blocks
    -> AveragePooling2D(2x2) -> Flatten -> Dense(classes, softmax).
    Convolutional blocks and the stem use ``glorot_uniform(seed=0)``, identity blocks
    ``random_uniform(seed=0)``, as in the course.

    Args:
        input_shape: ``(height, width, channels)``; height and width at least 37.
        classes: number of output classes.
        shortcuts: ``False`` builds the plain twin (no skip connections).
        batch_norm: ``False`` drops every BatchNormalization layer.
        bn_momentum: BatchNormalization's moving-average momentum (the course's 0.99;
            0.9 lets the moving statistics catch up within a short SIGNS run).

    Returns:
        an uncompiled ``keras.Model`` mapping ``(batch, *input_shape)`` images to
        ``(batch, classes)`` softmax probabilities.
    """
    spec = _Spec(
        stem="imagenet",
        block="bottleneck",
        blocks_per_stage=BOTTLENECK_STAGES[50],
        filters=IMAGENET_FILTERS,
        downsample=PROJECTION,
        pool_padding=False,
        head="avg2_flatten",
        first_initializer=glorot_uniform,
        other_initializer=random_uniform,
        seed=0,
    )
    name = _model_name("ResNet50", "PlainNet50", shortcuts, batch_norm)
    return _build(spec, input_shape, classes, name, shortcuts, batch_norm, bn_momentum)


def resnet(
    depth: int,
    input_shape: Sequence[int] = (224, 224, 3),
    classes: int = 1000,
    shortcuts: bool = True,
    batch_norm: bool = True,
    *,
    bn_momentum: float = 0.99,
) -> keras.Model:
    """ResNet-18/34 (basic blocks) or 50/101/152 (bottleneck blocks), keras.applications style.

    Stem: ZeroPadding2D(3) -> Conv2D(64, 7x7, stride 2) -> BN -> ReLU -> ZeroPadding2D(1)
    -> MaxPool(3x3, stride 2); four stages (conv2 ... conv5) whose first block projects
    when the shape changes; GlobalAveragePooling2D -> Dense(classes, softmax).

    Args:
        depth: one of 18, 34, 50, 101, 152.
        input_shape: ``(height, width, channels)``.
        classes: number of output classes.
        shortcuts: ``False`` builds the plain twin.
        batch_norm: ``False`` drops every BatchNormalization layer.
        bn_momentum: BatchNormalization's moving-average momentum.
    """
    if depth in BOTTLENECK_STAGES:
        block, stages = "bottleneck", BOTTLENECK_STAGES[depth]
    elif depth in BASIC_STAGES:
        block, stages = "basic", BASIC_STAGES[depth]
    else:
        supported = sorted({*BASIC_STAGES, *BOTTLENECK_STAGES})
        raise ValueError(f"depth must be one of {supported}; got {depth!r}.")
    spec = _Spec("imagenet", block, stages, IMAGENET_FILTERS, downsample=PROJECTION)
    name = _model_name(f"resnet{depth}", f"plain{depth}", shortcuts, batch_norm)
    return _build(spec, input_shape, classes, name, shortcuts, batch_norm, bn_momentum)


def cifar_resnet(
    depth: int,
    input_shape: Sequence[int] = (32, 32, 3),
    classes: int = 10,
    shortcuts: bool = True,
    batch_norm: bool = True,
    *,
    bn_momentum: float = 0.99,
) -> keras.Model:
    """He et al.'s CIFAR network of ``depth = 6n + 2`` layers (20, 32, 44, 56, 110, ...).

    Conv2D(16, 3x3) -> three stages of ``n`` basic blocks with 16, 32 and 64 filters
    (the second and third start with stride 2) -> GlobalAveragePooling2D -> Dense.
    Where a block changes shape its shortcut subsamples and pads channels with
    zeros (option A), so the residual network and its plain twin have exactly
    the same parameters.

    Args:
        depth: ``6n + 2`` for an integer ``n >= 1``.
        input_shape, classes, shortcuts, batch_norm, bn_momentum: as in :func:`resnet`.
    """
    if not isinstance(depth, Integral) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth must be 6n + 2 for n >= 1 (8, 14, 20, 32, 44, 56, 110, ...); got {depth!r}."
        )
    n = (depth - 2) // 6
    spec = _Spec("cifar", "basic", (n, n, n), CIFAR_FILTERS, downsample=ZERO_PAD)
    name = _model_name(f"cifar_resnet{depth}", f"cifar_plain{depth}", shortcuts, batch_norm)
    return _build(spec, input_shape, classes, name, shortcuts, batch_norm, bn_momentum)


def _model_name(residual: str, plain: str, shortcuts: bool, batch_norm: bool) -> str:
    return (residual if shortcuts else plain) + ("" if batch_norm else "_nobn")


def _build(
    spec: _Spec,
    input_shape: Sequence[int],
    classes: int,
    name: str,
    shortcuts: bool,
    batch_norm: bool,
    bn_momentum: float,
) -> keras.Model:
    input_shape = _check_input_shape(input_shape, minimum=_min_input_size(spec))
    if not isinstance(classes, Integral) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"classes must be an integer >= 1; got {classes!r}.")
    # training=None: BatchNormalization follows Keras (batch statistics in fit,
    # moving statistics in predict/evaluate and in a plain model(x) call).
    common = dict(batch_norm=batch_norm, bn_momentum=bn_momentum, training=None, seed=spec.seed)

    inputs = keras.Input(shape=input_shape, name="input")
    x = _stem(inputs, spec, **common)
    for stage, (filters, blocks) in enumerate(
        zip(spec.filters, spec.blocks_per_stage, strict=True), start=2
    ):
        stride = 1 if stage == 2 else 2
        for index in range(1, blocks + 1):
            first = index == 1
            x = _block(
                x,
                spec,
                filters,
                stride=stride if first else 1,
                shortcuts=shortcuts,
                name=f"conv{stage}_block{index}",
                initializer=spec.first_initializer if first else spec.other_initializer,
                **common,
            )
    outputs = _head(x, spec, classes)
    return keras.Model(inputs, outputs, name=name)


def _stem(x, spec: _Spec, **common):
    if spec.stem == "cifar":
        return conv_bn(
            x, 16, 3, padding="same", name="conv1", initializer=spec.first_initializer, **common
        )
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = conv_bn(x, 64, 7, strides=2, name="conv1", initializer=spec.first_initializer, **common)
    if spec.pool_padding:
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _block(x, spec: _Spec, filters: int, *, stride: int, shortcuts: bool, **options):
    out_channels = 4 * filters if spec.block == "bottleneck" else filters
    reshapes = stride != 1 or x.shape[-1] != out_channels
    shortcut = (spec.downsample if reshapes else IDENTITY) if shortcuts else None
    if spec.block == "bottleneck":
        return bottleneck_block(
            x, 3, [filters, filters, out_channels], stride=stride, shortcut=shortcut, **options
        )
    return basic_block(x, filters, stride=stride, shortcut=shortcut, **options)


def _head(x, spec: _Spec, classes: int):
    if spec.head == "avg2_flatten":
        x = layers.AveragePooling2D(2, name="avg_pool")(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.Dense(
        classes,
        activation="softmax",
        kernel_initializer=spec.first_initializer(seed=spec.seed),
        name="predictions",
    )(x)


# Spatial arithmetic: the smallest input each network accepts.


def _spatial_steps(spec: _Spec) -> list[tuple[int, int, int]]:
    """Each downsampling step as ``(kernel, stride, total padding)``; kernel 0 means 'same'."""
    steps = []
    if spec.stem == "imagenet":
        steps += [(7, 2, 6), (3, 2, 2 if spec.pool_padding else 0)]
    steps += [(0, 2, 0)] * (len(spec.blocks_per_stage) - 1)
    steps += [(2, 2, 0)] if spec.head == "avg2_flatten" else []
    return steps


def _output_size(size: int, steps: list[tuple[int, int, int]]) -> int:
    for kernel, stride, padding in steps:
        if kernel == 0:
            size = -(-size // stride)
        elif size + padding < kernel:
            return 0
        else:
            size = (size + padding - kernel) // stride + 1
    return size


def _min_input_size(spec: _Spec) -> int:
    """The smallest height/width (pixels) that leaves every layer a non-empty output."""
    steps = _spatial_steps(spec)
    return next(n for n in range(1, 4096) if _output_size(n, steps) >= 1)


def _check_input_shape(input_shape, minimum: int) -> tuple[int, int, int]:
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise ValueError(
            "input_shape must be 3-D (height, width, channels) with positive integers, "
            f"such as (64, 64, 3); got {input_shape!r}."
        )
    height, width, _ = shape
    if min(height, width) < minimum:
        raise ValueError(
            f"input_shape {shape} is too small for this network's downsampling: height and "
            f"width must each be at least {minimum} pixels. Resize the images up."
        )
    return tuple(int(n) for n in shape)
