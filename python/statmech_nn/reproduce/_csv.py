"""CSV output shared by the reproduction modules (floats at full precision).

``meta`` (optional) writes a header of ``# key: value`` lines -- the package version and the
figure's parameters -- before the column names; read such a file with
``pandas.read_csv(path, comment="#")`` or ``csv.DictReader(l for l in fh if not l.startswith("#"))``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence

import numpy as np


def _cell(v: Any) -> Any:
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


def write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]],
               meta: Optional[Dict[str, Any]] = None) -> Path:
    """Optional ``# key: value`` lines, one header line, then one line per row."""
    with open(path, "w", newline="") as fh:
        if meta:
            for k, v in meta.items():
                fh.write(f"# {k}: {v}\n")
        w = csv.writer(fh)
        w.writerow(list(header))
        for r in rows:
            w.writerow([_cell(v) for v in r])
    return path


def write_columns(path: Path, columns: Dict[str, Sequence[float]], meta: Optional[Dict[str, Any]] = None) -> Path:
    """Named columns of equal length (arrays are flattened)."""
    names = list(columns)
    rows = zip(*(np.asarray(columns[n], dtype=float).ravel() for n in names))
    return write_rows(path, names, rows, meta)
