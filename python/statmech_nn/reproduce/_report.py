"""What `reproduce` prints while it runs (one line per figure with its elapsed time; progress
bars for the long computations) and the provenance every figure and CSV carries."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict

_STATE: Dict[str, Any] = {"quiet": True, "last": None, "bars": False}


def configure(quiet: bool) -> None:
    """Called by the command line: print per-figure lines and progress bars unless ``quiet``."""
    _STATE["quiet"] = bool(quiet)
    bars = False
    if not quiet:
        try:
            import tqdm  # noqa: F401  (the bars are optional: the "sweep" extra)

            bars = True
        except ImportError:
            bars = False
    _STATE["bars"] = bars
    _STATE["last"] = time.perf_counter()


def start() -> None:
    """A topic starts: figure times count from here."""
    _STATE["last"] = time.perf_counter()


def bars() -> bool:
    """Whether long calls should show a progress bar (``progress=``)."""
    return bool(_STATE["bars"])


def say(text: str) -> None:
    if not _STATE["quiet"]:
        print(text, flush=True)


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save and close ``fig``; print its name and the time since the previous figure."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    now = time.perf_counter()
    last = _STATE["last"] if _STATE["last"] is not None else now
    _STATE["last"] = now
    say(f"  {Path(path).name}  ({now - last:.1f} s)")
    return Path(path)


def provenance(**parameters: Any) -> Dict[str, Any]:
    """The header of a CSV: the package version and the parameters of the figure."""
    from .. import __version__

    out = {"statmech_nn": __version__}
    out.update(parameters)
    return out


def stderr_is_terminal() -> bool:
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
