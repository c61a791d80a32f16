"""MetaBalanceClassifier.fit against plain training of the same network.

Every contender trains the loan-default network (12 -> 25 -> 1, ReLU) for the
same number of epochs over the same SMOTE-resampled rows (one epoch = one pass
over them), with SGD lr 0.02, Nesterov momentum 0.9 and an L2 penalty of 5e-4:

* MetaBalanceClassifier, the published setting (K = 81 tasks of 16 outer and
  24 inner rows per step, so 1,296 outer rows per step), first order;
* skorch ``NeuralNetBinaryClassifier``, batch 16 (the outer batch);
* scikit-learn ``MLPClassifier`` (solver 'sgd'), batch 16;
* our ``BalancedNetClassifier`` (sampler=SMOTE()), batch 16, and batch 1,296
  (as many rows per step as the meta step).

Every timing includes the SMOTE resampling (inside ``fit`` for our estimators,
``SMOTE().fit_resample`` just before ``fit`` for skorch and scikit-learn), as an
imbalanced-learn pipeline would do it. Note that the meta step also computes
the inner loss and gradient on 81 x 24 inner rows, work the plain trainers do
not do.

Usage::

    python benchmarks/speed/vs_plain.py                  # 5 epochs, 3 repeats
    python benchmarks/speed/vs_plain.py --epochs 3 --repeats 5 --out /tmp/res
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from _common import (
    PUBLISHED,
    apply_threads,
    base_parser,
    interleaved,
    loan_data,
    machine,
    median,
    report,
    sync,
)
from imblearn.over_sampling import SMOTE
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from torch import nn

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

SGD = dict(lr=0.02, momentum=0.9, weight_decay=5e-4)


class LoanNet(nn.Module):
    """12 -> 25 -> 1 ReLU network returning one logit per row, shape (n,)."""

    def __init__(self, n_features=12, hidden=25):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, X):
        return self.net(X).squeeze(-1)


def main():
    parser = base_parser(__doc__.splitlines()[0], "vs_plain.csv", default_threads=1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--skip-skorch", action="store_true", help="leave skorch out (not installed)"
    )
    args = parser.parse_args()
    apply_threads(args)
    device = args.device
    epochs = args.epochs

    X, y, data_name = loan_data()
    n_outer = SMOTE(random_state=0).fit_resample(X, y)[1].shape[0]
    rows_per_meta_step = PUBLISHED["tasks_per_step"] * PUBLISHED["outer_batch_size"]
    print(f"machine: {machine()}")
    print(f"data: {data_name}: {X.shape[0]} rows; SMOTE outer set {n_outer} rows")

    def ours():
        MetaBalanceClassifier(
            **PUBLISHED,
            inner_sampler=None,
            outer_sampler=SMOTE(),
            first_order=True,
            max_iter=epochs,
            random_state=0,
            device=device,
        ).fit(X, y)
        sync(device)

    def balanced(batch_size):
        def fit():
            BalancedNetClassifier(
                n_estimators=1,
                hidden_layer_sizes=PUBLISHED["hidden_layer_sizes"],
                sampler=SMOTE(),
                batch_size=batch_size,
                max_iter=epochs,
                early_stopping=False,
                random_state=0,
                device=device,
                **SGD,
            ).fit(X, y)
            sync(device)

        return fit

    def mlp():
        X_r, y_r = SMOTE(random_state=0).fit_resample(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            MLPClassifier(
                hidden_layer_sizes=PUBLISHED["hidden_layer_sizes"],
                solver="sgd",
                learning_rate_init=SGD["lr"],
                momentum=SGD["momentum"],
                nesterovs_momentum=True,
                alpha=SGD["weight_decay"],
                batch_size=16,
                max_iter=epochs,
                tol=0.0,
                n_iter_no_change=epochs + 1,
                shuffle=True,
                random_state=0,
            ).fit(X_r, y_r)

    contenders = {
        "MetaBalanceClassifier (K=81, first order)": (ours, rows_per_meta_step),
        "BalancedNetClassifier batch 16": (balanced(16), 16),
        f"BalancedNetClassifier batch {rows_per_meta_step}": (
            balanced(rows_per_meta_step),
            rows_per_meta_step,
        ),
        "sklearn MLPClassifier batch 16": (mlp, 16),
    }
    if not args.skip_skorch:
        from skorch import NeuralNetBinaryClassifier

        def skorch_fit():
            X_r, y_r = SMOTE(random_state=0).fit_resample(X, y)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                NeuralNetBinaryClassifier(
                    LoanNet,
                    module__n_features=X.shape[1],
                    module__hidden=PUBLISHED["hidden_layer_sizes"][0],
                    optimizer=torch.optim.SGD,
                    lr=SGD["lr"],
                    optimizer__momentum=SGD["momentum"],
                    optimizer__nesterov=True,
                    optimizer__weight_decay=SGD["weight_decay"],
                    batch_size=16,
                    max_epochs=epochs,
                    train_split=None,
                    iterator_train__shuffle=True,
                    verbose=0,
                    device=device,
                ).fit(X_r.astype(np.float32), y_r.astype(np.float32))
            sync(device)

        contenders["skorch NeuralNetBinaryClassifier batch 16"] = (skorch_fit, 16)

    fns = {name: fn for name, (fn, _) in contenders.items()}
    times, note = interleaved(fns, args.repeats, warmup=True)

    t_ours = median(times["MetaBalanceClassifier (K=81, first order)"])
    skorch_name = "skorch NeuralNetBinaryClassifier batch 16"
    t_skorch = median(times[skorch_name]) if skorch_name in times else math.nan
    rows = []
    for name, (_, rows_per_step) in contenders.items():
        t = median(times[name])
        rows.append(
            {
                "estimator": name,
                "rows_per_step": rows_per_step,
                "steps_per_epoch": math.ceil(n_outer / rows_per_step),
                "epochs": epochs,
                "fit_s": t,
                "s_per_epoch": t / epochs,
                "time_vs_ours": t / t_ours,
                "ours_over_skorch": t_ours / t_skorch if name == skorch_name else "",
                "repeats": args.repeats,
                "device": device,
            }
        )
    report(f"fit time incl. SMOTE, {note}", rows, args)
    if not math.isnan(t_skorch):
        print(f"MetaBalanceClassifier time / skorch time = {t_ours / t_skorch:.4f}")


if __name__ == "__main__":
    main()
