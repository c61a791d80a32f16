"""Run the benchmark: ``python -m skmetabalance.benchmark --help``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
