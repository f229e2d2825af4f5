"""Dense linear algebra that Ctrl-C can interrupt.

LAPACK calls (``eigh``, ``cholesky``, ...) on large matrices run for seconds without returning to
the interpreter, so a KeyboardInterrupt would wait for them. :func:`call` runs such a call in a
helper thread (NumPy releases the GIL inside LAPACK) while the calling thread waits in short slices,
so Ctrl-C raises KeyboardInterrupt within ~50 ms; the abandoned computation finishes in the
background and its result is dropped. Small problems run directly.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

#: Below this many matrix entries the call runs directly (milliseconds of work).
DIRECT_BELOW = 256 * 256


def call(fn: Callable[..., Any], *args: Any, size: int, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, interruptible by Ctrl-C when ``size`` (the number of matrix entries
    the call works on) is large and this is the main thread."""
    if size < DIRECT_BELOW or threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc

    worker = threading.Thread(target=target, name="statmech_nn-linalg", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)  # returns to the interpreter: a pending SIGINT raises KeyboardInterrupt here
    if "error" in box:
        raise box["error"]
    return box["value"]
