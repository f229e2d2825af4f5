"""Argument checking shared by every submodule: clear errors that name the parameter."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import numpy as np

from . import _core
from ._memory import available_memory, check_memory, memory_limit  # noqa: F401  (re-exported)

#: Most layers a deep-network recursion or simulation accepts (README "Conventions": sizes and memory).
MAX_DEPTH = 100_000

# The activation table lives in the C++ core (cpp/src/activations/activation.cpp); "silu" is an alias of "swish".
ACTIVATIONS = tuple(a["name"] for a in _core.activations()) + ("silu",)


_INT64_MAX = 2**63 - 1
_INT_AS_FLOAT_MAX = 2**1023  # ints up to here convert to float without OverflowError
#: Largest |t| an ODE integration accepts (the core's kMaxOdeTime).
MAX_TIME = 1e15


def check_activation(name: Any, allowed: Sequence[str] = ACTIVATIONS, param: str = "activation") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{param} must be a string, one of {', '.join(allowed)}; got {type(name).__name__}")
    if name not in allowed:
        raise ValueError(f"{param}: unknown activation {name!r}; choose one of {', '.join(allowed)}")
    return name


def check_choice(value: Any, choices: Sequence[str], param: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{param} must be a string, one of {', '.join(choices)}; got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{param}: unknown value {value!r}; choose one of {', '.join(choices)}")
    return value


def check_real(
    value: Any,
    param: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    low: Optional[float] = None,
    high: Optional[float] = None,
) -> float:
    """A finite real scalar (bool is rejected), optionally constrained."""
    tp = type(value)
    if tp is float or (tp is int and -_INT_AS_FLOAT_MAX <= value <= _INT_AS_FLOAT_MAX):  # fast path
        v = float(value)
        if math.isfinite(v) and (not positive or v > 0) and (not nonnegative or v >= 0) \
                and (low is None or v >= low) and (high is None or v <= high):
            return v
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.number):
            value = value.item()
        else:
            raise TypeError(f"{param} must be a real number; got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range (e.g. 10**400)
        raise ValueError(f"{param} must be finite; got an integer with {len(str(abs(int(value))))} digits") \
            from None
    if not math.isfinite(v):
        raise ValueError(f"{param} must be finite; got {v}")
    if positive and not v > 0:
        raise ValueError(f"{param} must be > 0; got {v}")
    if nonnegative and not v >= 0:
        raise ValueError(f"{param} must be >= 0; got {v}")
    if low is not None and v < low:
        raise ValueError(f"{param} must be >= {low}; got {v}")
    if high is not None and v > high:
        raise ValueError(f"{param} must be <= {high}; got {v}")
    return v


def check_int(value: Any, param: str, *, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """An int (bool rejected). Whatever the bounds, it must fit a signed 64-bit integer (what the
    core receives), so huge ints are a ValueError naming the parameter, never an OverflowError."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{param} must be an integer; got {type(value).__name__}")
    v = int(value)
    if not -_INT64_MAX - 1 <= v <= _INT64_MAX:
        raise ValueError(f"{param} is out of range (it must fit a signed 64-bit integer); got {v:.3g}"
                         if abs(v) < 10**300 else f"{param} is out of range (an integer with "
                         f"{len(str(abs(v)))} digits)")
    if low is not None and v < low:
        raise ValueError(f"{param} must be >= {low}; got {v}")
    if high is not None and v > high:
        raise ValueError(f"{param} must be <= {high}; got {v}")
    return v


def check_divergence_bound(value: Any, param: str = "divergence_bound") -> float:
    """A divergence bound: a real number > 1, or inf (stop only at float64 overflow)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{param} must be a real number; got {type(value).__name__}")
    if isinstance(value, (int, np.integer)) and abs(int(value)) > 10**300:
        raise ValueError(f"{param} is out of range; use np.inf to stop only at float64 overflow")
    v = float(value)
    if not v > 1:
        raise ValueError(f"{param} must be > 1 (np.inf: stop only at float64 overflow); got {v}")
    return v


def as_float_array(value: Any, param: str, *, ndim: Optional[int] = None, shape: Optional[tuple] = None,
                   finite: bool = True) -> np.ndarray:
    """A C-contiguous float64 array (no copy when it already is one)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{param} must be an array of real numbers; got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises various things
        raise TypeError(f"{param} must be an array of real numbers") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{param} must be an array of real numbers; got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{param} must be real, not complex")
    if arr.dtype != np.float64 or not arr.flags.c_contiguous:
        # The float64 copy (a broadcast view of a few bytes can stand for gigabytes).
        check_memory(8.0 * arr.size, param, f"<array of shape {arr.shape}>")
    arr = np.asarray(arr, dtype=np.float64, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray does not)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{param} must be {ndim}-dimensional; got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{param} must have shape {tuple(shape)}; got {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{param} must contain only finite values")
    return arr


def check_times(t: Any, param: str = "t", *, start_nonnegative: bool = True) -> np.ndarray:
    """Output times: a 1-D, finite, strictly increasing float64 array (a scalar T means [0, T]),
    at most :data:`MAX_TIME` in magnitude (beyond it the spacing of doubles exceeds 0.1 and an
    integration would stagnate)."""
    arr = as_float_array(t, param)
    if arr.size and float(np.max(np.abs(arr))) > MAX_TIME:
        raise ValueError(f"{param}: times beyond {MAX_TIME:g} in magnitude are not supported; got "
                         f"{float(np.max(np.abs(arr))):.3g}")
    if arr.ndim == 0:
        if not arr > 0:
            raise ValueError(f"{param}: a scalar end time must be > 0; got {float(arr)}")
        arr = np.linspace(0.0, float(arr), 201)
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"{param} must be a 1-D array of times; got shape {arr.shape}")
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValueError(f"{param} must be strictly increasing")
    if start_nonnegative and arr[0] < 0:
        raise ValueError(f"{param} must start at a time >= 0; got {arr[0]}")
    return arr


def check_symmetric_psd(M: np.ndarray, param: str, *, strict: bool = False, tol: float = 1e-10) -> np.ndarray:
    """Square, symmetric (to tol) and positive semidefinite (definite if strict)."""
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{param} must be a square matrix; got shape {M.shape}")
    scale = max(1.0, float(np.max(np.abs(M)))) if M.size else 1.0
    if not np.allclose(M, M.T, atol=tol * scale, rtol=0):
        raise ValueError(f"{param} must be symmetric")
    M = 0.5 * (M + M.T)
    if M.size:
        from . import _interruptible

        ev = _interruptible.call(np.linalg.eigvalsh, M, size=M.size)
        if strict and not ev[0] > tol * scale:
            raise ValueError(f"{param} must be positive definite (smallest eigenvalue {ev[0]:.3g})")
        if ev[0] < -tol * scale:
            raise ValueError(f"{param} must be positive semidefinite (smallest eigenvalue {ev[0]:.3g})")
    return np.ascontiguousarray(M)


def check_threads(num_threads: Any) -> int:
    """None -> 0 (OpenMP default); otherwise a positive int."""
    if num_threads is None:
        return 0
    return check_int(num_threads, "num_threads", low=1, high=4096)


def check_seeds(seeds: Any, param: str = "seeds") -> np.ndarray:
    """An int seed (one run) or a sequence of non-negative int seeds; returns uint64 array."""
    if isinstance(seeds, bool):
        raise TypeError(f"{param} must be an int or a sequence of ints")
    if isinstance(seeds, (numbers.Integral, np.integer)):
        seeds = [int(seeds)]
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"{param} must be an int or a non-empty 1-D sequence of ints")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{param} must contain integers; got dtype {arr.dtype}")
    if np.any(arr < 0):
        raise ValueError(f"{param} must be non-negative")
    return arr.astype(np.uint64)


ODE_METHODS = ("dopri5", "rkc", "rk4", "euler")


def check_ode_options(method: Any, rtol: Any, atol: Any, dt: Any, max_step: Any = math.inf,
                      max_steps: Any = 100_000_000, divergence_bound: Any = 1e8, *,
                      default_dt: Optional[float] = 0.01) -> tuple:
    """Integrator options shared by every ODE front end.

    Returns ``(method, rtol, atol, dt, max_step, max_steps, divergence_bound)`` ready for the core.
    ``dt=None`` means: choose (the adaptive "dopri5" and "rkc"), or ``default_dt`` for the fixed-step methods
    (an error when ``default_dt`` is None).
    """
    method = check_choice(method, ODE_METHODS, "method")
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", nonnegative=True)
    if dt is None:
        if method in ("dopri5", "rkc"):  # adaptive: the core chooses the first step
            dt = 0.0
        elif default_dt is None:
            raise ValueError(f"dt is required for method {method!r}")
        else:
            dt = float(default_dt)
    else:
        dt = check_real(dt, "dt", positive=True)
    if max_step is None or (isinstance(max_step, (int, float)) and not isinstance(max_step, bool)
                            and max_step == math.inf):
        max_step = math.inf
    else:
        max_step = check_real(max_step, "max_step", positive=True)
    max_steps = check_int(max_steps, "max_steps", low=1)
    divergence_bound = check_real(divergence_bound, "divergence_bound", positive=True)
    return method, rtol, atol, dt, max_step, max_steps, divergence_bound

