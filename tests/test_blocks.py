"""The course's blocks, checked value for value against an independent NumPy forward pass."""

import keras
import numpy as np
import pytest
from numpy_reference import bottleneck, conv2d, relu

from resnet_keras import convolutional_block, identity_block
from resnet_keras.blocks import ZeroPadShortcut, basic_block, bottleneck_block

RNG = np.random.default_rng(7)


def _wrap(block_fn, input_shape, **kwargs):
    """A model around one block (layers named ``b_*``) on a symbolic input, for setting weights."""
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, block_fn(inputs, name="b", **kwargs))


def _randomize(model) -> dict[str, dict[str, np.ndarray]]:
    """Give every conv and BN layer random weights (and moving statistics); return them by layer."""
    params: dict[str, dict[str, np.ndarray]] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel = RNG.normal(0, 0.5, layer.kernel.shape)
            bias = RNG.normal(0, 0.1, layer.bias.shape)
            layer.set_weights([kernel, bias])
            params[layer.name] = {"kernel": kernel, "bias": bias}
        elif isinstance(layer, keras.layers.BatchNormalization):
            (channels,) = layer.gamma.shape
            values = [
                RNG.uniform(0.5, 1.5, channels),
                RNG.normal(0, 0.2, channels),
                RNG.normal(0, 0.5, channels),
                RNG.uniform(0.5, 2.0, channels),
            ]
            layer.set_weights(values)
            params[layer.name.replace("_bn", "_conv")].update(
                dict(zip(["gamma", "beta", "mean", "var"], values, strict=True))
            )
    return params


def _convs(model) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(
    ("f", "filters", "size"), [(1, [2, 3, 4], 3), (2, [4, 4, 3], 4), (3, [3, 5, 6], 5)]
)
def test_identity_block_matches_numpy(f, filters, size, training):
    shape = (size, size, filters[2])
    model = _wrap(identity_block, shape, f=f, filters=filters, training=training)
    params = _randomize(model)
    x = RNG.normal(0, 1, (3, *shape)).astype("float32")

    main = [params[f"b_{i}_conv"] for i in (1, 2, 3)]
    expected = bottleneck(x, main, projection=None, stride=1, training=training)

    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(
    ("f", "filters", "s", "size"),
    [(3, [2, 3, 4], 2, 6), (2, [4, 4, 8], 1, 4), (3, [3, 2, 5], 3, 7), (1, [2, 2, 2], 2, 5)],
)
def test_convolutional_block_matches_numpy(f, filters, s, size, training):
    shape = (size, size, 3)
    model = _wrap(convolutional_block, shape, f=f, filters=filters, s=s, training=training)
    params = _randomize(model)
    x = RNG.normal(0, 1, (2, *shape)).astype("float32")

    main = [params[f"b_{i}_conv"] for i in (1, 2, 3)]
    expected = bottleneck(x, main, params["b_0_conv"], stride=s, training=training)

    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-4)
    assert model.output.shape[1:] == (-(-size // s), -(-size // s), filters[2])


@pytest.mark.parametrize("block", ["identity", "convolutional"])
def test_plain_twin_block_drops_only_the_shortcut(block):
    fn, kwargs = {
        "identity": (identity_block, {}),
        "convolutional": (convolutional_block, {"s": 2}),
    }[block]
    shape = (5, 5, 4)
    model = _wrap(fn, shape, f=3, filters=[2, 3, 4], training=True, shortcut=None, **kwargs)
    params = _randomize(model)
    x = RNG.normal(0, 1, (2, *shape)).astype("float32")

    assert _convs(model) == ["b_1_conv", "b_2_conv", "b_3_conv"]  # no projection
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)
    main = [params[f"b_{i}_conv"] for i in (1, 2, 3)]
    expected = bottleneck(x, main, None, stride=kwargs.get("s", 1), training=True, shortcut=False)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-4)


def test_blocks_called_eagerly_on_arrays_follow_training_flag():
    """As in the course's own check: a block called on an array, constant weights."""
    x = RNG.normal(0, 1, (3, 4, 4, 3)).astype("float32")
    ones = lambda seed=0: keras.initializers.Constant(1)  # noqa: E731
    kernel = lambda c_in, c_out, k: np.ones((k, k, c_in, c_out))  # noqa: E731
    params = [
        {"kernel": kernel(3, 4, 1), "bias": 0, "gamma": 1, "beta": 0, "mean": 0, "var": 1},
        {"kernel": kernel(4, 4, 2), "bias": 0, "gamma": 1, "beta": 0, "mean": 0, "var": 1},
        {"kernel": kernel(4, 3, 1), "bias": 0, "gamma": 1, "beta": 0, "mean": 0, "var": 1},
    ]
    for training in (True, False):
        out = identity_block(x, f=2, filters=[4, 4, 3], initializer=ones, training=training)
        expected = bottleneck(x, params, None, stride=1, training=training)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", [identity_block, convolutional_block])
def test_every_conv_kernel_comes_from_initializer_with_seed_0(fn):
    calls = []

    def initializer(seed=None):
        calls.append(seed)
        return keras.initializers.Constant(0.5)

    model = _wrap(fn, (4, 4, 6), f=3, filters=[2, 3, 6], initializer=initializer)
    convs = [model.get_layer(name) for name in _convs(model)]
    assert calls == [0] * len(convs) == [0] * (3 if fn is identity_block else 4)
    assert all(np.all(np.asarray(conv.kernel) == 0.5) for conv in convs)


def test_course_default_initializers():
    ident = _wrap(identity_block, (4, 4, 4), f=3, filters=[2, 2, 4])
    conv = _wrap(convolutional_block, (4, 4, 4), f=3, filters=[2, 2, 4])
    kinds = lambda m: {type(m.get_layer(n).kernel_initializer).__name__ for n in _convs(m)}  # noqa: E731
    assert kinds(ident) == {"RandomUniform"}
    assert kinds(conv) == {"GlorotUniform"}


def test_blocks_name_layers_by_prefix():
    inputs = keras.Input((8, 8, 3))
    x = convolutional_block(inputs, 3, [2, 2, 4], s=2, name="conv3_block1")
    x = identity_block(x, 3, [2, 2, 4], name="conv3_block2")
    names = {layer.name for layer in keras.Model(inputs, x).layers}
    assert {
        "conv3_block1_0_conv",
        "conv3_block1_0_bn",
        "conv3_block1_1_conv",
        "conv3_block1_add",
    } <= names
    assert {
        "conv3_block2_2_conv",
        "conv3_block2_3_bn",
        "conv3_block2_add",
        "conv3_block2_out",
    } <= names


def test_basic_block_and_zero_pad_shortcut_values():
    shape = (6, 6, 2)
    model = _wrap(basic_block, shape, filters=4, stride=2, shortcut="zero_pad", batch_norm=False)
    x = RNG.normal(0, 1, (2, *shape)).astype("float32")
    params = _randomize(model)

    first, second = params["b_1_conv"], params["b_2_conv"]
    main = conv2d(
        relu(conv2d(x, first["kernel"], first["bias"], 2, "same")),
        second["kernel"],
        second["bias"],
        1,
        "same",
    )
    side = np.pad(x[:, ::2, ::2, :], [(0, 0), (0, 0), (0, 0), (0, 2)])
    np.testing.assert_allclose(np.asarray(model(x)), relu(main + side), rtol=1e-4, atol=1e-4)
    assert ZeroPadShortcut(4, 2).compute_output_shape((None, 7, 6, 2)) == (None, 4, 3, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": [4, 4]}, "filters must be three positive integers"),
        ({"filters": [4, 0, 3]}, "filters must be three positive integers"),
        ({"filters": "443"}, "filters must be three positive integers"),
        ({"filters": [4, 4, 3.0]}, "filters must be three positive integers"),
        ({"f": 0}, "f must be an integer >= 1"),
        ({"s": 0}, "s must be an integer >= 1"),
    ],
)
def test_convolutional_block_rejects_bad_arguments(kwargs, message):
    args = {"X": keras.Input((8, 8, 3)), "f": 3, "filters": [4, 4, 3], "s": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        convolutional_block(**args)


def test_identity_block_explains_a_shape_mismatch():
    with pytest.raises(
        ValueError, match=r"input has 3 channels and the block makes 8.*convolutional_block"
    ):
        identity_block(keras.Input((8, 8, 3)), 3, [4, 4, 8])
    with pytest.raises(ValueError, match="f must be an integer >= 1"):
        identity_block(keras.Input((8, 8, 3)), 0, [4, 4, 3])
    with pytest.raises(ValueError, match="shortcut must be one of"):
        bottleneck_block(keras.Input((8, 8, 3)), 3, [4, 4, 3], shortcut="skip")
