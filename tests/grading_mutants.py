"""Student solutions for the grading tests: correct ones in two styles, and typical mistakes.

``course_block`` is written the way the course's notebook writes it; each
``bug=...`` value switches on one typical mistake, so every mutant differs
from the correct block in exactly the lines its ``if bug == ...`` guards.
``ops_block`` is a correct block in another style (a loop over the main
path's convolutions, ``keras.ops``, ``x + y``, ``layers.ReLU``, axis=-1,
the shortcut built first). ``course_resnet50`` builds ResNet-50 from
either block, with switches for the model-level mistakes.
"""

import functools

import keras
from keras import layers
from keras.initializers import GlorotUniform, RandomUniform


def glorot_uniform(seed=None):
    return GlorotUniform(seed=seed)


def random_uniform(seed=None):
    return RandomUniform(seed=seed)


def course_block(
    X, f, filters, s=1, training=True, initializer=random_uniform, *, project=False, bug=None
):
    """The course's block (``project=True``: the convolutional block); ``bug`` names a mistake."""
    F1, F2, F3 = filters
    if bug == "filters_wrong_order":
        F3, F2, F1 = filters
    strides = [s, 1, 1]
    if bug == "stride_on_wrong_conv":
        strides = [1, s, 1]
    axis = 1 if bug == "bn_wrong_axis" else 3

    def norm(x):
        if bug == "training_not_passed":
            return layers.BatchNormalization(axis=axis)(x)
        if bug == "training_hard_coded":
            return layers.BatchNormalization(axis=axis)(x, training=True)
        return layers.BatchNormalization(axis=axis)(x, training=training)

    def kernel():
        if bug == "initializer_ignored":
            return GlorotUniform(seed=0)
        return initializer(seed=0)

    X_shortcut = X
    X = layers.Conv2D(F1, 1, strides=strides[0], padding="valid", kernel_initializer=kernel())(X)
    X = layers.Activation("relu")(norm(X))
    if bug == "shortcut_wrong_tensor":
        X_shortcut = X
    padding = "valid" if bug == "middle_conv_valid_padding" else "same"
    X = layers.Conv2D(F2, f, strides=strides[1], padding=padding, kernel_initializer=kernel())(X)
    X = layers.Activation("relu")(X if bug == "bn_missing" else norm(X))
    X = layers.Conv2D(F3, 1, strides=strides[2], padding="valid", kernel_initializer=kernel())(X)
    X = norm(X)
    if bug == "relu_before_add":
        X = layers.Activation("relu")(X)
    if project:
        X_shortcut = layers.Conv2D(F3, 1, strides=s, padding="valid", kernel_initializer=kernel())(
            X_shortcut
        )
        if bug != "shortcut_bn_missing":
            X_shortcut = norm(X_shortcut)
    merge = layers.Concatenate() if bug == "concatenate_instead_of_add" else layers.Add()
    X = merge([X, X_shortcut])
    if bug not in ("final_relu_missing", "relu_before_add"):
        X = layers.Activation("relu")(X)
    return X


def course_identity_block(X, f, filters, training=True, initializer=random_uniform, bug=None):
    return course_block(X, f, filters, 1, training, initializer, bug=bug)


def course_convolutional_block(
    X, f, filters, s=2, training=True, initializer=glorot_uniform, bug=None
):
    return course_block(X, f, filters, s, training, initializer, project=True, bug=bug)


def identity_mutant(bug):
    return functools.partial(course_identity_block, bug=bug)


def convolutional_mutant(bug):
    return functools.partial(course_convolutional_block, bug=bug)


def ops_block(X, f, filters, s=1, training=True, initializer=random_uniform, project=False):
    """A correct bottleneck block in a different style."""
    shortcut = X
    if project:
        shortcut = layers.Conv2D(
            filters[2], (1, 1), strides=(s, s), kernel_initializer=initializer(seed=0)
        )(X)
        shortcut = layers.BatchNormalization(axis=-1)(shortcut, training=training)
    plan = [(filters[0], 1, s, "valid"), (filters[1], f, 1, "SAME"), (filters[2], 1, 1, "valid")]
    for i, (n, k, stride, padding) in enumerate(plan):
        conv = layers.Conv2D(n, (k, k), stride, padding, kernel_initializer=initializer(seed=0))
        X = layers.BatchNormalization(axis=-1)(conv(X), training=training)
        if i < 2:
            X = layers.ReLU()(X)
    return keras.activations.relu(X + shortcut)


def ops_identity_block(X, f, filters, training=True, initializer=random_uniform):
    return ops_block(X, f, filters, 1, training, initializer)


def ops_convolutional_block(X, f, filters, s=2, training=True, initializer=glorot_uniform):
    return ops_block(X, f, filters, s, training, initializer, project=True)


def course_resnet50(
    input_shape=(64, 64, 3),
    classes=6,
    *,
    style="course",
    stage_blocks=(2, 3, 5, 2),
    pooling="avg",
    softmax=True,
    identity_bug=None,
):
    """ResNet-50 from ``course_*`` or ``ops_*`` blocks, with model-level switches."""
    identity, convolutional = course_identity_block, course_convolutional_block
    if style == "ops":
        identity, convolutional = ops_identity_block, ops_convolutional_block
    inputs = layers.Input(input_shape)
    X = layers.ZeroPadding2D((3, 3))(inputs)
    X = layers.Conv2D(64, (7, 7), strides=(2, 2), kernel_initializer=glorot_uniform(seed=0))(X)
    X = layers.Activation("relu")(layers.BatchNormalization(axis=3)(X))
    X = layers.MaxPooling2D((3, 3), strides=(2, 2))(X)
    for stage, (n, blocks) in enumerate(zip((64, 128, 256, 512), stage_blocks, strict=True)):
        X = convolutional(X, 3, [n, n, 4 * n], s=1 if stage == 0 else 2)
        for _ in range(blocks):
            if identity_bug:
                X = identity(X, 3, [n, n, 4 * n], bug=identity_bug)
            else:
                X = identity(X, 3, [n, n, 4 * n])
    pool = {"avg": layers.AveragePooling2D((2, 2)), "max": layers.MaxPooling2D((2, 2))}
    if pooling == "global":
        X = layers.GlobalAveragePooling2D()(X)
    else:
        X = layers.Flatten()(pool[pooling](X))
    if style == "ops":
        X = layers.Dense(classes, kernel_initializer=glorot_uniform(seed=0))(X)
        X = layers.Softmax()(X) if softmax else X
    else:
        activation = "softmax" if softmax else None
        X = layers.Dense(classes, activation, kernel_initializer=glorot_uniform(seed=0))(X)
    return keras.Model(inputs, X)
