"""Per-layer gradient norms: the one-batch probe and the in-step recorder."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_keras import models
from resnet_keras.gradients import (
    COLUMNS,
    RECORDER_COLUMNS,
    GradientNormRecorder,
    Table,
    gradient_norms,
    kernel_layout,
)

SHAPE = (16, 16, 3)
CLASSES = 6


def _batch(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((count, *SHAPE), dtype="float32"), rng.integers(0, CLASSES, count)


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(1)
    return models.cifar_resnet(8, SHAPE, CLASSES)


def test_norms_agree_with_a_direct_gradient_tape(tiny):
    x, y = _batch(8)
    table = gradient_norms(tiny, x, y)
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(y, tiny(x, training=True))
    grads = tape.gradient(loss, tiny.trainable_weights)
    expected = {
        v.path: (float(tf.norm(g)), float(tf.norm(v.value)))
        for v, g in zip(tiny.trainable_weights, grads, strict=True)
        if v.name == "kernel"
    }
    assert len(table) == len(expected) == 8
    for row in table:
        grad, weight = expected[f"{row['layer']}/kernel"]
        assert row["grad_norm"] == pytest.approx(grad, rel=1e-5)
        assert row["weight_norm"] == pytest.approx(weight, rel=1e-5)
        assert row["grad_norm"] > 0


def test_one_hot_targets_and_an_explicit_loss_give_the_same_norms(tiny):
    x, y = _batch(8)
    sparse = gradient_norms(tiny, x, y)
    one_hot = gradient_norms(tiny, x, np.eye(CLASSES)[y], loss="categorical_crossentropy")
    np.testing.assert_allclose(one_hot["grad_norm"], sparse["grad_norm"], rtol=1e-5)


def test_layers_come_in_depth_order_with_stage_and_block(tiny):
    table = gradient_norms(tiny, *_batch(4))
    assert table.columns == COLUMNS
    assert list(table["layer"]) == [
        "conv1_conv",
        "conv2_block1_1_conv",
        "conv2_block1_2_conv",
        "conv3_block1_1_conv",
        "conv3_block1_2_conv",
        "conv4_block1_1_conv",
        "conv4_block1_2_conv",
        "predictions",
    ]
    assert list(table["depth"]) == list(range(1, 9))
    assert [r["stage"] for r in table] == [1, 2, 2, 3, 3, 4, 4, None]
    assert [r["block"] for r in table] == [0, 1, 1, 1, 1, 1, 1, None]
    assert list(table["parameters"]) == [432, 2304, 2304, 4608, 9216, 18432, 36864, 64 * 6]


def test_a_projection_shortcut_shares_its_blocks_depth():
    model = models.resnet(18, (32, 32, 3), 4)
    layout = kernel_layout(model)
    shortcut = next(k for k in layout if k.layer == "conv3_block1_0_conv")
    first = next(k for k in layout if k.layer == "conv3_block1_1_conv")
    assert (shortcut.path, shortcut.stage, shortcut.block) == ("shortcut", 3, 1)
    assert shortcut.depth == first.depth
    assert layout.index(shortcut) == layout.index(first) + 1
    main = [k.depth for k in layout if k.path == "main"]
    assert main == list(range(1, 19))  # ResNet-18: 17 convolutions and the Dense head


def test_norms_upstream_of_a_zeroed_layer_are_zero():
    inputs = keras.Input(SHAPE)
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="b")(a)
    zeroed = keras.layers.Rescaling(0.0, name="times_zero")(b)
    both = keras.layers.Concatenate()([zeroed, inputs])
    c = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c")(both)
    pooled = keras.layers.GlobalAveragePooling2D()(c)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="head")(pooled)
    model = keras.Model(inputs, outputs)
    table = gradient_norms(model, *_batch(4))
    norms = dict(zip(table["layer"], table["grad_norm"], strict=True))
    assert norms["a"] == 0.0 and norms["b"] == 0.0
    assert norms["c"] > 0 and norms["head"] > 0
    assert list(table["depth"]) == [1, 2, 3, 4]


def test_the_probe_leaves_weights_and_batchnorm_statistics_alone(tiny):
    before = [w.copy() for w in tiny.get_weights()]
    gradient_norms(tiny, *_batch(8))
    for old, new in zip(before, tiny.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_recorded_norms_equal_the_probe_on_the_same_batch_and_weights():
    keras.utils.set_random_seed(2)
    model = models.cifar_resnet(8, SHAPE, CLASSES)
    start = model.get_weights()
    x, y = _batch(24, seed=3)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    recorder = GradientNormRecorder(every=2)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, callbacks=[recorder], verbose=0)
    table = recorder.table
    assert table.columns == RECORDER_COLUMNS
    assert sorted(set(table["step"])) == [0, 2, 4]  # 6 steps, every 2nd from the first

    # Replay: the same weights as before step 0 and step 2, the same batch.
    twin = models.cifar_resnet(8, SHAPE, CLASSES)
    twin.set_weights(start)
    at_start = gradient_norms(twin, x[:8], y[:8])
    twin.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    twin.fit(x[:16], y[:16], batch_size=8, epochs=1, shuffle=False, verbose=0)
    at_step_2 = gradient_norms(twin, x[16:], y[16:])
    for step, probe in ((0, at_start), (2, at_step_2)):
        recorded = table.where(step=step)
        assert list(recorded["layer"]) == list(probe["layer"])
        np.testing.assert_allclose(recorded["grad_norm"], probe["grad_norm"], rtol=1e-5)
        np.testing.assert_allclose(recorded["weight_norm"], probe["weight_norm"], rtol=1e-5)


def test_a_second_fit_keeps_recording_without_wrapping_twice(tiny):
    model = keras.models.clone_model(tiny)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _batch(16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # traced without a recorder
    recorder = GradientNormRecorder(every=1)
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[recorder], verbose=0)
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[recorder], verbose=0)
    assert sorted(set(recorder.table["step"])) == [2, 3, 4, 5]
    recorder.detach()
    assert "apply" not in vars(model.optimizer)


def test_table_converts_to_csv_and_back(tmp_path, tiny):
    table = gradient_norms(tiny, *_batch(4))
    text = table.to_csv(tmp_path / "norms.csv")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    again = Table.read_csv(tmp_path / "norms.csv")
    assert again.columns == COLUMNS
    np.testing.assert_allclose(again["grad_norm"], table["grad_norm"])
    assert list(again["stage"])[:2] == [1, 2]


def test_to_pandas_without_pandas_says_how_to_get_it(tiny, monkeypatch):
    table = gradient_norms(tiny, *_batch(4))
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            table.to_pandas()
    else:
        frame = table.to_pandas()
        assert list(frame.columns) == list(COLUMNS) and len(frame) == len(table)


def test_bad_inputs_fail_with_clear_errors(tiny):
    x, y = _batch(4)
    frozen = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    frozen.trainable = False
    with pytest.raises(ValueError, match="no trainable kernels"):
        gradient_norms(frozen, np.zeros((2, 3)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="same number of examples"):
        gradient_norms(tiny, x, y[:3])
    with pytest.raises(ValueError, match=r"takes batches of shape \(batch, 16, 16, 3\)"):
        gradient_norms(tiny, np.zeros((4, 8, 8, 3)), y)
    with pytest.raises(ValueError, match="one-hot with 4 columns, but the model predicts 6"):
        gradient_norms(tiny, x, np.eye(4)[y % 4])
    for every in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="every must be an integer >= 1"):
            GradientNormRecorder(every=every)
    with pytest.raises(ValueError, match="compile the model"):
        GradientNormRecorder(every=1).attach(keras.models.clone_model(tiny))
