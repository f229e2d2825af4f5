"""Before/after timings in one process: load a second build of the package (another checkout's
``python/statmech_nn`` with its compiled ``_core``) under the name ``statmech_nn_baseline`` and time
the same call with both, alternating runs so that both see the same machine load.

Used by ``--baseline DIR`` of benchmarks/committee.py and benchmarks/perceptron.py.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from typing import Any, Callable


def load_baseline(path: str) -> Any:
    """Import the package at ``path`` (a ``statmech_nn`` directory) as ``statmech_nn_baseline``."""
    path = os.path.abspath(path)
    init = os.path.join(path, "__init__.py")
    if not os.path.exists(init):
        raise SystemExit(f"--baseline: {path} is not a statmech_nn package directory")
    spec = importlib.util.spec_from_file_location("statmech_nn_baseline", init, submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules["statmech_nn_baseline"] = module
    spec.loader.exec_module(module)
    return module


def compare(label: str, new: Callable[[], Any], old: Callable[[], Any], repeat: int = 3, block: int = 3) -> float:
    """Best-of and median seconds of ``new`` and ``old``; prints both, returns the best-of ratio old/new.

    The two run in alternating blocks of ``block`` consecutive calls (``repeat`` blocks each):
    switching between the two builds on every call costs either one a few microseconds of cold
    caches, which would dominate calls of a few milliseconds.
    """
    times_new, times_old = [], []
    for _ in range(repeat):
        for _ in range(block):
            t0 = time.perf_counter()
            old()
            times_old.append(time.perf_counter() - t0)
        for _ in range(block):
            t0 = time.perf_counter()
            new()
            times_new.append(time.perf_counter() - t0)
    best_old, best_new = min(times_old), min(times_new)
    med_old, med_new = sorted(times_old)[len(times_old) // 2], sorted(times_new)[len(times_new) // 2]
    ratio = best_old / best_new
    print(f"  {label}: before {best_old * 1e3:9.2f} ms (median {med_old * 1e3:9.2f})   after {best_new * 1e3:9.2f} ms "
          f"(median {med_new * 1e3:9.2f})   speed ratio before/after {ratio:5.2f} (medians {med_old / med_new:5.2f})")
    return ratio
