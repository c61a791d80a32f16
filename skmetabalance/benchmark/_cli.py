"""``python -m skmetabalance.benchmark``: the bundled suite, end to end."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from numbers import Integral
from pathlib import Path

import pandas as pd
from sklearn.utils._param_validation import Interval, RealNotInt, validate_params

from ._compare import execute, plan_tasks
from ._models import (
    ANCHOR_INSTALL,
    ANCHOR_MODELS,
    DEFAULT_MODELS,
    EPOCH_PARAMETERS,
    MODEL_DESCRIPTIONS,
    MODEL_NAMES,
    NETWORK_SETTINGS,
    anchors_available,
    build_model,
)
from ._report import plot_scores, summarize, write_summary

__all__ = ["main", "run_benchmark"]

#: Data sets of the default (quick) run: small and medium binary sets.
QUICK_DATASETS = (
    "yeast_me2",
    "wine_quality",
    "car_eval_4",
    "abalone_19",
    "page_blocks0",
)
#: Splits per data set in the quick run and with ``--full``.
QUICK_REPEATS = 3
FULL_REPEATS = 5
DEFAULT_OUTPUT = "skmetabalance-benchmark"
#: Most worker processes started by default.
MAX_DEFAULT_JOBS = 8


def _split_names(values):
    names = []
    for value in values or ():
        names += [v.strip() for v in value.split(",") if v.strip()]
    return list(dict.fromkeys(names))


def _default_n_jobs():
    from joblib import cpu_count

    return max(1, min(cpu_count(), MAX_DEFAULT_JOBS))


@validate_params(
    {
        "datasets": [list, tuple, None],
        "models": [list, tuple, None],
        "full": ["boolean"],
        "repeats": [Interval(Integral, 1, None, closed="left"), None],
        "output": [str, os.PathLike],
        "device": [str, None],
        "n_jobs": [Integral, None],
        "test_size": [Interval(RealNotInt, 0, 1, closed="neither")],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "progress": ["boolean"],
        "plot": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "estimators": [dict, None],
    },
    prefer_skip_nested_validation=True,
)
def run_benchmark(
    *,
    datasets=None,
    models=None,
    full=False,
    repeats=None,
    output=DEFAULT_OUTPUT,
    device=None,
    n_jobs=None,
    test_size=0.3,
    seed=0,
    progress=True,
    plot=True,
    max_iter=None,
    estimators=None,
):
    """Run models on the bundled data sets and write the results to ``output``.

    What ``python -m skmetabalance.benchmark`` does: :func:`compare` on each
    data set (every (model, split) fit in one pool of worker processes), then
    ``results.csv``, the Markdown report ``summary.md`` and the figure
    ``scores.png`` (:func:`plot_scores`).

    Parameters
    ----------
    datasets : list of str or None
        Names from :func:`skmetabalance.datasets.list_datasets`. None: the
        quick selection, or every data set of the ``"suite"`` group when
        ``full``.
    models : list of str or None
        Built-in model names; ``'all'`` stands for every built-in model. None
        runs every built-in model except the anchors ``'tabm'`` and
        ``'realmlp'`` (pytabkit's TabM and RealMLP, with their defaults),
        which run only when named: they need the optional package pytabkit
        (``pip install "skmetabalance[anchors]"``) and are slow on a CPU
        (minutes per fit of a 1,500-row data set on two cores).
    full : bool
        Every data set and ``FULL_REPEATS`` splits.
    repeats : int or None
        Splits per data set (overrides the default of ``full``).
    output : str or path
        Folder for ``results.csv``, ``summary.md``, ``scores.png`` and the
        ``cache`` of finished fits.
    device, n_jobs, test_size, seed
        As in :func:`compare` (``seed`` is its ``random_state``); ``n_jobs``
        None uses every core, at most 8.
    progress : bool
        Print one line per finished fit.
    plot : bool
        Draw ``scores.png`` (needs matplotlib).
    max_iter : int or None
        Overrides the epoch budget of every built-in network, the anchors'
        ``n_epochs`` included (for quick checks).
    estimators : dict or None
        Extra ``{name: estimator}`` to run; a built-in name is replaced by the
        given estimator (for example ``{"metabalance":
        MetaBalanceClassifier(early_stopping=True, tasks_per_step=8)}``).

    Returns
    -------
    results : DataFrame
        The rows of ``results.csv``, as :func:`compare` returns them;
        ``results.attrs["plot"]`` is the path of ``scores.png``, or None.

    Raises
    ------
    ImportError
        When ``models`` names an anchor and pytabkit is not installed.

    See Also
    --------
    compare : The same comparison on your own data.
    """
    from ..datasets import list_datasets, load_dataset

    catalogue = list_datasets().set_index("name")
    if datasets is None:
        # The full run covers the benchmark suite; the "study" group is kept
        # for the quality study and is run by naming its sets.
        suite = catalogue.index[catalogue["group"] == "suite"]
        datasets = list(suite) if full else list(QUICK_DATASETS)
    unknown = [d for d in datasets if d not in catalogue.index]
    if unknown:
        raise ValueError(
            f"Unknown data set(s) {unknown}; choose among {', '.join(catalogue.index)}."
        )
    extra = dict(estimators or {})
    if models is None:
        models = list(DEFAULT_MODELS)
    else:
        models = [
            m for name in models for m in (MODEL_NAMES if name == "all" else [name])
        ]
    models = list(dict.fromkeys(models))
    models += [m for m in extra if m not in models]
    unknown = [m for m in models if m not in MODEL_NAMES and m not in extra]
    if unknown:
        raise ValueError(
            f"Unknown model(s) {unknown}; choose among {', '.join(MODEL_NAMES)} "
            "or 'all'."
        )
    if repeats is None:
        repeats = FULL_REPEATS if full else QUICK_REPEATS
    if n_jobs is None:
        n_jobs = _default_n_jobs()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)

    estimators = {}
    for name in models:
        est = extra[name] if name in extra else build_model(name)
        if max_iter is not None and name in EPOCH_PARAMETERS:
            est.set_params(**{EPOCH_PARAMETERS[name]: int(max_iter)})
        estimators[name] = est

    tasks = []
    for name in datasets:
        bunch = load_dataset(name)
        tasks += plan_tasks(
            estimators,
            bunch.data,
            bunch.target,
            dataset_name=name,
            categorical_features=bunch.categorical_features,
            n_repeats=repeats,
            test_size=test_size,
            random_state=seed,
            device=device,
            cache_dir=output / "cache",
        )
    start = time.perf_counter()
    results = execute(tasks, n_jobs=n_jobs, progress=progress)
    elapsed = time.perf_counter() - start
    results.to_csv(output / "results.csv", index=False)

    import sklearn
    import torch

    from .. import __version__

    n_new = int((~results["cached"]).sum())
    notes = [
        f"Command options: data sets {', '.join(datasets)}; {repeats} stratified "
        f"train/test split(s) per data set (test share {test_size}, seeds {seed}.."
        f"{seed + repeats - 1}); device {device or 'as each model sets it'}; "
        f"{n_jobs} worker process(es).",
        f"This run fitted {n_new} model(s) in {elapsed:.0f} s of wall time.",
        f"skmetabalance {__version__}, scikit-learn {sklearn.__version__}, torch "
        f"{torch.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU core(s) visible.",
        "Preprocessing (fitted on the training rows only): StandardScaler on numeric "
        "columns, one-hot encoding on categorical columns.",
        "Every network: "
        + ", ".join(f"{k}={v!r}" for k, v in NETWORK_SETTINGS.items())
        + " (early stopping holds out a stratified validation split inside fit); "
        "otherwise each estimator's defaults.",
    ]
    anchors = [m for m in models if m in ANCHOR_MODELS and m not in extra]
    if anchors:
        from importlib.metadata import version

        notes.append(
            f"{' and '.join(anchors)}: pytabkit {version('pytabkit')} with its "
            "defaults, behind the same preprocessing; each holds out its own random "
            "20 % validation split of the training rows and uses the CPU threads of "
            "its worker process."
        )
    if max_iter is not None:
        notes.append(f"Every network limited to {max_iter} epoch(s).")
    write_summary(
        results,
        output / "summary.md",
        notes=notes,
        descriptions={
            **MODEL_DESCRIPTIONS,
            **{k: repr(v).replace("\n", " ") for k, v in extra.items()},
        },
        dataset_info=catalogue,
    )
    results.attrs["plot"] = None
    if plot:
        results.attrs["plot"] = plot_scores(results, output / "scores.png")
    return results


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m skmetabalance.benchmark",
        description=(
            "Compare MetaBalanceClassifier with re-balanced networks and classic "
            "models on the data sets shipped with skmetabalance, over repeated "
            "stratified train/test splits. Writes results.csv, summary.md and "
            "scores.png to --output; finished fits are cached there, so a rerun "
            "resumes where an interrupted one stopped."
        ),
        epilog=(
            "Anchors: tabm and realmlp (pytabkit's TabM and RealMLP with their "
            "defaults) run only when named, e.g. --models all or --models "
            "metabalance,hgb,tabm,realmlp. They need the optional package "
            f"pytabkit ({ANCHOR_INSTALL}) and are slow on a CPU (minutes per fit "
            "of a 1,500-row data set on two cores); --device cuda runs them on the "
            "GPU."
        ),
    )
    parser.add_argument(
        "--output",
        "-o",
        default=DEFAULT_OUTPUT,
        help=f"output folder (default: ./{DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"every data set and {FULL_REPEATS} splits (default: "
        f"{len(QUICK_DATASETS)} small and medium data sets, {QUICK_REPEATS} splits)",
    )
    parser.add_argument(
        "--datasets",
        "-d",
        action="append",
        metavar="NAMES",
        help="comma-separated data set names (see --list)",
    )
    parser.add_argument(
        "--models",
        "-m",
        action="append",
        metavar="NAMES",
        help=f"comma-separated model names among {', '.join(MODEL_NAMES)}, or "
        f"'all' (default: all but the anchors {', '.join(ANCHOR_MODELS)})",
    )
    parser.add_argument(
        "--repeats", "-r", type=int, help="train/test splits per data set"
    )
    parser.add_argument(
        "--device",
        help="device of the networks: auto, cpu, cuda, cuda:N (default: auto)",
    )
    parser.add_argument(
        "--n-jobs",
        "-j",
        type=int,
        help=f"parallel worker processes; -1 = all cores (default: all cores, at "
        f"most {MAX_DEFAULT_JOBS})",
    )
    parser.add_argument(
        "--test-size", type=float, default=0.3, help="share of each test split (0.3)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="split r uses seed SEED + r (default: 0)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-plot", action="store_true", help="do not draw scores.png")
    parser.add_argument(
        "--list", action="store_true", help="list the data sets and models, then exit"
    )
    # Shrinks the training budget of every network; meant for smoke tests.
    parser.add_argument("--max-iter", type=int, help=argparse.SUPPRESS)
    return parser


def _print_list():
    from ..datasets import list_datasets

    table = list_datasets()[
        ["name", "rows", "features", "minority share", "task", "group"]
    ]
    table = table.assign(
        quick=["yes" if n in QUICK_DATASETS else "" for n in table["name"]]
    )
    with pd.option_context("display.width", 120):
        print(
            table.to_string(index=False, formatters={"minority share": "{:.2%}".format})
        )
    print()
    for name, text in MODEL_DESCRIPTIONS.items():
        print(f"{name:13s} {text}")
    state = "installed" if anchors_available() else f"not installed: {ANCHOR_INSTALL}"
    print(
        f"\n{' and '.join(ANCHOR_MODELS)} run only when named in --models; they "
        f"need pytabkit ({state})."
    )


def main(argv=None):
    """Entry point of ``python -m skmetabalance.benchmark``."""
    args = _build_parser().parse_args(argv)
    if args.list:
        _print_list()
        return 0
    try:
        results = run_benchmark(
            datasets=_split_names(args.datasets) or None,
            models=_split_names(args.models) or None,
            full=args.full,
            repeats=args.repeats,
            output=args.output,
            device=args.device,
            n_jobs=args.n_jobs,
            test_size=args.test_size,
            seed=args.seed,
            progress=not args.no_progress,
            plot=not args.no_plot,
            max_iter=args.max_iter,
        )
    except (ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output)
    summary = summarize(results)
    cols = [
        "average_precision",
        "roc_auc",
        "balanced_accuracy",
        "g_mean",
        "mean_rank",
        "fit_time",
    ]
    with pd.option_context(
        "display.width", 120, "display.float_format", "{:.3f}".format
    ):
        print(summary[cols].sort_values("mean_rank").to_string())
    if not args.no_plot and not results.attrs.get("plot"):
        print("matplotlib is not installed: scores.png was not drawn.", file=sys.stderr)
    n_new = int((~results["cached"]).sum())
    n_failed = int((results["error"] != "").sum())
    print(
        f"\n{n_new} fit(s) run, {len(results) - n_new} read from the cache, "
        f"{n_failed} failed. Wrote {out / 'results.csv'}, {out / 'summary.md'}"
        + (f", {results.attrs['plot']}" if results.attrs.get("plot") else "")
        + "."
    )
    return 0
