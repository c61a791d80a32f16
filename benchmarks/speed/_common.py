"""Helpers shared by the speed scripts: data, timing, tables, CSV.

The scripts are run from the repository root, e.g.
``python benchmarks/speed/meta_step.py``; they put the repository root on
``sys.path`` so that the working-tree package is the one measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "speed" / "results"

#: The twelve numeric ``lending_club`` columns used for the loan-default
#: setting of the MetaBalance paper (12 -> 25 -> 1 network).
LENDING_CLUB_COLUMNS = [
    "funded_amnt",
    "int_rate",
    "annual_inc",
    "delinq_2yrs",
    "inq_last_6mths",
    "revol_util",
    "open_il_6m",
    "open_il_12m",
    "total_bal_il",
    "all_util",
    "inq_last_12m",
    "total_il_high_credit_limit",
]

#: The published loan-default configuration (Bansal et al., 2021): one
#: network, whatever the estimator's default number of members.
PUBLISHED = dict(
    n_estimators=1,
    hidden_layer_sizes=(25,),
    tasks_per_step=81,
    batch_size=24,
    outer_batch_size=16,
    inner_lr=0.01,
    inner_loss_weight=0.01,
    lr=0.02,
    momentum=0.9,
    weight_decay=5e-4,
    early_stopping=False,
)


def run_child(code, payload):
    """Run ``code`` in a fresh interpreter, ``payload`` as JSON in ``sys.argv[1]``.

    Returns the child's last line of standard output, parsed as JSON.
    """
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(payload)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def base_parser(description, default_name, default_threads=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help="torch intra-op threads for the whole run (default: "
        + ("torch's default" if default_threads is None else str(default_threads))
        + ")",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output directory for the CSV file (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--name",
        default=default_name,
        help=f"CSV file name (default: {default_name})",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device: 'cpu' (default) or 'cuda', 'cuda:N'",
    )
    return parser


def apply_threads(args):
    """Set torch's intra-op threads from ``--threads`` (this process only)."""
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)


def loan_data():
    """The loan-default table: 12 standardised numeric features, 0/1 target.

    Prefers ``lending_club`` from :mod:`skmetabalance.datasets`; falls back to
    the first 12 columns of sklearn's breast-cancer table when it is missing.

    Returns
    -------
    X : ndarray of shape (n, 12), float64
    y : ndarray of shape (n,), int
    name : str
    """
    from sklearn.preprocessing import StandardScaler

    try:
        from skmetabalance.datasets import load_dataset

        X, y = load_dataset("lending_club", as_frame=True, return_X_y=True)
        X = X[LENDING_CLUB_COLUMNS].to_numpy(dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        name = "lending_club (12 numeric features)"
    except (ImportError, ValueError, KeyError, OSError):
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = X[:, :12]
        y = 1 - y  # malignant (the minority) as the positive class
        name = "breast_cancer (first 12 features; lending_club unavailable)"
    return StandardScaler().fit_transform(X), y, name


def synthetic(n_rows, n_features=30, positive_share=0.01, seed=0, dtype=np.float64):
    """Gaussian rows, ``positive_share`` of them positive with a shifted mean."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n_rows) < positive_share).astype(np.int64)
    y[:2] = [0, 1]  # both classes present even for tiny n
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32).astype(
        dtype, copy=False
    )
    X[y == 1, : n_features // 3] += 1.0
    return X, y


# ------------------------------------------------------------------- memory
MB = 1024**2


def status_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak():
    """Reset the kernel's RSS high-water mark; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss_mb():
    try:
        return status_kb("VmRSS") / 1024
    except (OSError, KeyError):
        import psutil

        return psutil.Process().memory_info().rss / MB


def peak_mb():
    try:
        return status_kb("VmHWM") / 1024
    except (OSError, KeyError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssTrace(threading.Thread):
    """Sample ``(time.perf_counter(), RSS in MB)`` every ``interval`` seconds."""

    def __init__(self, interval=0.005):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples = []
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            self.samples.append((time.perf_counter(), rss_mb()))
            self._done.wait(self.interval)

    def stop(self):
        self._done.set()
        self.join()
        self.samples.append((time.perf_counter(), rss_mb()))

    def window(self, start):
        """The first and the largest sample from ``start`` on."""
        during = [rss for t, rss in self.samples if t >= start]
        return during[0], max(during)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleaved(named_fns, repeats, warmup=True, verbose=True):
    """Time callables round-robin ``repeats`` times.

    Interleaving spreads load changes of a shared machine over all contenders,
    so ratios of medians taken in one run are fair even when absolute times
    drift.

    Returns
    -------
    times : dict of list of float
        Seconds of each repeat, by name.
    note : str
        How the times were taken, with the machine's load before and after.
    """
    load_before = load_average()
    times = {name: [] for name in named_fns}
    if warmup:
        for fn in named_fns.values():
            fn()
    for r in range(repeats):
        for name, fn in named_fns.items():
            t, _ = timed(fn)
            times[name].append(t)
            if verbose:
                print(f"  repeat {r + 1}/{repeats}  {name:<34s} {t:8.3f} s", flush=True)
    note = (
        f"median of {repeats} interleaved repeats (1-min load average "
        f"{load_before:.1f} before, {load_average():.1f} after)"
    )
    return times, note


def median(values):
    return statistics.median(values)


def machine():
    """A one-line description of the machine and library versions."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} intra-op threads), Python "
        f"{platform.python_version()}"
    )


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def print_table(rows, columns, floatfmt="{:.3f}"):
    """Print ``rows`` (list of dicts) as an aligned text table."""

    def fmt(v):
        return f"{v:.1e}" if v != 0 and abs(v) < 1e-3 else floatfmt.format(v)

    frame = pd.DataFrame(rows).reindex(columns=columns)
    print(frame.to_string(index=False, float_format=fmt, na_rep=""))


def report(title, rows, args, floatfmt="{:.3f}"):
    """Print ``title`` and the table of ``rows``; write them to the CSV file."""
    columns = list(rows[0])
    print()
    print(title)
    print_table(rows, columns, floatfmt)
    return write_csv(rows, columns, args.out, args.name)


def write_csv(rows, columns, out_dir, name):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    pd.DataFrame(rows).reindex(columns=columns).to_csv(path, index=False)
    print(f"wrote {path}")
    return path


def sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
