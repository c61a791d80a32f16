"""Saving and loading fitted estimators without pickle.

A model file is a single `safetensors <https://huggingface.co/docs/safetensors>`_
file holding the estimator's fitted state (see ``skmetabalance._state``): its
tensors are the state's tensors, and its str -> str metadata holds

* ``format``: always ``"skmetabalance-model"``;
* ``format_version``: the layout version, currently ``"2"``;
* ``content``: a JSON document with the estimator's class name, parameters and
  the state's JSON metadata;
* ``sha256``: a hex digest over the tensors (names, dtypes, shapes, bytes) and
  the ``content`` text, checked when the file is loaded.

Loading never unpickles, never imports and never calls anything named in the
file: the class name is looked up in a fixed table, and the fitted state is
validated by the same code that restores a pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import warnings
from pathlib import Path

import torch
from sklearn.utils._param_validation import validate_params
from sklearn.utils.validation import check_is_fitted

from ._classifier import BalancedNetClassifier, MetaBalanceClassifier
from ._state import NotStorable, StateError, decode_json, encode_json

__all__ = ["save_model", "load_model"]

FORMAT_NAME = "skmetabalance-model"
FORMAT_VERSION = "2"

#: Estimator classes a file may name, looked up by exact name only.
_ESTIMATORS = {
    "MetaBalanceClassifier": MetaBalanceClassifier,
    "BalancedNetClassifier": BalancedNetClassifier,
}
#: Longest text kept, for information, of a value that cannot be stored.
_MAX_REPR = 500


def _digest(tensors, content):
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode("utf-8") + b"\0")
        h.update(f"{t.dtype}|{tuple(t.shape)}".encode() + b"\0")
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(content.encode("utf-8"))
    return h.hexdigest()


def _describe(obj):
    """Text recorded for a value that cannot be stored: a name or a repr."""
    qual = getattr(obj, "__qualname__", None)
    mod = getattr(obj, "__module__", None)
    if isinstance(qual, str) and isinstance(mod, str):
        return f"{mod}.{qual}"
    text = repr(obj)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


# ------------------------------------------------------------------- save
@validate_params(
    {
        "estimator": [MetaBalanceClassifier, BalancedNetClassifier],
        "path": [str, os.PathLike],
    },
    prefer_skip_nested_validation=True,
)
def save_model(estimator, path):
    """Save a fitted estimator to a safetensors file, without pickle.

    The file holds the weights, the optimiser state, the parameters that JSON
    can represent, the class labels, feature names and training history; see
    :ref:`persistence`. Parameters that are objects (samplers, a custom
    ``module`` factory, a ``scoring`` callable, a ``RandomState``) and the
    fitted sampler clones are recorded as text for information only:
    :func:`load_model` takes the module factory again through its ``module``
    argument, resets the other parameters to their defaults and leaves the
    sampler attributes unset.

    Parameters
    ----------
    estimator : MetaBalanceClassifier or BalancedNetClassifier
        A fitted estimator. Weights on a GPU are copied to the CPU.
    path : str or path-like
        Destination file, conventionally ending in ``.safetensors``. It is
        written to a temporary file first and moved into place.

    Returns
    -------
    sha256 : str
        Hex digest over the tensors and the JSON content, also stored in the
        file. Publish it with the file and pass it to
        ``load_model(..., expected_sha256=...)`` to detect substituted files.

    See Also
    --------
    load_model : Rebuild the estimator from the file.
    """
    from safetensors.torch import save

    from . import __version__

    cls = type(estimator)
    if _ESTIMATORS.get(cls.__name__) is not cls:
        raise TypeError(
            "save_model saves MetaBalanceClassifier and BalancedNetClassifier "
            f"instances; got {cls.__module__}.{cls.__qualname__}. Use pickle or "
            "joblib for other estimators and subclasses."
        )
    check_is_fitted(estimator)
    params, unstored = {}, {}
    for name, value in estimator.get_params(deep=False).items():
        try:
            params[name] = encode_json(value)
        except NotStorable:
            unstored[name] = _describe(value)
    try:
        state = estimator._get_fitted_state()
    except NotStorable as exc:
        raise TypeError(f"save_model cannot store {exc}.") from None
    content = {
        "estimator": cls.__name__,
        "library_version": __version__,
        "torch_version": torch.__version__,
        "params": params,
        "unstored_params": unstored,
        "fitted": state["meta"],
        "unstored_attributes": {
            k: None if v is None else _describe(v) for k, v in state["objects"].items()
        },
    }
    text = json.dumps(content, allow_nan=False, sort_keys=True)
    # Own copies: safetensors refuses tensors that share memory (tied weights).
    tensors = {k: v.contiguous().clone() for k, v in state["tensors"].items()}
    digest = _digest(tensors, text)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "content": text,
        "sha256": digest,
    }
    # Write next to the destination, then move into place: a crash never leaves a
    # half-written model under the final name.
    data = save(tensors, metadata=metadata)
    path = Path(os.fspath(path))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest


# ------------------------------------------------------------------- load
class _Invalid(Exception):
    """A problem with the file's contents; turned into a ValueError naming it."""


def _read_file(path):
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = f.metadata()
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:  # SafetensorError and friends: corrupted bytes
        raise _Invalid(
            f"it could not be read as a safetensors file ({type(exc).__name__}: {exc})"
        ) from None
    return metadata or {}, tensors


def _parse_content(metadata, tensors, expected_sha256):
    fmt = metadata.get("format")
    if fmt != FORMAT_NAME:
        raise _Invalid(
            f"it is not a skmetabalance model file (metadata 'format' is {fmt!r}, "
            f"expected {FORMAT_NAME!r})"
        )
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise _Invalid(
            f"its format version {version!r} is not supported; this version of "
            f"skmetabalance reads format version {FORMAT_VERSION!r}"
        )
    text = metadata.get("content")
    if not isinstance(text, str):
        raise _Invalid("its metadata has no 'content' entry")
    stored = metadata.get("sha256")
    if stored is not None or expected_sha256 is not None:
        actual = _digest(tensors, text)
        if stored is not None and stored != actual:
            raise _Invalid(
                f"its content hash does not match: the file records sha256 {stored!r} "
                f"but its tensors and metadata hash to {actual!r} (corrupted or "
                "modified)"
            )
        if expected_sha256 is not None and expected_sha256.lower() != actual:
            raise _Invalid(
                f"its content hash {actual!r} differs from expected_sha256 "
                f"{expected_sha256!r}"
            )
    try:
        content = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"its 'content' metadata is not valid JSON ({exc})") from None
    if not isinstance(content, dict):
        raise _Invalid("its 'content' metadata is not a JSON object")
    for key, kind in (("estimator", str), ("params", dict), ("unstored_params", dict)):
        if not isinstance(content.get(key), kind):
            raise _Invalid(f"its content has no {key!r} entry of type {kind.__name__}")
    return content


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _rebuild(content, tensors, module, fname):
    name = content["estimator"]
    cls = _ESTIMATORS.get(name)
    if cls is None:
        raise _Invalid(
            f"it names estimator class {name[:200]!r}, which is not one of "
            f"{sorted(_ESTIMATORS)}; nothing was imported"
        )
    unstored = content["unstored_params"]
    try:
        params = {k: decode_json(v) for k, v in content["params"].items()}
    except ValueError as exc:
        raise _Invalid(f"its content is malformed: {exc}") from None
    bad = sorted((set(params) | set(unstored)) - set(cls().get_params(deep=False)))
    if bad:
        raise _Invalid(f"it sets parameters {bad[:10]!r} that {name} does not have")
    if "module" in unstored and module is None:
        raise ValueError(
            f"The model in {fname!r} was saved with a custom module factory "
            f"({str(unstored['module'])[:200]}), which is not stored in the file. "
            "Pass the same factory as load_model(path, module=...)."
        )
    if module is not None:
        params["module"] = module
    estimator = cls()
    try:
        estimator.set_params(**params)
        estimator._validate_params()
    except Exception as exc:
        raise _Invalid(
            f"its parameters are invalid ({type(exc).__name__}: {exc})"
        ) from None
    reset = sorted(k for k in unstored if k != "module")
    if reset:
        described = ", ".join(f"{k}={str(unstored[k])[:200]}" for k in reset)
        warnings.warn(
            f"Parameters that are objects were saved as text only and reset to their "
            f"defaults: {described}. They do not affect predictions; use set_params "
            "before refitting.",
            UserWarning,
            stacklevel=4,
        )
    state = {"tensors": tensors, "meta": content.get("fitted"), "objects": {}}
    try:
        estimator._set_fitted_state(state)
    except StateError as exc:
        raise _Invalid(f"its fitted state is invalid: {exc}") from None
    return estimator


@validate_params(
    {
        "path": [str, os.PathLike],
        "module": [callable, None],
        "expected_sha256": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def load_model(path, *, module=None, expected_sha256=None):
    """Load an estimator saved by :func:`save_model`.

    The file is read with safetensors and JSON only: no pickle, no import, no
    code named in the file is run. The estimator class must be one of
    skmetabalance's, and every tensor must match the network rebuilt from the
    stored parameters. The network is placed on the CPU, whatever device it was
    trained on; move ``estimator.module_`` to a GPU to predict there. The fitted
    sampler clones (``inner_sampler_``, ``outer_sampler_``, ``sampler_``) are
    not stored, so the loaded estimator does not have them.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    module : callable, default=None
        The module factory the model was fitted with, when it was not the
        built-in MLP. It is called as ``module(n_features, n_outputs)`` to
        rebuild the network before the weights are loaded.
    expected_sha256 : str, default=None
        Hex digest returned by :func:`save_model`. When given, a file whose
        content hashes differently is refused; use it for files from elsewhere.

    Returns
    -------
    estimator : MetaBalanceClassifier or BalancedNetClassifier
        A fitted estimator that predicts as the saved one did.

    Raises
    ------
    ValueError
        If the file is not a valid model file: unreadable or corrupted bytes,
        another format or format version, an unknown estimator class, metadata
        that is not valid JSON, a content hash mismatch, or tensors missing,
        extra or of the wrong shape for the rebuilt network. The message names
        the file and the problem.

    See Also
    --------
    save_model : Write the file.
    """
    if expected_sha256 is not None and not re.fullmatch(
        r"[0-9a-fA-F]{64}", expected_sha256
    ):
        raise ValueError(
            "expected_sha256 must be a 64-character hex string; got "
            f"{expected_sha256!r}."
        )
    if isinstance(module, torch.nn.Module):
        raise TypeError(
            "The 'module' argument must be a callable (n_features, n_outputs) -> "
            "torch.nn.Module (a class or factory), not a module instance; got an "
            f"instance of {type(module).__name__}."
        )
    fname = os.fspath(path)
    try:
        metadata, tensors = _read_file(fname)
        content = _parse_content(metadata, tensors, expected_sha256)
        estimator = _rebuild(content, tensors, module, fname)
    except RecursionError:
        raise ValueError(
            f"{fname!r} is not a valid skmetabalance model file: its content is "
            "nested too deeply."
        ) from None
    except _Invalid as exc:
        raise ValueError(
            f"{fname!r} is not a valid skmetabalance model file: {exc}."
        ) from None
    return estimator
