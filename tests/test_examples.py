"""Smoke tests: every gallery example runs to the end and draws a figure.

Each example runs in a fresh interpreter, in a temporary working directory,
with the non-interactive Agg backend. Deselect them with ``-m "not examples"``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))

# Runs the example as __main__ with ``plt.show`` disabled, then saves every
# open figure, so that the test can check that the example drew one.
RUNNER = """
import runpy
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.show = lambda *args, **kwargs: None
runpy.run_path(sys.argv[1], run_name="__main__")
for number in plt.get_fignums():
    plt.figure(number).savefig(f"figure_{number}.png")
"""


def test_every_example_script_is_run():
    # A script under examples/ that test_example_runs does not pick up (another
    # name, a subfolder) would go untested and be missing from the gallery,
    # whose filename_pattern also selects plot_*.py.
    scripts = sorted(
        p for p in (ROOT / "examples").rglob("*.py") if p.name != "__init__.py"
    )
    assert scripts, "no example scripts"
    assert EXAMPLES == scripts


@pytest.mark.examples
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    # The checkout, importable whether or not the package is installed.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p
    )
    # Tiny networks run fastest on one thread, and parallel test workers do not
    # then compete for cores.
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"{path.name} failed:\n--- stdout ---\n{proc.stdout[-3000:]}\n"
        f"--- stderr ---\n{proc.stderr[-5000:]}"
    )
    figures = sorted(tmp_path.glob("figure_*.png"))
    assert figures, f"{path.name} ran but drew no figure"
    assert all(f.stat().st_size > 1000 for f in figures)
