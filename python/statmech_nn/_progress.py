"""Progress bars for long calls into the core (``progress=`` of the facades and of sweep).

The core's parallel loops report the iterations done (points, seeds, grid cells) to a callback
installed for the calling thread, from C++, at most every ~100 ms, next to the Ctrl-C check; here
that callback drives a ``tqdm`` bar (``tqdm.auto``: a widget in notebooks, text on stderr
elsewhere). tqdm comes with the ``sweep`` extra.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Optional

from . import _core

_HINT = 'progress bars need tqdm (the "sweep" extra): pip install "statmech_nn[sweep]"'


def check_progress(progress: Any) -> bool:
    if not isinstance(progress, bool):
        import numpy as np

        if not isinstance(progress, np.bool_):
            raise TypeError(f"progress must be True or False; got {type(progress).__name__}")
    return bool(progress)


def tqdm_class() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*IProgress not found.*")
            from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError(f"{_HINT} (could not import tqdm: {exc})") from exc
    return tqdm


@contextlib.contextmanager
def core_progress(progress: Any, desc: str, unit: str = "it",
                  total: Optional[int] = None) -> Iterator[Optional[Any]]:
    """While active, the core loops started on this thread drive a tqdm bar (if ``progress``).

    ``total``: the iterations expected (the core's count replaces it if it differs). A call made
    of several loops (e.g. a grid done in passes) restarts the bar for each."""
    if not check_progress(progress):
        yield None
        return
    bar = tqdm_class()(total=total, desc=desc, unit=unit, dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        if done < bar.n:
            bar.reset(total=total)
        elif bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    previous = _core.set_progress_callback(update)
    try:
        yield bar
    finally:
        _core.set_progress_callback(previous)
        bar.close()
