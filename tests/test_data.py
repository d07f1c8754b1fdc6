"""resnet_keras.data: finding, verifying and loading SIGNS, the course helpers, the pipeline.

Most tests write small synthetic files in the course's layout into a temporary
folder; the real-data tests read the shared files through $SIGNS_DIR.
"""

import dataclasses
import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from signs_files import synthetic_arrays, write_h5, write_signs

from resnet_keras.data import (
    SIGNS_SOURCES,
    SignsDataError,
    SignsSource,
    convert_to_one_hot,
    file_digests,
    load_dataset,
    load_signs,
    signs_dataset,
)

NAMES = ("train_signs.h5", "test_signs.h5")


# ---------------------------------------------------------------------------
# Synthetic files in the course's layout


def file_sources(folder: Path, base_url: str | None = None, digest: str = "sha256") -> dict:
    """SignsSource for each file in `folder`, served from `base_url` (default file://)."""
    sources = {}
    for name in NAMES:
        origin = f"{base_url}/{name}" if base_url else (folder / name).as_uri()
        sources[name] = SignsSource(origin, **{digest: file_digests(folder / name)[digest]})
    return sources


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """An empty working folder, no $SIGNS_DIR, and a home and Keras cache inside tmp_path."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SIGNS_DIR", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def http_folder(tmp_path):
    """A folder served over HTTP on 127.0.0.1: yields (folder, base_url)."""
    folder = tmp_path / "served"
    folder.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def small_signs(tmp_path_factory):
    """load_signs on synthetic files with 10 images a class (60 train, 60 test)."""
    return load_signs(write_signs(tmp_path_factory.mktemp("signs"), per_class=10), download=False)


# ---------------------------------------------------------------------------
# The real files


@pytest.fixture
def real(real_signs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNS_DIR", str(real_signs_dir))
    monkeypatch.chdir(tmp_path)
    return load_signs(cache_dir=tmp_path / "cache", download=False)


def test_real_signs_shapes_dtypes_and_class_counts(real, real_signs_dir):
    assert real.train_path == real_signs_dir / "train_signs.h5"
    assert real.x_train.shape == (1080, 64, 64, 3) and real.x_train.dtype == np.uint8
    assert real.x_test.shape == (120, 64, 64, 3) and real.x_test.dtype == np.uint8
    assert real.y_train.shape == (1080,) and real.y_train.dtype == np.int64
    assert real.y_test.shape == (120,) and real.y_test.dtype == np.int64
    assert real.classes.tolist() == [0, 1, 2, 3, 4, 5]
    assert real.y_train.min() == 0 and real.y_train.max() == 5
    assert np.bincount(real.y_train).tolist() == [180] * 6
    assert np.bincount(real.y_test).tolist() == [20] * 6
    with pytest.raises(ValueError, match="read-only"):
        real.x_train[0, 0, 0, 0] = 1


def test_real_test_file_matches_pinned_digests(real_signs_dir):
    pinned = SIGNS_SOURCES["test_signs.h5"]
    assert file_digests(real_signs_dir / "test_signs.h5") == {
        "sha256": pinned.sha256,
        "git_blob": pinned.git_blob,
    }


def test_real_course_load_dataset_and_one_hot(real_signs_dir, monkeypatch):
    monkeypatch.setenv("SIGNS_DIR", str(real_signs_dir))
    train_x, train_y, test_x, test_y, classes = load_dataset()
    assert train_x.shape == (1080, 64, 64, 3) and test_x.shape == (120, 64, 64, 3)
    assert train_y.shape == (1, 1080) and test_y.shape == (1, 120)
    assert classes.tolist() == list(range(6))
    one_hot = convert_to_one_hot(train_y, 6)
    assert one_hot.shape == (6, 1080)
    assert np.array_equal(one_hot.argmax(axis=0), train_y[0])
    assert np.array_equal(one_hot.sum(axis=1), [180] * 6)


def test_real_stratified_validation_split(real):
    def labels(split):
        ds = signs_dataset(split, 256, shuffle=False, validation_split=0.1, seed=5, data=real)
        return np.concatenate([y.numpy().argmax(axis=1) for _, y in ds])

    assert np.bincount(labels("validation")).tolist() == [18] * 6
    assert np.bincount(labels("train")).tolist() == [162] * 6


# ---------------------------------------------------------------------------
# Where the loader looks

ORDER = ("data_dir", "SIGNS_DIR", "./datasets", "./data", "cache", "download")


@pytest.mark.parametrize("first", range(len(ORDER)), ids=ORDER)
def test_search_order_takes_the_first_place_holding_the_files(isolated, monkeypatch, first):
    places = {
        "data_dir": isolated / "arg",
        "SIGNS_DIR": isolated / "env",
        "./datasets": isolated / "work" / "datasets",
        "./data": isolated / "work" / "data",
        "cache": isolated / "cache",
        "download": isolated / "origin",
    }
    for place in ORDER[first:]:
        write_signs(places[place])
    for place in ("data_dir", "SIGNS_DIR"):
        places[place].mkdir(exist_ok=True)  # named folders must exist, even when empty
    monkeypatch.setenv("SIGNS_DIR", str(places["SIGNS_DIR"]))

    downloads = ORDER[first] == "download"
    # Without sources a needed download raises, so the other cases prove nothing was fetched.
    sources = file_sources(places["download"]) if downloads else {}

    data = load_signs(places["data_dir"], cache_dir=places["cache"], sources=sources)

    expected = places["cache" if downloads else ORDER[first]]
    assert data.train_path == expected / "train_signs.h5"
    assert data.test_path == expected / "test_signs.h5"
    assert data.x_train.shape == (12, 64, 64, 3)


def test_each_file_is_found_on_its_own(isolated):
    write_signs(isolated / "work" / "datasets")
    (isolated / "work" / "datasets" / "test_signs.h5").unlink()
    write_signs(isolated / "work" / "data", per_class=3)
    data = load_signs(download=False)
    assert data.train_path == isolated / "work" / "datasets" / "train_signs.h5"
    assert data.test_path == isolated / "work" / "data" / "test_signs.h5"
    assert (len(data.x_train), len(data.x_test)) == (12, 18)


@pytest.mark.parametrize("keras_home", [False, True])
def test_default_cache_is_keras_home_datasets_signs(isolated, monkeypatch, keras_home):
    root = isolated / "elsewhere" if keras_home else isolated / "home" / ".keras"
    if keras_home:
        monkeypatch.setenv("KERAS_HOME", str(root))
    write_signs(root / "datasets" / "signs")
    data = load_signs(download=False)
    assert data.train_path == root / "datasets" / "signs" / "train_signs.h5"


def test_missing_everywhere_lists_every_place_looked(isolated, monkeypatch):
    (isolated / "arg").mkdir()
    (isolated / "env").mkdir()
    monkeypatch.setenv("SIGNS_DIR", str(isolated / "env"))
    with pytest.raises(SignsDataError) as caught:
        load_signs(isolated / "arg", cache_dir=isolated / "cache", download=False)
    message = str(caught.value)
    looked = ["arg", "env", "work/datasets", "work/data", "cache"]
    for folder in looked:
        assert str(isolated / folder / "train_signs.h5") in message
    positions = [message.index(str(isolated / folder / "train_signs.h5")) for folder in looked]
    assert positions == sorted(positions)
    assert "SIGNS_DIR" in message and "download" in message


@pytest.mark.parametrize("where", ["data_dir", "SIGNS_DIR"])
def test_a_named_folder_that_does_not_exist_is_an_error(isolated, monkeypatch, where):
    write_signs(isolated / "work" / "datasets")  # would be found if the loader went on
    missing = isolated / "no-such-folder"
    if where == "SIGNS_DIR":
        monkeypatch.setenv("SIGNS_DIR", str(missing))
    with pytest.raises(SignsDataError, match="not a folder") as caught:
        load_signs(missing if where == "data_dir" else None, download=False)
    assert str(missing) in str(caught.value) and where.replace("SIGNS", "$SIGNS") in str(
        caught.value
    )


# ---------------------------------------------------------------------------
# Broken files: each names the file, the problem and the fix


def lfs_pointer(path):
    path.write_text(
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4896e3e91463c792935924d4634bcc51151ee7fe0dc0283faba7f143cc114121\n"
        "size 13281776\n"
    )


def html_page(path):
    path.write_text("\n  <!DOCTYPE html>\n<html><head><title>GitHub</title></head></html>\n")


def truncated(path):
    write_signs(path.parent, per_class=20)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def not_hdf5(path):
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def empty(path):
    path.write_bytes(b"")


def with_train(**overrides):
    return lambda path: write_signs(path.parent, **overrides)


x_good, y_good = synthetic_arrays(2)

BROKEN = {
    "lfs-pointer": (lfs_pointer, "Git LFS pointer", "git lfs pull"),
    "html-page": (html_page, "HTML page", "raw file"),
    "truncated": (truncated, "truncated", "Replace it"),
    "not-hdf5": (not_hdf5, "not a readable HDF5 file", "Replace it"),
    "empty": (empty, "empty", "Replace it"),
    "missing-key": (with_train(train_set_y=None), "missing dataset(s) ['train_set_y']", "Replace"),
    "missing-classes": (with_train(list_classes=None), "['list_classes']", "Replace it"),
    "x-shape": (with_train(train_set_x=x_good[:, :32, :32]), "(12, 32, 32, 3) uint8", "Replace"),
    "x-dtype": (with_train(train_set_x=x_good.astype(np.float32)), "float32, expected", "Replace"),
    "y-shape": (with_train(train_set_y=y_good[None]), "(1, 12) int64, expected (m,)", "Replace"),
    "y-dtype": (with_train(train_set_y=y_good.astype(np.float64)), "float64, expected", "Replace"),
    "label-range": (
        with_train(train_set_y=np.where(y_good == 5, 7, y_good)),
        "labels [7] that are not in list_classes",
        "Replace it",
    ),
    "counts": (with_train(train_set_y=y_good[:-1]), "12 images in train_set_x but 11", "Replace"),
    "repeated-class": (with_train(list_classes=np.array([0, 1, 2, 3, 4, 4])), "repeats", "Replace"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_file_raises_signs_data_error_naming_file_problem_and_fix(isolated, case):
    make, problem, fix = BROKEN[case]
    folder = isolated / "work" / "datasets"
    write_signs(folder)
    make(folder / "train_signs.h5")
    write_signs(isolated / "work" / "data")  # a good copy further down must not be used

    with pytest.raises(SignsDataError) as caught:
        load_signs(download=False)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert str(folder / "train_signs.h5") in message
    assert problem in message
    assert fix in message


def test_train_and_test_classes_must_agree(isolated):
    write_signs(isolated / "work" / "datasets", list_classes=np.arange(7))
    with pytest.raises(SignsDataError, match=r"lists classes \[0, 1, 2, 3, 4, 5, 6\]") as caught:
        load_signs(download=False)
    assert "test_signs.h5 lists [0, 1, 2, 3, 4, 5]" in str(caught.value)


# ---------------------------------------------------------------------------
# Downloads, without the internet


@pytest.mark.parametrize("digest", ["sha256", "git_blob"])
def test_download_from_local_http_server_verifies_and_caches(isolated, http_folder, digest):
    folder, base_url = http_folder
    write_signs(folder, per_class=3)
    cache = isolated / "cache"

    data = load_signs(cache_dir=cache, sources=file_sources(folder, base_url, digest))

    assert data.train_path == cache / "train_signs.h5"
    assert len(data.x_train) == 18 and np.array_equal(data.y_test, np.tile(np.arange(6), 3))
    assert sorted(p.name for p in cache.iterdir()) == sorted(NAMES)  # no temporary leftovers
    for name in NAMES:
        assert file_digests(cache / name) == file_digests(folder / name)
    assert load_signs(cache_dir=cache, download=False).train_path == cache / "train_signs.h5"


@pytest.mark.parametrize("digest", ["sha256", "git_blob"])
def test_download_with_wrong_digest_is_refused_and_not_cached(isolated, http_folder, digest):
    folder, base_url = http_folder
    write_signs(folder)
    sources = file_sources(folder, base_url, digest)
    wrong = "0" * len(getattr(sources["train_signs.h5"], digest))
    sources["train_signs.h5"] = SignsSource(sources["train_signs.h5"].origin, **{digest: wrong})
    cache = isolated / "cache"

    with pytest.raises(SignsDataError) as caught:
        load_signs(cache_dir=cache, sources=sources)

    message = str(caught.value)
    actual = file_digests(folder / "train_signs.h5")[digest]
    assert "train_signs.h5" in message and sources["train_signs.h5"].origin in message
    assert f"{digest} {actual}, expected {wrong}" in message and "discarded" in message
    assert list(cache.iterdir()) == []  # nothing corrupt or temporary left behind


def test_download_from_file_origin(isolated):
    write_signs(isolated / "origin")
    data = load_signs(cache_dir=isolated / "cache", sources=file_sources(isolated / "origin"))
    assert data.test_path == isolated / "cache" / "test_signs.h5"


def test_download_failure_names_origin_and_places_looked(isolated, http_folder):
    _, base_url = http_folder  # serves an empty folder: every request is a 404
    sources = {name: SignsSource(f"{base_url}/{name}", sha256="0" * 64) for name in NAMES}
    with pytest.raises(SignsDataError, match=r"download from \S+ failed") as caught:
        load_signs(cache_dir=isolated / "cache", sources=sources)
    assert f"{base_url}/train_signs.h5" in str(caught.value)
    assert str(isolated / "work" / "datasets" / "train_signs.h5") in str(caught.value)
    assert list((isolated / "cache").iterdir()) == []


def test_download_without_a_digest_is_refused(isolated):
    write_signs(isolated / "origin")
    sources = {name: SignsSource((isolated / "origin" / name).as_uri()) for name in NAMES}
    with pytest.raises(SignsDataError, match="without a digest"):
        load_signs(cache_dir=isolated / "cache", sources=sources)
    assert not (isolated / "cache" / "train_signs.h5").exists()


def test_download_without_a_configured_source_says_how_to_add_one(isolated):
    with pytest.raises(SignsDataError, match="no download source is configured") as caught:
        load_signs(cache_dir=isolated / "cache", sources={})
    assert "sources={'train_signs.h5': SignsSource(" in str(caught.value)
    assert str(isolated / "cache" / "train_signs.h5") in str(caught.value)


def test_file_digests_match_git_hash_object(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "hello").write_bytes(b"hello\n")
    assert file_digests(tmp_path / "empty") == {
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "git_blob": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
    }
    assert file_digests(tmp_path / "hello")["git_blob"] == (
        "ce013625030ba8dba906f756967f9e9ca394464a"
    )


# ---------------------------------------------------------------------------
# The course's helpers


def test_load_dataset_returns_the_course_tuple_as_writable_copies(isolated):
    write_signs(isolated / "work" / "datasets", per_class=3)
    train_x, train_y, test_x, test_y, classes = load_dataset()
    assert train_x.shape == (18, 64, 64, 3) and train_x.dtype == np.uint8
    assert train_y.shape == (1, 18) and test_y.shape == (1, 18) and test_x.shape[0] == 18
    assert np.array_equal(train_y[0], np.tile(np.arange(6), 3))
    assert classes.tolist() == list(range(6))
    train_x[0] = 0  # the course's arrays were writable
    train_y[0, 0] = 5
    assert train_y[0, 0] == 5


def test_convert_to_one_hot_matches_the_course():
    Y = np.array([[1, 0, 2, 2]])
    expected = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]], dtype=np.float64)
    assert np.array_equal(convert_to_one_hot(Y, 3), expected)
    assert convert_to_one_hot(Y, 5).shape == (5, 4)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        convert_to_one_hot(np.array([[0, 3]]), 3)
    with pytest.raises(ValueError):
        convert_to_one_hot(np.array([[-1, 0]]), 3)


# ---------------------------------------------------------------------------
# The tf.data pipeline


def epoch(dataset) -> tuple[np.ndarray, np.ndarray]:
    batches = list(dataset.as_numpy_iterator())
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


def image_ids(images: np.ndarray) -> np.ndarray:
    """The index each synthetic image encodes in its pixels."""
    return np.rint(images[:, 0, 0, 0] * 255).astype(int)


def test_pipeline_yields_scaled_images_and_one_hot_labels(small_signs):
    dataset = signs_dataset("train", batch_size=16, shuffle=False, data=small_signs)
    assert dataset.element_spec[0].shape.as_list() == [None, 64, 64, 3]
    assert dataset.element_spec[1].shape.as_list() == [None, 6]
    sizes = [len(x) for x, _ in dataset.as_numpy_iterator()]
    assert sizes == [16, 16, 16, 12]
    images, labels = epoch(dataset)
    assert images.dtype == np.float32 and labels.dtype == np.float32
    np.testing.assert_allclose(images, small_signs.x_train / 255.0, atol=1e-7)
    assert np.array_equal(labels, np.eye(6)[small_signs.y_train])


def test_test_split_reads_the_test_file(tmp_path):
    folder = write_signs(tmp_path, per_class=2)
    write_h5(
        folder / "test_signs.h5",
        test_set_x=np.full((6, 64, 64, 3), 255, np.uint8),
        test_set_y=np.arange(6),
        list_classes=np.arange(6),
    )
    images, labels = epoch(signs_dataset("test", shuffle=False, data_dir=folder))
    assert images.shape == (6, 64, 64, 3) and np.all(images == 1.0)
    assert np.array_equal(labels.argmax(axis=1), np.arange(6))


def test_one_hot_columns_follow_list_classes(tmp_path):
    folder = write_signs(tmp_path, per_class=1, list_classes=np.array([5, 4, 3, 2, 1, 0]))
    write_h5(
        folder / "test_signs.h5",
        test_set_x=np.zeros((1, 64, 64, 3), np.uint8),
        test_set_y=np.array([0]),
        list_classes=np.array([5, 4, 3, 2, 1, 0]),
    )
    _, labels = epoch(signs_dataset("train", shuffle=False, data_dir=folder))
    assert np.array_equal(labels.argmax(axis=1), 5 - np.arange(6))


@pytest.mark.parametrize("augment", [False, True])
def test_same_seed_same_first_epoch_other_seed_differs(small_signs, augment):
    def first_epoch(seed):
        return epoch(signs_dataset("train", 8, augment=augment, seed=seed, data=small_signs))

    images, labels = first_epoch(3)
    again_images, again_labels = first_epoch(3)
    other_images, other_labels = first_epoch(4)
    assert np.array_equal(images, again_images) and np.array_equal(labels, again_labels)
    assert not np.array_equal(images, other_images)
    assert not np.array_equal(labels, other_labels)


@pytest.mark.parametrize("augment", [False, True])
def test_autotuning_is_off_and_turning_it_on_changes_no_batch(small_signs, augment):
    def build():  # a fresh pipeline each time: iterating one again reshuffles it
        return signs_dataset("train", 8, augment=augment, seed=5, data=small_signs)

    dataset = build()
    assert dataset.options().autotune.enabled is False
    autotuned_options = tf.data.Options()
    autotuned_options.autotune.enabled = True
    autotuned = build().with_options(autotuned_options)
    assert autotuned.options().autotune.enabled is True
    for (x, y), (x_auto, y_auto) in zip(
        dataset.as_numpy_iterator(), autotuned.as_numpy_iterator(), strict=True
    ):
        assert np.array_equal(x, x_auto) and np.array_equal(y, y_auto)


def test_each_epoch_is_reshuffled(small_signs):
    dataset = signs_dataset("train", 60, seed=1, data=small_signs)
    first, second = (image_ids(x) for x, _ in dataset.repeat(2).as_numpy_iterator())
    assert sorted(first) == sorted(second) == list(range(60))
    assert not np.array_equal(first, second)


def test_augmentation_keeps_labels_range_and_shape(small_signs):
    _, plain_labels = epoch(signs_dataset("train", shuffle=False, data=small_signs))
    rng = np.random.default_rng(0)
    data = dataclasses.replace(small_signs, x_train=rng.integers(0, 256, (60, 64, 64, 3), np.uint8))
    images, labels = epoch(signs_dataset("train", shuffle=False, augment=True, seed=0, data=data))
    assert images.shape == (60, 64, 64, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert np.array_equal(labels, plain_labels)
    changed = np.abs(images - data.x_train / 255.0).mean(axis=(1, 2, 3))
    assert np.all(changed > 0.01)  # every image is transformed, each differently
    assert len(np.unique(np.round(changed, 6))) == 60


def test_validation_split_is_stratified_disjoint_and_complementary(small_signs):
    def ids_and_labels(split, seed):
        dataset = signs_dataset(split, 7, validation_split=0.2, seed=seed, data=small_signs)
        images, labels = epoch(dataset)
        return image_ids(images), labels.argmax(axis=1)

    train_ids, train_labels = ids_and_labels("train", 11)
    val_ids, val_labels = ids_and_labels("validation", 11)
    assert len(val_ids) == 12 and np.bincount(val_labels).tolist() == [2] * 6
    assert np.bincount(train_labels).tolist() == [8] * 6
    assert not set(train_ids) & set(val_ids)
    assert sorted([*train_ids, *val_ids]) == list(range(60))
    assert np.array_equal(small_signs.y_train[val_ids], val_labels)
    assert set(ids_and_labels("validation", 11)[0]) == set(val_ids)
    assert set(ids_and_labels("validation", 12)[0]) != set(val_ids)


def test_validation_split_without_seed_still_complements(small_signs):
    train = image_ids(epoch(signs_dataset("train", validation_split=0.5, data=small_signs))[0])
    val = image_ids(epoch(signs_dataset("validation", validation_split=0.5, data=small_signs))[0])
    assert sorted([*train, *val]) == list(range(60)) and len(val) == 30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "valid"}, "split must be one of"),
        ({"split": "validation"}, "needs validation_split"),
        ({"split": "train", "validation_split": 1.0}, "strictly between 0 and 1"),
        ({"split": "train", "validation_split": 0.01}, "leaves an empty part"),
        ({"split": "train", "batch_size": 0}, "batch_size must be at least 1"),
    ],
)
def test_pipeline_rejects_bad_arguments(small_signs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        signs_dataset(data=small_signs, **kwargs)
