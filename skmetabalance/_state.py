"""The fitted state of an estimator, described once.

Pickling, :func:`~skmetabalance.save_model` / :func:`~skmetabalance.load_model`
and a warm-started refit after either all go through :func:`get_fitted_state`
and :func:`set_fitted_state`. A fitted state is a dict of three entries:

``tensors``
    name -> CPU tensor: ``module.<state_dict key>`` for the network and
    ``optimizer.<index>.<key>`` for the optimiser's tensors.
``meta``
    A JSON-able dict: the attributes of :data:`FIELDS` that have a JSON codec
    (those the estimator has), and ``_optimizer_state``, the optimiser's
    non-tensor part or None.
``objects``
    name -> Python object, for the attributes only pickle can carry (the fitted
    sampler clones); :func:`~skmetabalance.save_model` does not store them.

Restoring rebuilds the network from the estimator's parameters, loads the
tensors strictly and validates every attribute before setting any of them, so
the same checks guard an unpickled estimator and a model file. To make a new
fitted attribute persistent, add one line to :data:`FIELDS`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._modules import Ensemble
from ._optim import SGD
from ._threads import untouched_global_rng

__all__ = [
    "FIELDS",
    "STATE_ATTRIBUTES",
    "NotStorable",
    "StateError",
    "decode_json",
    "encode_json",
    "get_fitted_state",
    "set_fitted_state",
]


class StateError(ValueError):
    """A fitted state that cannot be restored; the message names the part."""


class NotStorable(TypeError):
    """A value that JSON cannot represent without pickle."""


# ------------------------------------------------------------- generic JSON
_TAGS = ("__tuple__", "__dict__", "__float__", "__device__")
_DEVICE = re.compile(r"(cpu|cuda|mps)(:\d{1,4})?")


def encode_json(value):
    """Encode ``value`` as strict JSON, tagging what JSON cannot hold.

    Tuples, dicts with keys other than plain strings, non-finite floats and
    torch devices (decoded as their name) are tagged; anything else that is not a number, string, bool, None, list, dict
    or numpy array raises :class:`NotStorable`.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, np.ndarray)):
        return [encode_json(v) for v in list(value)]
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_json(v) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode_json(v) for k, v in value.items()}
        return {
            "__dict__": [[encode_json(k), encode_json(v)] for k, v in value.items()]
        }
    raise NotStorable(type(value).__name__)


def decode_json(value):
    """Inverse of :func:`encode_json`; raises ValueError for unknown tags."""
    if isinstance(value, list):
        return [decode_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    tags = [k for k in value if k.startswith("__")]
    if not tags:
        return {k: decode_json(v) for k, v in value.items()}
    if len(value) != 1 or tags[0] not in _TAGS:
        raise ValueError(f"unknown tagged value with keys {sorted(value)[:5]!r}")
    tag, inner = tags[0], value[tags[0]]
    if tag == "__tuple__" and isinstance(inner, list):
        return tuple(decode_json(v) for v in inner)
    if tag == "__float__" and inner in ("nan", "inf", "-inf"):
        return float(inner)
    if tag == "__device__" and isinstance(inner, str) and _DEVICE.fullmatch(inner):
        return inner
    if tag == "__dict__" and isinstance(inner, list):
        out = {}
        for pair in inner:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ValueError("a tagged dict entry is not a [key, value] pair")
            key = decode_json(pair[0])
            if isinstance(key, (list, dict)):
                raise ValueError("a tagged dict has an unhashable key")
            out[key] = decode_json(pair[1])
        return out
    raise ValueError(f"malformed {tag} value")


def _got(data):
    text = repr(data)
    return f"{text[:80]}{'...' if len(text) > 80 else ''} ({type(data).__name__})"


# ------------------------------------------------------------------- codecs
class Codec:
    """Turns an attribute's value into JSON and back.

    ``decode`` accepts what ``accepts`` allows (after undoing
    :func:`encode_json`'s tags when ``tagged``) and returns ``build(data)``;
    anything else is a ValueError that says what was expected and what was got.
    """

    def __init__(self, expected, encode, accepts, build=None, tagged=False):
        self.expected, self.encode, self.accepts = expected, encode, accepts
        self.build, self.tagged = build, tagged

    def decode(self, data):
        value = decode_json(data) if self.tagged else data
        if self.accepts(value):
            return value if self.build is None else self.build(value)
        raise ValueError(f"{self.expected} was expected; got {_got(data)}")

    def per_member(self):
        """The same codec, also accepting a list of values (one per member)."""
        return Codec(
            f"{self.expected}, or a list of them",
            lambda v: (
                [self.encode(x) for x in v] if isinstance(v, list) else self.encode(v)
            ),
            lambda v: (
                all(self.accepts(x) for x in v)
                if isinstance(v, list)
                else self.accepts(v)
            ),
            None
            if self.build is None
            else lambda v: (
                [self.build(x) for x in v] if isinstance(v, list) else self.build(v)
            ),
            self.tagged,
        )

    def or_none(self):
        """The same codec, also accepting None."""
        return Codec(
            f"None or {self.expected}",
            lambda v: None if v is None else self.encode(v),
            lambda v: v is None or self.accepts(v),
            None if self.build is None else lambda v: v if v is None else self.build(v),
            self.tagged,
        )


def _is_int(value, minimum=-(2**63)):
    """An int (not a bool) from ``minimum`` up to the int64 maximum."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and minimum <= value < 2**63
    )


def _ints(value, minimum=-(2**63)):
    return isinstance(value, list) and all(_is_int(v, minimum) for v in value)


INT = Codec("an integer >= 1", int, lambda v: _is_int(v, 1))
COUNT = Codec("an integer >= 0", int, lambda v: _is_int(v, 0))
FLOAT = Codec(
    "a number",
    lambda v: encode_json(float(v)),
    lambda v: _is_int(v) or isinstance(v, float),
    float,
    tagged=True,
)
STR = Codec("a string", str, lambda v: isinstance(v, str))
DEVICE = Codec(
    "a device such as 'cpu' or 'cuda:0'",
    lambda v: str(torch.device(v)),
    lambda v: isinstance(v, str) and _DEVICE.fullmatch(v) is not None,
    torch.device,
)
#: A list of dicts with string keys (``history_``).
RECORDS = Codec(
    "a list of records (dicts)",
    lambda v: [encode_json(dict(rec)) for rec in v],
    lambda v: isinstance(v, list) and all(isinstance(rec, dict) for rec in v),
    tagged=True,
)
#: One dict with string keys (``geometry_``).
RECORD = Codec(
    "a record (dict)",
    lambda v: encode_json(dict(v)),
    lambda v: isinstance(v, dict),
    tagged=True,
)
#: A 1-D array of indices, returned with dtype ``intp``.
INT_ARRAY = Codec(
    "a list of integers",
    lambda v: [int(x) for x in np.asarray(v).ravel()],
    _ints,
    lambda v: np.array(v, dtype=np.intp),
)


#: A 1-D array of finite non-negative numbers, returned as float64.
FLOAT_ARRAY = Codec(
    "a list of finite non-negative numbers",
    lambda v: [float(x) for x in np.asarray(v, dtype=np.float64).ravel()],
    lambda v: (
        isinstance(v, list)
        and all(
            (_is_int(x) or isinstance(x, float)) and math.isfinite(x) and x >= 0
            for x in v
        )
    ),
    lambda v: np.array(v, dtype=np.float64),
)
#: ``class_counts_``: set name -> counts, or a list of counts (one per member).
COUNTS_RECORD = Codec(
    "a dict of set names to lists of counts (or lists of such lists)",
    lambda v: {
        k: (
            [FLOAT_ARRAY.encode(a) for a in c]
            if isinstance(c, list)
            else FLOAT_ARRAY.encode(c)
        )
        for k, c in v.items()
    },
    lambda v: (
        isinstance(v, dict)
        and all(
            isinstance(k, str)
            and (
                FLOAT_ARRAY.accepts(c)
                or (
                    isinstance(c, list) and c and all(FLOAT_ARRAY.accepts(a) for a in c)
                )
            )
            for k, c in v.items()
        )
    ),
    lambda v: {
        k: (
            FLOAT_ARRAY.build(c)
            if FLOAT_ARRAY.accepts(c)
            else [FLOAT_ARRAY.build(a) for a in c]
        )
        for k, c in v.items()
    },
)


#: One index array, or one per ensemble member (their validation folds).
INDEX_ARRAYS = Codec(
    "a list of integers, or a list of such lists",
    lambda v: (
        [INT_ARRAY.encode(a) for a in v] if isinstance(v, list) else INT_ARRAY.encode(v)
    ),
    lambda v: isinstance(v, list) and (_ints(v) or all(_ints(a) for a in v)),
    lambda v: INT_ARRAY.build(v) if _ints(v) else [INT_ARRAY.build(a) for a in v],
)


#: Largest label array rebuilt from a stored state (a guard against huge widths).
_MAX_LABEL_BYTES = 2**28


class _Labels:
    """Label arrays with their dtype, rebuilt from an allow-list of dtypes only.

    Strings (object or unicode arrays), booleans, integers, floats, and
    datetime64 / timedelta64 (stored as int64 counts of their unit).
    """

    _DTYPE = re.compile(
        r"\|b1|[<>|]?[iu][1248]|[<>|]?f[248]|[<>|]?U\d{1,6}|object"
        r"|[<>]?[mM]8(\[\d{0,3}[A-Za-z]{1,2}\])?"
    )
    _PYTHON_TYPE = {
        "O": str,
        "U": str,
        "b": bool,
        "i": int,
        "u": int,
        "f": (float, int),
    }

    def encode(self, value):
        arr = np.asarray(value)
        kind = arr.dtype.kind
        if kind == "O" and all(isinstance(v, str) for v in arr.tolist()):
            return {"dtype": "object", "values": arr.tolist()}
        if kind in "mM":
            return {"dtype": arr.dtype.str, "values": arr.view("i8").tolist()}
        if kind in "biufU":
            return {"dtype": arr.dtype.str, "values": encode_json(arr.tolist())}
        held = sorted({type(v).__name__ for v in arr.tolist()}) if kind == "O" else ""
        raise NotStorable(
            f"labels of strings, integers, floats, booleans or datetimes; got dtype "
            f"{arr.dtype}{f' holding {held}' if held else ''}"
        )

    def decode(self, data):
        if not isinstance(data, dict) or set(data) != {"dtype", "values"}:
            raise ValueError(
                f"an object with 'dtype' and 'values' was expected; got {_got(data)}"
            )
        dtype, values = data["dtype"], data["values"]
        if not isinstance(dtype, str) or not self._DTYPE.fullmatch(dtype):
            raise ValueError(f"has an unsupported dtype {str(dtype)[:40]!r}")
        if not isinstance(values, list):
            raise ValueError(f"values must be a list; got {_got(values)}")
        values = decode_json(values)
        try:
            np_dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"has an unsupported dtype {dtype!r}") from None
        if np_dtype.itemsize * len(values) > _MAX_LABEL_BYTES:
            raise ValueError(f"dtype {dtype!r} is too wide for {len(values)} labels")
        kind = np_dtype.kind
        expected = int if kind in "mM" else self._PYTHON_TYPE[kind]
        if not all(
            isinstance(v, expected) and (kind == "b" or not isinstance(v, bool))
            for v in values
        ):
            raise ValueError(f"values do not match dtype {dtype!r}")
        if kind == "O":
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            return arr
        try:
            if kind in "mM":
                return np.array(values, dtype=np.int64).view(np_dtype)
            arr = np.array(values, dtype=np_dtype)
        except (OverflowError, ValueError):
            raise ValueError(f"values do not fit dtype {dtype!r}") from None
        if kind != "f" and arr.tolist() != values:
            raise ValueError(f"values do not fit dtype {dtype!r}")
        return arr


#: Codec of the attributes that only pickle can carry (``state["objects"]``).
PICKLE_ONLY = None

LABELS = _Labels()


@dataclass(frozen=True)
class Field:
    """One fitted attribute: its name, codec and whether a fit may lack it."""

    name: str
    codec: Codec | None
    optional: bool = False


#: Every fitted attribute besides ``module_`` and ``_optimizer_state`` (which
#: are stored as tensors). The sampler attributes are optional because each
#: estimator has its own and load_model cannot restore them.
FIELDS = (
    Field("classes_", LABELS),
    Field("n_features_in_", INT),
    Field("feature_names_in_", LABELS, optional=True),
    Field("n_outputs_", INT),
    Field("history_", RECORDS),
    Field("n_iter_", COUNT),
    Field("n_steps_", COUNT),
    Field("best_epoch_", COUNT.or_none().per_member().or_none()),
    Field("best_validation_score_", FLOAT.or_none().per_member().or_none()),
    Field("stopped_reason_", STR.or_none()),
    Field("device_", DEVICE),
    Field("validation_indices_", INDEX_ARRAYS.or_none()),
    Field("geometry_", RECORD, optional=True),
    Field("class_counts_", COUNTS_RECORD, optional=True),
    Field("class_prior_", FLOAT_ARRAY, optional=True),
    Field("trained_prior_", FLOAT_ARRAY, optional=True),
    Field("_seed_entropy", COUNT),
    Field("_n_fits", INT),
    Field("inner_sampler_", PICKLE_ONLY, optional=True),
    Field("outer_sampler_", PICKLE_ONLY, optional=True),
    Field("sampler_", PICKLE_ONLY, optional=True),
    Field("inner_loss_", PICKLE_ONLY, optional=True),
    Field("outer_loss_", PICKLE_ONLY, optional=True),
    Field("loss_", PICKLE_ONLY, optional=True),
)
_BY_NAME = {f.name: f for f in FIELDS}
#: Every attribute the fitted state covers.
STATE_ATTRIBUTES = (*_BY_NAME, "module_", "_optimizer_state")


# ------------------------------------------------------------------ network
def _build_network(estimator, n_features, n_outputs):
    """The network for ``n_features`` / ``n_outputs``, as fit builds it, on the CPU.

    The global torch random state is left as it was.
    """
    with untouched_global_rng():
        members = estimator._build_members(n_features, n_outputs, torch.device("cpu"))
    net = members[0] if len(members) == 1 else Ensemble(members)
    return net.eval()


def _module_to_state(module):
    return {f"module.{k}": v.detach().cpu() for k, v in module.state_dict().items()}


def _module_from_state(net, tensors):
    """Load the ``module.*`` tensors into ``net``; anything missing, extra or of
    another shape or dtype is an error naming the tensor."""
    expected = {f"module.{k}": v for k, v in net.state_dict().items()}
    given = {k for k in tensors if not k.startswith("optimizer.")}
    missing, extra = sorted(set(expected) - given), sorted(given - set(expected))
    if missing or extra:
        raise StateError(
            "the tensors do not match the rebuilt network: missing "
            f"{missing[:10]!r}, unexpected {extra[:10]!r}"
        )
    for name, ref in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(ref.shape) or t.dtype != ref.dtype:
            raise StateError(
                f"tensor {name!r} has shape {tuple(t.shape)} and dtype {t.dtype}, "
                f"but the rebuilt network expects {tuple(ref.shape)} and {ref.dtype}"
            )
    prefix = len("module.")
    net.load_state_dict({k[prefix:]: tensors[k] for k in expected}, strict=True)


# ---------------------------------------------------------------- optimiser
_OPT_TENSOR = re.compile(r"optimizer\.(\d{1,9})\.([A-Za-z_]\w{0,63})")


def _optimizer_to_state(opt_state):
    """Split an optimiser ``state_dict`` into JSON and named CPU tensors.

    Returns ``(meta, tensors)``; ``(None, {})`` when there is no state or it
    holds values JSON cannot carry (momentum then restarts on a warm start).
    """
    if opt_state is None:
        return None, {}
    tensors, plain_state = {}, {}
    try:
        for idx, entries in opt_state["state"].items():
            plain = {}
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer.{int(idx)}.{key}"] = value.detach().cpu()
                else:
                    plain[key] = encode_json(value)
            plain_state[str(int(idx))] = plain
        groups = encode_json(opt_state["param_groups"])
    except NotStorable:
        return None, {}
    return {"param_groups": groups, "state": plain_state}, tensors


def _optimizer_from_state(meta, tensors, net):
    """Inverse of :func:`_optimizer_to_state`, checked against ``net``."""
    opt_tensors = {k: v for k, v in tensors.items() if k.startswith("optimizer.")}
    if meta is None:
        if opt_tensors:
            raise StateError("it has optimizer tensors but no optimizer state")
        return None
    if not isinstance(meta, dict) or set(meta) != {"param_groups", "state"}:
        raise StateError(
            "the optimizer state must be an object with 'param_groups' and 'state'; "
            f"got {_got(meta)}"
        )
    try:
        groups = decode_json(meta["param_groups"])
        if not isinstance(groups, list) or not isinstance(meta["state"], dict):
            raise ValueError("wrong types")
        state = {}
        for idx, plain in meta["state"].items():
            if not re.fullmatch(r"\d{1,9}", idx) or not isinstance(plain, dict):
                raise ValueError(f"bad state entry {idx[:20]!r}")
            state[int(idx)] = {k: decode_json(v) for k, v in plain.items()}
    except ValueError as exc:
        raise StateError(f"the optimizer state is malformed ({exc})") from None
    for name, value in opt_tensors.items():
        match = _OPT_TENSOR.fullmatch(name)
        if match is None:
            raise StateError(f"it has an unexpected tensor {name!r}")
        state.setdefault(int(match.group(1)), {})[match.group(2)] = value
    opt_state = {"state": state, "param_groups": groups}

    # Load into a throw-away SGD over the trainable parameters, as fit builds
    # it, so that a state which does not fit is refused now, not at refit.
    params = [p for p in net.parameters() if p.requires_grad]
    try:
        SGD(params, lr=0.1, momentum=0.9).load_state_dict(opt_state)
    except Exception as exc:
        raise StateError(
            f"the optimizer state does not fit the network ({type(exc).__name__}: "
            f"{exc})"
        ) from None
    where = dict(zip((i for g in groups for i in g["params"]), params))
    for idx, entries in state.items():
        if idx not in where:
            raise StateError(
                f"the optimizer state has an entry {idx} for none of the network's "
                f"{len(params)} trainable parameters"
            )
        buf, shape = entries.get("momentum_buffer"), tuple(where[idx].shape)
        if isinstance(buf, torch.Tensor) and tuple(buf.shape) != shape:
            raise StateError(
                f"tensor 'optimizer.{idx}.momentum_buffer' has shape "
                f"{tuple(buf.shape)}, but its parameter has shape {shape}"
            )
    return opt_state


# ----------------------------------------------------------------- protocol
def get_fitted_state(estimator):
    """The fitted state of ``estimator``: ``{"tensors", "meta", "objects"}``.

    Tensors are detached CPU tensors; those of a network on the CPU share
    memory with it, so copy them to keep them across further training. The
    live network is never moved.
    """
    check_is_fitted(estimator)
    meta, objects = {}, {}
    for field in FIELDS:
        if field.optional and not hasattr(estimator, field.name):
            continue
        value = getattr(estimator, field.name)
        if field.codec is PICKLE_ONLY:
            objects[field.name] = value
            continue
        try:
            meta[field.name] = field.codec.encode(value)
        except NotStorable as exc:
            raise NotStorable(f"fitted attribute {field.name!r}: {exc}") from None
    tensors = _module_to_state(estimator.module_)
    meta["_optimizer_state"], opt_tensors = _optimizer_to_state(
        getattr(estimator, "_optimizer_state", None)
    )
    tensors.update(opt_tensors)
    return {"tensors": tensors, "meta": meta, "objects": objects}


def _decode_meta(meta):
    if not isinstance(meta, dict):
        raise StateError(f"the fitted metadata must be a dict; got {_got(meta)}")
    unknown = sorted(set(meta) - set(_BY_NAME) - {"_optimizer_state"})
    if unknown:
        raise StateError(f"it has unknown fitted attributes {unknown[:10]!r}")
    values = {}
    for field in FIELDS:
        if field.codec is PICKLE_ONLY:
            if field.name in meta:
                raise StateError(f"fitted attribute {field.name!r} cannot be stored")
            continue
        if field.name not in meta:
            if field.optional:
                continue
            raise StateError(f"it has no fitted attribute {field.name!r}")
        try:
            values[field.name] = field.codec.decode(meta[field.name])
        except ValueError as exc:
            raise StateError(f"fitted attribute {field.name!r}: {exc}") from None
    if "_optimizer_state" not in meta:
        raise StateError("it has no '_optimizer_state' entry")
    _check_consistency(values)
    return values


def _check_consistency(values):
    classes = values["classes_"]
    n_classes, n_outputs = classes.shape[0], values["n_outputs_"]
    if n_classes < 2 or np.unique(classes).shape[0] != n_classes:
        raise StateError(
            f"classes_ must hold at least two distinct labels; got {n_classes} "
            f"labels, {np.unique(classes).shape[0]} distinct"
        )
    if not np.array_equal(np.sort(classes), classes):
        raise StateError("classes_ are not sorted")
    if n_outputs != (1 if n_classes == 2 else n_classes):
        raise StateError(
            f"n_outputs_={n_outputs} does not fit {n_classes} classes (expected "
            f"{1 if n_classes == 2 else n_classes})"
        )
    names = values.get("feature_names_in_")
    if names is not None and names.shape[0] != values["n_features_in_"]:
        raise StateError(
            f"feature_names_in_ has {names.shape[0]} names for n_features_in_="
            f"{values['n_features_in_']}"
        )


def set_fitted_state(estimator, state):
    """Restore a state made by :func:`get_fitted_state` into ``estimator``.

    The network is rebuilt from the estimator's parameters (``module``,
    ``hidden_layer_sizes``, ``dropout``, ``n_estimators``), on the CPU; its
    tensors are loaded strictly. Nothing is set until everything has been
    checked. Raises :class:`StateError` naming the first problem found.
    """
    if not isinstance(state, dict) or not {"tensors", "meta"} <= set(state):
        raise StateError(
            f"a fitted state must be a dict with 'tensors' and 'meta'; got {_got(state)}"
        )
    tensors, meta = state["tensors"], state["meta"]
    objects = state.get("objects", {})
    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise StateError("the state's tensors must be a dict of name -> tensor")
    if not isinstance(objects, dict):
        raise StateError(f"the state's objects must be a dict; got {_got(objects)}")
    unknown = sorted(
        k for k in objects if k not in _BY_NAME or _BY_NAME[k].codec is not PICKLE_ONLY
    )
    if unknown:
        raise StateError(f"it has unknown fitted objects {unknown[:10]!r}")
    values = _decode_meta(meta)

    net = _build_network(estimator, values["n_features_in_"], values["n_outputs_"])
    _module_from_state(net, tensors)
    opt_state = _optimizer_from_state(meta["_optimizer_state"], tensors, net)

    for name in _BY_NAME:
        if name not in values and name not in objects and hasattr(estimator, name):
            delattr(estimator, name)
    for name, value in {**values, **objects}.items():
        setattr(estimator, name, value)
    estimator.module_ = net
    estimator._optimizer_state = opt_state
