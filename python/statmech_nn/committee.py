"""Soft committee machines, plain and with batch normalisation: order-parameter ODEs and the
microscopic simulation they describe.

References: D. Saad and S. A. Solla, "On-line learning in soft committee machines", Phys. Rev. E 52,
4225 (1995); P. Riegler and M. Biehl, "On-line backpropagation in two-layered neural networks",
J. Phys. A 28, L507 (1995) (trained second layer); S. Goldt, M. S. Advani, A. M. Saxe, F. Krzakala
and L. Zdeborová, "Dynamics of stochastic gradient descent for two-layer neural networks in the
teacher-student setup", NeurIPS 2019 (the general K, M ODEs); S. Takagi, Y. Yoshida and M. Okada,
"Statistical mechanical formulation of learning dynamics of two-layered neural networks with batch
normalization" (JSAI annual conference) for batch normalisation.

Model and conventions
---------------------
* Inputs ``xi ~ N(0, sigma^2 I_N)``. Student ``s = sum_i w_i phi(xhat_i)`` with ``x_i = J_i . xi``
  (``i = 1..K``, ``w_i in R^O``); teacher ``t = sum_n v_n phi(y_n)`` with ``y_n = B_n . xi``
  (``n = 1..M``), optionally plus output noise ``N(0, noise^2)`` on each output during training.
* Order parameters: ``Q_ij = J_i . J_j`` (K x K), ``R_in = J_i . B_n`` (K x M),
  ``T_nm = B_n . B_m`` (M x M); ``D = w w^T``, ``E = w v^T``, ``F = v v^T``. Weights initialised
  with ``N(0, 1/N)`` components have ``Q, T ~ I``.
* Plain SCM: ``xhat_i = x_i``. Batch norm (Takagi, Yoshida & Okada): ``xhat_i = g_i x_i / (sigma sqrt(Q_ii))``, the
  batch standard deviation at its large-b value and held constant in the gradient
  (``bn_gradient="fixed_std"``), or differentiated through (``bn_gradient="full"``, which makes
  J's step orthogonal to J_i as under weight normalisation). The gains g_i learn with the same rate.
* SGD on ``1/2 |t - s|^2`` with learning rate ``eta/N`` on mini-batches of ``b = batch_size`` fresh
  samples (gradient averaged over the batch). Time ``t = steps / N``; the ODEs hold for
  ``N -> infinity`` at fixed b, where the O(eta^2) term is divided by b.
* ``"erf"`` is ``erf(x / sqrt 2)``. ``eg = 1/2 <|t - s|^2>`` (noise-free teacher), the sum of the
  student-student, teacher-teacher and cross terms.
* A trained second layer (``eta_w > 0``, Riegler & Biehl 1995) learns with rate ``eta_w / N``.

The ODEs (derived here from the microscopic update; they correct misprints in Takagi et al.'s
batch-norm equations),
with ``delta_i = phi'(xhat_i) w_i . (t - s)``, ``c_i = xhat_i / x_i``, ``S_ib = <delta_i z_b>`` over the
fields ``z = (xhat, y)`` and ``P_ij = <delta_i delta_j>``::

    dQ_ij/dt = eta [(c_i/c_j) S_ij + (c_j/c_i) S_ji] + eta^2 sigma^2 c_i c_j P_ij / b
    dR_in/dt = eta c_i S_i,K+n
    dg_i/dt  = eta S_ii / g_i
    dw_i/dt  = eta_w [sum_n v_n I2(xhat_i, y_n) - sum_k w_k I2(xhat_i, xhat_k)]

(``bn_gradient="full"`` subtracts ``eta [(Q_ij/Q_ii) S_ii + (Q_ij/Q_jj) S_jj]`` from dQ_ij and
``eta (R_in/Q_ii) S_ii`` from dR_in; output noise adds ``noise^2 D_ij <phi'(xhat_i) phi'(xhat_j)>`` to
P_ij). S and P are sums of the Gaussian averages I3 and I4 (closed forms for erf, linear, relu).

Divergence
----------
For learning rates beyond the stable range the student norms grow without bound. With bounded
activations (erf) the units then saturate: the gradient through ``phi'`` vanishes like
``Var(x_i)^(-1/2)``, so ``Q_ii`` drifts to a fixed point at infinity algebraically (like ``t^p``,
p ~ 0.6; e.g. K = M = 2, eta = 500 reaches Q ~ 8e4 by t = 100) while eps_g creeps towards the value of
saturated (sign-like) units; unbounded activations (linear, relu) grow exponentially. :func:`ode`
ends such a run with status ``"diverged"`` (and its ``stop_time``) when a unit's field variance
``sigma^2 Q_ii`` (``g_i^2`` under batch norm, where Q's scale drops out) exceeds
``divergence_bound`` (default 1e4, i.e. a field standard deviation 100 times the problem's)
times the problem's scale (the largest of 1 and the initial student and teacher field variances),
when ``|w_i|^2`` does so against the second layers' scale, or when the overlaps leave the set of
Gram matrices (``Q_ii < 0`` or a Cauchy-Schwarz inequality ``R_in^2 <= Q_ii T_nn`` broken beyond
the integration error). A unit whose norm decays to zero (an unused student unit, K > M) is at the
boundary of that set, not outside: norms within rounding of zero count as ``J_i = 0``.
"""

from __future__ import annotations

import numbers
from typing import Any, Dict, Optional

import numpy as np

from . import _core
from ._progress import core_progress
from ._result import Result, combine_status, resultclass
from ._validation import (
    ACTIVATIONS,
    as_float_array,
    check_activation,
    check_choice,
    check_int,
    check_real,
    check_seeds,
    check_symmetric_psd,
    check_memory,
    check_threads,
    check_ode_options,
    check_times,
)

__all__ = ["OdeResult", "SimulationResult", "Derivatives", "PlateauResult", "PlateauScan", "ode", "simulate",
           "derivatives",
           "generalisation_error", "plateau", "plateau_scan", "ODE_ACTIVATIONS", "BN_GRADIENTS", "SAMPLERS"]

#: Activations with closed-form I2, I3, I4 (the ODEs need thousands of I4 per step).
ODE_ACTIVATIONS = ("erf", "linear", "relu")
#: Samplers of :func:`simulate`.
SAMPLERS = ("direct", "projected")
#: How the batch-norm gradient treats the normalising standard deviation.
BN_GRADIENTS = ("fixed_std", "full")

_core_committee = _core.committee


@resultclass
class OdeResult(Result):
    """Solution of the order-parameter ODEs at the requested times that were reached.

    Attributes
    ----------
    t : (n,) array
        Times (SGD steps / N).
    Q : (n, K, K) array
        Student-student overlaps ``J_i . J_j``.
    R : (n, K, M) array
        Student-teacher overlaps ``J_i . B_n``.
    g : (n, K) array or None
        Batch-norm gains (None without batch norm).
    w : (n, K, O) array or None
        Second-layer weights when they are trained (``eta_w > 0``), else None.
    eg : (n,) array
        Generalisation error ``1/2 <|t - s|^2>``.
    status : str
        ``"ok"``, ``"diverged"`` (module docstring: the rows hold the values before that),
        ``"max_steps"`` or ``"step_too_small"``.
    stop_time : float
        Where the integration ended (the divergence time if it diverged); ``t_stop`` is a
        deprecated alias.
    n_rhs : int
        Right-hand-side evaluations.
    """

    t: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    g: Optional[np.ndarray]
    w: Optional[np.ndarray]
    eg: np.ndarray
    status: str
    stop_time: float
    n_rhs: int
    _dims = {"t": ("t",), "Q": ("t", "K", "K"), "R": ("t", "K", "M"), "g": ("t", "K"), "w": ("t", "K", "O"),
             "eg": ("t",)}
    _aliases = {"t_stop": "stop_time"}


@resultclass
class SimulationResult(Result):
    """Microscopic simulation, one row per seed (the twin of :class:`OdeResult`: the same field
    names with a leading seed axis).

    Attributes
    ----------
    t : (n,) array
        Recorded times ``steps / N``.
    steps : (n,) int array
        The SGD step counts recorded.
    Q, R : (S, n, K, K), (S, n, K, M) arrays
        Measured overlaps per seed and time (NaN after a divergence).
    g : (S, n, K) array or None
        Batch-norm gains (None without batch norm).
    w : (S, n, K, O) array or None
        Second-layer weights when trained, else None.
    eg : (S, n) array
        Generalisation error computed analytically from the measured overlaps.
    eg_mc : (S, n) array or None
        Monte-Carlo test error on ``test_samples`` fresh inputs (None if ``test_samples == 0``).
    Q0, R0, T : (S, K, K), (S, K, M), (S, M, M) arrays
        The initial overlaps of each run and the teacher's (constant) T: pass them to :func:`ode`
        (see :meth:`initial_state`) to overlay theory and simulation run for run.
    g0 : (K,) array or None
        Initial gains.
    seeds : (S,) uint64 array
    seed_status : (S,) array of str
        ``"ok"`` or ``"diverged"`` per seed.
    stop_time : (S,) array
        Last time reached per seed (the divergence time if it diverged).
    status : str
        ``"ok"`` if every seed completed, else ``"diverged"``.
    """

    t: np.ndarray
    steps: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    g: Optional[np.ndarray]
    w: Optional[np.ndarray]
    eg: np.ndarray
    eg_mc: Optional[np.ndarray]
    Q0: np.ndarray
    R0: np.ndarray
    T: np.ndarray
    g0: Optional[np.ndarray]
    seeds: np.ndarray
    seed_status: np.ndarray
    stop_time: np.ndarray
    status: str
    _dims = {"t": ("t",), "steps": ("t",), "Q": ("seed", "t", "K", "K"), "R": ("seed", "t", "K", "M"),
             "g": ("seed", "t", "K"), "w": ("seed", "t", "K", "O"), "eg": ("seed", "t"), "eg_mc": ("seed", "t"),
             "Q0": ("seed", "K", "K"), "R0": ("seed", "K", "M"), "T": ("seed", "M", "M"), "g0": ("K",),
             "seeds": ("seed",), "seed_status": ("seed",), "stop_time": ("seed",)}
    _aliases = {"t_stop": "stop_time"}

    def initial_state(self, seed_index: int = 0) -> Dict[str, Any]:
        """Keyword arguments ``Q0, R0, T`` (and ``g0``) for :func:`ode` from run ``seed_index``."""
        i = check_int(seed_index, "seed_index", low=0, high=len(self.seeds) - 1)
        out: Dict[str, Any] = {"Q0": self.Q0[i].copy(), "R0": self.R0[i].copy(), "T": self.T[i].copy()}
        if self.g0 is not None:
            out["g0"] = self.g0.copy()
        return out


@resultclass
class Derivatives(Result):
    """The right-hand side of :func:`ode` at one state and the averages it is built from.

    Fields can also be read dict-style (``res["Q"]``), as when :func:`derivatives` returned a dict.

    Attributes
    ----------
    Q : (K, K) array
        dQ/dt.
    R : (K, M) array
        dR/dt.
    g : (K,) array
        dg/dt (zero without batch norm).
    w : (K, O) array
        dw/dt (zero with ``eta_w = 0``).
    eg : float
        eps_g at the state.
    S : (K, K + M) array
        ``S[i, b] = <delta_i z_b>`` over the fields ``z = (xhat_1..xhat_K, y_1..y_M)``.
    P : (K, K) array
        ``P[i, j] = <delta_i delta_j>`` (including output noise).
    c : (K,) array
        Field scales ``xhat_i / x_i``.
    status : str
        ``"ok"``, or ``"diverged"`` if a value is not finite.
    """

    Q: np.ndarray
    R: np.ndarray
    g: np.ndarray
    w: np.ndarray
    eg: float
    S: np.ndarray
    P: np.ndarray
    c: np.ndarray
    status: str = "ok"
    _dims = {"Q": ("K", "K"), "R": ("K", "M"), "g": ("K",), "w": ("K", "O"), "S": ("K", "fields"),
             "P": ("K", "K"), "c": ("K",)}

    def __getitem__(self, key: str) -> Any:
        if key not in self._field_names():
            raise KeyError(key)
        return getattr(self, key)

    def keys(self):
        """Field names (dict-style access)."""
        return [n for n in self._field_names() if n != "status"]


# ---- validation helpers ---------------------------------------------------------------------------

def _second_layer(value: Any, rows: int, param: str, rows_name: str) -> np.ndarray:
    if value is None:
        return np.ones((rows, 1))
    if isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, bool):
        return np.full((rows, 1), check_real(value, param, low=-MAX_SCALE, high=MAX_SCALE))
    arr = as_float_array(value, param)
    if arr.size and float(np.max(np.abs(arr))) > MAX_SCALE:
        raise ValueError(f"{param}: entries must be at most {MAX_SCALE:g} in magnitude")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] != rows:
        raise ValueError(f"{param} must have shape ({rows_name}={rows},) or ({rows_name}={rows}, O); got {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{param}: the number of outputs O must be >= 1")
    return np.ascontiguousarray(arr)


def _layers(w: Any, v: Any, K: int, M: int):
    w_arr = _second_layer(w, K, "w", "K")
    v_arr = _second_layer(v, M, "v", "M")
    if w_arr.shape[1] != v_arr.shape[1]:
        raise ValueError(f"w and v must have the same number of outputs O; got {w_arr.shape[1]} and {v_arr.shape[1]}")
    return w_arr, v_arr


def _per_unit(value: Any, n: int, param: str, *, positive: bool = True) -> np.ndarray:
    if isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, bool):
        value = np.full(n, check_real(value, param))
    arr = as_float_array(value, param)
    if arr.shape != (n,):
        raise ValueError(f"{param} must be a scalar or have shape ({n},); got {arr.shape}")
    if positive and not np.all(arr > 0):
        raise ValueError(f"{param} must be > 0")
    if arr.size and float(np.max(np.abs(arr))) > MAX_SCALE:
        raise ValueError(f"{param}: entries must be at most {MAX_SCALE:g} in magnitude")
    return np.ascontiguousarray(arr)


def _normalization(batchnorm: Any, bn_gradient: Any) -> str:
    if not isinstance(batchnorm, (bool, np.bool_)):
        raise TypeError(f"batchnorm must be True or False; got {type(batchnorm).__name__}")
    bn_gradient = check_choice(bn_gradient, BN_GRADIENTS, "bn_gradient")
    if not batchnorm:
        return "none"
    return "batchnorm" if bn_gradient == "fixed_std" else "batchnorm_full"


def _gains(g0: Any, K: int, batchnorm: bool, param: str = "g0") -> np.ndarray:
    if g0 is None:
        return np.ones(K)
    if not batchnorm:
        raise ValueError(f"{param} is only used with batchnorm=True")
    return _per_unit(g0, K, param)


#: Most hidden units (K, M) :func:`simulate` accepts.
MAX_UNITS = 10_000

#: Largest eta, eta_w, sigma and noise accepted: beyond it squares and products of the model's
#: scales overflow float64 before any dynamics happens.
MAX_SCALE = 1e100


def _common(eta, eta_w, sigma, noise, batch_size):
    eta = check_real(eta, "eta", positive=True, high=MAX_SCALE)
    eta_w = check_real(eta_w, "eta_w", nonnegative=True, high=MAX_SCALE)
    sigma = check_real(sigma, "sigma", positive=True, high=MAX_SCALE)
    noise = check_real(noise, "noise", nonnegative=True, high=MAX_SCALE)
    batch_size = check_int(batch_size, "batch_size", low=1)
    return eta, eta_w, sigma, noise, batch_size


def _overlaps(Q0: Any, R0: Any, T: Any, names=("Q0", "R0")):
    nq, nr = names
    Q0 = as_float_array(Q0, nq, ndim=2)
    if Q0.shape[0] < 1:
        raise ValueError(f"{nq}: K must be >= 1 ({nq} is K x K)")
    Q0 = check_symmetric_psd(Q0, nq, strict=True)
    K = Q0.shape[0]
    T = as_float_array(T, "T", ndim=2)
    if T.shape[0] < 1:
        raise ValueError("T: M must be >= 1 (T is M x M)")
    T = check_symmetric_psd(T, "T")
    M = T.shape[0]
    R0 = as_float_array(R0, nr)
    if R0.ndim == 1 and M == 1 and R0.shape == (K,):
        R0 = R0.reshape(K, 1)
    if R0.shape != (K, M):
        raise ValueError(f"{nr} must have shape (K, M) = ({K}, {M}) to match {nq} {Q0.shape} and T {T.shape}; "
                         f"got {R0.shape}")
    full = np.block([[Q0, R0], [R0.T, T]])
    scale = max(1.0, float(np.max(np.abs(full))))
    if np.linalg.eigvalsh(full)[0] < -1e-10 * scale:
        raise ValueError(f"{nq}, {nr}, T: the overlap matrix [[{nq}, {nr}], [{nr}^T, T]] must be positive "
                         "semidefinite (it is a Gram matrix of the weight vectors)")
    return Q0, np.ascontiguousarray(R0), T, K, M


# ---- theory ---------------------------------------------------------------------------------------

def ode(Q0: Any, R0: Any, T: Any, eta: float, w: Any = None, v: Any = None, *, batch_size: int = 1,
        batchnorm: bool = False, g0: Any = None, sigma: float = 1.0, activation: str = "erf",
        t: Any = 100.0, bn_gradient: str = "fixed_std", eta_w: float = 0.0, noise: float = 0.0,
        method: str = "dopri5", rtol: float = 1e-8, atol: float = 1e-10, dt: Optional[float] = None,
        max_step: float = np.inf, max_steps: int = 10_000_000, divergence_bound: float = 1e4,
        num_threads: Optional[int] = None) -> OdeResult:
    """Integrate the order-parameter ODEs of the soft committee machine (module docstring).

    Parameters
    ----------
    Q0 : (K, K) array
        Initial student overlaps (symmetric positive definite).
    R0 : (K, M) array
        Initial student-teacher overlaps.
    T : (M, M) array
        Teacher overlaps (constant); ``[[Q0, R0], [R0^T, T]]`` must be a Gram matrix.
    eta : float
        Learning rate (the microscopic step is ``eta / N``); > 0.
    w, v : arrays (K,) / (K, O) and (M,) / (M, O), optional
        Second-layer weights of student and teacher (default all ones, O = 1).
    batch_size : int
        Mini-batch size b (the eta^2 term is divided by b).
    batchnorm : bool
        Batch normalisation of the hidden fields with learned gains (Takagi, Yoshida & Okada).
    g0 : float or (K,) array, optional
        Initial gains (> 0; default 1); only with ``batchnorm=True``.
    sigma : float
        Standard deviation of the input components (> 0).
    activation : {"erf", "linear", "relu"}
        Hidden activation; ``"erf"`` is ``erf(x/sqrt 2)``.
    t : float or 1-D array
        Output times (``steps / N``); a scalar ``T_end`` means 201 points on ``[0, T_end]``. The
        first time is where the initial state holds.
    bn_gradient : {"fixed_std", "full"}
        ``"fixed_std"``: the normalising std held constant in the gradient (Takagi et al.);
        ``"full"``: the gradient through ``sqrt(Q_ii)`` too.
    eta_w : float
        Second-layer learning rate (in units of 1/N); 0 keeps w fixed (soft committee machine).
    noise : float
        Standard deviation of the teacher's output noise during training.
    method, rtol, atol, dt, max_step, max_steps
        Integrator settings (:mod:`statmech_nn.integrate`); ``dt`` defaults to 0.01 for rk4/euler.
        ``"rkc"`` (Runge–Kutta–Chebyshev) pays off here only at modest accuracy (rtol >= 1e-4) over
        long horizons; ``"dopri5"`` is cheaper and more accurate at rtol 1e-6 and below.
    divergence_bound : float
        Relative bound of the divergence criterion (module docstring, "Divergence"): the run ends
        with status ``"diverged"`` when a unit's field variance exceeds ``divergence_bound`` times
        the problem's scale.
    num_threads : int, optional
        Threads for the right-hand side (used when K (K + M)^2 >= 400; results do not depend on it).

    Returns
    -------
    OdeResult
    """
    inputs = _OdeInputs(Q0, R0, T, w, v, batchnorm, g0, activation, t, bn_gradient, method, rtol, atol, dt,
                        max_step, max_steps, divergence_bound)
    model, eta_w = inputs.model(eta, eta_w, sigma, noise, batch_size)
    nt = check_threads(num_threads)
    r = _core_committee.ode(model, inputs.T, inputs.state, inputs.times, inputs.options, nt)
    arrays = {k: r[k] for k in ("t", "Q", "R", "g", "w", "eg")}
    status = _final_status(str(r["status"]), arrays)
    return OdeResult(t=r["t"], Q=r["Q"], R=r["R"], g=r["g"] if inputs.norm != "none" else None,
                     w=r["w"] if eta_w > 0 else None, eg=r["eg"], status=status, stop_time=float(r["stop_time"]),
                     n_rhs=int(r["n_rhs"]))


class _OdeInputs:
    """The validated arguments of :func:`ode` that do not depend on the learning rates, noise or
    batch size (the axes a sweep varies point by point): the overlaps, layers, activation, time grid
    and integrator options, and :meth:`model` for one point's scalars. Used by :func:`ode` and by
    the sweep's grid fast path, so that both validate exactly alike."""

    def __init__(self, Q0: Any, R0: Any, T: Any, w: Any, v: Any, batchnorm: Any, g0: Any, activation: Any,
                 t: Any, bn_gradient: Any, method: Any, rtol: Any, atol: Any, dt: Any, max_step: Any,
                 max_steps: Any, divergence_bound: Any) -> None:
        Q0, R0, self.T, self.K, self.M = _overlaps(Q0, R0, T)
        self.norm = _normalization(batchnorm, bn_gradient)
        g = _gains(g0, self.K, bool(batchnorm))
        w_arr, self.v = _layers(w, v, self.K, self.M)
        self.activation = check_activation(activation, ODE_ACTIVATIONS)
        self.times = check_times(t)
        method, rtol, atol, dt, max_step, max_steps, divergence_bound = check_ode_options(
            method, rtol, atol, dt, max_step, max_steps, divergence_bound)
        self.options = _core.integrators.OdeOptions(method, rtol, atol, dt, max_step, max_steps, divergence_bound)
        self.state = _core_committee.State(Q0, R0, g, w_arr)

    def model(self, eta: Any, eta_w: Any, sigma: Any, noise: Any, batch_size: Any) -> Any:
        """The core model at one point, and the validated eta_w (a head-learning rate of 0 means
        fixed second-layer weights, so no ``w`` field)."""
        eta, eta_w, sigma, noise, batch_size = _common(eta, eta_w, sigma, noise, batch_size)
        return _core_committee.Model(self.activation, self.K, self.M, self.v, eta, eta_w, sigma, noise,
                                     batch_size, self.norm), eta_w



def _final_status(status: str, arrays: Dict[str, Any]) -> str:
    """The core's status word, except that "ok" with non-finite numbers is "diverged": never
    report success with NaN or inf (shared by :func:`ode` and the sweep's grid fast path)."""
    if status == "ok" and not all(np.all(np.isfinite(arrays[k])) for k in ("Q", "R", "g", "w", "eg")):
        return "diverged"
    return status


def derivatives(Q: Any, R: Any, T: Any, eta: float, w: Any = None, v: Any = None, *, batch_size: int = 1,
                batchnorm: bool = False, g: Any = None, sigma: float = 1.0, activation: str = "erf",
                bn_gradient: str = "fixed_std", eta_w: float = 0.0, noise: float = 0.0,
                num_threads: Optional[int] = None) -> Derivatives:
    """Right-hand side of :func:`ode` at one state (arguments as in :func:`ode`, at the state
    ``Q, R, g``).

    Returns
    -------
    Derivatives
        dQ/dt, dR/dt, dg/dt, dw/dt, eps_g and the averages S, P, c the ODEs are built from. It also
        answers dict-style access (``res["Q"]``), as when this function returned a dict.
    """
    Q, R, T, K, M = _overlaps(Q, R, T, names=("Q", "R"))
    eta, eta_w, sigma, noise, batch_size = _common(eta, eta_w, sigma, noise, batch_size)
    norm = _normalization(batchnorm, bn_gradient)
    g_arr = _gains(g, K, bool(batchnorm), "g")
    w_arr, v_arr = _layers(w, v, K, M)
    activation = check_activation(activation, ODE_ACTIVATIONS)
    model = _core_committee.Model(activation, K, M, v_arr, eta, eta_w, sigma, noise, batch_size, norm)
    r = _core_committee.derivatives(model, T, _core_committee.State(Q, R, g_arr, w_arr), check_threads(num_threads))
    out = {k: np.asarray(r[k]) for k in ("Q", "R", "g", "w", "S", "P", "c")}
    out["g"], out["c"] = out["g"].ravel(), out["c"].ravel()
    finite = all(np.all(np.isfinite(v)) for v in out.values()) and np.isfinite(r["eg"])
    return Derivatives(eg=float(r["eg"]), status="ok" if finite else "diverged", **out)


def generalisation_error(Q: Any, R: Any, T: Any, w: Any = None, v: Any = None, *, batchnorm: bool = False,
                         g: Any = None, sigma: float = 1.0, activation: str = "erf") -> float:
    """``eg = 1/2 <|t - s|^2>`` at the overlaps (Q, R, T), second layers w, v and gains g."""
    return derivatives(Q, R, T, 1.0, w, v, batchnorm=batchnorm, g=g, sigma=sigma, activation=activation).eg


# ---- simulation -----------------------------------------------------------------------------------

def simulate(N: int, K: int, M: int, eta: float, w: Any = None, v: Any = None, *, batch_size: int = 1,
             batchnorm: bool = False, g0: Any = None, sigma: float = 1.0, activation: str = "erf",
             t: Any = 10.0, seeds: Any = 0, bn_gradient: str = "fixed_std", eta_w: float = 0.0,
             noise: float = 0.0, student_scale: Any = 1.0, teacher_scale: Any = 1.0, J0: Any = None,
             B0: Any = None, test_samples: int = 0, divergence_bound: float = 1e4, sampler: str = "direct",
             num_threads: Optional[int] = None, progress: bool = False) -> SimulationResult:
    """Train a real soft committee machine (N inputs) by mini-batch SGD and record its overlaps.

    Parameters
    ----------
    N, K, M : int
        Input dimension and numbers of student and teacher hidden units (1 <= K, M <=
        :data:`MAX_UNITS`); the memory a call needs is estimated up front and a call beyond what
        the machine has is a ValueError naming N.
    eta, w, v, batch_size, batchnorm, g0, sigma, bn_gradient, eta_w, noise
        As in :func:`ode`; the step is ``J_i += eta/(N b) sum_u dL/dJ_i`` over b fresh samples.
    activation : str
        Hidden activation (any of :data:`statmech_nn._validation.ACTIVATIONS`).
    t : float or 1-D array
        Times to record at; rounded to whole steps ``round(t N)`` (must stay distinct).
    seeds : int or sequence of int
        An int is one run with that seed; a sequence is one independent run per seed (initial
        weights, samples); runs are spread over threads.
    student_scale, teacher_scale : float or (K,) / (M,) array
        Initial weights ``J_i ~ N(0, scale_i^2 / N)`` componentwise (so ``Q_ii ~ scale_i^2``; 0 < scale
        <= :data:`MAX_SCALE`), unless
        ``J0`` / ``B0`` are given.
    J0, B0 : (K, N), (M, N) arrays, optional
        Explicit initial weights shared by every seed (then seeds only change the samples).
    test_samples : int
        If > 0, also a Monte-Carlo test error on that many fresh inputs at each record.
    divergence_bound : float
        A run stops as ``"diverged"`` under the criterion of :func:`ode` (module docstring,
        "Divergence"): a unit's field variance ``sigma^2 |J_i|^2`` (``g_i^2`` with batch norm) beyond
        ``divergence_bound`` times the problem's scale, ``|w_i|^2`` likewise, or a non-finite state.
    sampler : {"direct", "projected"}
        ``"direct"``: draw the b x N inputs of each step and form the gradient by matrix products.
        ``"projected"``: draw only each sample's K + M coordinates in an orthonormal basis of
        span(J, B) and the orthogonal part of the summed gradient as one Gaussian with the exact
        conditional covariance -- the same stochastic process in distribution (not the same
        numbers), with ``b (K + M) + K N`` instead of ``b N`` normals per step; much faster when
        ``b > K``.
    num_threads : int, optional
        Results do not depend on it.
    progress : bool
        Show a progress bar (seeds done; needs tqdm, the ``sweep`` extra).

    Returns
    -------
    SimulationResult
        Includes the initial ``Q0, R0, T`` of every run for :func:`ode`.
    """
    N = check_int(N, "N", low=1)
    K = check_int(K, "K", low=1, high=MAX_UNITS)
    M = check_int(M, "M", low=1, high=MAX_UNITS)
    eta, eta_w, sigma, noise, batch_size = _common(eta, eta_w, sigma, noise, batch_size)
    norm = _normalization(batchnorm, bn_gradient)
    g = _gains(g0, K, bool(batchnorm))
    w_arr, v_arr = _layers(w, v, K, M)
    activation = check_activation(activation, ACTIVATIONS)
    times = check_times(t)
    steps = np.rint(times * N).astype(np.int64)
    if steps.size > 1 and not np.all(np.diff(steps) > 0):
        raise ValueError(f"t: recording times must be at least 1/N = {1.0 / N:.3g} apart (they are rounded to steps)")
    if steps[0] != 0:
        raise ValueError("t must start at 0 so that the initial overlaps are recorded")
    seeds_arr = check_seeds(seeds)
    s_scale = _per_unit(student_scale, K, "student_scale")
    t_scale = _per_unit(teacher_scale, M, "teacher_scale")
    if J0 is not None:
        J0 = as_float_array(J0, "J0", shape=(K, N))
        if not np.all(np.sum(J0 * J0, axis=1) > 0):
            raise ValueError("J0: every student vector J_i must be nonzero")
    if B0 is not None:
        B0 = as_float_array(B0, "B0", shape=(M, N))
    test_samples = check_int(test_samples, "test_samples", low=0)
    divergence_bound = check_real(divergence_bound, "divergence_bound", positive=True)
    sampler = check_choice(sampler, SAMPLERS, "sampler")
    nt = check_threads(num_threads)
    # Memory up front: per concurrent run the weights (J, B and their batch-norm/gradient copies)
    # and one batch of inputs, N floats each; the records K^2 + K M per record and seed.
    concurrent = min(seeds_arr.size, nt if nt > 0 else _core.max_threads())
    per_run = 8.0 * N * (4 * K + 2 * M + 2 * (batch_size if sampler == "direct" else K + M))
    records = 8.0 * seeds_arr.size * steps.size * (2 * K * K + K * M + M * M + 4 * K + 4)
    check_memory(concurrent * per_run + 8.0 * N * (K + M) * (J0 is not None or B0 is not None) + records,
                 "N", N)
    settings = _core_committee.SimSettings()
    settings.model = _core_committee.Model(activation, K, M, v_arr, eta, eta_w, sigma, noise, batch_size, norm)
    settings.N = N
    settings.w0 = w_arr
    settings.g0 = g
    settings.student_scale = s_scale
    settings.teacher_scale = t_scale
    if J0 is not None:
        settings.J0 = J0
    if B0 is not None:
        settings.B0 = B0
    settings.record_steps = steps
    settings.seeds = seeds_arr
    settings.test_samples = test_samples
    settings.divergence_bound = divergence_bound
    settings.projected = sampler == "projected"
    with core_progress(progress, "simulate", "seed", seeds_arr.size):
        r = _core_committee.simulate(settings, nt)
    status = np.array(list(r["status"]), dtype=object)
    finite = np.isfinite(r["Q"]).reshape(len(status), -1).all(axis=1)
    status[~finite & (status == "ok")] = "diverged"
    return SimulationResult(
        t=steps / N, steps=steps, Q=r["Q"], R=r["R"], g=r["g"] if norm != "none" else None,
        w=r["w"] if eta_w > 0 else None, eg=r["eg"], eg_mc=r["eg_mc"] if test_samples > 0 else None,
        Q0=r["Q"][:, 0].copy(), R0=r["R"][:, 0].copy(), T=r["T"], g0=g.copy() if norm != "none" else None,
        seeds=seeds_arr, seed_status=status, stop_time=np.asarray(r["stop_step"], dtype=float) / N,
        status=combine_status(status))


# ---- plateau diagnostics --------------------------------------------------------------------------

@resultclass
class PlateauResult(Result):
    """The symmetric plateau of an eps_g(t) curve.

    Attributes
    ----------
    found : bool
        False when the curve has no flat stretch that is later left downwards (its logarithmic
        slope below a tenth of the steepest descent that follows); then the other fields are NaN.
    level : float
        eps_g where its logarithmic slope |d ln eps_g / dt| is smallest (the plateau's centre).
    t_center : float
        That time.
    start, end : float
        The plateau is the stretch where ``(1 - tolerance) level < eps_g < (1 + tolerance) level``
        around ``t_center``: ``start`` is the last time before it with eps_g above, ``end`` the first
        time after it with eps_g below.
    length : float
        ``end - start``.
    status : str
        ``"ok"`` when a plateau was found, ``"not_reached"`` when the curve has none (yet).
    """

    found: bool
    level: float
    t_center: float
    start: float
    end: float
    length: float
    status: str = "ok"


def plateau(t: Any, eg: Any = None, *, tolerance: float = 0.1, floor: float = 1e-8) -> PlateauResult:
    """Locate the plateau of eps_g(t).

    Parameters
    ----------
    t : 1-D array, or an :class:`OdeResult` (then ``eg`` is taken from it)
    eg : 1-D array
        eps_g at the times t (sample densely enough to resolve the plateau).
    tolerance : float
        Relative band around the plateau level that counts as "on the plateau" (0 < tolerance < 1).
    floor : float
        Points with eps_g below this (the converged tail, at the integration tolerance) are ignored.
    """
    if isinstance(t, OdeResult):
        if eg is not None:
            raise ValueError("eg must be omitted when t is an OdeResult")
        t, eg = t.t, t.eg
    t = as_float_array(t, "t", ndim=1)
    if eg is None:
        raise ValueError("eg is required when t is an array")
    eg = as_float_array(eg, "eg", shape=t.shape)
    if t.size < 3:
        raise ValueError("t must have at least 3 points")
    tolerance = check_real(tolerance, "tolerance", positive=True, high=0.99)
    floor = check_real(floor, "floor", positive=True)
    none = PlateauResult(False, np.nan, np.nan, np.nan, np.nan, np.nan, "not_reached")
    ok = eg > floor
    if ok.sum() < 3:
        return none
    log_eg = np.log(np.where(ok, eg, floor))
    slope = np.abs(np.gradient(log_eg, t))
    # Candidates: interior points that are later left downwards by more than the band.
    later_min = np.minimum.accumulate(eg[::-1])[::-1]
    candidates = np.where(ok & (later_min < (1 - tolerance) * eg))[0]
    candidates = candidates[(candidates > 0) & (candidates < t.size - 1)]
    if candidates.size == 0:
        return none
    k = candidates[np.argmin(slope[candidates])]
    # A plateau is flat compared with its exit: |d ln eg/dt| at the centre below a tenth of the
    # steepest descent that follows (a plain exponential decay has none).
    if not slope[k] < 0.1 * np.max(np.where(ok[k:], slope[k:], 0.0)):
        return none
    level = float(eg[k])
    above = np.where(eg[:k] > (1 + tolerance) * level)[0]
    below = np.where(eg[k:] < (1 - tolerance) * level)[0]
    start = float(t[above[-1]]) if above.size else float(t[0])
    end = float(t[k + below[0]])
    return PlateauResult(True, level, float(t[k]), start, end, end - start, "ok")


@resultclass
class PlateauScan(Result):
    """Plateau level and length over a grid of learning rates and initial symmetry breakings.

    Attributes
    ----------
    eta : (n_eta,) array
    breaking : (n_breaking,) array
        Initial symmetry breaking epsilon: ``R0 = r0 + epsilon * I`` (student i aligned a little
        more with teacher i).
    level, length, start, end : (n_eta, n_breaking) arrays
        From :func:`plateau` (NaN where none was found before ``t_max``).
    status : (n_eta, n_breaking) array of str
        The ODE status of each run (``"ok"``, ``"diverged"``, ...); ``"not_reached"`` where the
        ODE ran to ``t_max`` but no plateau was found (its fields are NaN there).
    """

    eta: np.ndarray
    breaking: np.ndarray
    level: np.ndarray
    length: np.ndarray
    start: np.ndarray
    end: np.ndarray
    status: np.ndarray
    _dims = {"eta": ("eta",), "breaking": ("breaking",), "level": ("eta", "breaking"),
             "length": ("eta", "breaking"), "start": ("eta", "breaking"), "end": ("eta", "breaking"),
             "status": ("eta", "breaking")}


#: Most output times plateau_scan accepts per run (n_points).
MAX_POINTS = 10**7
#: Longest t_max plateau_scan accepts (plateaus last O(10^2 - 10^5); beyond this each run of the
#: grid would grind through its whole step budget).
MAX_PLATEAU_TIME = 1e7


def plateau_scan(eta: Any, breaking: Any, *, K: int = 2, M: int = 2, q0: float = 0.25, r0: float = 0.0,
                 batchnorm: bool = False, batch_size: int = 1, activation: str = "erf", t_max: float = 2000.0,
                 n_points: int = 4001, tolerance: float = 0.1, **ode_kwargs: Any) -> PlateauScan:
    """Plateau diagnostics of the soft committee machine as functions of eta and the symmetry breaking.

    Each run starts from ``Q0 = q0 I_K``, ``R0 = r0 + breaking * I_{K x M}`` (ones where i = n),
    ``T = I_M`` and integrates :func:`ode` to ``t_max`` on ``n_points`` times; extra keyword
    arguments go to :func:`ode` (e.g. ``w``, ``v``, ``sigma``, ``g0``). ``n_points`` is at most
    :data:`MAX_POINTS` (10^7), ``t_max`` at most :data:`MAX_PLATEAU_TIME` (10^7).
    """
    etas = as_float_array(eta, "eta")
    etas = etas.reshape(-1)
    if etas.size < 1 or not np.all(etas > 0):
        raise ValueError("eta must be > 0 (a scalar or a 1-D array)")
    eps = as_float_array(breaking, "breaking").reshape(-1)
    if eps.size < 1:
        raise ValueError("breaking must be a scalar or a non-empty 1-D array")
    K = check_int(K, "K", low=1, high=MAX_UNITS)
    M = check_int(M, "M", low=1, high=MAX_UNITS)
    q0 = check_real(q0, "q0", positive=True)
    r0 = check_real(r0, "r0")
    t_max = check_real(t_max, "t_max", positive=True, high=MAX_PLATEAU_TIME)
    n_points = check_int(n_points, "n_points", low=3, high=MAX_POINTS)
    check_memory(8.0 * n_points * (2 * K * K + K * M + K + 8), "n_points", n_points)
    check_memory(8.0 * (4 * (K + M) ** 2 + 2 * M * M), "M" if M >= K else "K", max(K, M))  # T, Q0, R0 and the state
    times = np.linspace(0.0, t_max, n_points)
    shape = (etas.size, eps.size)
    out = {k: np.full(shape, np.nan) for k in ("level", "length", "start", "end")}
    status = np.empty(shape, dtype=object)
    for a, e in enumerate(etas):
        for b, x in enumerate(eps):
            R0 = np.full((K, M), r0)
            R0[np.arange(min(K, M)), np.arange(min(K, M))] += x
            o = ode(q0 * np.eye(K), R0, np.eye(M), float(e), batchnorm=batchnorm, batch_size=batch_size,
                    activation=activation, t=times, **ode_kwargs)
            status[a, b] = o.status
            if o.t.size >= 3:
                p = plateau(o.t, o.eg, tolerance=tolerance)
                if o.status == "ok" and not np.isfinite(p.level):
                    status[a, b] = "not_reached"  # no plateau before t_max: NaN fields, not success
                out["level"][a, b], out["length"][a, b] = p.level, p.length
                out["start"][a, b], out["end"][a, b] = p.start, p.end
    return PlateauScan(eta=etas, breaking=eps, status=status, **out)
