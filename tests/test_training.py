"""training.py: the recipe, fit's callbacks (resume, NaN guard), determinism, run folders,
loading models safely, reading images, and the figures."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_keras import training
from resnet_keras.models import cifar_resnet
from resnet_keras.plots import plot_confusion_matrix, plot_training_curves

SHAPE = (16, 16, 3)
CLASSES = 4


def _data(images: int = 32, batch: int = 8, seed: int = 0, nan: bool = False):
    """A fixed synthetic dataset: ``images`` 16x16 RGB images in [0, 1], one-hot labels."""
    rng = np.random.default_rng(seed)
    x = rng.random((images, *SHAPE), dtype=np.float32)
    if nan:
        x[:] = np.nan
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, images)]
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(images, seed=seed).batch(batch)


def _model(recipe: training.Recipe, steps: int = 4) -> keras.Model:
    model = cifar_resnet(8, SHAPE, CLASSES, bn_momentum=recipe.bn_momentum)
    return training.compile_model(model, recipe, steps_per_epoch=steps)


class _Recorder(keras.callbacks.Callback):
    """Records the epochs that start; raises at the start of ``fail_at`` (0-based)."""

    def __init__(self, fail_at: int | None = None):
        super().__init__()
        self.fail_at, self.started = fail_at, []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.fail_at:
            raise RuntimeError("simulated crash")
        self.started.append(epoch)


# --- the recipe ------------------------------------------------------------------


def test_default_recipe_is_the_measured_one_and_course_recipe_is_the_course():
    default, course = training.DEFAULT_RECIPE, training.COURSE_RECIPE
    assert (default.bn_momentum, default.schedule, default.epochs) == (0.9, "cosine", 10)
    assert default.validation_split == 0.1  # checkpoints are chosen on validation, not test
    assert (course.bn_momentum, course.schedule, course.learning_rate) == (0.99, "constant", 1e-3)
    assert course.validation_split is None


@pytest.mark.parametrize(
    "change, word",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": -3}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"schedule": "step"}, "schedule"),
        ({"bn_momentum": 1.0}, "bn_momentum"),
        ({"validation_split": 1.0}, "validation_split"),
    ],
)
def test_recipe_rejects_bad_values(change, word):
    with pytest.raises(ValueError, match=word):
        training.Recipe(**change)


def test_learning_rate_scales_with_the_global_batch_and_cosine_reaches_zero():
    recipe = training.Recipe(batch_size=128, epochs=2)
    assert recipe.scaled_learning_rate == pytest.approx(4e-3)
    optimizer = training.make_optimizer(recipe, steps_per_epoch=5)
    assert float(optimizer.learning_rate) == pytest.approx(4e-3)  # at step 0
    optimizer.iterations.assign(5)
    assert float(optimizer.learning_rate) == pytest.approx(2e-3)  # half-way down the cosine
    optimizer.iterations.assign(10)
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    constant = training.make_optimizer(training.COURSE_RECIPE, steps_per_epoch=5)
    assert float(constant.learning_rate) == pytest.approx(1e-3)


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown model 'vgg16'.*ResNet50"):
        training.build_model("vgg16", (64, 64, 3), 6)


# --- fit: resume, history, NaN ----------------------------------------------------


def test_interrupted_fit_resumes_from_its_last_epoch_and_finishes(tmp_path):
    recipe = training.Recipe(epochs=3, batch_size=8, validation_split=None)
    first = _Recorder(fail_at=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        training.fit(_model(recipe), _data(), tmp_path, epochs=3, verbose=0, callbacks=[first])
    assert first.started == [0, 1]
    assert (tmp_path / "backup").is_dir()

    # The same call again, in a new model as a new process would build: it resumes.
    second = _Recorder()
    model = _model(recipe)
    history = training.fit(model, _data(), tmp_path, epochs=3, verbose=0, callbacks=[second])
    assert second.started == [2]  # only the missing epoch ran
    assert history["epoch"] == [0, 1, 2]  # history.csv kept the first session's rows
    assert int(model.optimizer.iterations.numpy()) == 3 * 4  # optimizer state was restored
    assert history["lr"][-1] == pytest.approx(0.0, abs=1e-9)  # the schedule ended at 0
    assert not (tmp_path / "backup").exists()  # a finished run leaves no backup
    assert (tmp_path / "best.keras").is_file()

    # A finished folder holds no backup, so the next run starts over with a fresh history.
    history = training.fit(_model(recipe), _data(), tmp_path, epochs=1, verbose=0)
    assert history["epoch"] == [0]


def test_nan_loss_stops_training_with_a_clear_error(tmp_path):
    recipe = training.Recipe(epochs=2, batch_size=8, validation_split=None)
    recorder = _Recorder()
    with pytest.raises(training.TrainingDivergedError, match=r"epoch 1, batch 1.*learning rate"):
        training.fit(
            _model(recipe), _data(nan=True), tmp_path, epochs=2, verbose=0, callbacks=[recorder]
        )
    assert recorder.started == [0]  # stopped within the first epoch


def test_same_seed_gives_identical_weights_and_another_seed_does_not(tmp_path):
    recipe = training.Recipe(epochs=1, batch_size=8, validation_split=None)

    def weights_after_one_epoch(seed: int, folder: str) -> list[np.ndarray]:
        training.set_seed(seed)
        model = _model(recipe)
        training.fit(model, _data(seed=seed), tmp_path / folder, epochs=1, verbose=0)
        return model.get_weights()

    first = weights_after_one_epoch(3, "a")
    second = weights_after_one_epoch(3, "b")
    other = weights_after_one_epoch(4, "c")
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, other, strict=True))


# --- run folders, model files, images --------------------------------------------


def test_run_folder_holding_another_models_checkpoint_is_refused(tmp_path):
    config = {"model": "cifar_resnet8", "recipe": {"epochs": 1}, "seed": 1}
    training._claim_run_dir(tmp_path, config)
    (tmp_path / "backup").mkdir()
    with pytest.raises(training.RunFolderError, match=r"different model.*cifar_resnet8"):
        training._claim_run_dir(tmp_path, {**config, "model": "ResNet50"})
    with pytest.raises(training.RunFolderError, match="different recipe"):
        training._claim_run_dir(tmp_path, {**config, "recipe": {"epochs": 2}})
    training._claim_run_dir(tmp_path, config)  # the same run may resume


def test_load_model_uses_safe_mode_and_explains_bad_files(tmp_path):
    with pytest.raises(training.ModelFileError, match="does not exist"):
        training.load_model(tmp_path / "missing.keras")
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    with pytest.raises(training.ModelFileError, match="not a Keras model file"):
        training.load_model(text)
    # A .keras archive whose config needs a Python lambda: safe mode refuses to run it.
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    unsafe = tmp_path / "lambda.keras"
    model.save(unsafe)
    assert zipfile.is_zipfile(unsafe)
    with pytest.raises(training.ModelFileError, match="safe mode"):
        training.load_model(unsafe)


def test_read_image_resizes_any_size_to_rgb_and_refuses_garbage(tmp_path):
    gray = tf.cast(tf.linspace(0.0, 255.0, 30 * 50), tf.uint8)
    path = tmp_path / "gray.png"
    path.write_bytes(tf.io.encode_png(tf.reshape(gray, (30, 50, 1))).numpy())
    image = training.read_image(path, (64, 64))
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    np.testing.assert_allclose(image[..., 0], image[..., 2])  # gray became RGB
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 this is not really a JPEG")
    with pytest.raises(training.ImageReadError, match=r"cannot read image .*broken\.jpg"):
        training.read_image(broken, (64, 64))
    with pytest.raises(training.ImageReadError, match="does not exist"):
        training.read_image(tmp_path / "nowhere.png", (64, 64))


# --- figures ---------------------------------------------------------------------


def test_training_curves_figure_has_both_panels_labelled():
    history = {
        "epoch": [0, 1, 2],
        "loss": [2.0, 1.0, 0.5],
        "accuracy": [0.3, 0.6, 0.9],
        "val_loss": [2.2, 1.1, 0.7],
        "val_accuracy": [0.2, 0.5, 0.8],
    }
    figure = plot_training_curves(history)
    loss, accuracy = figure.axes
    assert loss.get_xlabel() == "epoch" and "loss" in loss.get_ylabel()
    assert [line.get_label() for line in accuracy.get_lines()] == ["training", "validation"]
    np.testing.assert_array_equal(accuracy.get_lines()[1].get_ydata(), [0.2, 0.5, 0.8])
    np.testing.assert_array_equal(accuracy.get_lines()[1].get_xdata(), [1, 2, 3])


def test_confusion_matrix_counts_pairs(tmp_path):
    path = tmp_path / "cm.png"
    figure = plot_confusion_matrix([0, 1, 2, 2], [0, 1, 1, 2], ["a", "b", "c"], save=path)
    matrix = figure.axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    assert "0.750" in figure.axes[0].get_title()
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_library_versions_are_recorded():
    versions = training.library_versions()
    assert versions["keras"] == keras.__version__ and versions["tensorflow"] == tf.__version__
    json.dumps(versions)
