"""Long-tailed Fashion-MNIST, read from the original IDX files on disk."""

from __future__ import annotations

import gzip
import math
import os
import struct
import textwrap
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

DEFAULT_FASHION_MNIST_HOME = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_DESCR = """\
fashion_mnist_lt: long-tailed Fashion-MNIST
===========================================

Fashion-MNIST has 70,000 grey-scale 28x28 images of Zalando articles in ten
classes, 6,000 training and 1,000 test images per class. This loader makes the
training split long-tailed with the exponential profile used by Cui et al.
(2019) and Cao et al. (2019) for CIFAR-LT:

    n_c = floor(n_max * imbalance_factor ** (-c / (C - 1))),  c = 0, ..., C - 1,

so class 0 (T-shirt/top) keeps n_max images and class 9 (Ankle boot)
n_max / imbalance_factor. The images of each class are drawn without
replacement by random_state and kept in their original file order. The test
split is the original balanced one (1,000 images per class).

Rows are flattened images (784 values, row-major) as float32 scaled to
[0, 1]; reshape with Bunch.image_shape.

{this_set}

Source: the Debian package dataset-fashion-mnist (files under
/usr/share/datasets/fashion-mnist), a copy of
https://github.com/zalandoresearch/fashion-mnist.

Citation: Xiao, H., Rasul, K. and Vollgraf, R. (2017). Fashion-MNIST: a novel
image dataset for benchmarking machine learning algorithms. arXiv:1708.07747.
Cui, Y., Jia, M., Lin, T.-Y., Song, Y. and Belongie, S. (2019). Class-balanced
loss based on effective number of samples. CVPR. Cao, K., Wei, C., Gaidon, A.,
Arechiga, N. and Ma, T. (2019). Learning imbalanced datasets with
label-distribution-aware margin loss. NeurIPS.

Licence: MIT (Copyright 2017 Zalando SE).
"""


def long_tail_counts(n_max, n_classes, imbalance_factor):
    """Class sizes of an exponential long-tailed profile.

    Parameters
    ----------
    n_max : int
        Size of the largest (first) class.
    n_classes : int
        Number of classes C.
    imbalance_factor : float
        Ratio of the first to the last class size, at least 1.

    Returns
    -------
    counts : ndarray of int64 of shape (n_classes,)
        ``floor(n_max * imbalance_factor ** (-c / (C - 1)))`` for class ``c``,
        at least 1.
    """
    if n_classes == 1:
        return np.array([n_max], dtype=np.int64)
    exponents = -np.arange(n_classes) / (n_classes - 1)
    # The small tolerance keeps exact products (6000 / 100 = 60) from being
    # rounded down by floating-point error.
    counts = np.floor(n_max * float(imbalance_factor) ** exponents + 1e-9)
    return np.maximum(counts, 1).astype(np.int64)


def _find_files(home):
    """Paths of the four IDX files (gzip-compressed or not) under ``home``."""
    found, missing = {}, []
    for stems in _FILES.values():
        for stem in stems:
            for candidate in (home / f"{stem}.gz", home / stem):
                if candidate.is_file():
                    found[stem] = candidate
                    break
            else:
                missing.append(f"{stem}.gz")
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST files not found in {home}: missing {', '.join(missing)}. "
            "Install them with `apt-get install dataset-fashion-mnist` (Debian, "
            f"Ubuntu; files go to {DEFAULT_FASHION_MNIST_HOME}), or download the "
            "four *-ubyte.gz files from "
            "https://github.com/zalandoresearch/fashion-mnist and pass their "
            "folder as data_home=."
        )
    return found


def _read_idx(path, ndim):
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise ValueError(
            f"{path} is not an IDX file of unsigned bytes with {ndim} "
            "dimension(s) (bad magic number)."
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    values = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if values.size != math.prod(shape):
        raise ValueError(
            f"{path} holds {values.size} values, but its header announces shape "
            f"{shape} ({math.prod(shape)} values): the file is truncated or damaged."
        )
    return values.reshape(shape)


def _read_split(files, split):
    image_stem, label_stem = _FILES[split]
    images = _read_idx(files[image_stem], 3)
    labels = _read_idx(files[label_stem], 1).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(
            f"The {split} split has {len(images)} images but {len(labels)} labels."
        )
    n_classes = len(FASHION_MNIST_CLASSES)
    if labels.size and (labels.max() >= n_classes):
        raise ValueError(
            f"The {split} labels must lie in 0..{n_classes - 1}, got {labels.max()}."
        )
    return images, labels


@validate_params(
    {
        "imbalance_factor": [Interval(Real, 1, None, closed="left")],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "data_home": [str, os.PathLike, None],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist_lt(
    imbalance_factor=100,
    *,
    n_max=None,
    data_home=None,
    random_state=0,
    return_X_y=False,
):
    """Load Fashion-MNIST with a long-tailed training set.

    The images are not shipped with skmetabalance: they are read from the four
    original IDX files (``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz``; uncompressed copies without ``.gz`` work
    too), as installed by the Debian package ``dataset-fashion-mnist`` or
    downloaded by hand.

    The training split is subsampled to the exponential long-tailed profile
    ``n_c = floor(n_max * imbalance_factor ** (-c / (C - 1)))`` for classes
    ``c = 0, ..., 9``; the test split is the original balanced one.

    Parameters
    ----------
    imbalance_factor : float, default=100
        Ratio of the largest (class 0) to the smallest (class 9) training
        class, at least 1 (1 gives a balanced subsample of ``n_max`` per class).
    n_max : int or None, default=None
        Training images kept in class 0. None uses the size of the smallest
        original training class (6,000 for Fashion-MNIST).
    data_home : str, os.PathLike or None, default=None
        Folder holding the IDX files. None uses
        ``/usr/share/datasets/fashion-mnist``, where
        ``apt-get install dataset-fashion-mnist`` puts them.
    random_state : int, RandomState instance or None, default=0
        Seeds the draw of the training images kept in each class. An int
        gives the same training set on every call.
    return_X_y : bool, default=False
        If True, return ``(X_train, y_train, X_test, y_test)`` instead of a
        Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes:

        X_train : ndarray of float32 of shape (n_train, 784)
            Flattened training images scaled to [0, 1].
        y_train : ndarray of int64 of shape (n_train,)
            Training labels 0 to 9.
        X_test : ndarray of float32 of shape (n_test, 784)
            Flattened test images scaled to [0, 1].
        y_test : ndarray of int64 of shape (n_test,)
            Test labels 0 to 9.
        class_counts : ndarray of int64 of shape (10,)
            Training images per class, the long-tailed profile.
        test_class_counts : ndarray of int64 of shape (10,)
            Test images per class.
        target_names : list of str
            Names of the ten classes.
        image_shape : tuple of int
            Shape of one image, ``(28, 28)``.
        imbalance_factor : float
            The imbalance factor used.
        DESCR : str
            Description, citation and licence.

    (X_train, y_train, X_test, y_test) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If an IDX file is missing from ``data_home``; the message says how to
        get the files.
    ValueError
        If a file is not a valid IDX file, or a parameter has the wrong type
        or is out of range (including an ``n_max`` larger than a class has
        images).
    TypeError
        If a parameter has the wrong type, including a bool
        ``imbalance_factor``.

    See Also
    --------
    load_dataset : The tabular data sets shipped with skmetabalance.

    Examples
    --------
    >>> from skmetabalance.datasets import load_fashion_mnist_lt
    >>> lt = load_fashion_mnist_lt(imbalance_factor=100)  # doctest: +SKIP
    >>> lt.class_counts  # doctest: +SKIP
    array([6000, 3596, 2156, 1292,  774,  464,  278,  166,  100,   60])
    """
    if isinstance(imbalance_factor, bool):
        raise TypeError(
            "The 'imbalance_factor' parameter of load_fashion_mnist_lt must be a "
            f"real number >= 1, not a bool. Got {imbalance_factor!r} instead."
        )
    factor = float(imbalance_factor)
    home = Path(DEFAULT_FASHION_MNIST_HOME if data_home is None else data_home)
    rng = check_random_state(random_state)

    files = _find_files(home)
    train_images, train_labels = _read_split(files, "train")
    test_images, test_labels = _read_split(files, "test")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError(
            f"Training images have shape {train_images.shape[1:]} but test images "
            f"{test_images.shape[1:]}."
        )

    n_classes = len(FASHION_MNIST_CLASSES)
    available = np.bincount(train_labels, minlength=n_classes)
    n_max = int(available.min() if n_max is None else n_max)
    counts = long_tail_counts(n_max, n_classes, factor)
    short = np.flatnonzero(counts > available)
    if short.size:
        c = int(short[0])
        raise ValueError(
            f"n_max={n_max} with imbalance_factor={factor:g} asks for {counts[c]} "
            f"training images of class {c} ({FASHION_MNIST_CLASSES[c]!r}), but "
            f"the files hold only {available[c]}."
        )

    kept = [
        rng.choice(np.flatnonzero(train_labels == c), counts[c], replace=False)
        for c in range(n_classes)
    ]
    index = np.sort(np.concatenate(kept))

    def flatten(images):
        return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)

    X_train, y_train = flatten(train_images[index]), train_labels[index]
    X_test, y_test = flatten(test_images), test_labels
    if return_X_y:
        return X_train, y_train, X_test, y_test

    this_set = (
        f"This training set: {', '.join(str(int(n)) for n in counts)} images per "
        f"class ({len(y_train):,} rows, imbalance factor {factor:g}, n_max "
        f"{n_max}). Files read from {home}."
    )
    descr = _DESCR.format(
        this_set=textwrap.fill(this_set, width=79, break_on_hyphens=False)
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        class_counts=counts,
        test_class_counts=np.bincount(y_test, minlength=n_classes).astype(np.int64),
        target_names=list(FASHION_MNIST_CLASSES),
        image_shape=tuple(int(s) for s in train_images.shape[1:]),
        imbalance_factor=factor,
        DESCR=descr,
    )
