"""On-line learning of a perceptron, plain SGD and weight normalisation (seed 001; SPEC §2a).

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
  (seed eq. 5)::

      r <- r + eta delta (J.x)/r,   V <- V + eta delta (r/|V| x - (J.x)/|V|^2 V),

  giving ``d(l^2)/dt = 2 eta A1``, ``d(zR)/dt = eta (l A3 - R A1)/z``,
  ``d(z^2)/dt = 2 eta^2 l^2 A2 / z^2``. ``z`` only grows; the direction cosine ``R`` learns with
  the *effective* learning rate ``eta / z^2``. Under WN, ``l = r/sqrt(N)`` (it could turn negative
  if ``r`` crossed zero) and ``R`` is the cosine between ``V`` and ``B``.

Closed forms of A1, A2, A3 and eps_g are used for ``linear``, ``erf`` and ``relu`` (exact to
~1e-16 against high-order quadrature); every other activation of :mod:`statmech_nn.gaussian` uses
the 2-D Gaussian quadrature over (v, u) (48-node Gauss–Hermite per dimension, Gauss–Legendre panels
split at kinks, and panels of width 1.5/|l| in v for |l| > 1.25, where g'(l u) gets narrow; agrees
with the closed forms to < 1e-8 in the tests). Constants at the fixed point (``stability``) use
1-D composite Gauss–Legendre panels (eta_c of tanh matches adaptive quadrature to 1e-10).
The ODE state is ``(l^2, lR)`` for SGD and ``(l, zR, z^2)`` for WN (smooth
through ``J = 0`` and ``r = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import math

import numpy as np

from . import _core
from ._validation import (
    check_activation,
    check_choice,
    check_int,
    check_real,
    check_seeds,
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
_TTE_STATUS = {0: "not_reached", 1: "reached", 2: "diverged", 3: "max_steps", 4: "step_too_small"}


# ---- results -------------------------------------------------------------------------------------
@dataclass
class Averages:
    """Gaussian averages at (l, R): ``A1``, ``A2``, ``A3``, ``eg`` (= eps_g) and ``A1_over_l``."""

    A1: float
    A2: float
    A3: float
    eg: float
    A1_over_l: float


@dataclass
class OdeResult:
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
        ``"completed"``, ``"event"`` (eps_g reached ``eg_threshold``), ``"diverged"``, ``"max_steps"``
        or ``"step_too_small"``.
    t_stop : float
        Where the integration ended (last time, event time or divergence time).
    rule, activation : str
    eta : float
    """

    t: np.ndarray
    l: np.ndarray
    R: np.ndarray
    z: Optional[np.ndarray]
    eg: np.ndarray
    status: str
    t_stop: float
    rule: str
    activation: str
    eta: float

    @property
    def eta_eff(self) -> np.ndarray:
        """Effective learning rate of R: ``eta / z^2`` (WN) or ``eta`` (SGD)."""
        if self.z is None:
            return np.full_like(self.t, self.eta)
        return self.eta / self.z**2


@dataclass
class SimulationResult:
    """Microscopic simulation: order parameters of the real N-dimensional network.

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
        ``"completed"`` or ``"diverged"`` (any seed).
    seed_status : (n_seeds,) array of str
    t_stop : (n_seeds,) array
        Time of the last recording, or of divergence.
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
    t_stop: np.ndarray
    N: int


@dataclass
class Stability:
    """Linear stability of the global solution (l, R) = (1, 1) (seed 001 §3.3, Table 1).

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
        Effective learning rate of R: ``eta`` (SGD) or ``eta / z^2`` (WN; the seed's Table 1 prints
        ``eta / z`` inside the bracket, a typo).
    rate_R, rate_l : float
        Convergence rates (decay rates of 1 - R and l - 1):
        ``rate_R = -dA2/dR eta_eff (eta_c - eta_eff)``, ``rate_l = min(-dA1/dl eta, rate_R)``.
    dA1_dl, dA2_dR : float
        ``-<g'^2 a^2>`` and ``-<g'^4>`` at the fixed point.
    stable : bool
        ``rate_R > 0`` (``eta_eff < eta_c``).
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


@dataclass
class TimeToError:
    """Time for eps_g to fall to ``threshold``, on the broadcast grid of (eta, l0).

    Attributes
    ----------
    eta, l0 : arrays
        The broadcast inputs.
    time : array
        First time with eps_g <= threshold; ``inf`` where it is not reached by ``t_max`` (or the run
        diverged).
    eta_eff : array
        ``eta / z^2`` at that time (WN, Fig. 4d of seed 001) or ``eta`` (SGD); NaN where not reached.
    status : array of str
        ``"reached"``, ``"not_reached"`` (by t_max), ``"diverged"``, ``"max_steps"``, ``"step_too_small"``.
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


# ---- validation helpers --------------------------------------------------------------------------
def _real(value: Any, param: str, positive: bool = False) -> float:
    """check_real with a fast path for plain Python floats/ints (the common case)."""
    tp = type(value)
    if (tp is float or tp is int) and -math.inf < value < math.inf and (not positive or value > 0):
        return float(value)
    return check_real(value, param, positive=positive)


def _times(t: Any) -> np.ndarray:
    """check_times, with a scalar T meaning linspace(0, T, 201). A C-contiguous float64 1-D array
    is passed on as is (the core checks it is finite, strictly increasing and starts >= 0)."""
    if type(t) is np.ndarray and t.dtype == np.float64 and t.ndim == 1 and t.size >= 1 and t.flags.c_contiguous:
        return t
    if np.ndim(t) == 0 and not isinstance(t, (str, bytes)) and t is not None:
        T = check_real(t, "t", positive=True)
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
    """A1, A2, A3 and eps_g at (l, R) (closed forms for linear/erf/relu unless ``quadrature``).

    Parameters
    ----------
    activation : str
        Activation name (see :mod:`statmech_nn.gaussian`).
    l : float
        Student length (may be negative: ``a = l u``).
    R : float
        Direction cosine in [-1, 1].
    quadrature : bool
        Force the 2-D Gaussian quadrature (used to check the closed forms).
    slope : float
        Negative-side slope of ``leaky_relu``.
    """
    activation = check_activation(activation)
    l = check_real(l, "l")
    R = check_real(R, "R", low=-1.0, high=1.0)
    d = _core.perceptron.averages(activation, check_real(slope, "slope"), l, R, bool(quadrature))
    return Averages(A1=d["A1"], A2=d["A2"], A3=d["A3"], eg=d["eg"], A1_over_l=d["A1_over_l"])


def ode(activation: str, rule: str, eta: float, l0: float, R0: float = 0.0, z0: float = 0.05,
        t: Any = 100.0, *, method: str = "dopri5", rtol: float = 1e-8, atol: float = 1e-10,
        dt: Optional[float] = None, max_step: float = np.inf, max_steps: int = 10_000_000,
        divergence_bound: float = 1e8, eg_threshold: Optional[float] = None,
        slope: float = 0.01) -> OdeResult:
    """Integrate the order-parameter ODEs of on-line SGD or weight-normalised learning.

    Parameters
    ----------
    activation : str
        ``"linear"``, ``"erf"`` (= erf(x/sqrt 2)), ``"relu"`` (closed forms) or any other activation
        of :mod:`statmech_nn.gaussian` (2-D quadrature).
    rule : {"sgd", "wn"}
        Plain SGD or weight normalisation.
    eta : float
        Learning rate (> 0); the same for r and V under WN.
    l0 : float
        Initial student length ``|J(0)| / sqrt(N)`` (> 0).
    R0 : float
        Initial direction cosine in [-1, 1] (0 for a random initialisation as N -> infinity).
    z0 : float
        Initial ``|V(0)| / sqrt(N)`` (> 0; WN only; 0.05 as recommended by Salimans & Kingma).
    t : float or array
        Output times (steps / N), strictly increasing, starting >= 0; the first is the initial
        time. A scalar T means ``linspace(0, T, 201)``.
    method, rtol, atol, dt, max_step, max_steps :
        Integrator settings (``"dopri5"`` adaptive, or fixed-step ``"rk4"``/``"euler"`` with ``dt``).
    divergence_bound : float
        The run stops with status ``"diverged"`` when a state variable (``l^2``, ``lR``; or ``l``,
        ``zR``, ``z^2``) exceeds this in magnitude.
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
    R0 = _check_R0(R0)
    z0 = _real(z0, "z0", positive=True)
    times = _times(t)
    method, rtol, atol, dt, max_step, max_steps, _ = check_ode_options(method, rtol, atol, dt, max_step, max_steps)
    divergence_bound = _real(divergence_bound, "divergence_bound", positive=True)
    thr = -1.0 if eg_threshold is None else _real(eg_threshold, "eg_threshold", positive=True)
    d = _core.perceptron.ode(activation, slope, rule, eta, l0, R0, z0, times, method, rtol, atol, dt, max_step,
                             max_steps, divergence_bound, thr)
    return OdeResult(t=np.asarray(d["t"]), l=np.asarray(d["l"]), R=np.asarray(d["R"]),
                     z=None if d["z"] is None else np.asarray(d["z"]), eg=np.asarray(d["eg"]),
                     status=str(d["status"]), t_stop=float(d["t_stop"]), rule=rule, activation=activation,
                     eta=eta)


def stability(activation: str, rule: str, eta: float, z: Optional[float] = None, *,
              slope: float = 0.01) -> Stability:
    """Linear stability of the global solution (l, R) = (1, 1) (seed 001 §3.3, Table 1).

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
        Learning rate (> 0).
    z : float, optional
        ``|V| / sqrt(N)`` at convergence (``z_inf``); required for ``rule="wn"``.
    """
    activation, rule, slope = _common(activation, rule, slope)
    eta = check_real(eta, "eta", positive=True)
    if rule == "wn":
        if z is None:
            raise ValueError("z is required for rule='wn' (the norm |V|/sqrt(N) at the fixed point)")
        z = check_real(z, "z", positive=True)
        e = eta / z**2
    else:
        if z is not None:
            z = check_real(z, "z", positive=True)
        e = eta
    G, H, F4 = _core.perceptron.fixed_point_constants(activation, slope)
    eta_c = 2.0 * G / F4
    rate_R = F4 * e * (eta_c - e)
    if rule == "sgd":
        jac = np.array([[-eta * H, eta * (G + H) / 2 - eta**2 * F4], [0.0, -rate_R]])
    else:
        jac = np.array([[-eta * H, eta * (G + H) / 2, 0.0], [0.0, -rate_R, 0.0], [0.0, -eta**2 * F4 / z**3, 0.0]])
    eig = np.linalg.eigvals(jac).real
    rate_l = min(eta * H, rate_R)
    stable = bool(rate_R > 0)
    return Stability(jacobian=jac, eigenvalues=np.sort(eig), eta_c=float(eta_c),
                     eta_opt=float(eta_c / 2), eta_eff=float(e),
                     rate_R=float(rate_R), rate_l=float(rate_l), dA1_dl=float(-H), dA2_dR=float(-F4),
                     stable=stable, status="stable" if stable else "unstable")


def time_to_error(activation: str, rule: str, eta: Any, l0: Any, threshold: float = 0.01, *,
                  R0: float = 0.0, z0: float = 0.05, t_max: float = 1e5, method: str = "dopri5",
                  rtol: float = 1e-8, atol: float = 1e-10, dt: Optional[float] = None,
                  max_step: float = np.inf, max_steps: int = 10_000_000, divergence_bound: float = 1e8,
                  num_threads: Optional[int] = None, slope: float = 0.01) -> TimeToError:
    """Time for eps_g to fall to ``threshold`` (seed 001 Figs. 3, 4), broadcasting ``eta`` and ``l0``.

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
    e_flat = np.ascontiguousarray(eta_b.ravel())
    l_flat = np.ascontiguousarray(l0_b.ravel())
    time, eta_eff, status = _core.perceptron.time_to_error(
        activation, slope, rule, e_flat, l_flat, R0, z0, threshold, t_max, method, rtol, atol, dt, max_step,
        max_steps, divergence_bound, nt)
    status_str = np.array([_TTE_STATUS[int(s)] for s in np.asarray(status)], dtype=object).reshape(shape)
    return TimeToError(eta=np.array(eta_b), l0=np.array(l0_b), time=np.asarray(time).reshape(shape),
                       eta_eff=np.asarray(eta_eff).reshape(shape), status=status_str, threshold=threshold,
                       t_max=t_max, rule=rule, activation=activation)


# ---- simulation ----------------------------------------------------------------------------------
def simulate(activation: str, rule: str, eta: float, l0: float, N: int, t: Any = 10.0, seeds: Any = (0, 1, 2, 3),
             *, R0: float = 0.0, z0: float = 0.05, num_threads: Optional[int] = None,
             divergence_bound: float = 1e8, slope: float = 0.01) -> SimulationResult:
    """Simulate real N-dimensional on-line SGD or weight-normalised learning (seed 001 §4.1).

    Every step draws a fresh ``x ~ N(0, I/N)`` and applies the update of :func:`ode`'s docstring
    exactly (WN: seed eq. 5, r and V updated simultaneously from the old values). The teacher
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
        One run per seed.
    num_threads : int, optional
    divergence_bound : float
        A run stops (status ``"diverged"``) when ``l`` or ``z`` exceeds this or turns non-finite.

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
        T = check_real(t, "t", positive=True)
        steps = np.unique(np.rint(np.linspace(0.0, T * N, 201)).astype(np.int64))
        times = steps / float(N)
    else:
        times = _times(t)
    steps = np.rint(times * N).astype(np.int64)
    if steps.size > 1 and np.any(np.diff(steps) <= 0):
        raise ValueError(f"t: times are closer than one step (1/N = {1.0 / N:g}) after rounding to whole steps")
    seeds_a = check_seeds(seeds)
    nt = check_threads(num_threads)
    divergence_bound = check_real(divergence_bound, "divergence_bound", positive=True)
    d = _core.perceptron.simulate(activation, slope, rule, eta, l0, R0, z0, N, steps, seeds_a, nt, divergence_bound)
    l, R, z, eg = (np.asarray(d[k]) for k in ("l", "R", "z", "eg"))
    seed_status = np.array(["diverged" if s == 2 else "completed" for s in np.asarray(d["status"])], dtype=object)
    z_out = z if rule == "wn" else None
    return SimulationResult(
        t=steps / float(N), l=l, R=R, z=z_out, eg=eg, l_mean=l.mean(axis=0), R_mean=R.mean(axis=0),
        z_mean=None if z_out is None else z_out.mean(axis=0), eg_mean=eg.mean(axis=0), seeds=seeds_a,
        status="diverged" if np.any(seed_status == "diverged") else "completed", seed_status=seed_status,
        t_stop=np.asarray(d["t_stop"]), N=N)
