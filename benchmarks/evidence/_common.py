"""What the evidence studies share: the reST tables they print for the docs."""

from __future__ import annotations

import numpy as np


def rst_table(frame, index_name="configuration", digits=3):
    """A reST simple table of a DataFrame (index as the first column)."""
    header = [index_name, *map(str, frame.columns)]
    body = []
    for idx, row in frame.iterrows():
        cells = [str(idx)]
        for v in row:
            if isinstance(v, (float, np.floating)):
                cells.append("–" if not np.isfinite(v) else f"{v:.{digits}f}")
            else:
                cells.append(str(v))
        body.append(cells)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, widths)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join([*lines, rule])
