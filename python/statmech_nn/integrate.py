"""Generic access to the C++ ODE integrators (the ones every order-parameter model uses).

Methods: ``"dopri5"`` (adaptive Dormand–Prince 5(4) with 4th-order dense output),
``"rk4"`` (classical, fixed step ``dt``) and ``"euler"`` (explicit, fixed step ``dt``; what the
field's public scripts use). Status strings, shared by every result object in the package:

* ``"completed"``: reached the last requested time;
* ``"event"``: a stopping condition was met (e.g. eps_g fell below a threshold);
* ``"diverged"``: the state became non-finite or exceeded the divergence bound;
* ``"max_steps"`` / ``"step_too_small"``: the integrator gave up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from . import _core
from ._validation import ODE_METHODS as METHODS
from ._validation import as_float_array, check_ode_options, check_times
STATUSES = ("completed", "event", "diverged", "max_steps", "step_too_small")

__all__ = ["METHODS", "STATUSES", "OdeSolution", "solve_ode"]


@dataclass
class OdeSolution:
    """Solution at the requested times that were reached.

    Attributes
    ----------
    t : (n,) array
    y : (n, dim) array
    status : str
    t_stop : float
        Where integration ended (last time, event time or divergence time).
    y_stop : (dim,) array
    event_time : float
        NaN unless ``status == "event"``.
    n_rhs, n_steps, n_rejected : int
    """

    t: np.ndarray
    y: np.ndarray
    status: str
    t_stop: float
    y_stop: np.ndarray
    event_time: float
    n_rhs: int
    n_steps: int
    n_rejected: int


def solve_ode(fun: Callable[[float, np.ndarray], Any], y0: Any, t: Any, *, method: str = "dopri5",
              rtol: float = 1e-8, atol: float = 1e-10, dt: Optional[float] = None,
              max_step: float = np.inf, divergence_bound: float = 1e8,
              event: Optional[Callable[[float, np.ndarray], float]] = None) -> OdeSolution:
    """Integrate ``dy/dt = fun(t, y)`` with a Python right-hand side (for tests and prototypes;
    the models call the C++ integrators directly).

    ``event(t, y)``: the integration stops where it first becomes <= 0.
    """
    if not callable(fun):
        raise TypeError("fun must be callable")
    if event is not None and not callable(event):
        raise TypeError("event must be callable or None")
    method, rtol, atol, dt, max_step, max_steps, divergence_bound = check_ode_options(
        method, rtol, atol, dt, max_step, 100_000_000, divergence_bound, default_dt=None)
    y0 = as_float_array(y0, "y0", ndim=1)
    times = check_times(t, start_nonnegative=False)
    r = _core.integrators.solve(fun, y0, times, method, rtol, atol, dt, max_step, max_steps, divergence_bound, event)
    return OdeSolution(t=np.asarray(r["t"]), y=np.asarray(r["y"]), status=r["status"], t_stop=float(r["t_stop"]),
                       y_stop=np.asarray(r["y_stop"]), event_time=float(r["event_time"]), n_rhs=int(r["n_rhs"]),
                       n_steps=int(r["n_steps"]), n_rejected=int(r["n_rejected"]))
