"""CSV output shared by the reproduction modules (floats at full precision)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Dict, Iterable, Sequence

import numpy as np


def _cell(v: Any) -> Any:
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


def write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """One header line, then one line per row."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(header))
        for r in rows:
            w.writerow([_cell(v) for v in r])
    return path


def write_columns(path: Path, columns: Dict[str, Sequence[float]]) -> Path:
    """Named columns of equal length (arrays are flattened)."""
    names = list(columns)
    rows = zip(*(np.asarray(columns[n], dtype=float).ravel() for n in names))
    return write_rows(path, names, rows)
