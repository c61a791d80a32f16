"""Tests of skmetabalance.datasets: the shipped tables and Fashion-MNIST-LT."""

import gzip
import hashlib
import json
import struct
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

import skmetabalance.datasets
from skmetabalance.datasets import (
    _base,
    _fashion,
    list_datasets,
    load_dataset,
    load_fashion_mnist_lt,
)

DATA = resources.files("skmetabalance.datasets").joinpath("data")
REGISTRY = json.loads(DATA.joinpath("registry.json").read_text(encoding="utf-8"))
ENTRIES = REGISTRY["datasets"]
NAMES = list(ENTRIES)

# rows, features, categorical columns, class counts: the figures measured on the
# sources, so that a rebuild that drifts from them is caught.
EXPECTED = {
    "lending_club": (
        9857,
        22,
        ["term", "sub_grade", "addr_state", "verification_status", "emp_length"],
        [9340, 517],
    ),
    "caravan": (5822, 85, ["MOSTYPE", "MOSHOOFD"], [5474, 348]),
    "shuttle": (49097, 9, [], [45586, 3511]),
    "shuttle_fraud": (45677, 9, [], [45586, 91]),
    "yeast_me2": (1484, 8, [], [1433, 51]),
    "abalone_19": (4174, 8, ["Sex"], [4142, 32]),
    "wine_quality": (1599, 11, [], [1546, 53]),
    "car_eval_4": (
        1728,
        6,
        ["Buying", "Maint", "Doors", "Persons", "Lug_boot", "Safety"],
        [1663, 65],
    ),
    "page_blocks0": (5472, 10, [], [4913, 559]),
    "satimage": (6435, 36, [], [5809, 626]),
    "letter_img": (20000, 16, [], [19266, 734]),
    "pen_digits": (10992, 16, [], [9937, 1055]),
    "optical_digits": (5620, 64, [], [5066, 554]),
    "satimage_multiclass": (6435, 36, [], [1533, 703, 1358, 626, 707, 1508]),
    "glass": (214, 9, [], [70, 76, 17, 13, 9, 29]),
    "hpc_jobs": (4331, 7, ["protocol", "day"], [2211, 1347, 514, 259]),
}


def test_public_api():
    assert sorted(skmetabalance.datasets.__all__) == [
        "list_datasets",
        "load_dataset",
        "load_fashion_mnist_lt",
    ]


def test_registry_matches_expected_figures():
    assert set(NAMES) == set(EXPECTED)
    for name, (rows, n_features, categorical, counts) in EXPECTED.items():
        entry = ENTRIES[name]
        assert entry["rows"] == rows == sum(entry["class_counts"]), name
        assert entry["features"] == n_features == len(entry["feature_names"]), name
        assert list(entry["categorical_features"]) == categorical, name
        assert entry["class_counts"] == counts, name
        assert len(entry["target_names"]) == len(counts), name
        assert entry["task"] == ("binary" if len(counts) == 2 else "multiclass")
        for key in ("source", "citation", "licence", "licence_note", "origin"):
            assert entry[key], (name, key)


@pytest.mark.parametrize("name", NAMES)
def test_file_hash_matches_registry(name):
    entry = ENTRIES[name]
    payload = DATA.joinpath(entry["file"]).read_bytes()
    assert hashlib.sha256(payload).hexdigest() == entry["sha256"]


def test_data_folder_holds_only_registered_files():
    files = {p.name for p in DATA.iterdir() if p.is_file()}
    assert files == {"registry.json"} | {e["file"] for e in ENTRIES.values()}
    total = sum(DATA.joinpath(f).read_bytes().__len__() for f in files)
    assert total < 6 * 1024 * 1024


def test_list_datasets_table():
    table = list_datasets()
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns[:8]) == [
        "name",
        "rows",
        "features",
        "categorical features",
        "minority share",
        "task",
        "source",
        "licence",
    ]
    assert list(table["name"]) == NAMES
    for row in table.itertuples(index=False):
        rows, n_features, categorical, counts = EXPECTED[row.name]
        assert row.rows == rows
        assert row.features == n_features
        assert row[3] == len(categorical)
        assert row[4] == pytest.approx(min(counts) / rows)
        assert row.classes == len(counts)
        assert row[9] == pytest.approx(max(counts) / min(counts))
    assert set(table["task"]) == {"binary", "multiclass"}


@pytest.mark.parametrize("name", NAMES)
def test_load_dataset_arrays(name):
    rows, n_features, categorical, counts = EXPECTED[name]
    bunch = load_dataset(name)
    assert isinstance(bunch, Bunch)
    X, y = bunch.data, bunch.target
    assert isinstance(X, np.ndarray) and X.dtype == np.float64
    assert X.shape == (rows, n_features)
    assert np.isfinite(X).all()
    assert y.dtype == np.int64 and y.shape == (rows,)
    assert np.bincount(y).tolist() == counts
    np.testing.assert_array_equal(bunch.class_counts, counts)
    assert bunch.frame is None
    assert bunch.feature_names == ENTRIES[name]["feature_names"]
    assert bunch.target_names == ENTRIES[name]["target_names"]
    assert bunch.name == name
    if len(counts) == 2:
        assert bunch.task == "binary"
        assert set(np.unique(y)) == {0, 1}
        assert counts[1] < counts[0], "1 must be the minority class"
    else:
        assert bunch.task == "multiclass"
        assert set(np.unique(y)) == set(range(len(counts)))

    mask = bunch.categorical_features
    assert mask.dtype == bool and mask.shape == (n_features,)
    assert [
        f for f, m in zip(bunch.feature_names, mask, strict=True) if m
    ] == categorical
    for column, categories in bunch.categories.items():
        codes = X[:, bunch.feature_names.index(column)]
        assert np.array_equal(codes, np.round(codes))
        assert codes.min() >= 0 and codes.max() < len(categories)

    descr = " ".join(bunch.DESCR.split())
    for key in ("source", "citation", "licence_note"):
        assert " ".join(ENTRIES[name][key].split()) in descr
    assert descr.startswith(name)


@pytest.mark.parametrize("name", ["lending_club", "car_eval_4", "hpc_jobs", "shuttle"])
def test_load_dataset_as_frame(name):
    array_bunch = load_dataset(name)
    bunch = load_dataset(name, as_frame=True)
    data, target, frame = bunch.data, bunch.target, bunch.frame
    assert isinstance(data, pd.DataFrame) and isinstance(target, pd.Series)
    assert list(data.columns) == bunch.feature_names
    assert target.dtype == np.int64
    assert target.name == ENTRIES[name]["target_column"]
    np.testing.assert_array_equal(target.to_numpy(), array_bunch.target)
    assert list(frame.columns) == [*bunch.feature_names, target.name]
    pd.testing.assert_frame_equal(frame[bunch.feature_names], data)
    for column, is_categorical in zip(
        data.columns, bunch.categorical_features, strict=True
    ):
        if is_categorical:
            assert isinstance(data[column].dtype, pd.CategoricalDtype)
            assert list(data[column].cat.categories) == bunch.categories[column]
            codes = data[column].cat.codes.to_numpy()
        else:
            assert pd.api.types.is_numeric_dtype(data[column])
            codes = data[column].to_numpy()
        column_index = bunch.feature_names.index(column)
        np.testing.assert_array_equal(codes, array_bunch.data[:, column_index])


def test_lending_club_categories_and_labels():
    bunch = load_dataset("lending_club", as_frame=True)
    assert bunch.target_names == ["good", "bad"]
    assert bunch.categories["term"] == ["term_36", "term_60"]
    assert bunch.categories["sub_grade"][:2] == ["A1", "A2"]
    first = bunch.data.iloc[0]
    assert (first["term"], first["sub_grade"], first["addr_state"]) == (
        "term_36",
        "C4",
        "CT",
    )
    assert first["funded_amnt"] == 16100


def test_caravan_integer_categories():
    bunch = load_dataset("caravan", as_frame=True)
    assert bunch.categories["MOSTYPE"] == list(range(1, 42))
    assert bunch.data["MOSTYPE"].iloc[0] == 33
    assert bunch.target_names == ["No", "Yes"]


def test_return_X_y():
    X, y = load_dataset("yeast_me2", return_X_y=True)
    assert X.shape == (1484, 8) and int(y.sum()) == 51
    X, y = load_dataset("abalone_19", as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.shape == (4174, 8) and int(y.sum()) == 32


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown data set name 'nope'") as info:
        load_dataset("nope")
    for name in NAMES:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": 3}, "'name' parameter of load_dataset must be .*'str'. Got 3"),
        ({"name": "glass", "as_frame": "yes"}, "'as_frame' .* 'bool'.* Got 'yes'"),
        ({"name": "glass", "return_X_y": 1}, "'return_X_y' .* 'bool'.* Got 1 "),
    ],
)
def test_bad_argument_types(kwargs, match):
    name = kwargs.pop("name")
    with pytest.raises(TypeError, match=match):
        load_dataset(name, **kwargs)


def test_damaged_file_is_detected(tmp_path, monkeypatch):
    entry = ENTRIES["glass"]
    payload = bytearray(DATA.joinpath(entry["file"]).read_bytes())
    payload[-20] ^= 0xFF
    (tmp_path / entry["file"]).write_bytes(bytes(payload))
    _base._registry()
    monkeypatch.setattr(_base, "_data_file", lambda filename: tmp_path / filename)
    with pytest.raises(OSError, match="damaged"):
        load_dataset("glass")


# --------------------------------------------------------------------------
# Fashion-MNIST-LT on tiny fake IDX files
# --------------------------------------------------------------------------

IMAGE_SHAPE = (3, 2)
PER_CLASS = 12


def _write_idx(path, array, compress=True):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    payload = header + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)


def _fake_split(n_per_class, seed):
    """Images whose first two pixels encode their index; shuffled labels."""
    labels = np.random.RandomState(seed).permutation(
        np.repeat(np.arange(10), n_per_class)
    )
    n = len(labels)
    images = np.zeros((n, *IMAGE_SHAPE), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256
    images[:, 0, 1] = np.arange(n) // 256
    images[:, 2, 1] = 255
    return images, labels


@pytest.fixture
def fake_home(tmp_path):
    return _make_home(tmp_path, compress=True)


def _make_home(folder, compress):
    train_images, train_labels = _fake_split(PER_CLASS, 0)
    test_images, test_labels = _fake_split(2, 1)
    _write_idx(folder / "train-images-idx3-ubyte", train_images, compress)
    _write_idx(folder / "train-labels-idx1-ubyte", train_labels, compress)
    _write_idx(folder / "t10k-images-idx3-ubyte", test_images, compress)
    _write_idx(folder / "t10k-labels-idx1-ubyte", test_labels, compress)
    return folder


def _row_index(X):
    pixels = np.rint(X * 255).astype(int)
    return pixels[:, 0] + 256 * pixels[:, 1]


def test_long_tail_counts():
    np.testing.assert_array_equal(
        _fashion.long_tail_counts(6000, 10, 100),
        [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60],
    )
    np.testing.assert_array_equal(_fashion.long_tail_counts(12, 10, 1), [12] * 10)
    assert _fashion.long_tail_counts(5, 10, 1000).min() == 1


def test_fashion_mnist_lt_profile(fake_home):
    bunch = load_fashion_mnist_lt(4, data_home=fake_home)
    expected = _fashion.long_tail_counts(PER_CLASS, 10, 4)
    assert expected[0] == PER_CLASS and expected[-1] == PER_CLASS // 4
    np.testing.assert_array_equal(bunch.class_counts, expected)
    np.testing.assert_array_equal(np.bincount(bunch.y_train, minlength=10), expected)
    assert bunch.X_train.dtype == np.float32 and bunch.X_test.dtype == np.float32
    assert bunch.X_train.shape == (expected.sum(), 6)
    assert bunch.X_train.min() >= 0 and bunch.X_train.max() == 1
    assert bunch.image_shape == IMAGE_SHAPE
    assert bunch.target_names[0] == "T-shirt/top" and len(bunch.target_names) == 10
    assert "Xiao" in bunch.DESCR

    # Each training row is an original image with its own label, each kept
    # once, in file order.
    train_images, train_labels = _fake_split(PER_CLASS, 0)
    index = _row_index(bunch.X_train)
    assert np.all(np.diff(index) > 0)
    np.testing.assert_array_equal(bunch.y_train, train_labels[index])
    np.testing.assert_allclose(
        bunch.X_train, train_images[index].reshape(len(index), -1) / 255
    )

    # The test split is the original one, untouched.
    _, test_labels = _fake_split(2, 1)
    np.testing.assert_array_equal(bunch.y_test, test_labels)
    np.testing.assert_array_equal(_row_index(bunch.X_test), np.arange(20))
    np.testing.assert_array_equal(bunch.test_class_counts, [2] * 10)


def test_fashion_mnist_lt_seeding_and_return_X_y(fake_home):
    first = load_fashion_mnist_lt(4, data_home=fake_home, random_state=3)
    again = load_fashion_mnist_lt(
        4, data_home=str(fake_home), random_state=3, return_X_y=True
    )
    assert isinstance(again, tuple) and len(again) == 4
    np.testing.assert_array_equal(first.X_train, again[0])
    np.testing.assert_array_equal(first.y_train, again[1])
    other = load_fashion_mnist_lt(4, data_home=fake_home, random_state=4)
    assert not np.array_equal(_row_index(first.X_train), _row_index(other.X_train))


def test_fashion_mnist_lt_n_max_and_uncompressed(tmp_path):
    home = _make_home(tmp_path, compress=False)
    bunch = load_fashion_mnist_lt(1, n_max=5, data_home=home)
    np.testing.assert_array_equal(bunch.class_counts, [5] * 10)
    with pytest.raises(ValueError, match=r"n_max=13.*only 12"):
        load_fashion_mnist_lt(1, n_max=13, data_home=home)


def test_fashion_mnist_lt_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist_lt(data_home=tmp_path)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "data_home" in message
    assert "train-images-idx3-ubyte.gz" in message


def test_fashion_mnist_lt_bad_file(fake_home):
    (fake_home / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"junk!!!!"))
    with pytest.raises(ValueError, match="not an IDX file"):
        load_fashion_mnist_lt(data_home=fake_home)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"imbalance_factor": 0.5}, ValueError, "'imbalance_factor' .* Got 0.5"),
        ({"imbalance_factor": float("inf")}, ValueError, "'imbalance_factor'"),
        ({"imbalance_factor": "10"}, TypeError, "'imbalance_factor' .* Got '10'"),
        ({"imbalance_factor": True}, TypeError, "'imbalance_factor' .* not a bool"),
        ({"n_max": 0}, ValueError, "'n_max' parameter .* Got 0 "),
        ({"n_max": 2.5}, TypeError, "'n_max' parameter .* Got 2.5 "),
        ({"data_home": 5}, TypeError, "'data_home' parameter"),
        ({"random_state": "x"}, ValueError, "'random_state' parameter"),
        ({"return_X_y": "no"}, TypeError, "'return_X_y' parameter"),
    ],
)
def test_fashion_mnist_lt_bad_arguments(fake_home, kwargs, error, match):
    kwargs.setdefault("data_home", fake_home)
    with pytest.raises(error, match=match):
        load_fashion_mnist_lt(**kwargs)


@pytest.mark.skipif(
    not (
        Path(_fashion.DEFAULT_FASHION_MNIST_HOME) / "t10k-labels-idx1-ubyte.gz"
    ).exists(),
    reason="dataset-fashion-mnist is not installed",
)
def test_fashion_mnist_lt_real_files():
    X_train, y_train, X_test, y_test = load_fashion_mnist_lt(100, return_X_y=True)
    assert X_train.shape == (14886, 784) and X_test.shape == (10000, 784)
    np.testing.assert_array_equal(
        np.bincount(y_train), [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]
    )
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
