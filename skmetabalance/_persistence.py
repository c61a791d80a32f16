"""Saving and loading fitted estimators without pickle.

A model file is a single `safetensors <https://huggingface.co/docs/safetensors>`_
file. Its tensors are the network weights (``module.<name>``) and the SGD
optimiser's momentum buffers (``optimizer.<index>.<name>``); its str -> str
metadata holds

* ``format``: always ``"skmetabalance-model"``;
* ``format_version``: the layout version, currently ``"1"``;
* ``content``: a JSON document with the estimator's class name, parameters,
  labels and fitted attributes;
* ``sha256``: a hex digest over the tensors (names, dtypes, shapes, bytes) and
  the ``content`` text, checked when the file is loaded.

Loading never unpickles, never imports and never calls anything named in the
file: the class name is looked up in a fixed table, labels are rebuilt from an
allow-list of dtypes, and every tensor is checked against the network rebuilt
from the stored parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._classifier import BalancedNetClassifier, MetaBalanceClassifier
from ._modules import build_module, check_output_shape

__all__ = ["save_model", "load_model"]

FORMAT_NAME = "skmetabalance-model"
FORMAT_VERSION = "1"

#: Estimator classes a file may name, looked up by exact name only.
_ESTIMATORS = {
    "MetaBalanceClassifier": MetaBalanceClassifier,
    "BalancedNetClassifier": BalancedNetClassifier,
}
#: Longest repr kept, for information, of a parameter that cannot be stored.
_MAX_REPR = 500
_TAGS = ("__tuple__", "__dict__", "__float__", "__device__")
_LABEL_DTYPE_RE = re.compile(
    r"^(\|b1|[<>|]?[iu][1248]|[<>|]?f[248]|[<>|]?U\d{1,6}|object)$"
)
_SIMPLE_ATTRS = {
    "n_iter_": int,
    "n_steps_": int,
    "best_epoch_": (int, type(None)),
    "best_validation_score_": (float, int, type(None)),
    "stopped_reason_": (str, type(None)),
}


class _NotStorable(Exception):
    pass


# ------------------------------------------------------------------ JSON codec
def _encode(value):
    """Encode ``value`` as strict JSON, tagging what JSON cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isfinite(value):
            return value
        return {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        return [_encode(v) for v in value.tolist()]
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise _NotStorable(type(value).__name__)


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tags = [k for k in value if k.startswith("__")]
    if not tags:
        return {k: _decode(v) for k, v in value.items()}
    if len(value) != 1 or tags[0] not in _TAGS:
        raise ValueError(f"unknown tagged value with keys {sorted(value)[:5]!r}")
    tag, inner = tags[0], value[tags[0]]
    if tag == "__tuple__" and isinstance(inner, list):
        return tuple(_decode(v) for v in inner)
    if tag == "__float__" and inner in ("nan", "inf", "-inf"):
        return float(inner)
    if (
        tag == "__device__"
        and isinstance(inner, str)
        and re.fullmatch(r"(cpu|cuda|mps)(:\d+)?", inner)
    ):
        return inner
    if tag == "__dict__" and isinstance(inner, list):
        out = {}
        for pair in inner:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ValueError("a tagged dict entry is not a [key, value] pair")
            key = _decode(pair[0])
            if isinstance(key, (list, dict)):
                raise ValueError("a tagged dict has an unhashable key")
            out[key] = _decode(pair[1])
        return out
    raise ValueError(f"malformed {tag} value")


def _encode_labels(values, what):
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind == "O":
        if not all(isinstance(v, str) for v in arr.tolist()):
            types = sorted({type(v).__name__ for v in arr.tolist()})
            raise TypeError(
                f"save_model stores {what} of strings, integers, floats or booleans; "
                f"got an object array holding {types}."
            )
        dtype = "object"
    elif kind in "biufU":
        dtype = arr.dtype.str
    else:
        raise TypeError(
            f"save_model stores {what} of strings, integers, floats or booleans; got "
            f"dtype {arr.dtype}."
        )
    return {"dtype": dtype, "values": [_encode(v) for v in arr.tolist()]}


def _decode_labels(spec, what):
    if not isinstance(spec, dict) or set(spec) != {"dtype", "values"}:
        raise ValueError(f"{what} must be an object with 'dtype' and 'values'")
    dtype, values = spec["dtype"], spec["values"]
    if not isinstance(dtype, str) or not _LABEL_DTYPE_RE.match(dtype):
        raise ValueError(f"{what} has an unsupported dtype {dtype!r}")
    if not isinstance(values, list):
        raise ValueError(f"{what} values must be a list")
    values = [_decode(v) for v in values]
    kind = np.dtype(dtype).kind
    expected = {
        "O": str,
        "U": str,
        "b": bool,
        "i": int,
        "u": int,
        "f": (float, int),
    }[kind]
    if not all(
        isinstance(v, expected) and (kind == "b" or not isinstance(v, bool))
        for v in values
    ):
        raise ValueError(f"{what} values do not match dtype {dtype!r}")
    if kind == "O":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    try:
        arr = np.array(values, dtype=dtype)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{what} values do not fit dtype {dtype!r}") from exc
    if arr.tolist() != values and kind != "f":
        raise ValueError(f"{what} values do not fit dtype {dtype!r}")
    return arr


# ---------------------------------------------------------------- hashing
def _digest(tensors, content):
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode("utf-8") + b"\0")
        h.update(f"{t.dtype}|{tuple(t.shape)}".encode() + b"\0")
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(content.encode("utf-8"))
    return h.hexdigest()


# ------------------------------------------------------------------- save
def _check_estimator(estimator):
    cls = type(estimator)
    if _ESTIMATORS.get(cls.__name__) is not cls:
        raise TypeError(
            "save_model saves MetaBalanceClassifier and BalancedNetClassifier "
            f"instances; got {cls.__module__}.{cls.__qualname__}. Use pickle or "
            "joblib for other estimators and subclasses."
        )
    check_is_fitted(estimator)


def _describe(obj):
    """Text recorded for a parameter that cannot be stored: a name or a repr."""
    qual = getattr(obj, "__qualname__", None)
    mod = getattr(obj, "__module__", None)
    if isinstance(qual, str) and isinstance(mod, str):
        return f"{mod}.{qual}"
    text = repr(obj)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _encode_optimizer(opt_state, tensors):
    """JSON part of the optimiser state; its tensors are added to ``tensors``.

    Returns None (momentum restarts on a warm-started refit) when the state
    holds values that cannot be stored without pickle.
    """
    if opt_state is None:
        return None
    found, state_meta = {}, {}
    try:
        for idx, entries in opt_state.get("state", {}).items():
            plain = {}
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    name = f"optimizer.{int(idx)}.{key}"
                    found[name] = value.detach().to("cpu").contiguous().clone()
                else:
                    plain[key] = _encode(value)
            state_meta[str(int(idx))] = plain
        groups = _encode(opt_state.get("param_groups", []))
    except _NotStorable:
        return None
    tensors.update(found)
    return {"param_groups": groups, "state": state_meta}


def save_model(estimator, path):
    """Save a fitted estimator to a safetensors file, without pickle.

    The file holds the weights, the parameters that JSON can represent, the
    class labels, feature names and training history; see
    :ref:`persistence`. Parameters that are objects (samplers, a custom
    ``module`` factory, a ``scoring`` callable, a ``RandomState``) are recorded
    as text for information only: :func:`load_model` takes the module factory
    again through its ``module`` argument and resets the others to their
    defaults.

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

    _check_estimator(estimator)
    cls = type(estimator)
    params, unstored = {}, {}
    for name, value in estimator.get_params(deep=False).items():
        try:
            params[name] = _encode(value)
        except _NotStorable:
            unstored[name] = _describe(value)

    tensors = {
        f"module.{k}": v.detach().to("cpu").contiguous().clone()
        for k, v in estimator.module_.state_dict().items()
    }
    optimizer = _encode_optimizer(getattr(estimator, "_optimizer_state", None), tensors)
    content = {
        "estimator": cls.__name__,
        "library_version": _library_version(),
        "torch_version": torch.__version__,
        "params": params,
        "unstored_params": unstored,
        "classes": _encode_labels(estimator.classes_, "classes_"),
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": (
            _encode_labels(estimator.feature_names_in_, "feature_names_in_")
            if hasattr(estimator, "feature_names_in_")
            else None
        ),
        "n_outputs": int(estimator.n_outputs_),
        "history": _encode(list(getattr(estimator, "history_", []))),
        "attributes": {
            name: _encode(getattr(estimator, name))
            for name in _SIMPLE_ATTRS
            if hasattr(estimator, name)
        },
        "trained_on_device": str(getattr(estimator, "device_", "cpu")),
        "optimizer": optimizer,
    }
    text = json.dumps(content, allow_nan=False, sort_keys=True)
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


def _library_version():
    from . import __version__

    return __version__


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
    return content


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _require(content, key, types):
    if key not in content:
        raise _Invalid(f"its content has no {key!r} entry")
    value = content[key]
    if not isinstance(value, types) or (
        isinstance(value, bool) and bool not in _as_tuple(types)
    ):
        raise _Invalid(f"its {key!r} entry has the wrong type {type(value).__name__}")
    return value


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _rebuild(content, tensors, module, fname):
    name = _require(content, "estimator", str)
    cls = _ESTIMATORS.get(name)
    if cls is None:
        raise _Invalid(
            f"it names estimator class {name[:200]!r}, which is not one of "
            f"{sorted(_ESTIMATORS)}; nothing was imported"
        )
    try:
        params = {k: _decode(v) for k, v in _require(content, "params", dict).items()}
        unstored = _require(content, "unstored_params", dict)
        classes = _decode_labels(content.get("classes"), "classes")
        names_spec = content.get("feature_names_in")
        feature_names = (
            None
            if names_spec is None
            else _decode_labels(names_spec, "feature_names_in")
        )
        history = _decode(_require(content, "history", list))
        attributes = {
            k: _decode(v) for k, v in _require(content, "attributes", dict).items()
        }
    except _Invalid:
        raise
    except ValueError as exc:
        raise _Invalid(f"its content is malformed: {exc}") from None

    valid = cls().get_params(deep=False)
    bad = sorted(set(params) - set(valid)) + sorted(set(unstored) - set(valid))
    if bad:
        raise _Invalid(f"it sets parameters {bad[:10]!r} that {name} does not have")

    estimator = cls()
    if "module" in unstored:
        if module is None:
            raise ValueError(
                f"The model in {fname!r} was saved with a custom module factory "
                f"({str(unstored['module'])[:200]}), which is not stored in the file. "
                "Pass the same factory as load_model(path, module=...)."
            )
    if module is not None:
        params["module"] = module
    reset = sorted(k for k in unstored if k != "module")
    try:
        estimator.set_params(**params)
        estimator._validate_params()
    except Exception as exc:
        raise _Invalid(
            f"its parameters are invalid ({type(exc).__name__}: {exc})"
        ) from None
    if reset:
        described = ", ".join(f"{k}={str(unstored[k])[:200]}" for k in reset)
        warnings.warn(
            f"Parameters that are objects were saved as text only and reset to their "
            f"defaults: {described}. They do not affect predictions; use set_params "
            "before refitting.",
            UserWarning,
            stacklevel=3,
        )

    n_features = _require(content, "n_features_in", int)
    n_outputs = _require(content, "n_outputs", int)
    n_classes = classes.shape[0]
    if n_classes < 2 or np.unique(classes).shape[0] != n_classes:
        raise _Invalid("its classes are not at least two distinct labels")
    if not np.array_equal(np.sort(classes), classes):
        raise _Invalid("its classes are not sorted")
    if n_outputs != (1 if n_classes == 2 else n_classes):
        raise _Invalid(f"n_outputs={n_outputs} does not fit {n_classes} classes")
    if n_features < 1 or (
        feature_names is not None and feature_names.shape[0] != n_features
    ):
        raise _Invalid("n_features_in does not match feature_names_in")
    if not all(isinstance(h, dict) for h in history):
        raise _Invalid("its history is not a list of records")
    for key, value in attributes.items():
        types = _SIMPLE_ATTRS.get(key)
        if types is None or not isinstance(value, types):
            raise _Invalid(f"its attribute {key!r} is unknown or has the wrong type")

    # Rebuild the network, leaving the global torch random state as it was.
    try:
        hidden = estimator._check_hidden_layer_sizes()
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    with torch.random.fork_rng(devices=[]):
        net = build_module(
            estimator.module, n_features, n_outputs, hidden, estimator.dropout
        )
    net = net.to(device="cpu", dtype=torch.float32)
    _load_weights(net, tensors)
    check_output_shape(net, n_features, n_outputs, torch.device("cpu"))
    net.eval()

    estimator._hidden_sizes = hidden
    estimator.classes_ = classes
    estimator.n_features_in_ = n_features
    if feature_names is not None:
        estimator.feature_names_in_ = feature_names
    estimator.n_outputs_ = n_outputs
    estimator.module_ = net
    estimator.device_ = torch.device("cpu")
    estimator.history_ = history
    for key, value in attributes.items():
        setattr(estimator, key, value)
    if "n_iter_" not in attributes:
        estimator.n_iter_ = len(history)
    estimator._steps_done = int(attributes.get("n_steps_", 0))
    opt_state = _optimizer_state(content.get("optimizer"), tensors)
    _check_optimizer(net, opt_state)
    estimator._optimizer_state = opt_state
    return estimator


def _load_weights(net, tensors):
    expected = net.state_dict()
    given = {
        k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")
    }
    other = sorted(k for k in tensors if not k.startswith(("module.", "optimizer.")))
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra or other:
        raise _Invalid(
            "its tensors do not match the rebuilt network: "
            f"missing {missing[:10]!r}, unexpected {(extra + other)[:10]!r}"
        )
    for key, ref in expected.items():
        t = given[key]
        if tuple(t.shape) != tuple(ref.shape) or t.dtype != ref.dtype:
            raise _Invalid(
                f"tensor 'module.{key}' has shape {tuple(t.shape)} and dtype {t.dtype}, "
                f"but the rebuilt network expects {tuple(ref.shape)} and {ref.dtype}"
            )
    net.load_state_dict(given, strict=True)


def _optimizer_state(spec, tensors):
    opt_tensors = {k: v for k, v in tensors.items() if k.startswith("optimizer.")}
    if spec is None:
        if opt_tensors:
            raise _Invalid("it has optimizer tensors but no optimizer metadata")
        return None
    if not isinstance(spec, dict) or set(spec) != {"param_groups", "state"}:
        raise _Invalid("its optimizer entry is malformed")
    try:
        groups = _decode(spec["param_groups"])
        state_meta = spec["state"]
        if not isinstance(groups, list) or not isinstance(state_meta, dict):
            raise ValueError("wrong types")
        state = {}
        for idx, plain in state_meta.items():
            if not idx.isdigit() or not isinstance(plain, dict):
                raise ValueError("bad state entry")
            state[int(idx)] = {k: _decode(v) for k, v in plain.items()}
    except ValueError as exc:
        raise _Invalid(f"its optimizer entry is malformed ({exc})") from None
    for name, value in opt_tensors.items():
        match = re.fullmatch(r"optimizer\.(\d+)\.(\w+)", name)
        if match is None:
            raise _Invalid(f"it has an unexpected tensor {name!r}")
        state.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return {"state": state, "param_groups": groups}


def _check_optimizer(net, state):
    """Load the optimiser state into a throw-away SGD to catch mismatches now."""
    if state is None:
        return
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    try:
        opt.load_state_dict(state)
    except Exception as exc:
        raise _Invalid(
            f"its optimizer state does not fit the network ({type(exc).__name__}: {exc})"
        ) from None
    for p in net.parameters():
        buf = opt.state.get(p, {}).get("momentum_buffer")
        if buf is not None and tuple(buf.shape) != tuple(p.shape):
            raise _Invalid(
                f"a momentum buffer has shape {tuple(buf.shape)} for a parameter of "
                f"shape {tuple(p.shape)}"
            )


def load_model(path, *, module=None, expected_sha256=None):
    """Load an estimator saved by :func:`save_model`.

    The file is read with safetensors and JSON only: no pickle, no import, no
    code named in the file is run. The estimator class must be one of
    skmetabalance's, and every tensor must match the network rebuilt from the
    stored parameters. The network is placed on the CPU, whatever device it was
    trained on; move ``estimator.module_`` to a GPU to predict there.

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
    if expected_sha256 is not None and not (
        isinstance(expected_sha256, str)
        and re.fullmatch(r"[0-9a-fA-F]{64}", expected_sha256)
    ):
        raise ValueError(
            "expected_sha256 must be a 64-character hex string; got "
            f"{expected_sha256!r}."
        )
    if module is not None and (
        not callable(module) or isinstance(module, torch.nn.Module)
    ):
        raise TypeError(
            "The 'module' argument must be a callable (n_features, n_outputs) -> "
            f"torch.nn.Module (a class or factory); got {type(module).__name__}."
        )
    fname = os.fspath(path)
    try:
        metadata, tensors = _read_file(fname)
        content = _parse_content(metadata, tensors, expected_sha256)
        estimator = _rebuild(content, tensors, module, fname)
    except _Invalid as exc:
        raise ValueError(
            f"{fname!r} is not a valid skmetabalance model file: {exc}."
        ) from None
    return estimator
