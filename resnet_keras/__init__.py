"""resnet-keras: residual networks in Keras 3 for teaching and study.

The public names are re-exported here and loaded on first use, so that
``import resnet_keras`` stays cheap and the model builders work under any
Keras backend (only the data pipeline and gradient recorder need TensorFlow).
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    # blocks.py
    "identity_block": "blocks",
    "convolutional_block": "blocks",
    "basic_block": "blocks",
    # models.py
    "ResNet50": "models",
    "resnet": "models",
    "cifar_resnet": "models",
    # training.py
    "Recipe": "training",
    "DEFAULT_RECIPE": "training",
    "COURSE_RECIPE": "training",
    "train": "training",
    "fit": "training",
    "evaluate": "training",
    "predict": "training",
    # data.py
    "load_signs": "data",
    "load_dataset": "data",
    "convert_to_one_hot": "data",
    "signs_dataset": "data",
    "SignsData": "data",
    "SignsDataError": "data",
    "SignsSource": "data",
    "SIGNS_SOURCES": "data",
    # grading.py (the checks themselves: resnet_keras.grading.check_*)
    "CheckResult": "grading",
    # gradients.py
    "gradient_norms": "gradients",
    "GradientNormRecorder": "gradients",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(import_module(f"resnet_keras.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'resnet_keras' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
