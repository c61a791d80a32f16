"""Public docstrings document exactly the parameters their signatures take.

Every public class and function (the names in ``__all__`` of
:mod:`skmetabalance`, :mod:`skmetabalance.datasets`, :mod:`skmetabalance.benchmark` and
:mod:`skmetabalance.losses`) documents its parameters in the numpydoc
Parameters section, with the same names in the same order as its signature.
The estimators' prediction methods also document what they return, and every
fitted attribute is documented.
"""

import importlib
import inspect
import warnings

import numpy as np
import pytest

docscrape = pytest.importorskip(
    "numpydoc.docscrape", reason="numpydoc parses the docstrings"
)

PUBLIC_MODULES = [
    "skmetabalance",
    "skmetabalance.datasets",
    "skmetabalance.benchmark",
    "skmetabalance.losses",
]

#: Methods of the estimators that must document both their parameters and what
#: they return.
ESTIMATOR_METHODS = [
    "fit",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
]


def _public_objects():
    """(qualified name, object) for each public class and function."""
    objects = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                objects.append((f"{module_name}.{name}", obj))
    return objects


PUBLIC_OBJECTS = _public_objects()
ESTIMATORS = [
    (name, obj)
    for name, obj in PUBLIC_OBJECTS
    if inspect.isclass(obj) and hasattr(obj, "fit")
]


def _parse(obj, kind):
    """The numpydoc sections of ``obj``; any docscrape warning is an error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = kind(obj)
    assert not caught, f"{obj.__qualname__}: {caught[0].message}"
    return doc


def _documented_names(doc, section="Parameters"):
    """Names in a section; ``a, b : int`` documents both ``a`` and ``b``."""
    names = []
    for item in doc[section]:
        names.extend(part.strip() for part in item.name.split(","))
    return names


def _signature_names(func):
    names = []
    for param in inspect.signature(func).parameters.values():
        if param.name == "self":
            continue
        if param.kind is param.VAR_POSITIONAL:
            names.append(f"*{param.name}")
        elif param.kind is param.VAR_KEYWORD:
            names.append(f"**{param.name}")
        else:
            names.append(param.name)
    return names


def _check_parameters(func, doc, where):
    documented = _documented_names(doc) + _documented_names(doc, "Other Parameters")
    expected = _signature_names(func)
    assert documented == expected, (
        f"{where}: the docstring documents {documented}, the signature takes {expected}"
    )


def _own_public_methods(cls):
    """Public methods defined in skmetabalance (not inherited from elsewhere)."""
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_") and member.__module__.startswith("skmetabalance"):
            yield name, member


def test_public_objects_are_found():
    names = {name for name, _ in PUBLIC_OBJECTS}
    assert "skmetabalance.MetaBalanceClassifier" in names
    assert "skmetabalance.BalancedNetClassifier" in names
    assert "skmetabalance.datasets.load_dataset" in names
    assert {name for name, _ in ESTIMATORS} >= {
        "skmetabalance.MetaBalanceClassifier",
        "skmetabalance.BalancedNetClassifier",
    }


@pytest.mark.parametrize(
    "name, obj", PUBLIC_OBJECTS, ids=[name for name, _ in PUBLIC_OBJECTS]
)
def test_documented_parameters_match_the_signature(name, obj):
    if inspect.isclass(obj):
        _check_parameters(obj.__init__, _parse(obj, docscrape.ClassDoc), name)
        for method_name, method in _own_public_methods(obj):
            doc = _parse(method, docscrape.FunctionDoc)
            _check_parameters(method, doc, f"{name}.{method_name}")
    else:
        _check_parameters(obj, _parse(obj, docscrape.FunctionDoc), name)


@pytest.mark.parametrize("method_name", ESTIMATOR_METHODS)
@pytest.mark.parametrize(
    "name, cls", ESTIMATORS, ids=[name.rsplit(".", 1)[1] for name, _ in ESTIMATORS]
)
def test_estimator_methods_have_parameters_and_returns(name, cls, method_name):
    method = getattr(cls, method_name)
    doc = _parse(method, docscrape.FunctionDoc)
    where = f"{name}.{method_name}"
    assert doc["Summary"], f"{where} has no summary line"
    assert doc["Parameters"], f"{where} has no Parameters section"
    _check_parameters(method, doc, where)
    returns = doc["Returns"]
    assert returns, f"{where} has no Returns section"
    assert all(item.type and item.desc for item in returns), (
        f"{where}: each returned value needs a type and a description"
    )


@pytest.mark.parametrize(
    "name, cls", ESTIMATORS, ids=[name.rsplit(".", 1)[1] for name, _ in ESTIMATORS]
)
def test_fitted_attributes_are_documented(name, cls):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] > 0.8).astype(int)
    est = cls(max_iter=1, hidden_layer_sizes=(4,), random_state=0, device="cpu")
    est.fit(X, y)
    documented = set(_documented_names(_parse(cls, docscrape.ClassDoc), "Attributes"))
    fitted = {
        attr for attr in vars(est) if attr.endswith("_") and not attr.startswith("_")
    }
    assert fitted <= documented, f"{name}: undocumented {sorted(fitted - documented)}"
    # feature_names_in_ exists only after a fit on a DataFrame
    missing = documented - fitted - {"feature_names_in_"}
    assert not missing, f"{name}: documented but not set by fit: {sorted(missing)}"
