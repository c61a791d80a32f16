"""Quality that transfers: candidates and baselines under a nested protocol.

Protocol (every bundled binary data set: the 13 of the suite group and the 13
of the study group):

* The sets are split once into selection and held-out sets, by a fixed rule
  made before any result of this study was seen: the suite sets keep the split
  of ``ensemble_size.py`` (a seeded permutation of their sorted names, the
  last third held out), and the study sets get the same rule with their own
  permutation. 9 of the 26 sets are held out of every choice.
* Five repeated stratified 70/30 train/test splits per set (the splits of
  ``ensemble_size.py`` and ``early_stopping.py``). On the ``validation`` part
  the training rows are split again (stratified 75/25) and a model is fitted
  on the 75 % and scored on the 25 %: the test rows are never touched. On the
  ``test`` part a model is fitted on all training rows and scored on the test
  rows; that is run for held-out sets, and for the final report only.
* Every model sits behind the same preprocessing (``StandardScaler`` on
  numeric columns, one-hot on categorical ones, fitted on the rows the model
  is fitted on) unless its candidate says otherwise, and every seed inside it
  is the split number.
* Per-fit results go to ``results/quality.csv``, one row per
  (set, split, candidate, part); a rerun skips the rows that exist, so the
  study resumes anywhere and every table is re-derived from the file.

    python benchmarks/evidence/quality.py run --candidates mb mb_e4 --jobs 2
    python benchmarks/evidence/quality.py run --candidates mb --part test
    python benchmarks/evidence/quality.py report [--reference mb]
    python benchmarks/evidence/quality.py fit-time --sets german vowel0
    python benchmarks/evidence/quality.py recheck --candidates mb_e4 --jobs 2

``recheck`` refits a candidate's stored rows with the code as it is now (to
``results/quality_recheck.csv``, which ``--tag`` labels; one tag per code
state) and prints, per set, how many refits gave the stored AP and the paired
verdict of the differences: a change to the engine that should not move the
results must come out a tie on every set.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    across_sets,
    append_rows,
    paired_verdict,
    preprocessor,
    read_rows,
)
from ensemble_size import BINARY_SETS
from ensemble_size import HELD_OUT as SUITE_HELD_OUT
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.pipeline import make_pipeline

RESULTS = Path(__file__).parent / "results" / "quality.csv"
#: Refits of stored rows by ``recheck``, at the code of the day they were run.
RECHECK = Path(__file__).parent / "results" / "quality_recheck.csv"
FIELDS = ["dataset", "split", "candidate", "part", "ap", "fit_seconds", "n_iter"]
N_SPLITS = 5
#: A per-set mean difference counts as a win or loss only beyond this band:
#: twice its standard error over the splits, and at least this much AP.
MIN_EFFECT = 0.005

#: The suite's binary sets and their held-out third are those of
#: ``ensemble_size.py``.
SUITE = BINARY_SETS
STUDY = sorted(
    [
        "abalone9_18",
        "ada",
        "ecoli3",
        "german",
        "glass4",
        "hiva",
        "pima",
        "segment0",
        "sylva",
        "vehicle0",
        "vowel0",
        "winequality_white_3_vs_7",
        "wisconsin",
    ]
)


def _held_out(names, seed):
    """The last third (rounded up) of a seeded permutation of ``names``."""
    order = np.random.RandomState(seed).permutation(len(names))
    return sorted(names[i] for i in order[-(len(names) + 2) // 3 :])


#: The suite rule of ``ensemble_size.py`` holds out 13 // 3 = 4 sets; the
#: study sets hold out ceil(13 / 3) = 5 by the same kind of draw, 9 of 26 in all.
HELD_OUT_SUITE = SUITE_HELD_OUT
HELD_OUT_STUDY = _held_out(STUDY, 2027)
HELD_OUT = sorted(HELD_OUT_SUITE + HELD_OUT_STUDY)
SELECTION = sorted(set(SUITE + STUDY) - set(HELD_OUT))


# --------------------------------------------------------------------------
# Candidates. A MetaBalance or BalancedNet candidate is a dict of parameters
# (``"pre"`` names a preprocessing other than the standard one); baselines
# are built by name.

#: What every MetaBalance candidate starts from: the class defaults from
#: before this study (``n_estimators`` was 1), pinned so that the candidates
#: keep their meaning when the defaults change.
MB_BASE = {"n_estimators": 1}
MB = {
    "mb": {},
    "mb_e4": {"n_estimators": 4},
    "mb_e4f": {"n_estimators": 4, "validation_split": "per_member"},
    "mb_e8": {"n_estimators": 8},
    "mb_val20": {"validation_fraction": 0.2},
    "mb_quantile": {"pre": "quantile"},
    "mb_wide": {"hidden_layer_sizes": (256, 256)},
    "mb_deep": {"hidden_layer_sizes": (128, 128, 128)},
    "mb_dropout": {"dropout": 0.1},
    "mb_lam001": {"inner_loss_weight": 0.01},
    "mb_lam01": {"inner_loss_weight": 0.1},
    "mb_lam05": {"inner_loss_weight": 0.5},
    "mb_ilr0": {"inner_lr": 0.0},
    "mb_ilr01_so": {"inner_lr": 0.1, "first_order": False},
    "mb_ilr1_so": {"inner_lr": 1.0, "first_order": False},
    "mb_inner3": {"inner_steps": 3},
    "mb_k8": {"tasks_per_step": 8, "batch_size": 8, "outer_batch_size": 8},
    "mb_smote": {"outer_sampler": "smote"},
    "mb_e4_dropout": {"n_estimators": 4, "dropout": 0.1},
    "mb_e4_ilr01_so": {"n_estimators": 4, "inner_lr": 0.1, "first_order": False},
    # Prototypes of stage 2 (see ``_prototype``): AdamW at a constant
    # learning rate, and periodic embeddings of every input column.
    "mb_adamw": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-2},
    "mb_adamw3": {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-2},
    "mb_plr": {"embedding": "periodic"},
    # Early stopping on few minority validation rows: smoother criteria, more
    # patience.
    "mb_roc": {"scoring": "roc_auc"},
    "mb_ll": {"scoring": "neg_log_loss"},
    "mb_pat20": {"n_iter_no_change": 20},
    # Stage 3: a cosine learning-rate decay over a fixed budget of epochs
    # (early stopping only picks the best epoch), as RealMLP and TabM train.
    "mb_cos50": {"schedule": "cosine", "max_iter": 50, "n_iter_no_change": 50},
    # A floor on the minority rows that early stopping scores: the validation
    # share grows (up to 30 %) until it holds at least 10 of them.
    "mb_floor10": {"validation_min_class_rows": 10},
    "mb_e4_floor10": {"n_estimators": 4, "validation_min_class_rows": 10},
    "mb_e4_dropout_ilr01_so": {
        "n_estimators": 4,
        "dropout": 0.1,
        "inner_lr": 0.1,
        "first_order": False,
    },
    # Stage 4, loss-side balancing in each loop. On the default class-balanced
    # outer set every loss built on class statistics is plain cross-entropy,
    # so the outer loop's losses are tried on the natural outer set, and the
    # inner loop's on the natural inner set.
    "mb_in_la": {"inner_loss": "logit_adjusted"},
    "mb_in_vs": {"inner_loss": "vs"},
    "mb_in_cb": {"inner_loss": "cb"},
    "mb_out_focal": {"outer_loss": "focal"},
    "mb_nat_la": {"outer_sampler": None, "outer_loss": "logit_adjusted"},
    "mb_nat_vs": {"outer_sampler": None, "outer_loss": "vs"},
    "mb_nat_ldam_drw": {"outer_sampler": None, "outer_loss": "ldam_drw"},
}


def _ldam_drw(**params):
    """The package's ``'ldam_drw'`` loss with ``params`` changed."""
    from skmetabalance.losses import make_loss

    return make_loss("ldam_drw").set_params(**params)


#: The same for BalancedNet: one network, as the study began.
NET_BASE = {"n_estimators": 1}
NET = {
    "net_plain": {},
    "net_weighted": {"class_weight": "balanced"},
    "net_ros": {"sampler": "ros"},
    "net_rus": {"sampler": "rus"},
    "net_smote": {"sampler": "smote"},
    "net_plain_e4": {"n_estimators": 4},
    "net_ros_e4": {"sampler": "ros", "n_estimators": 4},
    "net_weighted_e4": {"class_weight": "balanced", "n_estimators": 4},
    "net_rus_e4": {"sampler": "rus", "n_estimators": 4},
    "net_smote_e4": {"sampler": "smote", "n_estimators": 4},
    "net_plain_adamw": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-2},
    # Stage 3: the initial scale of the embeddings' frequencies, searched on
    # the cheaper engine (the module is the same for both estimators).
    "net_ros_plr": {"sampler": "ros", "embedding": "periodic"},
    "net_ros_plr01": {
        "sampler": "ros",
        "embedding": "periodic",
        "embedding_scale": 0.1,
    },
    "net_ros_plr1": {"sampler": "ros", "embedding": "periodic", "embedding_scale": 1.0},
    "net_plain_e4_floor10": {"n_estimators": 4, "validation_min_class_rows": 10},
    # Stage 4: the loss-side baselines, each alone on the natural rows.
    "net_la": {"loss": "logit_adjusted"},
    "net_focal": {"loss": "focal"},
    "net_ldam_drw": {"loss": "ldam_drw"},
    "net_vs": {"loss": "vs"},
    "net_cb": {"loss": "cb"},
    "net_ros_focal": {"sampler": "ros", "loss": "focal"},
    # LDAM-DRW's deviation from its paper, which pairs it with a normalised
    # last layer: the paper's scale on the built-in free last layer, and a
    # larger margin in units of its logits.
    "net_ldam_drw_s30": {"loss": _ldam_drw(scale=30.0)},
    "net_ldam_drw_m2": {"loss": _ldam_drw(max_margin=2.0)},
}
BASELINES = ("mlp_ros", "hgb", "brf", "logreg", "tabm", "realmlp")
CANDIDATES = (*MB, *NET, *BASELINES)


def _sampler(name, seed):
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    kinds = {"ros": RandomOverSampler, "rus": RandomUnderSampler, "smote": SMOTE}
    return kinds[name](random_state=seed)


def _pre(bunch, kind):
    if kind == "standard":
        return preprocessor(bunch)
    if kind == "quantile":
        from sklearn.compose import ColumnTransformer
        from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

        qt = QuantileTransformer(output_distribution="normal", subsample=None)
        cats = np.asarray(bunch.categorical_features, dtype=bool)
        if not cats.any():
            return qt
        ohe = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        return ColumnTransformer(
            [("num", qt, np.flatnonzero(~cats)), ("cat", ohe, np.flatnonzero(cats))]
        )
    raise ValueError(f"unknown preprocessing {kind!r}")


class _PeriodicMLP:
    """``module`` factory: periodic embeddings of every column, then an MLP.

    The embeddings (``rtdl_num_embeddings.PeriodicEmbeddings``, "lite", 8
    dimensions from 16 frequencies per column, the frequencies drawn from a
    normal of standard deviation ``scale``) replace each input value by a
    learned vector; a ReLU MLP of the default widths (64, 64) reads their
    concatenation.
    """

    def __init__(self, scale=0.01):
        self.scale = scale

    def __call__(self, n_features, n_outputs):
        from rtdl_num_embeddings import PeriodicEmbeddings
        from torch import nn

        d = 8
        return nn.Sequential(
            PeriodicEmbeddings(
                n_features,
                d,
                n_frequencies=16,
                frequency_init_scale=self.scale,
                lite=True,
            ),
            nn.Flatten(),
            nn.Linear(n_features * d, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, n_outputs),
        )


def _prototype(cls, params):
    """The estimator class and parameters of a candidate that needs what the
    estimators do not offer: ``optimizer='adamw'`` (AdamW over the same
    parameters, at the candidate's ``lr`` and ``weight_decay``, in place of
    SGD), ``schedule='cosine'`` (the learning rate decays from its value to
    zero along half a cosine over ``max_iter`` epochs' steps) or
    ``embedding='periodic'`` (see :class:`_PeriodicMLP`, at
    ``embedding_scale``).

    The estimators have no choice of optimiser or schedule, so these
    prototypes override the method that builds the optimiser: a measurement
    of whether the option is worth adding, not a use of the estimators a user
    could copy."""
    scale = params.pop("embedding_scale", 0.01)
    if params.pop("embedding", None) == "periodic":
        params["module"] = _PeriodicMLP(scale)
    import torch

    if params.pop("schedule", None) == "cosine":

        class WithCosine(cls):
            def _make_optimizer(self, stepper, state, lr):
                optimizer = super()._make_optimizer(stepper, state, lr)
                total = self.max_iter * stepper.steps_per_epoch
                done = [0]
                step = optimizer.step

                def decayed_step(*args, **kwargs):
                    out = step(*args, **kwargs)
                    done[0] += 1
                    t = min(done[0], total) / total
                    for group in optimizer.param_groups:
                        group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * t))
                    return out

                optimizer.step = decayed_step
                return optimizer

        WithCosine.__name__ = cls.__name__
        return WithCosine, params
    if params.pop("optimizer", "sgd") != "adamw":
        return cls, params

    class WithAdamW(cls):
        def _make_optimizer(self, stepper, state, lr):
            return torch.optim.AdamW(
                stepper.parameters(),
                lr=lr,
                weight_decay=self.weight_decay,
                foreach=True,
            )

    WithAdamW.__name__ = cls.__name__
    return WithAdamW, params


def build(name, bunch, seed):
    """The pipeline of candidate ``name`` for data set ``bunch``."""
    from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

    if name in MB or name in NET:
        cls, params = (
            (MetaBalanceClassifier, {**MB_BASE, **MB[name]})
            if name in MB
            else (BalancedNetClassifier, {**NET_BASE, **NET[name]})
        )
        pre = _pre(bunch, params.pop("pre", "standard"))
        cls, params = _prototype(cls, params)
        for key in ("sampler", "inner_sampler", "outer_sampler"):
            if params.get(key) in ("ros", "rus", "smote"):
                params[key] = _sampler(params[key], seed)
        return make_pipeline(pre, cls(random_state=seed, **params))
    pre = preprocessor(bunch)
    if name == "mlp_ros":
        from imblearn.pipeline import make_pipeline as imb_pipeline
        from sklearn.neural_network import MLPClassifier

        mlp = MLPClassifier(early_stopping=True, random_state=seed)
        return imb_pipeline(pre, _sampler("ros", seed), mlp)
    from skmetabalance.benchmark import make_estimator

    model = make_estimator(name)
    model.set_params(
        **{
            k: seed
            for k in model.get_params()
            if k == "random_state" or k.endswith("__random_state")
        }
    )
    if name in ("tabm", "realmlp"):
        import torch

        # pytabkit's models otherwise take every physical core, whatever the
        # number of jobs running side by side.
        model.set_params(device="cpu", n_threads=torch.get_num_threads())
    return make_pipeline(pre, model)


def _n_iter(model):
    est = model[-1]
    for attr in ("n_iter_", "n_iter"):
        value = getattr(est, attr, None)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, np.ndarray) and value.size:
            return int(np.max(value))
    return ""


def _split(y, split, part):
    """Fit and score rows of split ``split``: ``test`` scores on the test rows,
    ``validation`` on a quarter of the training rows (the test rows unused)."""
    splitter = StratifiedShuffleSplit(N_SPLITS, test_size=0.3, random_state=0)
    tr, te = list(splitter.split(np.zeros(len(y)), y))[split]
    if part == "validation":
        tr, te = train_test_split(
            tr, test_size=0.25, stratify=y[tr], random_state=split
        )
    return tr, te


def _fit_one(name, dataset, split, part, threads=None):
    """Fit candidate ``name`` on one split of one set; the result row."""
    from skmetabalance.datasets import load_dataset

    if threads:
        import torch

        torch.set_num_threads(threads)
    bunch = load_dataset(dataset)
    X, y = bunch.data, bunch.target
    tr, te = _split(y, split, part)
    model = build(name, bunch, split)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[tr], y[tr])
    seconds = time.perf_counter() - t0
    ap = average_precision_score(y[te], model.predict_proba(X[te])[:, 1])
    return dict(
        dataset=dataset,
        split=split,
        candidate=name,
        part=part,
        ap=f"{ap:.6f}",
        fit_seconds=f"{seconds:.3f}",
        n_iter=_n_iter(model),
    )


#: Rows of earlier studies with the same splits, seeds and protocol, and the
#: candidate each of their labels is here: ``adopt`` copies them (a refit
#: gives bit-identical scores, checked on a sample before adopting).
EARLIER = {
    "ensemble_size.csv": (
        "members",
        {"1": "mb", "4": "mb_e4", "4f": "mb_e4f", "8": "mb_e8"},
    ),
    "early_stopping.csv": ("candidate", {"ap": "mb", "val20": "mb_val20"}),
}


def adopt():
    """Copy the rows of earlier studies that this study would refit."""
    done = {
        (r["dataset"], r["split"], r["candidate"], r["part"])
        for r in read_rows(RESULTS)
    }
    new = []
    for file, (column, names) in EARLIER.items():
        for r in read_rows(RESULTS.parent / file):
            if r[column] not in names:
                continue
            row = {k: r.get(k, "") for k in FIELDS}
            row["candidate"] = names[r[column]]
            row["part"] = r.get("part", "validation")
            key = (row["dataset"], row["split"], row["candidate"], row["part"])
            if key not in done:
                done.add(key)
                new.append(row)
    with append_rows(RESULTS, FIELDS) as write:
        for row in new:
            write(row)
    print(f"adopted {len(new)} rows")


def _by_size(sets):
    from skmetabalance.datasets import list_datasets

    size = dict(list_datasets().set_index("name")["rows"])
    # Cheap sets first, so that partial runs cover as many sets as possible.
    return sorted(sets, key=lambda n: size[n])


def run(candidates, part, sets, jobs):
    unknown = sorted(set(candidates) - set(CANDIDATES))
    if unknown:
        raise SystemExit(f"unknown candidates {unknown}; known: {list(CANDIDATES)}")
    done = {
        (r["dataset"], int(r["split"]), r["candidate"], r["part"])
        for r in read_rows(RESULTS)
    }
    tasks = [
        (c, d, s, part)
        for d in _by_size(sets)
        for s in range(N_SPLITS)
        for c in candidates
        if (d, s, c, part) not in done
    ]
    print(f"{len(tasks)} fits to run", flush=True)
    _fit_all(tasks, jobs, RESULTS)


def _fit_all(tasks, jobs, path, **extra):
    """Fit ``(candidate, dataset, split, part)`` tasks in ``jobs`` processes,
    appending each result row (with the ``extra`` columns first) to ``path``."""
    from joblib import Parallel, delayed

    with append_rows(path, [*extra, *FIELDS]) as write:
        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(_fit_one)(*t, threads=1 if jobs > 1 else None) for t in tasks
        )
        for row in results:
            write({**extra, **row})
            print(row, flush=True)


def recheck(candidates, part, sets, jobs, tag):
    """Refit stored rows of ``candidates`` now; compare with the stored AP."""
    stored = {
        (r["dataset"], int(r["split"]), r["candidate"]): float(r["ap"])
        for r in read_rows(RESULTS)
        if r["part"] == part and r["candidate"] in candidates and r["dataset"] in sets
    }
    done = {
        (r["dataset"], int(r["split"]), r["candidate"])
        for r in read_rows(RECHECK)
        if r["tag"] == tag and r["part"] == part
    }
    tasks = [(c, d, s, part) for d, s, c in stored if (d, s, c) not in done]
    print(f"{len(tasks)} refits to run", flush=True)
    _fit_all(tasks, jobs, RECHECK, tag=tag)
    refits = {
        (r["dataset"], int(r["split"]), r["candidate"]): float(r["ap"])
        for r in read_rows(RECHECK)
        if r["tag"] == tag and r["part"] == part
    }
    for c in candidates:
        print(f"\n{c}, {part}: refit ({tag}) minus stored AP")
        print(f"{'set':26s} {'same':>5s} {'mean':>8s} {'se':>7s} verdict")
        counts = {"win": 0, "tie": 0, "loss": 0}
        for d in sorted(sets):
            keys = [k for k in stored if k[0] == d and k[2] == c and k in refits]
            if len(keys) < 2:
                continue
            diffs = [refits[k] - stored[k] for k in keys]
            same = sum(abs(x) < 5e-7 for x in diffs)
            mean, se, verdict = paired_verdict(diffs, MIN_EFFECT)
            counts[verdict] += 1
            print(f"{d:26s} {same:2d}/{len(keys):<2d} {mean:+8.4f} {se:7.4f} {verdict}")
        print("sets:", ", ".join(f"{n} {v}" for v, n in counts.items()))


def _table(rows, part):
    """{(dataset, candidate): [ap per split]} and the same for fit seconds."""
    ap, sec = {}, {}
    for r in rows:
        if r["part"] != part:
            continue
        key = (r["dataset"], r["candidate"])
        ap.setdefault(key, {})[int(r["split"])] = float(r["ap"])
        sec.setdefault(key, []).append(float(r["fit_seconds"]))
    return ap, sec


def _sets_of(part):
    """The sets a part is run on: selection sets for validation, else held out."""
    return SELECTION if part == "validation" else HELD_OUT


def _set_means(ap, sets, names, complete=False):
    """Mean AP over splits, one row per set and one column per name (NaN for
    a set with fewer than ``N_SPLITS`` fits of a name, as a run stopped part
    way leaves); with ``complete``, only the names fitted on every split of
    every set."""
    import pandas as pd

    def done(d, c):
        return len(ap.get((d, c), {})) == N_SPLITS

    if complete:
        names = [c for c in names if all(done(d, c) for d in sets)]
    return pd.DataFrame(
        {
            c: {d: np.mean(list(ap[(d, c)].values())) for d in sets if done(d, c)}
            for c in names
        },
        index=list(sets),
        columns=list(names),
    )


def compare(ap, sets, a, b):
    """Per-set paired (mean, se, verdict) of ``b`` minus ``a``."""
    out = {}
    for name in sets:
        pa, pb = ap.get((name, a), {}), ap.get((name, b), {})
        common = sorted(set(pa) & set(pb))
        if len(common) >= 2:
            out[name] = paired_verdict([pb[s] - pa[s] for s in common], MIN_EFFECT)
    return out


def report(part="validation", reference="mb", sets=None):
    rows = read_rows(RESULTS)
    sets = sets or _sets_of(part)
    ap, sec = _table(rows, part)
    cands = [c for c in CANDIDATES if any((d, c) in ap for d in sets)]
    complete = [
        c for c in cands if all(len(ap.get((d, c), {})) == N_SPLITS for d in sets)
    ]
    print(f"\n{part} AP on {len(sets)} sets ({', '.join(sets)})")
    print(f"{'candidate':14s} {'sets':>4s} {'mean AP':>8s} {'rank':>5s} {'fit s':>6s}")
    means = _set_means(ap, sets, cands)
    ranks = means[complete].rank(axis=1, ascending=False).mean()
    for c in cands:
        m = means[c].dropna()
        rank = f"{ranks[c]:5.2f}" if c in complete else "    –"
        fit = np.median([np.median(sec[(d, c)]) for d in m.index])
        print(f"{c:14s} {len(m):4d} {m.mean():8.4f} {rank} {fit:6.1f}")
    if reference not in cands:
        return
    for c in cands:
        if c == reference:
            continue
        comp = compare(ap, sets, reference, c)
        if len(comp) < len(sets):
            continue
        diffs = [v[0] for v in comp.values()]
        verdicts = [v[2] for v in comp.values()]
        print(across_sets(c, reference, diffs, verdicts))


def table(candidates, part="validation", sets=None):
    """The reST table of per-set mean AP of ``candidates`` (for the docs)."""
    from _common import rst_table

    sets = sets or _sets_of(part)
    ap, _ = _table(read_rows(RESULTS), part)
    frame = _set_means(ap, sets, candidates)
    frame.loc["mean"] = frame.mean()
    frame.loc["mean rank"] = frame.iloc[:-1].rank(axis=1, ascending=False).mean()
    print(rst_table(frame, "data set"))


def pairs(candidates, reference="mb", part="validation", sets=None):
    """The reST table of paired comparisons of ``candidates`` with ``reference``."""
    import pandas as pd
    from _common import paired_stats, rst_table

    sets = sets or _sets_of(part)
    ap, _ = _table(read_rows(RESULTS), part)
    out = {}
    for c in candidates:
        comp = compare(ap, sets, reference, c)
        if len(comp) < len(sets):
            continue
        diffs = np.array([v[0] for v in comp.values()])
        verdicts = [v[2] for v in comp.values()]
        mean, lo, hi, p = paired_stats(diffs)
        out[c] = {
            "mean diff.": f"{mean:+.4f}",
            "95 % bootstrap": f"[{lo:+.4f}, {hi:+.4f}]",
            "win/tie/loss": "/".join(
                str(verdicts.count(v)) for v in ("win", "tie", "loss")
            ),
            "Wilcoxon p": f"{p:.3f}",
        }
    print(rst_table(pd.DataFrame(out).T, "candidate"))


#: The networks the default must beat: the single-strategy networks with
#: ``BalancedNetClassifier``'s defaults (four members since stage 2) and
#: scikit-learn's MLP behind a random over-sampler. ``targets --networks
#: net_plain net_weighted net_ros net_rus net_smote mlp_ros`` takes the
#: networks with one member each, the defaults of stage 1.
NETWORKS = (
    "net_plain_e4",
    "net_weighted_e4",
    "net_ros_e4",
    "net_rus_e4",
    "net_smote_e4",
    "mlp_ros",
)
#: The wider field the default's mean rank is taken in, besides the networks.
OTHERS = ("hgb", "brf", "logreg", "tabm", "realmlp")


def targets(candidate, part="test", sets=None, networks=NETWORKS):
    """How ``candidate`` stands against the quality targets on ``sets``.

    Models of the field without a result on every set are left out of the
    rank, and named.
    """

    sets = sets or _sets_of(part)
    ap, _ = _table(read_rows(RESULTS), part)

    nets = _set_means(ap, sets, [candidate, *networks], complete=True)
    field = _set_means(ap, sets, [candidate, *networks, *OTHERS], complete=True)
    missing = [c for c in (*networks, *OTHERS) if c not in field.columns]
    if missing:
        print(f"not run on every set, left out: {', '.join(missing)}")
    print(f"\n{candidate} on {len(sets)} {part} sets ({', '.join(sets)})")
    print("mean AP: " + ", ".join(f"{c} {v:.4f}" for c, v in nets.mean().items()))
    others = nets.drop(columns=candidate).max(axis=1)
    best = nets[candidate] >= others
    tied = nets[candidate] == others
    print(
        f"best of the {nets.shape[1]} networks on {int(best.sum())} of {len(sets)} "
        f"sets ({', '.join(best[best].index)}; {int(tied.sum())} of them shared)"
    )
    ranks = field.rank(axis=1, ascending=False).mean().sort_values()
    print(
        f"mean rank among {field.shape[1]} models: "
        + ", ".join(f"{c} {v:.2f}" for c, v in ranks.items())
    )


def fit_time(sets):
    """Fit seconds of the default ``MetaBalanceClassifier()`` and of RealMLP.

    On the first training split of each set, one after the other in this
    process (the default twice: the first fit warms up), behind the same
    preprocessing. Run it on an otherwise quiet machine.
    """
    import importlib.util

    from skmetabalance import MetaBalanceClassifier
    from skmetabalance.datasets import load_dataset

    if importlib.util.find_spec("pytabkit") is None:
        raise SystemExit(
            "fit-time compares against pytabkit's RealMLP; install it first "
            "(pip install pytabkit)"
        )
    for name in sets:
        bunch = load_dataset(name)
        X, y = bunch.data, bunch.target
        tr, _ = _split(y, 0, "test")
        seconds = {}
        for label in ("default", "realmlp", "default"):
            if label == "default":
                model = make_pipeline(
                    preprocessor(bunch), MetaBalanceClassifier(random_state=0)
                )
            else:
                model = build("realmlp", bunch, 0)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X[tr], y[tr])
            seconds.setdefault(label, []).append(time.perf_counter() - t0)
        print(
            f"{name} ({len(tr)} rows): MetaBalanceClassifier() "
            f"{seconds['default'][-1]:.2f} s, RealMLP {seconds['realmlp'][0]:.2f} s",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        choices=[
            "run",
            "report",
            "sets",
            "adopt",
            "table",
            "pairs",
            "targets",
            "fit-time",
            "recheck",
        ],
    )
    parser.add_argument("--candidates", nargs="*", default=["mb"])
    parser.add_argument("--part", choices=["validation", "test"], default="validation")
    parser.add_argument("--sets", nargs="*", default=None)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--reference", default="mb")
    parser.add_argument(
        "--tag", default="now", help="recheck: a label for the code state refitted"
    )
    parser.add_argument(
        "--networks",
        nargs="*",
        default=list(NETWORKS),
        help="targets: the networks the candidate must beat",
    )
    args = parser.parse_args(argv)
    if args.command == "sets":
        print("selection:", " ".join(SELECTION))
        print("held out: ", " ".join(HELD_OUT))
        return
    if args.command == "recheck":
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        recheck(
            args.candidates,
            args.part,
            args.sets or _sets_of(args.part),
            args.jobs,
            args.tag,
        )
        return
    if args.command == "fit-time":
        fit_time(args.sets or HELD_OUT_STUDY)
        return
    if args.command == "targets":
        for c in args.candidates:
            targets(c, args.part, args.sets, args.networks)
        return
    if args.command == "pairs":
        pairs(args.candidates, args.reference, args.part, args.sets)
        return
    if args.command == "table":
        table(args.candidates, args.part, args.sets)
        return
    if args.command == "adopt":
        adopt()
        return
    sets = args.sets or _sets_of(args.part)
    if args.command == "run":
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        run(args.candidates, args.part, sets, args.jobs)
    report(args.part, args.reference, args.sets)


if __name__ == "__main__":
    main()
