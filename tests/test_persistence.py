"""Pickling, and the pickle-free save_model / load_model format."""

import base64
import io
import json
import pickle
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import SMOTE
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.datasets import make_classification
from torch import nn

import skmetabalance
from skmetabalance import (
    BalancedNetClassifier,
    MetaBalanceClassifier,
    load_model,
    save_model,
)
from skmetabalance._persistence import _digest
from skmetabalance._state import FIELDS, INT_ARRAY, STATE_ATTRIBUTES, StateError

# One network unless a test asks for more (ensembles: test_ensemble.py).
SMALL = dict(max_iter=2, hidden_layer_sizes=(8,), random_state=0, n_estimators=1)


def _data(n_classes=2, n=90, seed=0):
    X, y = make_classification(
        n_samples=n,
        n_features=5,
        n_informative=3,
        n_classes=n_classes,
        weights=[0.7] + [0.3 / (n_classes - 1)] * (n_classes - 2)
        if n_classes > 2
        else [0.75],
        random_state=seed,
    )
    return X.astype(np.float32), y


class TinyNet(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, 6), nn.Tanh())
        self.head = nn.Linear(6, n_outputs)
        self.register_buffer("scale", torch.full((1,), 2.0))

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


@pytest.fixture(scope="module")
def binary_model():
    X, y = _data()
    return MetaBalanceClassifier(**SMALL).fit(X, y), X


@pytest.fixture
def saved(tmp_path, binary_model):
    clf, _ = binary_model
    path = tmp_path / "model.safetensors"
    save_model(clf, path)
    return path


def _assert_same_proba(a, b, X):
    pa, pb = a.predict_proba(X), b.predict_proba(X)
    assert pa.dtype == pb.dtype
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


# --------------------------------------------------------------------- pickle
@pytest.mark.parametrize("dumper", ["pickle", "joblib"])
def test_pickle_and_joblib_round_trip(binary_model, dumper, tmp_path):
    clf, X = binary_model
    if dumper == "pickle":
        other = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "m.joblib")
        other = joblib.load(tmp_path / "m.joblib")
    _assert_same_proba(clf, other, X)
    assert other.history_ == clf.history_


def test_getstate_holds_cpu_tensors_and_json_only(binary_model):
    clf, _ = binary_model
    state = clf.__getstate__()
    assert not set(STATE_ATTRIBUTES) & set(state)  # the state replaces them
    fitted = state["_fitted_state"]
    assert "optimizer.0.momentum_buffer" in fitted["tensors"]
    assert "module.0.weight" in fitted["tensors"]
    assert all(t.device.type == "cpu" for t in fitted["tensors"].values())
    json.dumps(fitted["meta"], allow_nan=False)  # plain JSON
    assert set(fitted["objects"]) == {
        "inner_sampler_",
        "outer_sampler_",
        "inner_loss_",
        "outer_loss_",
    }


def test_getstate_never_moves_the_live_module(binary_model):
    clf, X = binary_model
    other = pickle.loads(pickle.dumps(clf))
    moves = []
    other.module_._apply = lambda *args, **kwargs: moves.append(args)
    state = other.__getstate__()
    assert moves == []  # no .to() / .cpu() on the live network
    assert all(
        t.device.type == "cpu" for t in state["_fitted_state"]["tensors"].values()
    )
    del other.module_._apply
    _assert_same_proba(clf, pickle.loads(pickle.dumps(other)), X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_trained_model_loads_on_cpu(tmp_path):  # pragma: no cover - GPU only
    X, y = _data()
    clf = MetaBalanceClassifier(**SMALL, device="cuda").fit(X, y)
    data = pickle.dumps(clf)
    state = clf.__getstate__()["_fitted_state"]
    assert all(t.device.type == "cpu" for t in state["tensors"].values())
    assert next(clf.module_.parameters()).device.type == "cuda"
    assert clf._optimizer_state["state"][0]["momentum_buffer"].device.type == "cuda"
    unpickled = pickle.loads(data)
    assert next(unpickled.module_.parameters()).device.type == "cpu"
    assert unpickled.device_ == clf.device_  # the device it was trained on
    np.testing.assert_allclose(
        unpickled.predict_proba(X), clf.predict_proba(X), atol=1e-6
    )
    save_model(clf, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert next(loaded.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    # Both continue training on the GPU.
    for est in (unpickled, loaded):
        est.set_params(warm_start=True).fit(X, y)
        assert next(est.module_.parameters()).device.type == "cuda"
        assert est.n_iter_ == 2 * clf.n_iter_


# ---------------------------------------------------------- safe round trips
@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 7]),
        np.array([-1.0, 2.0]),
        np.array([False, True]),
        np.array(["no", "yes"], dtype=object),
    ],
    ids=["int", "float", "bool", "str"],
)
def test_binary_round_trip_label_dtypes(tmp_path, labels):
    X, y = _data()
    y_lab = labels[y]
    clf = MetaBalanceClassifier(**SMALL).fit(X, y_lab)
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    loaded = load_model(path)
    assert type(loaded) is MetaBalanceClassifier
    _assert_same_proba(clf, loaded, X)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.predict(X[:3]).dtype == clf.predict(X[:3]).dtype


def test_multiclass_string_labels_pandas_round_trip(tmp_path):
    X, y = _data(n_classes=3, n=120)
    df = pd.DataFrame(X, columns=[f"col_{i}" for i in range(X.shape[1])])
    labels = np.array(["ant", "bee", "cicada"])[y]
    clf = BalancedNetClassifier(
        **SMALL, class_weight={"ant": 1.0, "bee": 3.0, "cicada": 2.5}
    ).fit(df, labels)
    path = tmp_path / "m.safetensors"
    digest = save_model(clf, path)
    loaded = load_model(path, expected_sha256=digest)
    assert type(loaded) is BalancedNetClassifier
    _assert_same_proba(clf, loaded, df)
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    assert loaded.get_params() == clf.get_params()
    assert loaded.history_ == clf.history_
    assert loaded.n_iter_ == clf.n_iter_ and loaded.n_steps_ == clf.n_steps_
    assert loaded.n_features_in_ == 5 and loaded.n_outputs_ == 3
    # The stored feature names are checked at predict time.
    renamed = df.rename(columns={"col_0": "other"})
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(renamed)


def test_int_keyed_class_weight_and_tuple_params_round_trip(tmp_path):
    X, y = _data()
    clf = BalancedNetClassifier(
        max_iter=2,
        hidden_layer_sizes=(4, 3),
        class_weight={0: 1.0, 1: 4.0},
        random_state=1,
        device=torch.device("cpu"),
    ).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is reset
        loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.class_weight == {0: 1.0, 1: 4.0}
    assert loaded.hidden_layer_sizes == (4, 3)
    assert loaded.device == "cpu"
    _assert_same_proba(clf, loaded, X)


def test_custom_module_must_be_resupplied(tmp_path):
    X, y = _data(n_classes=3, n=120)
    clf = MetaBalanceClassifier(TinyNet, max_iter=2, random_state=0).fit(X, y)
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    with open(path, "rb") as fh:
        assert b"TinyNet" in fh.read()  # recorded by name, for information
    with pytest.raises(ValueError, match=r"custom module factory.*module="):
        load_model(path)
    loaded = load_model(path, module=TinyNet)
    # the default ensemble: every member rebuilt by the factory
    assert len(loaded.module_) == 4
    assert all(isinstance(member, TinyNet) for member in loaded.module_)
    _assert_same_proba(clf, loaded, X)
    # A factory building a different network is refused, naming the tensors.
    with pytest.raises(ValueError, match="do not match the rebuilt network"):
        load_model(path, module=lambda n, k: nn.Linear(n, k))


def test_object_parameters_reset_with_warning(tmp_path):
    X, y = _data()
    clf = MetaBalanceClassifier(**SMALL, outer_sampler=SMOTE(k_neighbors=2)).fit(X, y)
    save_model(clf, tmp_path / "m.safetensors")
    with pytest.warns(UserWarning, match=r"outer_sampler=SMOTE\(k_neighbors=2\)"):
        loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.outer_sampler == MetaBalanceClassifier().outer_sampler
    _assert_same_proba(clf, loaded, X)


def _round_trip(est, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(est))
    save_model(est, tmp_path / "m.safetensors")
    return load_model(tmp_path / "m.safetensors")


@pytest.mark.parametrize("how", ["save_model", "pickle"])
@pytest.mark.parametrize("cls", [MetaBalanceClassifier, BalancedNetClassifier])
def test_warm_start_continues_like_the_original(tmp_path, how, cls):
    X, y = _data()
    clf = cls(**SMALL, warm_start=True).fit(X, y)
    loaded = _round_trip(clf, how, tmp_path)
    assert loaded.warm_start
    clf.fit(X, y)
    loaded.fit(X, y)
    assert loaded.n_steps_ == clf.n_steps_ == 2 * clf.history_[1]["steps"]
    assert len(loaded.history_) == len(clf.history_) == 4
    _assert_same_proba(clf, loaded, X)


# ------------------------------------------------------- the fitted state
def _assert_same_state(a, b, objects=True):
    assert a["tensors"].keys() == b["tensors"].keys()
    for name, t in a["tensors"].items():
        assert t.dtype == b["tensors"][name].dtype, name
        assert torch.equal(t, b["tensors"][name]), name
    assert a["meta"] == b["meta"]
    if objects:
        assert a["objects"].keys() == b["objects"].keys()


@pytest.mark.parametrize("how", ["save_model", "pickle"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: MetaBalanceClassifier(**SMALL, inner_sampler="under"),
        lambda: BalancedNetClassifier(**SMALL, sampler="smote", early_stopping=True),
    ],
    ids=["meta", "plain"],
)
def test_round_trip_gives_the_same_fitted_state(tmp_path, how, make):
    X, y = _data(n_classes=3, n=150)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = make().fit(df, np.array(["a", "b", "c"])[y])
    state = clf._get_fitted_state()
    assert {"classes_", "feature_names_in_", "history_", "_optimizer_state"} <= set(
        state["meta"]
    )
    other = _round_trip(clf, how, tmp_path)
    # Pickle carries the fitted sampler clones; a model file cannot.
    _assert_same_state(state, other._get_fitted_state(), objects=how == "pickle")
    if how == "save_model":
        assert other._get_fitted_state()["objects"] == {}
    # ... and restoring a state into a fresh estimator gives it back again.
    fresh = type(clf)(**clf.get_params())
    fresh._set_fitted_state(state)
    _assert_same_state(state, fresh._get_fitted_state())
    _assert_same_proba(clf, fresh, df)


def test_every_fitted_attribute_is_in_the_state():
    X, y = _data()
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    for est in (MetaBalanceClassifier(**SMALL), BalancedNetClassifier(**SMALL)):
        unfitted = set(vars(est))
        est.fit(df, y)
        assert set(vars(est)) - unfitted <= set(STATE_ATTRIBUTES)
        other = pickle.loads(pickle.dumps(est))
        assert set(vars(other)) == set(vars(est))


def test_fitted_sampler_clones_survive_pickle(tmp_path):
    X, y = _data()
    clf = MetaBalanceClassifier(
        **SMALL, inner_sampler=SMOTE(k_neighbors=2), outer_sampler="under"
    ).fit(X, y)
    other = pickle.loads(pickle.dumps(clf))
    for name in ("inner_sampler_", "outer_sampler_"):
        a, b = getattr(clf, name), getattr(other, name)
        assert type(a) is type(b) and a is not b
        assert a.get_params() == b.get_params()
        assert a.random_state is not None  # seeded at fit, and kept
    np.testing.assert_array_equal(
        other.outer_sampler_.sample_indices_, clf.outer_sampler_.sample_indices_
    )
    plain = BalancedNetClassifier(**SMALL, sampler="over").fit(X, y)
    again = pickle.loads(pickle.dumps(plain))
    np.testing.assert_array_equal(
        again.sampler_.sample_indices_, plain.sampler_.sample_indices_
    )
    # A model file records them as text only, and load_model leaves them unset.
    save_model(clf, tmp_path / "m.safetensors")
    doc = json.loads(_read(tmp_path / "m.safetensors")[0]["content"])
    assert doc["unstored_attributes"]["inner_sampler_"].startswith("SMOTE(")
    with pytest.warns(UserWarning, match="inner_sampler"):
        loaded = load_model(tmp_path / "m.safetensors")
    assert not hasattr(loaded, "inner_sampler_")
    assert not hasattr(loaded, "outer_sampler_")


@pytest.mark.parametrize("how", ["save_model", "pickle"])
def test_datetime_labels_round_trip(tmp_path, how):
    X, y = _data()
    labels = np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]")[y]
    clf = BalancedNetClassifier(**SMALL).fit(X, labels)
    other = _round_trip(clf, how, tmp_path)
    assert other.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(other.predict(X), clf.predict(X))


class PartlyFrozen(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.embed = nn.Linear(n_features, 4)
        self.embed.requires_grad_(False)
        self.head = nn.Linear(4, n_outputs)

    def forward(self, x):
        return self.head(torch.relu(self.embed(x)))


@pytest.mark.parametrize("how", ["save_model", "pickle"])
def test_partly_frozen_network_round_trip_and_warm_start(tmp_path, how):
    X, y = _data()
    clf = MetaBalanceClassifier(PartlyFrozen, **SMALL, warm_start=True).fit(X, y)
    if how == "pickle":
        other = pickle.loads(pickle.dumps(clf))
    else:
        save_model(clf, tmp_path / "m.safetensors")
        other = load_model(tmp_path / "m.safetensors", module=PartlyFrozen)
    assert len(other._optimizer_state["state"]) == 2  # the head's two tensors
    clf.fit(X, y)
    other.fit(X, y)
    _assert_same_proba(clf, other, X)


def test_set_fitted_state_refuses_bad_states_naming_the_part(binary_model):
    clf, _ = binary_model
    state = clf._get_fitted_state()

    def refused(change, match):
        bad = {**state, "meta": dict(state["meta"]), "tensors": dict(state["tensors"])}
        change(bad)
        with pytest.raises(StateError, match=match):
            MetaBalanceClassifier(**SMALL)._set_fitted_state(bad)

    refused(lambda s: s["meta"].update(n_iter_="3"), r"'n_iter_'.*integer.*got '3'")
    refused(lambda s: s["meta"].update(device_="gpu"), r"'device_'.*got 'gpu'")
    refused(lambda s: s["meta"].pop("history_"), "no fitted attribute 'history_'")
    refused(
        lambda s: s["meta"].update(secret_=1),
        r"unknown fitted attributes \['secret_'\]",
    )
    refused(lambda s: s["meta"].update(n_outputs_=2), "n_outputs_=2 does not fit 2")
    refused(
        lambda s: s["tensors"].update({"module.0.weight": torch.zeros(9, 3)}),
        "'module.0.weight' has shape",
    )
    refused(lambda s: s["tensors"].pop("module.2.bias"), r"missing \[.module.2.bias.\]")
    refused(lambda s: s.update(objects={"evil_": 1}), r"unknown fitted objects")
    refused(
        lambda s: s["meta"].update(_optimizer_state=None),
        "optimizer tensors but no optimizer state",
    )


def test_get_fitted_state_needs_a_fitted_estimator():
    with pytest.raises(ValueError, match="not fitted"):
        MetaBalanceClassifier()._get_fitted_state()


def test_state_table_is_data_driven():
    names = [f.name for f in FIELDS]
    assert len(names) == len(set(names))
    # The index-array codec, for attributes such as validation row indices.
    idx = np.array([3, 0, 7], dtype=np.int64)
    back = INT_ARRAY.decode(json.loads(json.dumps(INT_ARRAY.encode(idx))))
    np.testing.assert_array_equal(back, idx)
    assert back.dtype == np.intp
    with pytest.raises(ValueError, match="list of integers was expected; got"):
        INT_ARRAY.decode([1.5])


def test_load_leaves_global_rng_and_directory_clean(saved):
    before = torch.random.get_rng_state()
    load_model(saved)
    assert torch.equal(before, torch.random.get_rng_state())
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.safetensors"]


def test_save_refuses_unfitted_and_foreign_estimators(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        save_model(MetaBalanceClassifier(), tmp_path / "m.safetensors")

    class Sub(MetaBalanceClassifier):
        pass

    with pytest.raises(TypeError, match="Sub"):
        save_model(Sub(), tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


def test_arguments_are_validated_naming_the_parameter(saved, tmp_path):
    with pytest.raises(TypeError, match=r"'estimator' parameter of save_model"):
        save_model("model", tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match=r"'path' parameter of load_model.*Got 3"):
        load_model(3)
    with pytest.raises(TypeError, match=r"'expected_sha256' parameter.*Got 12"):
        load_model(saved, expected_sha256=12)
    with pytest.raises(TypeError, match=r"'module' parameter of load_model"):
        load_model(saved, module="TinyNet")
    with pytest.raises(TypeError, match=r"not a module instance.*TinyNet"):
        load_model(saved, module=TinyNet(5, 1))


# ------------------------------------------------------------ refused files
def _read(path):
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}


def _rewrite(path, *, content=None, tensors=None, metadata=None, rehash=True):
    """Write a modified copy of a model file, as a careful forger would."""
    meta, tens = _read(path)
    if content is not None:
        doc = json.loads(meta["content"])
        content(doc)
        meta["content"] = json.dumps(doc)
    if tensors is not None:
        tensors(tens)
    if metadata is not None:
        metadata(meta)
    if rehash:
        meta["sha256"] = _digest(tens, meta["content"])
    out = path.with_name("forged.safetensors")
    save_file(tens, str(out), metadata=meta)
    return out


def _refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        load_model(path)
    assert str(path.name) in str(info.value)
    return info


@pytest.mark.parametrize("version", ["1", "3"])
def test_refuses_wrong_format_version(saved, version):
    forged = _rewrite(saved, metadata=lambda m: m.update(format_version=version))
    _refused(
        forged, f"format version '{version}' is not supported.*reads format version '2'"
    )


def test_refuses_other_safetensors_files(saved):
    path = saved.with_name("plain.safetensors")
    save_file({"w": torch.zeros(2)}, str(path))
    _refused(path, "not a skmetabalance model file")


def test_refuses_unknown_estimator_class_without_importing(saved):
    name = "evil_pkg_never_imported.Backdoor"
    forged = _rewrite(saved, content=lambda d: d.update(estimator=name))
    _refused(forged, "not one of")
    assert "evil_pkg_never_imported" not in sys.modules


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.pop("module.0.weight"), "missing"),
        (lambda t: t.update({"module.9.weight": torch.zeros(2, 2)}), "unexpected"),
        (lambda t: t.update({"extra": torch.zeros(1)}), "unexpected"),
        (lambda t: t.update({"module.0.weight": torch.zeros(8, 4)}), "shape"),
        (
            lambda t: t.update({"module.0.bias": torch.zeros(8, dtype=torch.float64)}),
            "dtype",
        ),
        (
            lambda t: t.update({"optimizer.0.momentum_buffer": torch.zeros(3)}),
            "momentum",
        ),
    ],
    ids=["missing", "extra-module", "extra-other", "shape", "dtype", "optimizer"],
)
def test_refuses_tensors_that_do_not_fit(saved, change, match):
    _refused(_rewrite(saved, tensors=change), match)


def test_refuses_mismatched_metadata(saved):
    forged = _rewrite(saved, content=lambda d: d["fitted"].update(n_features_in_=6))
    _refused(forged, "shape")
    forged = _rewrite(
        saved, content=lambda d: d["fitted"]["classes_"].update(values=[1, 0])
    )
    _refused(forged, "not sorted")
    forged = _rewrite(saved, content=lambda d: d["fitted"].update(n_iter_="2"))
    _refused(forged, r"fitted attribute 'n_iter_': an integer >= 0 was expected")
    forged = _rewrite(saved, content=lambda d: d["fitted"].update(inner_sampler_=1))
    _refused(forged, "'inner_sampler_' cannot be stored")
    forged = _rewrite(saved, content=lambda d: d.pop("fitted"))
    _refused(forged, "fitted metadata must be a dict; got None")
    forged = _rewrite(saved, content=lambda d: d["params"].update(lr=-1.0))
    _refused(forged, "parameters are invalid")
    forged = _rewrite(saved, content=lambda d: d["params"].update(no_such_param=1))
    _refused(forged, "no_such_param")
    forged = _rewrite(
        saved, content=lambda d: d["fitted"]["classes_"].update(dtype="V8")
    )
    _refused(forged, "unsupported dtype")


def test_refuses_metadata_that_is_not_json(saved):
    forged = _rewrite(saved, metadata=lambda m: m.update(content="{'not': json"))
    _refused(forged, "not valid JSON")
    forged = _rewrite(saved, metadata=lambda m: m.update(content='{"n": NaN}'))
    _refused(forged, "not valid JSON")


def test_stored_hash_is_optional(saved, binary_model):
    clf, X = binary_model
    unhashed = _rewrite(saved, metadata=lambda m: m.pop("sha256"), rehash=False)
    _assert_same_proba(clf, load_model(unhashed), X)
    digest = _read(saved)[0]["sha256"]
    load_model(unhashed, expected_sha256=digest)  # still checkable on request


def test_refuses_hash_mismatch(saved):
    forged = _rewrite(
        saved, tensors=lambda t: t["module.0.weight"].add_(1.0), rehash=False
    )
    _refused(forged, "hash does not match")
    # A forger who recomputes the stored hash is caught by expected_sha256.
    digest = _read(saved)[0]["sha256"]
    forged = _rewrite(saved, tensors=lambda t: t["module.0.weight"].add_(1.0))
    load_model(forged)  # internally consistent ...
    with pytest.raises(ValueError, match="differs from expected_sha256"):
        load_model(forged, expected_sha256=digest)  # ... but not the published file
    with pytest.raises(ValueError, match="expected_sha256 must be"):
        load_model(saved, expected_sha256="abc")


@pytest.mark.parametrize("where", ["header", "tensor-bytes", "truncated"])
def test_refuses_corrupted_bytes(saved, where):
    data = bytearray(saved.read_bytes())
    if where == "header":
        data[10:14] = b"\xff\xfe\x00\x01"
    elif where == "tensor-bytes":
        data[-5] ^= 0xFF
    else:
        data = data[: len(data) // 2]
    saved.write_bytes(bytes(data))
    _refused(saved, "could not be read|hash does not match")


class _Payload:
    """Unpickling this object would create the sentinel file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_payloads_are_never_executed(saved, tmp_path):
    sentinel = tmp_path / "sentinel"
    payload = pickle.dumps(_Payload(sentinel))
    # 1. A pickle file handed to load_model.
    bad = tmp_path / "model.pkl"
    bad.write_bytes(payload)
    _refused(bad, "could not be read")
    # 2. A pickle hidden in the metadata, as a tagged value and as a parameter.
    encoded = base64.b64encode(payload).decode()
    forged = _rewrite(
        saved, content=lambda d: d["params"].update(scoring={"__pickle__": encoded})
    )
    _refused(forged, "malformed")
    forged = _rewrite(saved, metadata=lambda m: m.update(content=encoded))
    _refused(forged, "not valid JSON")
    forged = _rewrite(saved, content=lambda d: d["params"].update(scoring=encoded))
    _refused(forged, "parameters are invalid")
    # 3. The pickle stored as a tensor.
    forged = _rewrite(
        saved,
        tensors=lambda t: t.update(
            {"module.payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8)}
        ),
    )
    _refused(forged, "unexpected")
    assert not sentinel.exists()
    # The payload does fire under pickle, which is why pickles must be trusted.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pickle.load(io.BytesIO(payload)).close()
    assert sentinel.exists()


def test_public_names():
    assert {"save_model", "load_model"} <= set(skmetabalance.__all__)
