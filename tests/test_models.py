"""ResNet-50 as the course builds it, the ResNet family, and their plain twins."""

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_keras import ResNet50, cifar_resnet, resnet

PACKAGE = Path(__file__).resolve().parents[1] / "resnet_keras"
MAIN_PATH_CONV = re.compile(r"conv\d_block\d+_[123]_conv|conv1_conv")


@pytest.fixture(scope="module")
def resnet50():
    return ResNet50(input_shape=(64, 64, 3), classes=6)


def _layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _non_trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


def test_resnet50_parameter_counts(resnet50):
    assert resnet50.count_params() == 23_600_006
    assert _non_trainable(resnet50) == 53_120


def test_resnet50_stage_output_shapes(resnet50):
    expected = {
        "conv1_relu": (32, 32, 64),
        "pool1_pool": (15, 15, 64),
        "conv2_block3_out": (15, 15, 256),
        "conv3_block4_out": (8, 8, 512),
        "conv4_block6_out": (4, 4, 1024),
        "conv5_block3_out": (2, 2, 2048),
        "avg_pool": (1, 1, 2048),
        "flatten": (2048,),
        "predictions": (6,),
    }
    for name, shape in expected.items():
        assert tuple(resnet50.get_layer(name).output.shape[1:]) == shape, name


def test_resnet50_follows_the_course_layer_by_layer(resnet50):
    layers = resnet50.layers
    kinds = [type(layer).__name__ for layer in layers[1:7]]
    assert kinds == [
        "ZeroPadding2D",
        "Conv2D",
        "BatchNormalization",
        "Activation",
        "MaxPooling2D",
        "Conv2D",
    ]
    stem = resnet50.get_layer("conv1_conv")
    assert (stem.kernel_size, stem.strides, stem.filters) == ((7, 7), (2, 2), 64)
    pool = resnet50.get_layer("pool1_pool")
    assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (2, 2), "valid")

    blocks = {}
    for layer in layers:
        if match := re.fullmatch(r"conv(\d)_block(\d+)_add", layer.name):
            blocks[int(match[1])] = max(blocks.get(int(match[1]), 0), int(match[2]))
    assert blocks == {2: 3, 3: 4, 4: 6, 5: 3}  # 1 convolutional + 2, 3, 5, 2 identity blocks

    for stage, stride in zip((2, 3, 4, 5), (1, 2, 2, 2), strict=True):
        first = resnet50.get_layer(f"conv{stage}_block1_1_conv")
        shortcut = resnet50.get_layer(f"conv{stage}_block1_0_conv")
        middle = resnet50.get_layer(f"conv{stage}_block1_2_conv")
        assert first.strides == shortcut.strides == (stride, stride)
        assert (middle.kernel_size, middle.padding, middle.strides) == ((3, 3), "same", (1, 1))
        # the course: glorot_uniform(seed=0) in convolutional blocks, random_uniform(seed=0)
        # in identity blocks
        assert type(first.kernel_initializer).__name__ == "GlorotUniform"
        identity = resnet50.get_layer(f"conv{stage}_block2_1_conv")
        assert type(identity.kernel_initializer).__name__ == "RandomUniform"
        assert first.kernel_initializer.seed == identity.kernel_initializer.seed == 0

    head = [type(layer).__name__ for layer in layers[-3:]]
    assert head == ["AveragePooling2D", "Flatten", "Dense"]
    dense = resnet50.get_layer("predictions")
    assert dense.activation.__name__ == "softmax"
    assert all(
        bn.axis in (3, -1, [3]) for bn in _layers_of(resnet50, keras.layers.BatchNormalization)
    )


def test_resnet50_forward_and_backward_pass(resnet50):
    x = np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)
    y = keras.utils.to_categorical([0, 1, 2, 5], 6)
    with tf.GradientTape() as tape:
        probabilities = resnet50(x, training=True)
        loss = keras.losses.categorical_crossentropy(y, probabilities)
    np.testing.assert_allclose(np.sum(probabilities, axis=1), 1.0, rtol=1e-5)
    grads = tape.gradient(loss, resnet50.trainable_weights)
    # 53 convolutions (kernel, bias), 53 BatchNorms (gamma, beta), the Dense (kernel, bias)
    assert len(grads) == len(resnet50.trainable_weights) == 2 * 53 + 2 * 53 + 2
    norms = [float(tf.norm(g)) for g in grads]
    assert all(np.isfinite(norms)) and min(norms) > 0


def test_built_model_predicts_in_inference_mode(resnet50):
    """A sample's prediction must not depend on what else is in its batch."""
    rng = np.random.default_rng(1)
    sample = rng.random((1, 64, 64, 3), dtype=np.float32)
    batch_a = np.concatenate([sample, rng.random((7, 64, 64, 3), dtype=np.float32)])
    batch_b = np.concatenate([sample, 5 * rng.random((3, 64, 64, 3), dtype=np.float32)])
    alone = resnet50.predict(sample, verbose=0)[0]
    np.testing.assert_allclose(resnet50.predict(batch_a, verbose=0)[0], alone, rtol=1e-4, atol=1e-6)
    # a direct call (as students write model(x)) is inference mode too
    np.testing.assert_allclose(np.asarray(resnet50(batch_b))[0], alone, rtol=1e-4, atol=1e-6)
    # while training mode does use the batch's statistics
    trained = np.asarray(resnet50(batch_b, training=True))[0]
    assert not np.allclose(trained, alone, rtol=1e-3)


@pytest.mark.parametrize(
    ("depth", "application"),
    [(50, "ResNet50"), (101, "ResNet101"), (152, "ResNet152")],
)
def test_resnet_family_matches_keras_applications(depth, application):
    ours = resnet(depth, (224, 224, 3), 1000)
    theirs = getattr(keras.applications, application)(weights=None)
    assert ours.count_params() == theirs.count_params()
    assert _non_trainable(ours) == _non_trainable(theirs)
    conv_names = lambda m: [layer.name for layer in _layers_of(m, keras.layers.Conv2D)]  # noqa: E731
    assert conv_names(ours) == conv_names(theirs)


def test_basic_block_depths():
    r18, r34 = resnet(18, (64, 64, 3), 10), resnet(34, (64, 64, 3), 10)

    def main_convs(model):
        return [
            layer
            for layer in _layers_of(model, keras.layers.Conv2D)
            if MAIN_PATH_CONV.fullmatch(layer.name)
        ]

    # depth = main-path convolutions + the Dense layer
    assert len(main_convs(r18)) + 1 == 18
    assert len(main_convs(r34)) + 1 == 34
    assert {layer.kernel_size for layer in main_convs(r18)} == {(7, 7), (3, 3)}
    assert tuple(r18.get_layer("conv5_block2_out").output.shape[1:]) == (2, 2, 512)


@pytest.mark.parametrize("depth", [20, 56])
def test_cifar_resnet_depth_and_shapes(depth):
    model = cifar_resnet(depth)
    n = (depth - 2) // 6
    main = [
        layer
        for layer in _layers_of(model, keras.layers.Conv2D)
        if MAIN_PATH_CONV.fullmatch(layer.name)
    ]
    assert len(main) + 1 == depth
    assert tuple(model.get_layer(f"conv2_block{n}_out").output.shape[1:]) == (32, 32, 16)
    assert tuple(model.get_layer(f"conv3_block{n}_out").output.shape[1:]) == (16, 16, 32)
    assert tuple(model.get_layer(f"conv4_block{n}_out").output.shape[1:]) == (8, 8, 64)
    assert len(_layers_of(model, keras.layers.Add)) == 3 * n


def test_cifar_parameter_counts_near_the_paper():
    paper = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6}
    for depth, count in paper.items():
        assert abs(cifar_resnet(depth).count_params() - count) / count < 0.03, depth


def _main_path_kernels(model):
    return [
        (layer.name, tuple(layer.kernel.shape))
        for layer in _layers_of(model, keras.layers.Conv2D)
        if MAIN_PATH_CONV.fullmatch(layer.name)
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda **kw: ResNet50((64, 64, 3), 6, **kw),
        lambda **kw: resnet(18, (64, 64, 3), 6, **kw),
        lambda **kw: cifar_resnet(14, **kw),
    ],
    ids=["ResNet50", "resnet18", "cifar_resnet14"],
)
def test_plain_twin_removes_every_shortcut_and_nothing_else(build):
    residual, plain = build(), build(shortcuts=False)
    assert _layers_of(residual, keras.layers.Add)
    assert not _layers_of(plain, keras.layers.Add)
    assert not [layer for layer in plain.layers if "_0_" in layer.name]  # no projection or padding
    assert _main_path_kernels(plain) == _main_path_kernels(residual)
    assert plain.output.shape == residual.output.shape
    assert plain.name != residual.name


def test_cifar_plain_twin_has_exactly_the_same_parameters():
    assert cifar_resnet(20, shortcuts=False).count_params() == cifar_resnet(20).count_params()


def test_batch_norm_switch_drops_every_batch_norm():
    for model in (ResNet50(batch_norm=False), cifar_resnet(8, batch_norm=False, shortcuts=False)):
        assert not _layers_of(model, keras.layers.BatchNormalization)
        assert model.name.endswith("_nobn")
    assert len(_layers_of(ResNet50(), keras.layers.BatchNormalization)) == 53


def test_bn_momentum_reaches_every_batch_norm():
    model = cifar_resnet(8, bn_momentum=0.9)
    assert {bn.momentum for bn in _layers_of(model, keras.layers.BatchNormalization)} == {0.9}


def test_models_save_and_load_in_safe_mode(tmp_path):
    model = cifar_resnet(8, (16, 16, 3), 4)  # includes the zero-padding shortcut layer
    x = np.random.default_rng(2).random((2, 16, 16, 3), dtype=np.float32)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ResNet50((64, 64)), r"input_shape must be 3-D \(height, width, channels\)"),
        (lambda: ResNet50((64, 64, 3, 1)), "input_shape must be 3-D"),
        (lambda: ResNet50("64x64"), "input_shape must be 3-D"),
        (lambda: ResNet50((64, -1, 3)), "input_shape must be 3-D"),
        (lambda: ResNet50((36, 64, 3)), "at least 37 pixels"),
        (lambda: ResNet50(classes=0), r"classes must be an integer >= 1; got 0"),
        (lambda: resnet(20), r"depth must be one of \[18, 34, 50, 101, 152\]; got 20"),
        (lambda: cifar_resnet(18), r"depth must be 6n \+ 2 .*got 18"),
        (lambda: cifar_resnet(2), r"depth must be 6n \+ 2"),
    ],
)
def test_bad_arguments_say_what_is_accepted(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_smallest_accepted_input_builds():
    assert ResNet50((37, 37, 3)).get_layer("avg_pool").output.shape[1:3] == (1, 1)


def test_model_modules_import_only_keras():
    for module in ("blocks.py", "models.py"):
        tree = ast.parse((PACKAGE / module).read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert imported <= {"keras", "collections", "dataclasses", "numbers", "resnet_keras"}, (
            module
        )


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_resnet50_builds_under_other_backends(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"the {backend} backend is not installed (pip install {backend} to run this)")
    code = (
        "import numpy as np, keras; from resnet_keras.models import ResNet50; m = ResNet50();"
        "p = m.predict(np.zeros((2, 64, 64, 3), 'float32'), verbose=0);"
        "print(keras.backend.backend(), m.count_params(), p.shape)"
    )
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-4:] == [backend, "23600006", "(2,", "6)"]
