"""Tables, the Markdown summary and the figure of a benchmark run."""

from __future__ import annotations

import math
import os
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._compare import METRICS

__all__ = ["summarize", "score_table", "plot_scores"]

_RESULTS = [pd.DataFrame]
_METRIC = [StrOptions(set(METRICS))]

METRIC_LABELS = {
    "average_precision": "average precision",
    "roc_auc": "ROC AUC",
    "balanced_accuracy": "balanced accuracy",
    "g_mean": "G-mean",
}


def _ordered(values):
    return list(dict.fromkeys(values))


def _ok(results):
    return results[results["error"].fillna("") == ""]


def _mean_scores(results, metric="average_precision"):
    """Data sets x models table of the mean score over splits."""
    ok = _ok(results)
    table = ok.pivot_table(
        index="dataset", columns="model", values=metric, aggfunc="mean"
    )
    return table.reindex(
        index=_ordered(results["dataset"]), columns=_ordered(results["model"])
    )


def _rank_table(results, metric="average_precision"):
    """Rank of each model on each data set by mean score (1 = best; ties share)."""
    means = _mean_scores(results, metric)
    return means.rank(axis=1, ascending=False, method="average", na_option="bottom")


@validate_params(
    {
        "results": _RESULTS,
        "metric": _METRIC,
        "digits": [Interval(Integral, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def score_table(results, metric="average_precision", digits=3):
    """Data sets x models table of ``"mean ± std"`` of a metric over the splits.

    Parameters
    ----------
    results : DataFrame
        As returned by :func:`compare` (one or several data sets).
    metric : str, default='average_precision'
        One of ``'average_precision'``, ``'roc_auc'``, ``'balanced_accuracy'``
        and ``'g_mean'``.
    digits : int, default=3
        Decimals shown.

    Returns
    -------
    table : DataFrame of str
        Indexed by data set, one column per model; ``"failed"`` where every
        split of a model failed on a data set.
    """
    ok = _ok(results)
    grouped = ok.groupby(["dataset", "model"])[metric]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    table = pd.DataFrame(
        index=_ordered(results["dataset"]),
        columns=_ordered(results["model"]),
        dtype=object,
    )
    for (d, m), value in mean.items():
        s = std.loc[(d, m)]
        spread = "" if not np.isfinite(s) else f" ± {s:.{digits}f}"
        table.loc[d, m] = f"{value:.{digits}f}{spread}"
    return table.fillna("failed")


@validate_params(
    {"results": _RESULTS, "metric": _METRIC}, prefer_skip_nested_validation=True
)
def summarize(results, metric="average_precision"):
    """One row per model: mean of every metric over data sets, rank, time.

    Parameters
    ----------
    results : DataFrame
        As returned by :func:`compare` (one or several data sets).
    metric : str, default='average_precision'
        The metric that ranks the models.

    Returns
    -------
    summary : DataFrame
        Indexed by model, with the mean over data sets of each metric's
        per-data-set mean, ``mean_rank`` (by ``metric``, 1 = best),
        ``wins`` (data sets where the model has the best mean ``metric``),
        ``fit_time`` (mean seconds per fit), ``n_fits`` and ``n_failed``. The
        means are NaN for a model that failed on every split of a data set
        (it is ranked last there).

    See Also
    --------
    compare : The results summarised here.
    score_table : Mean ± std per data set and model.
    """
    models = _ordered(results["model"])
    out = pd.DataFrame(index=pd.Index(models, name="model"))
    for m in METRICS:
        # NaN when a data set failed: a mean over fewer sets is not comparable.
        out[m] = _mean_scores(results, m).mean(axis=0, skipna=False)
    ranks = _rank_table(results, metric)
    out["mean_rank"] = ranks.mean(axis=0)
    out["wins"] = (ranks <= 1.0).sum(axis=0).astype(int)
    ok = _ok(results)
    out["fit_time"] = ok.groupby("model")["fit_time"].mean()
    out["n_fits"] = results.groupby("model").size()
    out["n_failed"] = (
        (results["error"].fillna("") != "").groupby(results["model"]).sum()
    )
    out["n_failed"] = out["n_failed"].astype(int)
    return out


def _md_table(header, rows):
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value, digits=3):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def write_summary(
    results,
    path,
    *,
    metric="average_precision",
    title="skmetabalance benchmark",
    notes=(),
    descriptions=None,
    dataset_info=None,
    reference="metabalance",
):
    """Write the Markdown report of a benchmark run (``summary.md``) to ``path``."""
    label = METRIC_LABELS.get(metric, metric)
    models = _ordered(results["model"])
    datasets = _ordered(results["dataset"])
    n_splits = results.groupby(["dataset", "model"]).size()
    parts = [f"# {title}", ""]
    parts += [f"* {n}" for n in notes]
    parts += [
        f"* {len(datasets)} data set(s), {len(models)} model(s), "
        f"{int(n_splits.max()) if len(n_splits) else 0} split(s) per pair; "
        f"{int(results['cached'].sum())} of {len(results)} results read from the cache.",
        "",
        f"## {label.capitalize()} (mean ± std over the test splits)",
        "",
        "Best mean per data set in bold. A model that failed on a data set has no "
        "mean score and is ranked last there.",
        "",
    ]
    strings = score_table(results, metric)
    means = _mean_scores(results, metric)
    ranks = _rank_table(results, metric)
    info_cols = []
    if dataset_info is not None:
        info_cols = [c for c in ("rows", "minority share") if c in dataset_info.columns]
    rows = []
    for d in datasets:
        best = means.loc[d].max()
        cells = []
        for m in models:
            text = strings.loc[d, m]
            if np.isfinite(means.loc[d, m]) and means.loc[d, m] == best:
                text = f"**{text}**"
            cells.append(text)
        extra = []
        for c in info_cols:
            v = dataset_info.loc[d, c] if d in dataset_info.index else math.nan
            extra.append(f"{v:.1%}" if c == "minority share" else f"{int(v):,}")
        rows.append([d, *extra, *cells])
    pad = [""] * len(info_cols)
    rows.append(
        [
            f"**mean {label}**",
            *pad,
            *(_fmt(v) for v in means.mean(axis=0, skipna=False)),
        ]
    )
    rows.append(["**mean rank**", *pad, *(_fmt(v, 2) for v in ranks.mean(axis=0))])
    parts.append(_md_table(["dataset", *info_cols, *models], rows))
    parts += ["", "## Every metric, averaged over data sets", ""]
    summary = summarize(results, metric)
    header = [
        "model",
        *(METRIC_LABELS[m] for m in METRICS),
        f"mean rank ({label})",
        "data sets won",
        "fit time (s per fit)",
        "failed fits",
    ]
    rows = []
    for m in summary.sort_values("mean_rank").index:
        r = summary.loc[m]
        rows.append(
            [
                m,
                *(_fmt(r[k]) for k in METRICS),
                _fmt(r["mean_rank"], 2),
                int(r["wins"]),
                _fmt(r["fit_time"], 2),
                int(r["n_failed"]),
            ]
        )
    parts.append(_md_table(header, rows))
    if reference in models and len(models) > 1:
        parts += [
            "",
            f"## {reference} against each model ({label}, per data set)",
            "",
            "A data set counts as a win when the mean over splits is higher.",
            "",
        ]
        rows = []
        for m in models:
            if m == reference:
                continue
            diff = (means[reference] - means[m]).dropna()
            rows.append(
                [
                    m,
                    int((diff > 0).sum()),
                    int((diff < 0).sum()),
                    int((diff == 0).sum()),
                    _fmt(diff.mean(), 4) if len(diff) else "–",
                ]
            )
        parts.append(
            _md_table(
                [
                    "other model",
                    f"{reference} higher",
                    f"{reference} lower",
                    "tie",
                    "mean difference",
                ],
                rows,
            )
        )
    failed = results[results["error"].fillna("") != ""]
    if len(failed):
        parts += ["", "## Failed fits", ""]
        rows = [
            [r.dataset, r.model, r.split, r.error.replace("|", "/")]
            for r in failed.itertuples()
        ]
        parts.append(_md_table(["dataset", "model", "split", "error"], rows))
    if descriptions:
        parts += ["", "## Models", ""]
        parts += [f"* `{m}`: {descriptions.get(m, m)}" for m in models]
    parts.append("")
    text = "\n".join(parts)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return text


@validate_params(
    {
        "results": _RESULTS,
        "path": [str, os.PathLike],
        "metric": _METRIC,
        "title": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def plot_scores(results, path, *, metric="average_precision", title=None):
    """Draw the per-data-set mean ± std of a metric for every model, and the mean rank.

    Parameters
    ----------
    results : DataFrame
        As returned by :func:`compare` (one or several data sets).
    path : str or path
        The image file to write (PNG, SVG, PDF: any format matplotlib knows).
    metric : str, default='average_precision'
        The metric drawn and ranked.
    title : str or None, default=None
        The figure title; None describes the metric.

    Returns
    -------
    path : str, path or None
        The path written, or None when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    label = METRIC_LABELS.get(metric, metric)
    ok = _ok(results)
    models = _ordered(results["model"])
    datasets = _ordered(results["dataset"])
    grouped = ok.groupby(["dataset", "model"])[metric]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    ranks = _rank_table(results, metric).mean(axis=0)

    height = max(3.0, 0.55 * len(datasets) * max(1.0, len(models) / 6) + 1.5)
    fig, (ax, axr) = plt.subplots(
        1,
        2,
        figsize=(11, height),
        gridspec_kw={"width_ratios": [3, 1.3]},
        constrained_layout=True,
    )
    cmap = plt.get_cmap("tab10" if len(models) <= 10 else "tab20")
    colors = {m: cmap(i % cmap.N) for i, m in enumerate(models)}
    markers = "oDs^v<>PXh*"
    offsets = np.linspace(-0.35, 0.35, len(models)) if len(models) > 1 else [0.0]
    for i, m in enumerate(models):
        ys, xs, es = [], [], []
        for j, d in enumerate(datasets):
            if (d, m) in mean.index:
                ys.append(j + offsets[i])
                xs.append(mean.loc[(d, m)])
                es.append(std.loc[(d, m)])
        ax.errorbar(
            xs,
            ys,
            xerr=es,
            fmt=markers[i % len(markers)],
            color=colors[m],
            label=m,
            markersize=5,
            capsize=2,
            linewidth=1,
        )
    ax.set_yticks(range(len(datasets)))
    ax.set_yticklabels(datasets)
    ax.invert_yaxis()
    for j in range(len(datasets) - 1):
        ax.axhline(j + 0.5, color="0.9", linewidth=0.8, zorder=0)
    ax.set_xlabel(f"{label} on the test splits (mean ± std)")
    ax.grid(axis="x", color="0.92")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08 - 0.25 / max(len(datasets), 1)),
        ncol=min(5, len(models)),
        fontsize="small",
        frameon=False,
    )

    order = ranks.sort_values(ascending=False)
    axr.barh(
        range(len(order)), order.to_numpy(), color=[colors[m] for m in order.index]
    )
    axr.set_yticks(range(len(order)))
    axr.set_yticklabels(order.index)
    axr.set_xlabel("mean rank (1 = best)")
    for k, v in enumerate(order.to_numpy()):
        if np.isfinite(v):
            axr.text(v, k, f" {v:.2f}", va="center", fontsize="small")
    axr.set_xlim(0, max(len(models), 1) + 0.8)
    fig.suptitle(title or f"{label.capitalize()} per data set, and mean rank")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
