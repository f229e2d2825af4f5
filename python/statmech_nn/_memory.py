"""How much memory a call may use, and the one check every entry point makes before allocating.

Each entry point estimates the bytes it will hold from its arguments (outputs, working arrays, one
copy per concurrent thread) and calls :func:`check_memory` first, so that a call beyond what the
process can get is a ``ValueError`` naming the parameter that drives the size and saying how much it
would need, instead of a ``MemoryError`` (or the kernel's out-of-memory killer) after it has eaten
the machine.

The limit is what this process can still get: the smallest of the machine's available memory
(``MemAvailable``), the cgroup's remaining allowance (containers, batch schedulers) and the address
space left under ``RLIMIT_AS`` (``ulimit -v``). :func:`set_memory_limit` lowers it (or raises it to
at most that) for the rest of the session.
"""

from __future__ import annotations

import math
import os
from typing import Any, Optional

_user_limit: Optional[float] = None


def _meminfo_available() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float(1 << 40)


def _read_number(path: str) -> Optional[float]:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    try:
        return float(text)
    except ValueError:
        return None  # "max": no limit


def _cgroup_available() -> float:
    # cgroup v2, then v1; "max" or absurd values mean no limit.
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read_number(limit_path)
        if limit is not None and limit < 2.0 ** 60:
            usage = _read_number(usage_path) or 0.0
            return max(0.0, limit - usage)
    return math.inf


def _address_space_available() -> float:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return math.inf
    if soft == resource.RLIM_INFINITY or soft < 0:
        return math.inf
    try:
        with open("/proc/self/statm") as fh:
            used = float(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = 0.0
    return max(0.0, soft - used)


def available_memory() -> float:
    """Bytes this process can still allocate: the smallest of the machine's available memory, the
    cgroup's remaining allowance and the address space left under ``RLIMIT_AS``."""
    return min(_meminfo_available(), _cgroup_available(), _address_space_available())


def memory_limit() -> float:
    """The bytes a single call may use now: :func:`available_memory`, or less where
    :func:`set_memory_limit` set a lower limit."""
    avail = available_memory()
    return avail if _user_limit is None else min(avail, _user_limit)


def set_memory_limit(nbytes: Optional[float]) -> None:
    """Set the most memory (bytes) one call of statmech_nn may plan to use; ``None`` restores the
    default (what the process can still get, see :func:`available_memory`).

    Calls whose estimate exceeds the limit raise ``ValueError`` naming the parameter that drives the
    size, before allocating anything. The limit never exceeds what the process can get.
    """
    global _user_limit
    if nbytes is None:
        _user_limit = None
        return
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, float)) or not math.isfinite(float(nbytes)) \
            or float(nbytes) <= 0:
        raise ValueError(f"nbytes: must be a positive finite number of bytes or None; got {nbytes!r}")
    _user_limit = float(nbytes)


#: Requests up to this size skip the reads of /proc and the cgroup files (~30 us, a tenth of a
#: small kernel call) unless a lower limit was set: no process that runs Python lacks 16 MiB.
_SMALL = float(2 ** 24)


def check_memory(bytes_needed: float, param: str, value: Any) -> None:
    """Refuse a call whose estimated memory exceeds :func:`memory_limit` (ValueError naming the
    parameter that drives it and the bytes needed)."""
    if bytes_needed <= _SMALL and (_user_limit is None or bytes_needed <= _user_limit):
        return  # (a NaN estimate is not <= and goes on to be refused)
    limit = memory_limit()
    if not bytes_needed <= limit:  # also refuses a NaN estimate
        shown = value if not hasattr(value, "shape") else f"<array of shape {tuple(value.shape)}>"
        raise ValueError(f"{param}={shown!r} needs about {bytes_needed / 2**30:.3g} GiB of memory "
                         f"({bytes_needed:.3g} bytes); the limit is {limit / 2**30:.3g} GiB "
                         "(what this process can get, or statmech_nn.set_memory_limit)")
