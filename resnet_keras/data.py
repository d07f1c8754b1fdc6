"""SIGNS, the course's hand-sign digits: find, fetch, verify and load; one-hot; tf.data.

SIGNS holds 64x64 RGB photographs of a hand showing 0 to 5 raised fingers:
1080 training images (180 a class) and 120 test images (20 a class), in two
HDF5 files laid out as the course ships them::

    train_signs.h5  train_set_x (m, 64, 64, 3) uint8, train_set_y (m,) int, list_classes (6,) int
    test_signs.h5   test_set_x  (m, 64, 64, 3) uint8, test_set_y  (m,) int, list_classes (6,) int

Where :func:`load_signs` looks for each file, first match wins:

1. the ``data_dir`` argument;
2. the folder named by the environment variable ``SIGNS_DIR``;
3. ``./datasets`` (the course notebook's own layout);
4. ``./data``;
5. the Keras cache, ``$KERAS_HOME/datasets/signs`` (``~/.keras/datasets/signs``
   when ``KERAS_HOME`` is unset), or the ``cache_dir`` argument;
6. a download with ``keras.utils.get_file`` from the origins in
   :data:`SIGNS_SOURCES`, checked against their digests before the file
   enters the cache.

A ``data_dir`` or ``SIGNS_DIR`` that names no folder is an error, not a
reason to look further: a typo should not start a download. A file that is
found but broken is an error too; the loader never passes over it silently.
Every problem raises :class:`SignsDataError`, which names the file, the
problem and the fix.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import h5py
import keras
import numpy as np
import tensorflow as tf

IMAGE_SHAPE = (64, 64, 3)
SPLITS = ("train", "validation", "test")


class SignsDataError(ValueError):
    """A SIGNS file or folder is missing, broken, or not what it claims to be."""


@dataclass(frozen=True)
class SignsSource:
    """Where to download one SIGNS file, and the digests it must match.

    At least one digest is needed; every digest given must match.
    ``git_blob`` is the file's git blob id, ``sha1(b"blob <size>\\0" + content)``,
    which is what ``git hash-object FILE`` prints.
    """

    origin: str
    sha256: str | None = None
    git_blob: str | None = None


_COURSE_COPY = (
    "https://github.com/DrAlexSanz/CNN-in-TF/raw/5f0da09b23d8920755c2d0087debebdfe3ce8bf0"
)

#: The one place for origins and digests; pass ``sources=`` to load_signs to override.
SIGNS_SOURCES: Mapping[str, SignsSource] = MappingProxyType(
    {
        "train_signs.h5": SignsSource(
            origin=f"{_COURSE_COPY}/train_signs.h5",
            git_blob="15904fbeb148848aea50d42c96a539b7bd11c4e5",
        ),
        "test_signs.h5": SignsSource(
            origin=f"{_COURSE_COPY}/test_signs.h5",
            sha256="539fb746ed9e947eb244cfca73f4d1b03f9bf5524d609eeed2cd76ddb1b179be",
            git_blob="ac34131b87c829b90f5c0913f90d509f1c1f8ed0",
        ),
    }
)


class _SignsFile(NamedTuple):
    name: str
    x_key: str
    y_key: str


_TRAIN = _SignsFile("train_signs.h5", "train_set_x", "train_set_y")
_TEST = _SignsFile("test_signs.h5", "test_set_x", "test_set_y")
_CLASSES_KEY = "list_classes"

_README_HINT = "See data/README.md for the origins and checksums."
_REPLACE_HINT = (
    "Replace it with the course's file, or delete it so that load_signs looks in the "
    f"next place and downloads it if need be. {_README_HINT}"
)


@dataclass(frozen=True, eq=False)
class SignsData:
    """SIGNS in memory; the arrays are read-only.

    Attributes:
        x_train: (1080, 64, 64, 3) uint8 RGB images, 0 to 255.
        y_train: (1080,) int64 labels, each one of ``classes``.
        x_test: (120, 64, 64, 3) uint8.
        y_test: (120,) int64.
        classes: (6,) int64, the labels in the order one-hot vectors use: 0 to 5.
        train_path, test_path: the files they were read from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: np.ndarray
    train_path: Path
    test_path: Path


# ---------------------------------------------------------------------------
# Finding the files


def default_cache_dir() -> Path:
    """The Keras cache folder for SIGNS: ``$KERAS_HOME/datasets/signs``, else ``~/.keras/...``."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home).expanduser() / "datasets" / "signs"


def _search_folders(data_dir: str | os.PathLike | None, cache_dir: Path) -> list[Path]:
    """The folders to look in, in order; an explicitly named folder must exist."""
    folders = []
    for given, what in ((data_dir, "data_dir"), (os.environ.get("SIGNS_DIR"), "$SIGNS_DIR")):
        if not given:
            continue
        folder = Path(given).expanduser()
        if not folder.is_dir():
            raise SignsDataError(
                f"{what} names {folder}, which is not a folder. Expected a folder holding "
                f"{_TRAIN.name} and {_TEST.name}: fix the path, or leave {what} unset to "
                "search ./datasets, ./data and the Keras cache, then download."
            )
        folders.append(folder)
    cwd = Path.cwd()
    return [*folders, cwd / "datasets", cwd / "data", cache_dir]


def _find_or_fetch(
    name: str,
    folders: list[Path],
    cache_dir: Path,
    source: SignsSource | None,
    download: bool,
) -> Path:
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    looked = "\n".join(f"  {folder / name}" for folder in folders)
    if not download:
        raise SignsDataError(
            f"{name} not found. Looked in, in order:\n{looked}\nand download=False. Put the "
            "file in one of these places, set SIGNS_DIR to its folder, or allow the "
            f"download. {_README_HINT}"
        )
    if source is None:
        raise SignsDataError(
            f"{name} not found (looked in:\n{looked}\n) and no download source is configured "
            f"for it. Pass sources={{{name!r}: SignsSource(origin=..., sha256=...)}}."
        )
    return _download(name, source, cache_dir, looked)


def _download(name: str, source: SignsSource, cache_dir: Path, looked: str) -> Path:
    """Fetch into a private temporary folder in the cache, verify, then move into place."""
    if source.sha256 is None and source.git_blob is None:
        raise SignsDataError(
            f"{name}: refusing to download from {source.origin} without a digest to check "
            "it against. Give its SignsSource a sha256 or git_blob."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache_dir) as tmp:
        try:
            fetched = keras.utils.get_file(
                fname=name, origin=source.origin, cache_dir=tmp, cache_subdir=tmp
            )
        except Exception as err:  # get_file wraps URL errors in a bare Exception
            raise SignsDataError(
                f"{name} not found locally (looked in:\n{looked}\n) and the download from "
                f"{source.origin} failed: {err}. Check the network or the origin, or put the "
                f"file in one of the places above. {_README_HINT}"
            ) from err
        _verify_digests(Path(fetched), source)
        target = cache_dir / name
        os.replace(fetched, target)
    return target


def file_digests(path: str | os.PathLike) -> dict[str, str]:
    """The file's ``sha256`` and ``git_blob`` id (``git hash-object``), as hex strings."""
    path = Path(path)
    sha256 = hashlib.sha256()
    git_blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha256.update(chunk)
            git_blob.update(chunk)
    return {"sha256": sha256.hexdigest(), "git_blob": git_blob.hexdigest()}


def _verify_digests(path: Path, source: SignsSource) -> None:
    actual = file_digests(path)
    for kind, expected in (("sha256", source.sha256), ("git_blob", source.git_blob)):
        if expected is not None and actual[kind] != expected.lower():
            raise SignsDataError(
                f"{path.name} downloaded from {source.origin} has {kind} {actual[kind]}, "
                f"expected {expected}; the file was discarded, not cached. The origin may "
                "serve another version or a damaged file: check the origin, or the digest "
                f"if you configured it yourself. {_README_HINT}"
            )


# ---------------------------------------------------------------------------
# Reading and checking one file


def _sniff(path: Path) -> None:
    """Recognize the usual impostors before h5py gives a vaguer error."""
    with path.open("rb") as f:
        head = f.read(512)
    if not head:
        raise SignsDataError(f"{path}: the file is empty. {_REPLACE_HINT}")
    if head.startswith(b"version https://git-lfs"):
        raise SignsDataError(
            f"{path}: this is a Git LFS pointer, not the data. Run `git lfs pull` in the "
            f"repository it came from. {_REPLACE_HINT}"
        )
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")):
        raise SignsDataError(
            f"{path}: this is an HTML page, not an HDF5 file (often a GitHub page saved "
            "instead of the raw file). Download the raw file (a URL with /raw/ in it). "
            f"{_REPLACE_HINT}"
        )


def _read(path: Path, spec: _SignsFile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels and classes from one file, checked against the course layout."""
    _sniff(path)
    keys = (spec.x_key, spec.y_key, _CLASSES_KEY)
    try:
        with h5py.File(path, "r") as h5:
            missing = [key for key in keys if not isinstance(h5.get(key), h5py.Dataset)]
            if missing:
                raise SignsDataError(
                    f"{path}: missing dataset(s) {missing}; found {sorted(h5.keys())}, "
                    f"expected {list(keys)}. Is this the right file for {spec.name}? "
                    f"{_REPLACE_HINT}"
                )
            x, y, classes = (h5[key][()] for key in keys)
    except OSError as err:
        raise SignsDataError(
            f"{path}: not a readable HDF5 file; it is truncated or in another format "
            f"({err}). {_REPLACE_HINT}"
        ) from err
    _check(path, spec, x, y, classes)
    return x, y.astype(np.int64), classes.astype(np.int64)


def _check(path: Path, spec: _SignsFile, x: np.ndarray, y: np.ndarray, classes: np.ndarray):
    def fail(problem: str) -> SignsDataError:
        return SignsDataError(f"{path}: {problem}. {_REPLACE_HINT}")

    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise fail(f"{spec.x_key} is {x.shape} {x.dtype}, expected (m, 64, 64, 3) uint8 images")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise fail(f"{spec.y_key} is {y.shape} {y.dtype}, expected (m,) integer labels")
    if classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer):
        raise fail(f"{_CLASSES_KEY} is {classes.shape} {classes.dtype}, expected (C,) integers")
    if len(np.unique(classes)) != len(classes):
        raise fail(f"{_CLASSES_KEY} {classes.tolist()} repeats a class")
    if len(x) != len(y):
        raise fail(f"{len(x)} images in {spec.x_key} but {len(y)} labels in {spec.y_key}")
    unknown = np.setdiff1d(y, classes)
    if unknown.size:
        raise fail(
            f"{spec.y_key} holds labels {unknown.tolist()} that are not in {_CLASSES_KEY} "
            f"{classes.tolist()}"
        )


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def load_signs(
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    sources: Mapping[str, SignsSource] | None = None,
    download: bool = True,
) -> SignsData:
    """Find (or download), verify and load both SIGNS files.

    Args:
        data_dir: a folder to look in first (see the module docstring for the
            whole search order); it must exist if given.
        cache_dir: the cache folder, searched last and written by downloads;
            default :func:`default_cache_dir`.
        sources: origin and digests for each file name, default :data:`SIGNS_SOURCES`.
        download: whether to download a file that is found nowhere.

    Returns:
        A :class:`SignsData` with read-only uint8 images and int64 labels.

    Raises:
        SignsDataError: a folder or file is missing, a download fails or does
            not match its digest, or a file is not in the course's layout.
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    sources = SIGNS_SOURCES if sources is None else sources
    folders = _search_folders(data_dir, cache)
    train_path, test_path = (
        _find_or_fetch(spec.name, folders, cache, sources.get(spec.name), download)
        for spec in (_TRAIN, _TEST)
    )
    x_train, y_train, train_classes = _read(train_path, _TRAIN)
    x_test, y_test, test_classes = _read(test_path, _TEST)
    if not np.array_equal(train_classes, test_classes):
        raise SignsDataError(
            f"{train_path} lists classes {train_classes.tolist()} but {test_path} lists "
            f"{test_classes.tolist()}; the two files must come from the same dataset. "
            f"{_README_HINT}"
        )
    return SignsData(
        *(_read_only(a) for a in (x_train, y_train, x_test, y_test, train_classes)),
        train_path=train_path,
        test_path=test_path,
    )


# ---------------------------------------------------------------------------
# The course's helpers, so its notebook code runs unchanged


def load_dataset(data_dir: str | os.PathLike | None = None):
    """The course's ``load_dataset()``: ``(train_x, train_y, test_x, test_y, classes)``.

    Shapes: train_x (1080, 64, 64, 3) uint8, train_y (1, 1080) int64,
    test_x (120, 64, 64, 3) uint8, test_y (1, 120) int64, classes (6,) int64.
    The arrays are fresh, writable copies, as the course's were.
    """
    d = load_signs(data_dir)
    return (
        d.x_train.copy(),
        d.y_train.reshape(1, -1).copy(),
        d.x_test.copy(),
        d.y_test.reshape(1, -1).copy(),
        d.classes.copy(),
    )


def convert_to_one_hot(Y: np.ndarray, C: int) -> np.ndarray:
    """The course's one-hot: labels of any shape with m values -> (C, m) float64."""
    labels = np.asarray(Y).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in 0..{C - 1} for C={C}, got {np.unique(labels)}")
    return np.eye(C)[labels].T


# ---------------------------------------------------------------------------
# The tf.data pipeline

# Augmentation ranges, small enough that every raised finger stays in the 64x64 frame.
MAX_SHIFT = 0.1  # fraction of the width and height: up to 6 px
MAX_ROTATION_DEGREES = 15.0
ZOOM_RANGE = (0.9, 1.1)
MAX_BRIGHTNESS_DELTA = 0.1  # on the [0, 1] scale
CONTRAST_RANGE = (0.8, 1.2)

PIPELINE_THREADS = os.cpu_count() or 1  # parallel map calls per batch
PREFETCH_BATCHES = 2


def pipeline_options() -> tf.data.Options:
    """tf.data options for every SIGNS pipeline: fixed parallelism, autotuning off.

    With TensorFlow 2.21, deleting an iterator of an autotuned pipeline can wait
    for the autotuning thread's next wake-up, which comes 10 ms, 30 ms, 70 ms, ...
    5.11 s, 10.23 s, 20.47 s, 40.95 s after the iterator started. Keras makes a
    new iterator every epoch, so an epoch of 21 s could end at 41 s. A fixed
    thread count and prefetch depth give the same batches without the wait
    (measured in BENCHMARKS.md, "Settings sweep").
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``, each sorted: ``fraction`` of every class held out.

    The same ``seed`` always picks the same images (``None`` means 0), so a
    validation split can be rebuilt exactly; the two parts are disjoint and
    together cover ``range(len(labels))``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must lie strictly between 0 and 1, got {fraction}")
    rng = np.random.default_rng(0 if seed is None else seed)
    held = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held.append(members[: round(fraction * len(members))])
    validation = np.sort(np.concatenate(held))
    if validation.size in (0, len(labels)):
        raise ValueError(
            f"validation_split={fraction} of {len(labels)} images leaves an empty part; "
            "choose a fraction that keeps at least one image a class on each side."
        )
    return np.setdiff1d(np.arange(len(labels)), validation), validation


def _augment(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A batch of float32 images in [0, 1], each changed at random (see signs_dataset).

    ``seed`` is a stateless seed, shape (2,), for this batch.
    """
    n = tf.shape(images)[0]
    height, width = IMAGE_SHAPE[0], IMAGE_SHAPE[1]
    seeds = tf.random.experimental.stateless_split(seed, num=7)

    def uniform(i: int, low: float, high: float) -> tf.Tensor:
        return tf.random.stateless_uniform([n], seeds[i], low, high)

    flip = uniform(0, 0.0, 1.0) < 0.5
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)

    # Inverse map from output to input pixel: in = A (out - c - t) + c, A = R(-angle) / zoom.
    angle = uniform(1, -1.0, 1.0) * np.deg2rad(MAX_ROTATION_DEGREES)
    zoom = uniform(2, *ZOOM_RANGE)
    tx = uniform(3, -MAX_SHIFT, MAX_SHIFT) * width
    ty = uniform(4, -MAX_SHIFT, MAX_SHIFT) * height
    cx, cy = (width - 1) / 2, (height - 1) / 2
    a0, a1 = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    b0, b1 = -a1, a0
    transforms = tf.stack(
        [
            a0,
            a1,
            cx - a0 * (cx + tx) - a1 * (cy + ty),
            b0,
            b1,
            cy - b0 * (cx + tx) - b1 * (cy + ty),
            tf.zeros([n]),
            tf.zeros([n]),
        ],
        axis=1,
    )
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=[height, width],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )

    brightness = uniform(5, -MAX_BRIGHTNESS_DELTA, MAX_BRIGHTNESS_DELTA)[:, None, None, None]
    contrast = uniform(6, *CONTRAST_RANGE)[:, None, None, None]
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    images = (images - mean) * contrast + mean + brightness
    return tf.clip_by_value(images, 0.0, 1.0)


def signs_dataset(
    split: str,
    batch_size: int = 32,
    shuffle: bool = True,
    augment: bool = False,
    seed: int | None = None,
    validation_split: float | None = None,
    *,
    data: SignsData | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tf.data.Dataset:
    """SIGNS as a ``tf.data.Dataset`` of ``(images, labels)`` batches.

    Images are (batch, 64, 64, 3) float32 in [0, 1]; labels are (batch, C)
    float32 one-hot, columns in the order of ``data.classes``. The last batch
    may be smaller. The pipeline caches the examples, reshuffles every epoch,
    batches, augments batch-wise, and prefetches, with tf.data's autotuning off
    (see :func:`pipeline_options`).

    Augmentation changes each image at random but never its label, the number
    of raised fingers:

    - horizontal flip, half the images: a mirrored right hand is a left hand
      raising the same fingers, so the count is unchanged. No vertical flip:
      hands never point down in SIGNS, and it would teach nothing true.
    - shift up to 10% (6 px), rotation up to 15 degrees, zoom 0.9 to 1.1: the
      hand moves, tilts or nears the camera as between real photographs, and
      every raised finger stays in the frame at these ranges. Borders take the
      nearest edge pixel; reflecting them could mirror a fingertip at the edge
      into an extra finger.
    - brightness +-0.1 and contrast x0.8 to x1.2: lighting changes; the hand's
      shape does not.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``. With
            ``validation_split``, ``"train"`` is the training file minus the
            held-out part and ``"validation"`` is that part: calls with the same
            ``seed`` and fraction give disjoint sets that together make the
            whole training file. ``"test"`` ignores ``validation_split``.
        batch_size: examples per batch.
        shuffle: whether to shuffle (with ``seed``) each epoch.
        augment: whether to apply random, label-keeping changes (for training).
        seed: fixes the shuffle order, the augmentation and the validation
            split; the same seed gives the same batches. ``None`` shuffles and
            augments differently on each run but still splits with seed 0, so
            that the train and validation parts always complement each other.
        validation_split: the fraction of each class held out, in (0, 1).
        data: already-loaded :func:`load_signs` result, to avoid reading again.
        data_dir: where to look when ``data`` is not given (see :func:`load_signs`).

    Raises:
        ValueError: an unknown split, a bad batch size or fraction, or
            ``"validation"`` without ``validation_split``.
        SignsDataError: as :func:`load_signs`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if split == "validation" and validation_split is None:
        raise ValueError(
            'split="validation" needs validation_split, the fraction of the training '
            "file to hold out, e.g. validation_split=0.1"
        )
    data = load_signs(data_dir) if data is None else data
    if split == "test":
        images, labels = data.x_test, data.y_test
    else:
        images, labels = data.x_train, data.y_train
        if validation_split is not None:
            parts = stratified_split(labels, validation_split, seed)
            keep = parts[1] if split == "validation" else parts[0]
            images, labels = images[keep], labels[keep]

    order = np.argsort(data.classes)
    class_index = order[np.searchsorted(data.classes, labels, sorter=order)]
    one_hot = np.eye(len(data.classes), dtype=np.float32)[class_index]
    dataset = tf.data.Dataset.from_tensor_slices((images, one_hot)).cache()
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)

    def scale(x: tf.Tensor) -> tf.Tensor:
        return tf.cast(x, tf.float32) / 255.0

    if augment:
        batch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, batch_seeds).map(
            lambda batch, s: (_augment(scale(batch[0]), s), batch[1]),
            num_parallel_calls=PIPELINE_THREADS,
            deterministic=True,
        )
    else:
        dataset = dataset.map(
            lambda x, y: (scale(x), y), num_parallel_calls=PIPELINE_THREADS, deterministic=True
        )
    return dataset.prefetch(PREFETCH_BATCHES).with_options(pipeline_options())
