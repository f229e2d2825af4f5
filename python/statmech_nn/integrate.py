"""Generic access to the C++ ODE integrators (the ones every order-parameter model uses).

Methods: ``"dopri5"`` (adaptive Dormand–Prince 5(4) with its 4th-order dense output; J. R. Dormand
and P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6, 19, 1980),
``"rkc"`` (adaptive second-order Runge–Kutta–Chebyshev; B. P. Sommeijer, L. F. Shampine and J. G.
Verwer, "RKC: An explicit solver for parabolic PDEs", J. Comput. Appl. Math. 88, 315, 1997),
``"rk4"`` (classical, fixed step ``dt``) and ``"euler"`` (explicit, fixed step ``dt``). The
on-line learning ODEs of :mod:`statmech_nn.perceptron` and :mod:`statmech_nn.committee` (Saad &
Solla 1995; Riegler & Biehl 1995; Goldt et al. 2019) are integrated with them.

Choosing a method: ``"dopri5"`` (the default) is the method for accurate solutions. ``"rkc"`` is
a stabilised explicit method: its s stages cover the real stability interval [-0.65 s^2, 0], and
it chooses s at every step from an estimate of the spectral radius of the Jacobian (a nonlinear
power iteration of a few right-hand sides, refreshed every 25 steps and after a rejected step;
at most 1000 stages, beyond a spectral radius of ~6.5e5 / h the step shrinks instead).
Choose it for long horizons of stiff problems whose stiff eigenvalues are (nearly) real --
diffusion-like systems, slow relaxation after a fast transient -- at modest accuracy, where the
step of ``"dopri5"`` is bounded by stability instead of by ``rtol``: on the heat equation with 50
points (spectral radius 1e4) it needs 10-30 times fewer right-hand sides. It is second order, so
its global error grows like rtol^(2/3) rather than rtol (ask it for a smaller ``rtol`` than
``"dopri5"`` for the same accuracy), it has no stability for strongly oscillating (imaginary)
modes, and its dense output is cubic Hermite. On non-stiff problems at tight tolerances it needs
many more right-hand sides than ``"dopri5"`` (5 to 9 times on the K = M = 2 committee ODEs at rtol
1e-8). On the committee ODEs (K = M = 10, erf) the step
of ``"dopri5"`` is only mildly stability-limited: ``"rkc"`` needs fewer right-hand sides only at
rtol >= 1e-4 (0.4 times as many at rtol 1e-3 over t <= 1e4, with a smaller error in eps_g), and
about 1.7 times as many at rtol 1e-6 over t <= 1000.

Status words (from the package's vocabulary, :data:`statmech_nn.STATUSES`):

* ``"ok"``: reached the last requested time;
* ``"event"``: the stopping condition was met (``event(t, y) <= 0``);
* ``"diverged"``: the state became non-finite or exceeded ``divergence_bound`` in magnitude (the
  rows hold the values before that, ``stop_time`` says when);
* ``"max_steps"``: the step budget (accepted plus rejected steps) is used up;
* ``"step_too_small"``: the step no longer advances t (a zero, NaN or subnormal step, steps below
  ~1e-14 |t| after rejections, or t so large that t + h == t).

A right-hand side that is non-finite at the initial state ends as ``"diverged"`` at ``t[0]``;
later non-finite trial steps are retried with smaller steps and end as ``"diverged"`` or
``"step_too_small"``. Empty or non-finite initial states and non-finite times, or times beyond
1e15 in magnitude (where the spacing of doubles exceeds 0.1), are a ValueError.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from . import _core
from ._result import Result, resultclass
from ._validation import ODE_METHODS as METHODS
from ._validation import as_float_array, check_int, check_memory, check_ode_options, check_times

#: The status words an integration can end with (a subset of :data:`statmech_nn.STATUSES`).
STATUSES = ("ok", "event", "diverged", "max_steps", "step_too_small")

__all__ = ["METHODS", "STATUSES", "OdeSolution", "solve_ode"]


@resultclass
class OdeSolution(Result):
    """Solution at the requested times that were reached.

    Attributes
    ----------
    t : (n,) array
        The requested times up to where the integration ended.
    y : (n, dim) array
        The state there.
    status : str
        One of :data:`STATUSES` (module docstring).
    stop_time : float
        Where the integration ended (last time, event time or divergence time); ``t_stop`` is a
        deprecated alias.
    y_stop : (dim,) array
        The state at ``stop_time``.
    event_time : float
        NaN unless ``status == "event"``.
    n_rhs, n_steps, n_rejected : int
        Right-hand-side evaluations, accepted and rejected steps.
    """

    t: np.ndarray
    y: np.ndarray
    status: str
    stop_time: float
    y_stop: np.ndarray
    event_time: float
    n_rhs: int
    n_steps: int
    n_rejected: int
    _dims = {"t": ("t",), "y": ("t", "dim"), "y_stop": ("dim",)}
    _aliases = {"t_stop": "stop_time"}


def solve_ode(fun: Callable[[float, np.ndarray], Any], y0: Any, t: Any, *, method: str = "dopri5",
              rtol: float = 1e-8, atol: float = 1e-10, dt: Optional[float] = None,
              max_step: float = np.inf, max_steps: int = 1_000_000, divergence_bound: float = 1e8,
              event: Optional[Callable[[float, np.ndarray], float]] = None) -> OdeSolution:
    """Integrate ``dy/dt = fun(t, y)`` with a Python right-hand side (for tests and prototypes;
    the models call the C++ integrators directly).

    Parameters
    ----------
    fun : callable
        ``fun(t, y)`` returns dy/dt (an array of ``len(y0)``).
    y0 : 1-D array
        Initial state at ``t[0]`` (non-empty, finite).
    t : 1-D array
        Output times (strictly increasing, finite, at most 1e15 in magnitude); the first is the
        initial time.
    method : {"dopri5", "rkc", "rk4", "euler"}
        Integrator (module docstring, "Choosing a method").
    rtol, atol : float
        Tolerances of the adaptive methods ``"dopri5"`` and ``"rkc"``.
    dt : float, optional
        Fixed step of ``"rk4"``/``"euler"`` (required there); first trial step of ``"dopri5"`` and
        ``"rkc"``.
    max_step : float
        Largest step.
    max_steps : int
        Budget of attempted (accepted and rejected) steps (status ``"max_steps"`` when used up);
        at most 2**63 - 1. The default, 10^6, bounds a call with a Python right-hand side to
        seconds (an explicit method needs ~1/|lambda| per step even after a decay has died out).
        A ``"rkc"`` step costs up to 1000 right-hand sides (``"dopri5"``: 6).
    divergence_bound : float
        The run stops with status ``"diverged"`` when ``max |y|`` exceeds this or y is not finite.
    event : callable, optional
        ``event(t, y)`` returns a real number; the integration stops where it first becomes <= 0
        (status ``"event"``). Any other return value is a TypeError.

    Returns
    -------
    OdeSolution
    """
    if not callable(fun):
        raise TypeError("fun must be callable")
    if event is not None and not callable(event):
        raise TypeError("event must be callable or None")
    max_steps = check_int(max_steps, "max_steps", low=1)
    method, rtol, atol, dt, max_step, max_steps, divergence_bound = check_ode_options(
        method, rtol, atol, dt, max_step, max_steps, divergence_bound, default_dt=None)
    y0 = as_float_array(y0, "y0", ndim=1)
    times = check_times(t, start_nonnegative=False)
    # The dense output on the grid (and its copy into the result), plus eight stage vectors.
    check_memory(16.0 * times.size * y0.size + 80.0 * y0.size, "t" if times.size >= y0.size else "y0",
                 f"<{times.size} times x {y0.size} components>")
    options = _core.integrators.OdeOptions(method, rtol, atol, dt, max_step, max_steps, divergence_bound)
    r = _core.integrators.solve(fun, y0, times, options, event)
    y = np.asarray(r["y"])
    status = str(r["status"])
    if status in ("ok", "event") and not (np.all(np.isfinite(y)) and np.all(np.isfinite(r["y_stop"]))):
        status = "diverged"  # never report success with non-finite numbers
    return OdeSolution(t=np.asarray(r["t"]), y=y, status=status, stop_time=float(r["stop_time"]),
                       y_stop=np.asarray(r["y_stop"]), event_time=float(r["event_time"]), n_rhs=int(r["n_rhs"]),
                       n_steps=int(r["n_steps"]), n_rejected=int(r["n_rejected"]))
