"""On-line learning of a perceptron, plain SGD and weight normalisation.

The order-parameter theory of Y. Yoshida, R. Karakida, M. Okada and S. Amari, "Analysis of on-line
learning with weight normalization in single layer perceptron using statistical mechanical
approach" (JSAI annual conference), for the weight normalisation of T. Salimans and D. P. Kingma,
"Weight normalization: a simple reparameterization to accelerate training of deep neural networks"
(NeurIPS 2016), in the teacher-student setting of on-line learning (D. Saad and S. A. Solla,
"On-line learning in soft committee machines", Phys. Rev. E 52, 4225, 1995).

Model and conventions
---------------------
Inputs ``x_i ~ N(0, 1/N)``; teacher ``t = g(B.x)`` with ``|B| = sqrt(N)``; student ``s = g(J.x)``
with ``|J| = sqrt(N) l`` and ``B.J = N l R``. The fields ``u = J.x / l`` and ``v = B.x`` are
``N(0, [[1, R], [R, 1]])``. With ``delta0 = g(v) - g(l u)``::

    A1 = <g'(lu) delta0 l u>,  A2 = 1/2 <g'(lu)^2 delta0^2>,  A3 = <g'(lu) delta0 v>,
    eps_g = 1/2 <delta0^2>       (squared loss 1/2 (t - s)^2, full expectation).

Time is ``t = (SGD steps) / N``. ``"erf"`` is ``erf(x / sqrt 2)``.

* ``rule="sgd"``: ``J <- J + eta g'(J.x)(t - s) x`` and, for N -> infinity,
  ``d(l^2)/dt = 2 eta A1 + 2 eta^2 A2``, ``d(lR)/dt = eta A3``.
* ``rule="wn"`` (weight normalisation, Salimans & Kingma 2016): ``J = r V/|V|`` with
  ``r = sqrt(N) l`` and ``|V| = sqrt(N) z``; gradient steps on ``r`` and ``V`` with the same ``eta``
  (Yoshida et al.)::

      r <- r + eta delta (J.x)/r,   V <- V + eta delta (r/|V| x - (J.x)/|V|^2 V),

  giving ``d(l^2)/dt = 2 eta A1``, ``d(zR)/dt = eta (l A3 - R A1)/z``,
  ``d(z^2)/dt = 2 eta^2 l^2 A2 / z^2``. ``z`` only grows; the direction cosine ``R`` learns with
  the *effective* learning rate ``eta / z^2``. Under WN, ``l = r/sqrt(N)`` (it could turn negative
  if ``r`` crossed zero) and ``R`` is the cosine between ``V`` and ``B``.

Closed forms of A1, A2, A3 and eps_g are used for ``linear``, ``erf`` and ``relu`` (exact to
~1e-16 against high-order quadrature), and for ``sin``, ``cos`` and ``rbf`` through the Gaussian
layer's closed I2, I3, I4 (characteristic functions; 1e-10 against an independent reference at
every l, where quadrature could not follow sin(l u) beyond l ~ 3); every other activation of :mod:`statmech_nn.gaussian` uses
the 2-D Gaussian quadrature over (v, u) of the Gaussian layer: 16-node Gauss–Legendre panels split
at the kinks and scale points of g(v) and of g(l u) (at u = point / l), with graded panels of width
1.5/|l| in v and around u = 0 for |l| > 1.25, where g'(l u) gets narrow. eps_g agrees with the
Gaussian layer's I2 to 1e-11 relative (1e-15 typically), A1-A3 SciPy's adaptive 2-D quadrature to
1e-10 (both tested). Constants at the fixed point (``stability``) use
1-D composite Gauss–Legendre panels (eta_c of tanh matches adaptive quadrature to 1e-10).
The ODE state is ``(l^2, lR)`` for SGD and ``(l, zR, z^2)`` for WN (smooth
through ``J = 0`` and ``r = 0``).

Divergence
----------
Beyond the critical learning rate ``eta_c`` plain SGD does not converge: for unbounded activations
(linear, relu) ``l`` grows exponentially; for bounded ones (erf, tanh) the student's unit
saturates, the gradient through ``g'`` vanishes and ``l`` drifts to a fixed point at infinity
algebraically (e.g. erf, eta = 500: l ~ 200 by t = 100) while eps_g approaches the error of a
saturated (sign-like) student. :func:`ode`, :func:`time_to_error` and :func:`simulate` end a run
with status ``"diverged"`` (and its ``stop_time``) when the field variance ``l^2`` exceeds
``divergence_bound`` (default 1e4: a field standard deviation 100 times the teacher's) times
``max(1, l0^2)``, or when the state is not finite -- the criterion of
:func:`statmech_nn.committee.ode`. Under weight normalisation ``z`` grows without bound at large
eta; that is the mechanism that lowers the effective learning rate ``eta / z^2``, not a divergence.
"""

from __future__ import annotations

from typing import Any, Optional

import functools
import math
import os

import numpy as np

from . import _core
from ._progress import core_progress
from ._result import Result, combine_status, resultclass, status_words
from ._validation import (
    MAX_TIME,
    check_activation,
    check_choice,
    check_int,
    check_real,
    check_seeds,
    check_memory,
    check_threads,
    check_ode_options,
    check_times,
    as_float_array,
)

__all__ = [
    "RULES",
    "Averages",
    "OdeResult",
    "SimulationResult",
    "Stability",
    "TimeToError",
    "averages",
    "ode",
    "simulate",
    "stability",
    "time_to_error",
]

RULES = ("sgd", "wn")


# ---- results -------------------------------------------------------------------------------------
@resultclass
class Averages(Result):
    """Gaussian averages at (l, R) (module docstring).

    Attributes
    ----------
    A1, A2, A3 : float
        ``<g'(lu) delta0 l u>``, ``1/2 <g'(lu)^2 delta0^2>``, ``<g'(lu) delta0 v>``.
    eg : float
        Generalisation error eps_g = 1/2 <delta0^2>.
    A1_over_l : float
        ``A1 / l`` (finite at l = 0).
    status : str
        ``"ok"``, or ``"diverged"`` if a value is not finite.
    """

    A1: float
    A2: float
    A3: float
    eg: float
    A1_over_l: float
    status: str = "ok"


_ODE_DIMS = {"t": ("t",), "l": ("t",), "R": ("t",), "z": ("t",), "eg": ("t",)}


@resultclass
class OdeResult(Result):
    """Order parameters along the theory curve, at the requested times that were reached (after
    an ``eg_threshold`` event, the event point itself is the last row).

    Attributes
    ----------
    t : (n,) array
        Times (SGD steps / N).
    l : (n,) array
        Student length ``|J| / sqrt(N)`` (WN: the radial parameter ``r / sqrt(N)``).
    R : (n,) array
        Direction cosine between student and teacher.
    z : (n,) array or None
        ``|V| / sqrt(N)`` under weight normalisation; None for SGD.
    eg : (n,) array
        Generalisation error eps_g = 1/2 <(t - s)^2>.
    status : str
        ``"ok"`` (reached the last time), ``"event"`` (eps_g reached ``eg_threshold``),
        ``"diverged"`` (``l^2`` beyond the divergence bound or not finite; the rows hold the
        values before that), ``"max_steps"`` or ``"step_too_small"``.
    stop_time : float
        Where the integration ended (last time, event time or divergence time); ``t_stop`` is a
        deprecated alias.
    rule, activation : str
    eta : float
    n_rhs : int
        Right-hand-side evaluations.
    """

    t: np.ndarray
    l: np.ndarray
    R: np.ndarray
    z: Optional[np.ndarray]
    eg: np.ndarray
    status: str
    stop_time: float
    rule: str
    activation: str
    eta: float
    n_rhs: int = 0
    _dims = _ODE_DIMS
    _aliases = {"t_stop": "stop_time"}

    @property
    def eta_eff(self) -> np.ndarray:
        """Effective learning rate of R: ``eta / z^2`` (WN) or ``eta`` (SGD)."""
        if self.z is None:
            return np.full_like(self.t, self.eta)
        return self.eta / self.z**2


@resultclass
class SimulationResult(Result):
    """Microscopic simulation: order parameters of the real N-dimensional network (the twin of
    :class:`OdeResult`, with the same field names and a leading seed axis).

    Attributes
    ----------
    t : (n_times,) array
        Recording times, ``steps / N`` (requested times rounded to whole steps).
    l, R, z, eg : (n_seeds, n_times) arrays
        Per seed, as in :class:`OdeResult` (``eg`` is eps_g(l, R), exact for the current weights).
        NaN after a run diverged; ``z`` is None for SGD.
    l_mean, R_mean, z_mean, eg_mean : (n_times,) arrays
        Averages over the seeds (NaN where some run had diverged).
    seeds : (n_seeds,) array
    status : str
        ``"ok"``, or ``"diverged"`` when any seed diverged.
    seed_status : (n_seeds,) array of str
        ``"ok"`` or ``"diverged"`` (``l^2`` beyond the divergence bound or not finite) per seed.
    stop_time : (n_seeds,) array
        Time of the last recording, or of divergence; ``t_stop`` is a deprecated alias.
    N : int
    """

    t: np.ndarray
    l: np.ndarray
    R: np.ndarray
    z: Optional[np.ndarray]
    eg: np.ndarray
    l_mean: np.ndarray
    R_mean: np.ndarray
    z_mean: Optional[np.ndarray]
    eg_mean: np.ndarray
    seeds: np.ndarray
    status: str
    seed_status: np.ndarray
    stop_time: np.ndarray
    N: int
    _dims = {"t": ("t",), "l": ("seed", "t"), "R": ("seed", "t"), "z": ("seed", "t"), "eg": ("seed", "t"),
             "l_mean": ("t",), "R_mean": ("t",), "z_mean": ("t",), "eg_mean": ("t",), "seeds": ("seed",),
             "seed_status": ("seed",), "stop_time": ("seed",)}
    _aliases = {"t_stop": "stop_time"}


@resultclass
class Stability(Result):
    """Linear stability of the global solution (l, R) = (1, 1) (Yoshida, Karakida, Okada & Amari).

    Attributes
    ----------
    jacobian : (2, 2) or (3, 3) array
        In the coordinates (l, R) (SGD) or (l, R, z) (WN).
    eigenvalues : array
        Of the Jacobian (real; WN has a zero eigenvalue along z, which is marginal).
    eta_c : float
        Critical learning rate ``2 <g'^2> / <g'^4>`` (2 for linear and relu, pi sqrt(5/3) for erf).
    eta_opt : float
        ``eta_c / 2``, the effective learning rate with the fastest R convergence.
    eta_eff : float
        Effective learning rate of R: ``eta`` (SGD) or ``eta / z^2`` (WN).
    rate_R, rate_l : float
        Convergence rates (decay rates of 1 - R and l - 1):
        ``rate_R = -dA2/dR eta_eff (eta_c - eta_eff)``, ``rate_l = min(-dA1/dl eta, rate_R)``.
    dA1_dl, dA2_dR : float
        ``-<g'^2 a^2>`` and ``-<g'^4>`` at the fixed point.
    stable : bool
        ``rate_R > 0`` (``eta_eff < eta_c``).
    status : str
        ``"ok"`` (the analysis itself succeeded, whether or not the point is stable; see
        ``stable``), or ``"diverged"`` if a constant is not finite.
    """

    jacobian: np.ndarray
    eigenvalues: np.ndarray
    eta_c: float
    eta_opt: float
    eta_eff: float
    rate_R: float
    rate_l: float
    dA1_dl: float
    dA2_dR: float
    stable: bool
    status: str
    _dims = {"jacobian": ("coordinate", "coordinate"), "eigenvalues": ("mode",)}


@resultclass
class TimeToError(Result):
    """Time for eps_g to fall to ``threshold``, on the broadcast grid of (eta, l0).

    Attributes
    ----------
    eta, l0 : arrays
        The broadcast inputs.
    time : array
        First time with eps_g <= threshold; ``inf`` where it is not reached by ``t_max`` (or the run
        diverged).
    eta_eff : array
        ``eta / z^2`` at that time (WN) or ``eta`` (SGD); NaN where not reached.
    status : array of str
        ``"ok"`` (reached), ``"not_reached"`` (by t_max), ``"diverged"``, ``"max_steps"``,
        ``"step_too_small"``.
    threshold, t_max : float
    rule, activation : str
    """

    eta: np.ndarray
    l0: np.ndarray
    time: np.ndarray
    eta_eff: np.ndarray
    status: np.ndarray
    threshold: float
    t_max: float
    rule: str
    activation: str

    def __post_init__(self) -> None:
        # The grid has the broadcast shape of the inputs: (eta, l0) for the usual 2-D map.
        shape = np.shape(self.time)
        dims = {2: ("eta", "l0"), 1: ("point",), 0: ()}.get(len(shape), tuple(f"dim_{i}" for i in range(len(shape))))
        self._dims = {name: dims for name in ("eta", "l0", "time", "eta_eff", "status")}


# ---- core structs (read-only, so cached: building them is most of a short ODE call's overhead) ----
@functools.lru_cache(maxsize=256)
def _setup(activation: str, slope: float, rule: str, eta: float, l0: float, R0: float, z0: float) -> Any:
    return _core.perceptron.Setup(activation, slope, rule, eta, l0, R0, z0)


@functools.lru_cache(maxsize=64)
def _options(method: str, rtol: float, atol: float, dt: float, max_step: float, max_steps: int,
             divergence_bound: float) -> Any:
    return _core.integrators.OdeOptions(method, rtol, atol, dt, max_step, max_steps, divergence_bound)


# ---- validation helpers --------------------------------------------------------------------------
#: Largest student length |l| (and l0) the theory functions accept, so that the ODE state l^2 and
#: the averages stay finite (their cost is bounded: ~20 ms for tanh at any |l| >= 1e3).
MAX_LENGTH = 1e100

_INT_FAST = 2**1000  # plain ints below this convert to float without OverflowError


def _real(value: Any, param: str, positive: bool = False) -> float:
    """check_real with a fast path for plain Python floats/ints (the common case)."""
    tp = type(value)
    if (tp is float or (tp is int and -_INT_FAST < value < _INT_FAST)) and -math.inf < value < math.inf \
            and (not positive or value > 0):
        return float(value)
    return check_real(value, param, positive=positive)


def _times(t: Any) -> np.ndarray:
    """check_times, with a scalar T meaning linspace(0, T, 201). A C-contiguous float64 1-D array
    is passed on as is (the core checks it is finite, strictly increasing and starts >= 0)."""
    if type(t) is np.ndarray and t.dtype == np.float64 and t.ndim == 1 and t.size >= 1 and t.flags.c_contiguous:
        return t
    if np.ndim(t) == 0 and not isinstance(t, (str, bytes)) and t is not None:
        T = check_real(t, "t", positive=True, high=MAX_TIME)
        return np.linspace(0.0, T, 201)
    return check_times(t)


def _common(activation: Any, rule: Any, slope: Any) -> tuple:
    return (check_activation(activation), check_choice(rule, RULES, "rule"), _real(slope, "slope"))


def _check_R0(R0: Any) -> float:
    R0 = _real(R0, "R0")
    if abs(R0) > 1.0:
        raise ValueError(f"R0 must lie in [-1, 1]; got {R0}")
    return R0


# ---- theory --------------------------------------------------------------------------------------
def averages(activation: str, l: float, R: float, *, quadrature: bool = False, slope: float = 0.01) -> Averages:
    """A1, A2, A3 and eps_g at (l, R) (closed forms for linear/erf/relu/sin/cos/rbf unless ``quadrature``).

    Parameters
    ----------
    activation : str
        Activation name (see :mod:`statmech_nn.gaussian`).
    l : float
        Student length (may be negative: ``a = l u``; |l| <= :data:`MAX_LENGTH` = 1e100).
    R : float
        Direction cosine in [-1, 1].
    quadrature : bool
        Force the 2-D Gaussian quadrature (used to check the closed forms).
    slope : float
        Negative-side slope of ``leaky_relu``.
    """
    activation = check_activation(activation)
    l = check_real(l, "l", low=-MAX_LENGTH, high=MAX_LENGTH)
    R = check_real(R, "R", low=-1.0, high=1.0)
    if not isinstance(quadrature, (bool, np.bool_)):
        raise TypeError(f"quadrature must be a bool; got {type(quadrature).__name__}")
    a = _core.perceptron.averages(activation, check_real(slope, "slope"), l, R, bool(quadrature))
    values = (a.A1, a.A2, a.A3, a.eg, a.A1_over_l)
    status = "ok" if all(math.isfinite(v) for v in values) else "diverged"
    return Averages(A1=a.A1, A2=a.A2, A3=a.A3, eg=a.eg, A1_over_l=a.A1_over_l, status=status)


def ode(activation: str, rule: str, eta: float, l0: float, R0: float = 0.0, z0: float = 0.05,
        t: Any = 100.0, *, method: str = "dopri5", rtol: float = 1e-8, atol: float = 1e-10,
        dt: Optional[float] = None, max_step: float = np.inf, max_steps: int = 10_000_000,
        divergence_bound: float = 1e4, eg_threshold: Optional[float] = None,
        slope: float = 0.01) -> OdeResult:
    """Integrate the order-parameter ODEs of on-line SGD or weight-normalised learning.

    Parameters
    ----------
    activation : str
        ``"linear"``, ``"erf"`` (= erf(x/sqrt 2)), ``"relu"``, ``"sin"``, ``"cos"``, ``"rbf"`` (closed
        forms) or any other activation of :mod:`statmech_nn.gaussian` (2-D quadrature).
    rule : {"sgd", "wn"}
        Plain SGD or weight normalisation.
    eta : float
        Learning rate (> 0); the same for r and V under WN.
    l0 : float
        Initial student length ``|J(0)| / sqrt(N)`` (0 < l0 <= :data:`MAX_LENGTH` = 1e100).
    R0 : float
        Initial direction cosine in [-1, 1] (0 for a random initialisation as N -> infinity).
    z0 : float
        Initial ``|V(0)| / sqrt(N)`` (> 0; WN only; 0.05 as recommended by Salimans & Kingma).
    t : float or array
        Output times (steps / N), strictly increasing, starting >= 0; the first is the initial
        time. A scalar T means ``linspace(0, T, 201)``.
    method, rtol, atol, dt, max_step, max_steps :
        Integrator settings (``"dopri5"`` or ``"rkc"`` adaptive, or fixed-step ``"rk4"``/``"euler"``
        with ``dt``; :mod:`statmech_nn.integrate`).
    divergence_bound : float
        The run stops with status ``"diverged"`` (and its ``stop_time``) when the student's field
        variance ``l^2`` exceeds ``divergence_bound`` times the problem's scale ``max(1, l0^2)`` (the
        teacher's field variance is 1), or the state is not finite (module docstring,
        "Divergence").
    eg_threshold : float, optional
        Stop (status ``"event"``) when eps_g falls to this value.
    slope : float
        Negative-side slope of ``leaky_relu``.

    Returns
    -------
    OdeResult
    """
    activation, rule, slope = _common(activation, rule, slope)
    eta = _real(eta, "eta", positive=True)
    l0 = _real(l0, "l0", positive=True)
    if l0 > MAX_LENGTH:
        raise ValueError(f"l0 must be <= {MAX_LENGTH:g} (l^2 must stay finite); got {l0:g}")
    R0 = _check_R0(R0)
    z0 = _real(z0, "z0", positive=True)
    times = _times(t)
    method, rtol, atol, dt, max_step, max_steps, _ = check_ode_options(method, rtol, atol, dt, max_step, max_steps)
    divergence_bound = _real(divergence_bound, "divergence_bound", positive=True)
    thr = -1.0 if eg_threshold is None else _real(eg_threshold, "eg_threshold", positive=True)
    setup = _setup(activation, slope, rule, eta, l0, R0, z0)
    options = _options(method, rtol, atol, dt, max_step, max_steps, divergence_bound)
    d = _core.perceptron.ode(setup, times, options, thr)
    status = str(d["status"])
    eg = d["eg"]
    # Never report success with non-finite numbers (the integrator stops at the first non-finite
    # state, so the last row tells; eg is NaN wherever l or R is).
    if status in ("ok", "event") and eg.size and not math.isfinite(eg[-1]):
        status = "diverged"
    return OdeResult(t=d["t"], l=d["l"], R=d["R"], z=d["z"], eg=d["eg"], status=status,
                     stop_time=float(d["stop_time"]), rule=rule, activation=activation, eta=eta,
                     n_rhs=int(d["n_rhs"]))


_STABILITY_MIN = 1e-50
_STABILITY_MAX = 1e50  # eta <= 1e50 and 1e-50 <= z <= 1e50 (see stability's docstring)


def stability(activation: str, rule: str, eta: float, z: Optional[float] = None, *,
              slope: float = 0.01) -> Stability:
    """Linear stability of the global solution (l, R) = (1, 1) (Yoshida, Karakida, Okada & Amari).

    With ``G = <g'^2>``, ``H = <g'^2 a^2>``, ``F4 = <g'^4>`` at ``a ~ N(0, 1)`` (Price's theorem gives
    ``dA1/dl = -H``, ``dA2/dR = -F4`` there), the Jacobians are upper triangular::

        SGD (l, R):    [[-eta H, eta (G+H)/2 - eta^2 F4], [0, -eta (2G - eta F4)]]
        WN  (l, R, z): [[-eta H, eta (G+H)/2, 0], [0, -e (2G - e F4), 0], [0, -eta^2 F4 / z^3, 0]]

    with ``e = eta / z^2``; hence ``eta_c = 2G / F4`` and ``rate_R = F4 e (eta_c - e)``. For
    ``g(x) = x`` the SGD rates are ``eta`` and ``eta (2 - eta)`` (``eta_c = 2``).

    Parameters
    ----------
    activation : str
    rule : {"sgd", "wn"}
    eta : float
        Learning rate (0 < eta <= 1e50).
    z : float, optional
        ``|V| / sqrt(N)`` at convergence (``z_inf``, in [1e-50, 1e50]); required for ``rule="wn"``.
        These ranges keep every entry of the Jacobian finite.
    """
    activation, rule, slope = _common(activation, rule, slope)
    # Domain: every entry of the Jacobian (up to eta^2 / z^3 and e^2 = eta^2 / z^4) stays finite.
    eta = check_real(eta, "eta", positive=True, high=_STABILITY_MAX)
    if rule == "wn":
        if z is None:
            raise ValueError("z is required for rule='wn' (the norm |V|/sqrt(N) at the fixed point)")
        z = check_real(z, "z", low=_STABILITY_MIN, high=_STABILITY_MAX)
        e = eta / z**2
    else:
        if z is not None:
            z = check_real(z, "z", low=_STABILITY_MIN, high=_STABILITY_MAX)
        e = eta
    c = _core.perceptron.fixed_point_constants(activation, slope)
    G, H, F4 = c.G, c.H, c.F4
    if not F4 > 0.0:
        raise ValueError(f"activation: {activation!r} has derivative 0 almost everywhere (<g'^4> = 0): "
                         "gradient learning does not move the weights and the fixed point has no stability rates")
    eta_c = 2.0 * G / F4
    rate_R = F4 * e * (eta_c - e)
    if rule == "sgd":
        jac = np.array([[-eta * H, eta * (G + H) / 2 - eta**2 * F4], [0.0, -rate_R]])
    else:
        jac = np.array([[-eta * H, eta * (G + H) / 2, 0.0], [0.0, -rate_R, 0.0], [0.0, -eta**2 * F4 / z**3, 0.0]])
    eig = np.linalg.eigvals(jac).real
    rate_l = min(eta * H, rate_R)
    stable = bool(rate_R > 0)
    finite = bool(np.all(np.isfinite(jac)) and np.isfinite(eta_c))
    return Stability(jacobian=jac, eigenvalues=np.sort(eig), eta_c=float(eta_c),
                     eta_opt=float(eta_c / 2), eta_eff=float(e),
                     rate_R=float(rate_R), rate_l=float(rate_l), dA1_dl=float(-H), dA2_dR=float(-F4),
                     stable=stable, status="ok" if finite else "diverged")


def time_to_error(activation: str, rule: str, eta: Any, l0: Any, threshold: float = 0.01, *,
                  R0: float = 0.0, z0: float = 0.05, t_max: float = 1e5, method: str = "dopri5",
                  rtol: float = 1e-8, atol: float = 1e-10, dt: Optional[float] = None,
                  max_step: float = np.inf, max_steps: int = 10_000_000, divergence_bound: float = 1e4,
                  num_threads: Optional[int] = None, slope: float = 0.01, progress: bool = False) -> TimeToError:
    """Time for eps_g to fall to ``threshold``, broadcasting ``eta`` and ``l0`` (the learning-time
    maps of Yoshida, Karakida, Okada & Amari).

    Each grid point integrates the ODE of :func:`ode` with a terminal event at
    eps_g = threshold; the grid runs in parallel (OpenMP) and the result does not depend on the
    thread count. Points that never get there by ``t_max`` (e.g. SGD with eta > eta_c, which
    diverges) give ``inf``.

    Parameters
    ----------
    activation, rule :
        As in :func:`ode`.
    eta, l0 : array_like
        Learning rates and initial lengths (> 0); broadcast against each other
        (e.g. ``eta[:, None]`` and ``l0[None, :]`` for a 2-D map).
    threshold : float
        Target eps_g (> 0).
    R0, z0 : float
        Initial direction cosine and (WN) ``|V(0)|/sqrt(N)``.
    t_max : float
        Longest time integrated.
    num_threads : int, optional
        Threads (default: OpenMP default).
    progress : bool
        Show a progress bar of the grid points done (``tqdm``, the ``sweep`` extra).

    Returns
    -------
    TimeToError
    """
    activation, rule, slope = _common(activation, rule, slope)
    # (as_float_array returns at least 1-D; keep the caller's shape so that scalars give scalars.)
    eta_a = as_float_array(eta, "eta").reshape(np.shape(eta))
    l0_a = as_float_array(l0, "l0").reshape(np.shape(l0))
    if np.any(eta_a <= 0):
        raise ValueError("eta must be > 0 everywhere")
    if eta_a.size == 0 or l0_a.size == 0:
        raise ValueError("eta and l0 must not be empty")
    if np.any(l0_a > MAX_LENGTH):
        raise ValueError(f"l0 must be <= {MAX_LENGTH:g} everywhere (l^2 must stay finite)")
    if np.any(l0_a <= 0):
        raise ValueError("l0 must be > 0 everywhere")
    try:
        eta_b, l0_b = np.broadcast_arrays(eta_a, l0_a)
    except ValueError as exc:
        raise ValueError(f"eta and l0 do not broadcast: shapes {eta_a.shape} and {l0_a.shape}") from exc
    threshold = check_real(threshold, "threshold", positive=True)
    R0 = _check_R0(R0)
    z0 = check_real(z0, "z0", positive=True)
    t_max = check_real(t_max, "t_max", positive=True)
    method, rtol, atol, dt, max_step, max_steps, _ = check_ode_options(method, rtol, atol, dt, max_step, max_steps)
    divergence_bound = check_real(divergence_bound, "divergence_bound", positive=True)
    nt = check_threads(num_threads)
    shape = eta_b.shape
    # Per grid point: flattened inputs, the core's outputs, result arrays and the status words.
    check_memory(128.0 * eta_b.size, "eta" if eta_a.size >= l0_a.size else "l0", f"<grid of {eta_b.size} points>")
    e_flat = np.ascontiguousarray(eta_b.ravel())
    l_flat = np.ascontiguousarray(l0_b.ravel())
    setup = _core.perceptron.Setup(activation, slope, rule, 1.0, 1.0, R0, z0)
    options = _options(method, rtol, atol, dt, max_step, max_steps, divergence_bound)
    with core_progress(progress, "time_to_error", "pt", e_flat.size):
        time, eta_eff, status = _core.perceptron.time_to_error(setup, e_flat, l_flat, threshold, t_max, options, nt)
    status_str = np.asarray(status_words(np.asarray(status).ravel()), dtype=object).reshape(shape)
    return TimeToError(eta=np.array(eta_b), l0=np.array(l0_b), time=np.asarray(time).reshape(shape),
                       eta_eff=np.asarray(eta_eff).reshape(shape), status=status_str, threshold=threshold,
                       t_max=t_max, rule=rule, activation=activation)


# ---- simulation ----------------------------------------------------------------------------------
def simulate(activation: str, rule: str, eta: float, l0: float, N: int, t: Any = 10.0, seeds: Any = (0, 1, 2, 3),
             *, R0: float = 0.0, z0: float = 0.05, num_threads: Optional[int] = None,
             divergence_bound: float = 1e4, slope: float = 0.01, progress: bool = False) -> SimulationResult:
    """Simulate real N-dimensional on-line SGD or weight-normalised learning (the microscopic twin
    of :func:`ode`; same field names).

    Every step draws a fresh ``x ~ N(0, I/N)`` and applies the update of the module docstring
    exactly (WN: r and V updated simultaneously from the old values). The teacher
    ``B ~ N(0, I)`` is rescaled to ``|B| = sqrt(N)``; the initial student is
    ``sqrt(N) l0 (R0 B/|B| + sqrt(1 - R0^2) w)`` (WN: ``V(0)`` with length ``sqrt(N) z0`` in that
    direction, ``r(0) = sqrt(N) l0``), ``w`` a random unit vector orthogonal to ``B``, so that the
    run starts exactly at the ODE's initial condition. Seeds run in parallel (OpenMP), one
    random stream per seed: results do not depend on the thread count.

    Parameters
    ----------
    activation, rule, eta, l0, R0, z0 :
        As in :func:`ode`.
    N : int
        Input dimension (>= 2).
    t : float or array
        Recording times (steps / N), rounded to whole steps, strictly increasing after rounding.
        A scalar T means ``linspace(0, T, 201)`` rounded to whole steps (duplicates dropped).
    seeds : int or sequence of int
        An int is one run with that seed; a sequence is one run per seed.
    num_threads : int, optional
    divergence_bound : float
        A run stops (status ``"diverged"``) under the criterion of :func:`ode`: ``l^2`` beyond
        ``divergence_bound * max(1, l0^2)``, or a non-finite state.
    progress : bool
        Show a progress bar of the seeds done (``tqdm``, the ``sweep`` extra).

    Returns
    -------
    SimulationResult
    """
    activation, rule, slope = _common(activation, rule, slope)
    eta = check_real(eta, "eta", positive=True)
    l0 = check_real(l0, "l0", positive=True)
    R0 = _check_R0(R0)
    z0 = check_real(z0, "z0", positive=True)
    N = check_int(N, "N", low=1)
    if N < 2:
        raise ValueError(f"N must be >= 2 (a student direction orthogonal to the teacher); got {N}")
    if np.ndim(t) == 0 and isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool):
        T = check_real(t, "t", positive=True, high=MAX_TIME)
        steps = np.unique(np.rint(np.linspace(0.0, T * N, 201)).astype(np.int64))
        times = steps / float(N)
    else:
        times = _times(t)
    if float(np.max(times, initial=0.0)) * N >= 2.0 ** 62:
        raise ValueError(f"t: {float(np.max(times)):g} x N = {N} steps do not fit in a 64-bit step counter")
    steps = np.rint(times * N).astype(np.int64)
    if steps.size > 1 and np.any(np.diff(steps) <= 0):
        raise ValueError(f"t: times are closer than one step (1/N = {1.0 / N:g}) after rounding to whole steps")
    seeds_a = check_seeds(seeds)
    nt = check_threads(num_threads)
    divergence_bound = check_real(divergence_bound, "divergence_bound", positive=True)
    # Teacher, student (and V for WN) and the input of one run per concurrent thread, plus records.
    concurrent = min(len(seeds_a), nt if nt > 0 else (os.cpu_count() or 1))
    check_memory(8.0 * 5 * N * concurrent, "N", N)
    check_memory(8.0 * 5 * steps.size * len(seeds_a), "t", t)
    setup = _core.perceptron.Setup(activation, slope, rule, eta, l0, R0, z0)
    with core_progress(progress, "simulate", "seed", seeds_a.size):
        d = _core.perceptron.simulate(setup, N, steps, seeds_a, nt, divergence_bound)
    l, R, z, eg = (d[k] for k in ("l", "R", "z", "eg"))
    codes = np.asarray(d["status"])
    # A seed whose recorded values are not all finite diverged, whatever the core said.
    finite = np.isfinite(l).all(axis=1) & np.isfinite(R).all(axis=1) & np.isfinite(eg).all(axis=1)
    seed_status = np.where(~finite, "diverged", status_words(codes)).astype(object)
    z_out = z if rule == "wn" else None
    return SimulationResult(
        t=steps / float(N), l=l, R=R, z=z_out, eg=eg, l_mean=l.mean(axis=0), R_mean=R.mean(axis=0),
        z_mean=None if z_out is None else z_out.mean(axis=0), eg_mean=eg.mean(axis=0), seeds=seeds_a,
        status=combine_status(seed_status), seed_status=seed_status, stop_time=np.asarray(d["stop_time"]), N=N)
