"""Loaders for the class-imbalanced data sets shipped with skmetabalance."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import textwrap
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

_DATA_PACKAGE = "skmetabalance.datasets"
_DATA_FOLDER = "data"
_REGISTRY_FILE = "registry.json"
_FORMAT_VERSION = 1

_LIST_COLUMNS = [
    "name",
    "rows",
    "features",
    "categorical features",
    "minority share",
    "task",
    "source",
    "licence",
    "classes",
    "imbalance ratio",
    "group",
]

#: What each value of a data set's ``group`` means (see :func:`list_datasets`).
_GROUPS = {
    "suite": (
        "the original collection: loan default, insurance, shuttle, classic "
        "KEEL and UCI tasks, and three multiclass sets"
    ),
    "study": (
        "further real binary sets from KEEL, UCI and the IJCNN 2007 Agnostic "
        "Learning vs. Prior Knowledge challenge, for studies across many data sets"
    ),
}


def _data_file(filename):
    return resources.files(_DATA_PACKAGE).joinpath(_DATA_FOLDER).joinpath(filename)


@lru_cache(maxsize=1)
def _registry():
    """The parsed ``registry.json``: one metadata entry per shipped data set."""
    registry = json.loads(_data_file(_REGISTRY_FILE).read_text(encoding="utf-8"))
    version = registry.get("format_version")
    if version != _FORMAT_VERSION:
        raise RuntimeError(
            f"{_REGISTRY_FILE} has format_version {version!r}, but this version "
            f"of skmetabalance reads format_version {_FORMAT_VERSION}."
        )
    return registry["datasets"]


def _entry(name):
    """Registry entry of ``name``, with a clear error for a bad name."""
    datasets = _registry()
    if name not in datasets:
        valid = ", ".join(repr(n) for n in datasets)
        raise ValueError(
            f"Unknown data set name {name!r}; name must be one of: {valid}. "
            "See skmetabalance.datasets.list_datasets()."
        )
    return datasets[name]


def _minority_share(entry):
    return min(entry["class_counts"]) / entry["rows"]


def list_datasets():
    """List the class-imbalanced data sets shipped with skmetabalance.

    Every data set listed here is stored inside the package and is loaded
    offline with :func:`load_dataset`. The long-tailed Fashion-MNIST task is
    not listed: its images are not shipped, see
    :func:`load_fashion_mnist_lt`.

    The data sets form two groups (the ``group`` column): ``"suite"``, the
    original collection (loan default, insurance, shuttle, classic KEEL and
    UCI tasks, three multiclass sets), and ``"study"``, thirteen further real
    binary sets from KEEL, UCI and the IJCNN 2007 Agnostic Learning vs. Prior
    Knowledge challenge (``ada``, ``sylva``, ``hiva``, ``german``, ``pima``,
    ...), kept for studies that compare methods across many data sets.

    Returns
    -------
    table : pandas.DataFrame
        One row per data set, in a fixed order (the suite, binary sets first,
        then the study sets), with the columns:

        ``name``
            The name to pass to :func:`load_dataset`.
        ``rows``, ``features``
            Number of rows and of feature columns.
        ``categorical features``
            How many of the features are categorical.
        ``minority share``
            Share of the rows in the smallest class (the positive class for
            binary sets), between 0 and 1.
        ``task``
            ``"binary"`` or ``"multiclass"``.
        ``source``
            The package and object the data were taken from.
        ``licence``
            The licence of the data in short; ``DESCR`` has the details.
        ``classes``
            Number of classes.
        ``imbalance ratio``
            Rows of the largest class per row of the smallest class.
        ``group``
            ``"suite"`` or ``"study"``, as described above.

    See Also
    --------
    load_dataset : Load one of the listed data sets.

    Examples
    --------
    >>> from skmetabalance.datasets import list_datasets
    >>> table = list_datasets()
    >>> table.set_index("name").loc["lending_club", "rows"]
    np.int64(9857)
    >>> study = table.loc[table["group"] == "study", "name"].tolist()
    >>> len(study), study[:3]
    (13, ['ada', 'sylva', 'hiva'])
    """
    records = []
    for name, entry in _registry().items():
        counts = entry["class_counts"]
        records.append(
            {
                "name": name,
                "rows": entry["rows"],
                "features": entry["features"],
                "categorical features": len(entry["categorical_features"]),
                "minority share": _minority_share(entry),
                "task": entry["task"],
                "source": entry["source"],
                "licence": entry["licence"],
                "classes": len(counts),
                "imbalance ratio": max(counts) / min(counts),
                "group": entry["group"],
            }
        )
    return pd.DataFrame.from_records(records, columns=_LIST_COLUMNS)


def _read_payload(entry):
    """The compressed file of ``entry``, checked against its sha256."""
    payload = _data_file(entry["file"]).read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != entry["sha256"]:
        raise OSError(
            f"The data file {entry['file']} is damaged: its sha256 is {digest}, "
            f"expected {entry['sha256']}. Reinstall skmetabalance."
        )
    return payload


def _compose_descr(name, entry):
    """Compose the ``DESCR`` text of one data set from its registry entry."""
    counts = ", ".join(
        f"{code} = {label!r}: {count:,}"
        for code, (label, count) in enumerate(
            zip(entry["target_names"], entry["class_counts"], strict=True)
        )
    )
    categorical = list(entry["categorical_features"])
    if categorical:
        cat_line = f"{len(categorical)} categorical ({', '.join(categorical)})"
    else:
        cat_line = "none categorical"
    if entry["task"] == "binary":
        task_line = (
            f"binary; target 1 = {entry['target_names'][1]!r} is the minority "
            "(positive) class"
        )
    else:
        task_line = f"multiclass, {len(entry['class_counts'])} classes"
    title = f"{name}: {entry['title']}"
    counts_ratio = max(entry["class_counts"]) / min(entry["class_counts"])

    def para(text):
        return textwrap.fill(
            text, width=79, break_long_words=False, break_on_hyphens=False
        )

    lines = [
        title,
        "=" * len(title),
        "",
        para(entry["description"]),
        "",
        "Characteristics",
        "---------------",
        f"Rows: {entry['rows']:,}",
        para(f"Features: {entry['features']}, {cat_line}"),
        f"Task: {task_line}",
        para(f"Classes: {counts}"),
        f"Minority share: {_minority_share(entry):.4%}; imbalance ratio "
        f"{counts_ratio:.1f}:1",
        para(f"Group: {entry['group']} ({_GROUPS[entry['group']]})"),
        "",
        "Encoding",
        "--------",
        para(
            "With as_frame=False the features are a float64 array in which each "
            "categorical column holds the integer code of its category (its "
            "position in Bunch.categories[column]); Bunch.categorical_features "
            "marks those columns. With as_frame=True categorical columns have the "
            "pandas 'category' dtype with the same categories, and numeric columns "
            "keep their integer or float dtype. The target holds integer codes; "
            "Bunch.target_names[code] is the original label."
        ),
        "",
        "Source and preprocessing",
        "------------------------",
        para(
            f"Source: {entry['source']}; package version "
            f"{entry['source_version']}. {entry['origin']}"
        ),
        para(f"Preprocessing: {entry['preprocessing']}"),
        "",
        "Citation",
        "--------",
        para(entry["citation"]),
        "",
        "Licence",
        "-------",
        para(entry["licence_note"]),
        "",
    ]
    return "\n".join(lines)


def _parse(payload, entry):
    """Read the CSV text into a frame; categorical columns become codes."""
    categorical = entry["categorical_features"]
    target_column = entry["target_column"]
    text_columns = {column: str for column in categorical}
    text_columns[target_column] = str
    frame = pd.read_csv(
        io.BytesIO(gzip.decompress(payload)), dtype=text_columns, na_filter=False
    )
    expected = [*entry["feature_names"], target_column]
    if list(frame.columns) != expected or len(frame) != entry["rows"]:
        raise OSError(
            f"The data file {entry['file']} does not match registry.json: "
            f"expected {entry['rows']} rows and the columns {expected}."
        )
    codes = {}
    for column, categories in categorical.items():
        codes[column] = _codes(frame[column], [str(c) for c in categories], column)
    y = _codes(frame[target_column], entry["target_names"], target_column)
    return frame, codes, y


def _codes(values, categories, column):
    codes = pd.Categorical(values, categories=categories).codes
    if (codes < 0).any():
        unknown = sorted(set(values[codes < 0]))
        raise OSError(
            f"Column {column!r} holds values {unknown} that are not among its "
            f"registered categories {categories}."
        )
    return codes.astype(np.int64)


@validate_params(
    {"name": [str], "as_frame": ["boolean"], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_dataset(name, *, as_frame=False, return_X_y=False):
    """Load one of the class-imbalanced data sets shipped with skmetabalance.

    The data sets are real data sets (UCI, KEEL, R packages and the IJCNN 2007
    Agnostic Learning vs. Prior Knowledge challenge) stored inside the
    package, so loading works offline. Call
    :func:`list_datasets` for the table of names, sizes and class shares.

    Parameters
    ----------
    name : str
        Name of the data set, one of ``list_datasets()["name"]``, for example
        ``"lending_club"``, ``"caravan"``, ``"shuttle"`` or ``"yeast_me2"``.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame (categorical columns with the
        ``category`` dtype), ``target`` a pandas Series of integer codes and
        ``frame`` a DataFrame with both. If False, ``data`` is a float64 numpy
        array in which categorical columns hold integer category codes, and
        ``target`` an int64 numpy array.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, n_features) or DataFrame
            The features. Categorical columns are ordinal-encoded as the
            position of the value in ``categories[column]`` when
            ``as_frame=False``.
        target : ndarray of shape (n_samples,) or Series
            Integer class codes. Binary sets: 0 = majority (negative), 1 =
            minority (positive) class. Multiclass sets: 0 to C - 1.
        frame : DataFrame or None
            Features and target together when ``as_frame=True``, else None.
        feature_names : list of str
            The feature column names.
        categorical_features : ndarray of bool of shape (n_features,)
            True for the categorical columns.
        categories : dict of str to list
            Ordered categories of every categorical column.
        target_names : list of str
            ``target_names[code]`` is the label of class ``code``.
        class_counts : ndarray of int of shape (n_classes,)
            Number of rows of each class.
        task : str
            ``"binary"`` or ``"multiclass"``.
        group : str
            ``"suite"`` or ``"study"``; see :func:`list_datasets`.
        name : str
            Name of the data set.
        DESCR : str
            Description: what the data are, the binarisation used, source,
            citation and licence.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    ValueError
        If ``name`` is not the name of a shipped data set (the message lists
        the valid names), is not a str, or a flag is not a bool.
    OSError
        If the shipped file is damaged (its sha256 differs from the one in
        ``registry.json``) or does not match its registry entry.

    See Also
    --------
    list_datasets : Names, sizes and class shares of the shipped data sets.
    load_fashion_mnist_lt : Long-tailed Fashion-MNIST from local files.

    Examples
    --------
    >>> from skmetabalance.datasets import load_dataset
    >>> X, y = load_dataset("yeast_me2", return_X_y=True)
    >>> X.shape, int(y.sum())
    ((1484, 8), 51)
    >>> bunch = load_dataset("lending_club", as_frame=True)
    >>> str(bunch.data["term"].dtype)
    'category'
    """
    entry = _entry(name)

    frame, codes, y = _parse(_read_payload(entry), entry)
    feature_names = list(entry["feature_names"])
    categories = {c: list(v) for c, v in entry["categorical_features"].items()}
    mask = np.array([c in categories for c in feature_names], dtype=bool)
    target_column = entry["target_column"]

    if as_frame:
        data = frame[feature_names].copy()
        for column, column_codes in codes.items():
            data[column] = pd.Categorical.from_codes(
                column_codes, categories=categories[column]
            )
        target = pd.Series(y, name=target_column)
        full_frame = data.assign(**{target_column: target})
    else:
        numeric = frame[feature_names].assign(**codes)
        data = numeric.to_numpy(dtype=np.float64)
        target = y
        full_frame = None

    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=full_frame,
        feature_names=feature_names,
        categorical_features=mask,
        categories=categories,
        target_names=list(entry["target_names"]),
        class_counts=np.asarray(entry["class_counts"], dtype=np.int64),
        task=entry["task"],
        group=entry["group"],
        name=name,
        DESCR=_compose_descr(name, entry),
    )
