"""Batch-norm mean field (Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz, "A mean field theory of
batch normalization", ICLR 2019).

Model and conventions
---------------------
A batch of ``B`` = ``batch_size`` inputs goes through a deep fully-connected network of width ``M``::

    h^l = W^l phi(BN(h^{l-1})) + b^l 1^T,   W_ij ~ N(0, sigma_w2 / M),   b_i ~ N(0, sigma_b2),
    BN(h) = sqrt(B) G h / |G h|,            G = I - 1 1^T / B,

applied to each neuron's batch vector ``h_i in R^B`` (no learned gain or shift, no epsilon).
In the mean-field limit ``M -> inf`` the batch covariance ``Sigma^l = h^{lT} h^l / M`` obeys::

    Sigma^l = sigma_w2 * E[phi(BN(h)) phi(BN(h))^T] + sigma_b2 * 1 1^T,   h ~ N(0, Sigma^{l-1}).

Its BSB1 fixed point ``Sigma* = q* ((1 - c*) I + c* 1 1^T)`` is explicit: BN of a BSB1 input is
``sqrt(B)`` times a uniform unit vector of the ``(B-1)``-dim subspace orthogonal to ``1``, so
``q* = sigma_w2 E phi(x1)^2 + sigma_b2`` and ``q* c* = sigma_w2 E phi(x1) phi(x2) + sigma_b2``.

Activations: every name of :mod:`statmech_nn.gaussian` (``"erf"`` is erf(x/sqrt2)) plus
``"alpha_relu"`` = max(x, 0)**alpha. Degree-alpha positively homogeneous ones (``linear``, ``relu``,
``leaky_relu``, ``alpha_relu``) use closed forms (arc-cosine kernels ``k_alpha`` times the constant
``c_B(alpha) = (B-1)^alpha 2^-alpha Gamma((B-1)/2) / Gamma((B-1)/2 + alpha)``); the others use a
Monte-Carlo-free quadrature of the two sphere marginals (composite Gauss–Legendre, split at kinks;
the reported ``quadrature_error`` compares n and 2n nodes per panel, typically < 1e-12).

Gradients: ``lambda_G`` is the per-layer growth factor of the *squared* gradient norm
``|dL/dh^l|^2`` (backwards through the network) at the BSB1 fixed point. It does not depend on
``sigma_w2`` or ``sigma_b2``; it is infinite for ``B = 3`` and the BN Jacobian vanishes for ``B = 2``
(both rejected with ValueError); linear phi gives ``(B-2)/(B-3)``; ``B -> inf`` gives
``E[phi'(z)^2] / Var phi(z)`` (``pi/(pi-1)`` for ReLU).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from . import _core, _interruptible, _network
from ._deprecation import renamed_arguments
from ._progress import check_progress, core_progress
from ._result import Result, combine_status, resultclass
from ._validation import (
    ACTIVATIONS,
    as_float_array,
    check_activation,
    check_choice,
    MAX_DEPTH,
    check_int,
    check_memory,
    check_real,
    check_seeds,
    check_symmetric_psd,
    check_threads,
)

__all__ = [
    "ACTIVATIONS",
    "FixedPoint",
    "SphereMoments",
    "Simulation",
    "fixed_point",
    "covariance_map",
    "covariance_trajectory",
    "gradient_explosion_rate",
    "sphere_moments",
    "arccos_kernel",
    "c_alpha",
    "bsb1",
    "simulate",
]

ACTIVATIONS = tuple(ACTIVATIONS) + ("alpha_relu",)
HOMOGENEOUS = ("linear", "relu", "leaky_relu", "alpha_relu", "abs")
METHODS = ("auto", "closed_form", "quadrature")


def _act(activation: Any, slope: Any, alpha: Any):
    name = check_activation(activation, ACTIVATIONS)
    slope = check_real(slope, "slope")
    alpha = check_real(alpha, "alpha", positive=True)
    if name != "alpha_relu" and alpha != 1.0:
        raise ValueError("alpha: only used with activation='alpha_relu'")
    return name, slope, alpha


#: Largest batch size accepted (the theory works with B x B matrices and B-dimensional sphere
#: integrals; batch norm is used with batches of tens to thousands).
MAX_BATCH_SIZE = 100_000


def _batch(B: Any, low: int = 2) -> int:
    B = check_int(B, "batch_size", high=MAX_BATCH_SIZE)
    if B < low:
        raise ValueError(f"batch_size: the batch size must be >= {low}; got {B}")
    return B


def _method(method: Any, name: str) -> str:
    method = check_choice(method, METHODS, "method")
    if method == "closed_form" and name not in HOMOGENEOUS:
        raise ValueError(f"method: no closed form for activation {name!r}; closed forms exist for {', '.join(HOMOGENEOUS)}")
    return method


def arccos_kernel(alpha: float, c: Any) -> Any:
    """``k_alpha(c) = E[max(u,0)^alpha max(v,0)^alpha]`` for unit Gaussians of correlation ``c``
    (the arc-cosine kernel: ``J_alpha(theta) / (2 pi)`` in Cho & Saul's normalisation, theta = arccos c).
    Closed forms for alpha = 0, 1, 2; a smooth 1-D Gauss–Legendre integral otherwise. Broadcasts over c."""
    alpha = check_real(alpha, "alpha", nonnegative=True)
    arr = as_float_array(c, "c")
    if np.any(np.abs(arr) > 1):
        raise ValueError("c: correlations must lie in [-1, 1]")
    out = np.asarray(_core.batchnorm.arccos_kernel(alpha, np.ascontiguousarray(arr.ravel()))).reshape(arr.shape)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"alpha: the kernel of degree {alpha:g} overflows float64 (it grows like Gamma(alpha))")
    return float(out) if out.ndim == 0 else out


@renamed_arguments(B="batch_size")
def c_alpha(batch_size: int, alpha: float) -> float:
    """``c_B(alpha) = (B-1)^alpha 2^-alpha Gamma((B-1)/2) / Gamma((B-1)/2 + alpha)``: for degree-alpha
    homogeneous phi, ``E phi(x_i) phi(x_j) = c_B(alpha) E phi(y_i) phi(y_j)`` with x = BN(z) and y
    Gaussian with unit variances and correlation -1/(B-1) (1 for i = j)."""
    B = _batch(batch_size)
    alpha = check_real(alpha, "alpha", low=-(B - 1) / 2)
    return float(_core.batchnorm.sphere_moment_factor(B, alpha))


@renamed_arguments(B="batch_size")
def bsb1(batch_size: int, q: float, c: float) -> np.ndarray:
    """The BSB1 matrix ``q ((1 - c) I + c 1 1^T)`` (batch_size x batch_size).

    ``q >= 0`` and ``-1/(B-1) <= c <= 1`` (the range where the matrix is positive semidefinite)."""
    B = _batch(batch_size)
    q = check_real(q, "q", nonnegative=True)
    c = check_real(c, "c")
    if not -1.0 / (B - 1) - 1e-12 <= c <= 1.0:
        raise ValueError(f"c: a BSB1 matrix needs -1/(batch_size - 1) <= c <= 1 (positive semidefinite); got {c}")
    check_memory(24.0 * B * B, "batch_size", B)  # the matrix and two temporaries
    return q * ((1.0 - c) * np.eye(B) + c * np.ones((B, B)))


@resultclass
class FixedPoint(Result):
    """BSB1 fixed point of the BN covariance map.

    Attributes
    ----------
    q_star, c_star : diagonal ``q*`` and off-diagonal correlation ``c*`` of ``Sigma*``.
    batch_size : the batch size B (deprecated alias ``B``).
    Sigma : (property) the B x B fixed-point matrix ``q* ((1 - c*) I + c* 1 1^T)``, built on access.
    phi2, phi12 : ``E phi(x1)^2`` and ``E phi(x1) phi(x2)`` for x = BN(h), h BSB1.
    method : "closed_form" or "quadrature".
    quadrature_error : |n nodes - 2n nodes| estimate (0 for closed forms).
    status : "ok" (quadrature error < 1e-9), "inaccurate", or "diverged" (the moments overflow
        float64, e.g. alpha_relu with a very large alpha; q_star and c_star are then NaN).
    """

    q_star: float
    c_star: float
    batch_size: int
    phi2: float
    phi12: float
    method: str
    quadrature_error: float
    status: str
    _aliases = {"B": "batch_size"}

    @property
    def Sigma(self) -> np.ndarray:
        if not (np.isfinite(self.q_star) and np.isfinite(self.c_star)):
            return np.full((self.batch_size, self.batch_size), np.nan)
        return bsb1(self.batch_size, self.q_star, self.c_star)


@resultclass
class SphereMoments(Result):
    """Averages over ``x = BN(h)`` for a BSB1 ``h`` (x uniform on the sphere of radius sqrt(B) in the
    subspace orthogonal to 1): ``phi2`` = E phi(x1)^2, ``phi12`` = E phi(x1) phi(x2), ``dphi2`` =
    E phi'(x1)^2, ``dphi12`` = E phi'(x1) phi'(x2), ``dphix2`` = E phi'(x1)^2 x1^2, ``dphix12`` =
    E phi'(x1) x1 phi'(x2) x2; ``error`` (quadrature estimate, 0 for closed forms), ``method``,
    ``batch_size``, ``status`` ("ok", "inaccurate" when error > 1e-9 relative, "diverged" when the
    moments overflow). Dict-style access ``m["phi2"]`` works too."""

    phi2: float
    phi12: float
    dphi2: float
    dphi12: float
    dphix2: float
    dphix12: float
    error: float
    method: str
    batch_size: int
    status: str

    def __getitem__(self, key: str) -> Any:
        if key not in self._field_names():
            raise KeyError(key)
        return getattr(self, key)

    def keys(self):
        return self._field_names()


def _moments_status(m: dict) -> str:
    vals = [m[k] for k in ("phi2", "phi12", "dphi2", "dphi12", "dphix2", "dphix12")]
    if not all(np.isfinite(v) for v in vals[:2]):
        return "diverged"
    return "ok" if m["error"] <= 1e-9 * max(1.0, abs(m["phi2"])) else "inaccurate"


@renamed_arguments(B="batch_size")
def sphere_moments(activation: str, batch_size: int, *, slope: float = 0.01, alpha: float = 1.0,
                   method: str = "auto", nodes: int = 24) -> SphereMoments:
    """Averages over ``x = BN(h)`` for a BSB1 ``h``: E phi(x1)^2 (``phi2``), E phi(x1)phi(x2) (``phi12``),
    E phi'(x1)^2, E phi'(x1)phi'(x2), E phi'(x1)^2 x1^2, E phi'(x1)x1 phi'(x2)x2 (``dphi2``, ``dphi12``,
    ``dphix2``, ``dphix12``), plus ``error`` and ``method``."""
    name, slope, alpha = _act(activation, slope, alpha)
    B = _batch(batch_size)
    method = _method(method, name)
    nodes = check_int(nodes, "nodes", low=4, high=256)
    m = dict(_core.batchnorm.sphere_moments(name, slope, alpha, B, method, nodes))
    return SphereMoments(**m, batch_size=B, status=_moments_status(m))


@renamed_arguments(B="batch_size")
def fixed_point(activation: str, batch_size: int, sigma_w2: float = 1.0, sigma_b2: float = 0.0, *, slope: float = 0.01,
                alpha: float = 1.0, method: str = "auto", nodes: int = 24) -> FixedPoint:
    """BSB1 fixed point ``(q*, c*)`` of ``Sigma -> sigma_w2 E[phi(BN h) phi(BN h)^T] + sigma_b2 1 1^T``.

    Parameters
    ----------
    activation : activation name (see module docstring); ``slope`` for leaky_relu, ``alpha`` for alpha_relu.
    batch_size : batch size B (>= 2); ``B`` is a deprecated alias.
    sigma_w2 : weight variance (> 0); sigma_b2 : bias variance (>= 0).
    method : "auto" (closed form when phi is positively homogeneous), "closed_form", "quadrature".
    nodes : Gauss–Legendre nodes per panel of the quadrature.
    """
    name, slope, alpha = _act(activation, slope, alpha)
    B = _batch(batch_size)
    sigma_w2 = check_real(sigma_w2, "sigma_w2", positive=True)
    sigma_b2 = check_real(sigma_b2, "sigma_b2", nonnegative=True)
    method = _method(method, name)
    nodes = check_int(nodes, "nodes", low=4, high=256)
    r = _core.batchnorm.fixed_point(name, slope, alpha, B, sigma_w2, sigma_b2, method, nodes)
    m = r["moments"]
    return FixedPoint(q_star=r["q_star"], c_star=r["c_star"], batch_size=B,
                      phi2=m["phi2"], phi12=m["phi12"], method=m["method"], quadrature_error=m["error"],
                      status=r["status"])


@renamed_arguments(B="batch_size")
def gradient_explosion_rate(activation: str, batch_size: Any, *, slope: float = 0.01, alpha: float = 1.0,
                            method: str = "auto", nodes: int = 24):
    """Per-layer growth factor ``lambda_G`` of the squared gradient norm at the BSB1 fixed point.

    ``batch_size`` (deprecated alias ``B``) may be an int >= 4, ``math.inf`` (the limit
    ``E[phi'^2] / Var phi`` over z ~ N(0, 1)), or an array of those (the result then has its shape). B = 2, 3 raise ValueError (lambda_G is infinite
    for B = 3; the BN Jacobian vanishes for B = 2). Independent of sigma_w2 and sigma_b2.
    """
    name, slope, alpha = _act(activation, slope, alpha)
    method = _method(method, name)
    nodes = check_int(nodes, "nodes", low=4, high=256)
    if name == "alpha_relu" and alpha <= 0.5:
        raise ValueError("alpha: lambda_G needs alpha > 1/2 (E phi'^2 diverges otherwise)")

    def one(b) -> float:
        if isinstance(b, (float, np.floating)) and math.isinf(b) and b > 0:
            return float(_core.batchnorm.gradient_explosion_rate(name, slope, alpha, 0, method, nodes))
        if isinstance(b, (float, np.floating)) and float(b).is_integer():
            b = int(b)
        b = check_int(b, "batch_size")
        if b < 4:
            raise ValueError(f"batch_size: lambda_G needs B >= 4 (it is infinite for B = 3: E|z|^-2 over a 2-dim Gaussian "
                             f"diverges; for B = 2 the BN Jacobian vanishes); got {b}")
        return float(_core.batchnorm.gradient_explosion_rate(name, slope, alpha, b, method, nodes))

    B = batch_size
    if np.ndim(B) == 0:
        return one(B.item() if isinstance(B, np.ndarray) else B)
    arr = np.asarray(B)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError("batch_size must be an int, math.inf or an array of them")
    # One evaluation per distinct batch size (at most MAX_BATCH_SIZE + 1 of them: a bounded loop).
    values, inverse = np.unique(arr.ravel(), return_inverse=True)
    rates = np.array([one(b) for b in values.tolist()], dtype=np.float64)
    return rates[inverse].reshape(arr.shape)


def _sigma(Sigma: Any, param: str) -> np.ndarray:
    S = as_float_array(Sigma, param, ndim=2)
    S = check_symmetric_psd(S, param)
    if S.shape[0] < 2:
        raise ValueError(f"{param}: the batch size (matrix size) must be >= 2; got {S.shape[0]}")
    return S


def covariance_map(activation: str, Sigma: Any, sigma_w2: float = 1.0, sigma_b2: float = 0.0, *,
                   slope: float = 0.01, alpha: float = 1.0, n_samples: int = 200_000, seed: int = 0,
                   num_threads: Optional[int] = None, return_error: bool = False):
    """One step ``Sigma -> sigma_w2 E[phi(BN h) phi(BN h)^T] + sigma_b2 1 1^T``, h ~ N(0, Sigma).

    Homogeneous phi: deterministic Laplace-transform quadrature (~1e-12). Other phi: exact sphere
    quadrature when ``G Sigma G`` is proportional to ``G`` (e.g. BSB1 Sigma), else Monte Carlo with
    ``n_samples`` draws (``seed``; standard error ~ 1/sqrt(n_samples)). With ``return_error`` the
    tuple ``(Sigma_next, std_error, method)`` is returned.
    """
    name, slope, alpha = _act(activation, slope, alpha)
    S = _sigma(Sigma, "Sigma")
    sigma_w2 = check_real(sigma_w2, "sigma_w2", positive=True)
    sigma_b2 = check_real(sigma_b2, "sigma_b2", nonnegative=True)
    n_samples = check_int(n_samples, "n_samples", low=2)
    check_memory(16.0 * S.size * (n_samples / 4096 + 1), "n_samples", n_samples)  # two B x B sums per 4096 draws
    seed = int(check_seeds(seed, "seed")[0])
    nt = check_threads(num_threads)
    r = _core.batchnorm.covariance_map(name, slope, alpha, S, sigma_w2, sigma_b2, n_samples, seed, nt)
    out, err, method = np.asarray(r["Sigma"]), np.asarray(r["std_error"]), str(r["method"])
    if not np.all(np.isfinite(out)):
        param = "alpha" if name == "alpha_relu" else "Sigma"
        raise ValueError(f"{param}: the covariance map overflows float64 here ({method}); "
                         + ("use a smaller alpha" if name == "alpha_relu" else "rescale Sigma"))
    return (out, err, method) if return_error else out


def covariance_trajectory(activation: str, Sigma0: Any, depth: int, sigma_w2: float = 1.0, sigma_b2: float = 0.0,
                          **kwargs) -> np.ndarray:
    """``Sigma^0, ..., Sigma^depth`` of the mean-field covariance map (array depth+1 x B x B).
    Keyword arguments go to :func:`covariance_map` (Monte Carlo layers use seed + l)."""
    depth = check_int(depth, "depth", low=0, high=MAX_DEPTH)
    S = _sigma(Sigma0, "Sigma0")
    check_memory(8.0 * (depth + 1) * S.size, "depth", depth)
    seed = kwargs.pop("seed", 0)
    out = [S]
    for l in range(depth):
        S = covariance_map(activation, S, sigma_w2, sigma_b2, seed=seed + l, **kwargs)
        out.append(S)
    return np.array(out)


@resultclass
class Simulation(Result):
    """Real deep BN networks (the microscopic twin of :func:`covariance_trajectory`,
    :func:`fixed_point` and :func:`gradient_explosion_rate`), one row per seed.

    Attributes
    ----------
    Sigma : (n_seeds, depth+1, B, B) batch covariances ``h^{lT} h^l / M`` (layer 0 = inputs).
    q : (n_seeds, depth+1) mean diagonal of Sigma (the theory's ``q_star`` once converged).
    c : (n_seeds, depth+1) mean off-diagonal divided by mean diagonal (``c_star``).
    log_grad_norm2 : (n_seeds, depth+1) ``log |dL/dh^l|^2`` for a random Gaussian ``dL/dh^depth``,
        backpropagated exactly through BN (batch statistics included); ``-inf`` where the gradient
        vanishes exactly (batch_size = 2: BN maps every batch to (1, -1) or (-1, 1)).
    degenerate : (n_seeds,) count of neurons with ``G h = 0`` (BN undefined; their gradient set to 0).
    batch_size : the batch size B (deprecated alias ``B``).
    seeds : (n_seeds,) the seed of each network.
    seed_status : (n_seeds,) "ok", "degenerate" (some BN undefined) or "diverged" (overflow).
    stop_layer : (n_seeds,) last layer with finite activations (depth when not diverged).
    status : the most severe word of ``seed_status``.
    """

    Sigma: np.ndarray
    q: np.ndarray
    c: np.ndarray
    log_grad_norm2: np.ndarray
    degenerate: np.ndarray
    batch_size: int
    seeds: np.ndarray
    seed_status: np.ndarray
    stop_layer: np.ndarray
    status: str
    _aliases = {"B": "batch_size"}
    _dims = {"q": ("seed", "layer"), "c": ("seed", "layer"), "log_grad_norm2": ("seed", "layer")}

    def growth_rate(self, first: int = 5, last: Optional[int] = None) -> np.ndarray:
        """Per-seed mean growth factor of |dL/dh^l|^2 per layer (going backwards) between layers
        ``first`` and ``last`` (default depth - 1): exp of the mean log-ratio."""
        depth = self.log_grad_norm2.shape[1] - 1
        last = depth - 1 if last is None else last
        if not 0 <= first < last <= depth:
            raise ValueError(f"first, last: need 0 <= first < last <= {depth}")
        lg = self.log_grad_norm2
        return np.exp((lg[:, first] - lg[:, last]) / (last - first))


@renamed_arguments(B="batch_size")
def simulate(activation: str, batch_size: int, depth: int, width: int, sigma_w2: float = 1.0,
             sigma_b2: float = 0.0, seeds: Any = 0, *, Sigma0: Any = None, slope: float = 0.01, alpha: float = 1.0,
             num_threads: Optional[int] = None, progress: bool = False) -> Simulation:
    """Sample deep BN networks of width ``width`` and ``depth`` layers on a batch of ``batch_size``
    inputs (deprecated alias ``B``).

    ``Sigma0`` (B x B, default ``I``): covariance of the input pre-activations h^0 (i.i.d. over the
    ``width`` neurons). Runs on the sampled-network engine (batch norm in every layer): seeds run in
    parallel, a single seed is split over fixed blocks of 128 weight rows, each with its own random
    stream, so results do not depend on ``num_threads``. Runs needing more memory than
    :func:`statmech_nn.memory_limit` allows are refused with a ValueError naming the parameter.
    ``progress=True`` shows a progress bar of the seeds done (``tqdm``, the ``sweep`` extra).
    """
    name, slope, alpha = _act(activation, slope, alpha)
    B = _batch(batch_size)
    depth = check_int(depth, "depth", low=1, high=MAX_DEPTH)
    width = check_int(width, "width", low=1)
    sigma_w2 = check_real(sigma_w2, "sigma_w2", positive=True)
    sigma_b2 = check_real(sigma_b2, "sigma_b2", nonnegative=True)
    seeds = check_seeds(seeds)
    # Sigma0, its eigenvectors and the factor (B x B each), and the recorded covariances.
    check_memory(8.0 * B * B * (4 + (depth + 1) * len(seeds)), "batch_size", B)
    nt = check_threads(num_threads)
    if Sigma0 is None:
        factor = None  # i.i.d. N(0, 1) inputs: Sigma0 = I
    else:
        S0 = _sigma(Sigma0, "Sigma0")
        if S0.shape != (B, B):
            raise ValueError(f"Sigma0: must be batch_size x batch_size = {B} x {B}; got {S0.shape}")
        w, V = _interruptible.call(np.linalg.eigh, 0.5 * (S0 + S0.T), size=S0.size)
        factor = V * np.sqrt(np.clip(w, 0.0, None))
    with core_progress(check_progress(progress), "batchnorm.simulate", "seed", len(seeds)):
        d = _network.run([width] * (depth + 1), B, "relu" if name == "alpha_relu" else name, slope=slope,
                         alpha=alpha if name == "alpha_relu" else None, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                         seeds=seeds, batchnorm="all", input="gaussian", cov_factor=factor, preactivation=True,
                         backward="random", post_stats=False, num_threads=nt)
    Sig = d["pre_cov"]
    with np.errstate(invalid="ignore", divide="ignore"):
        diag = np.einsum("slii->sl", Sig) / B
        off = (Sig.sum(axis=(2, 3)) - diag * B) / (B * (B - 1))
        c = off / diag
    seed_status = d["seed_status"]
    return Simulation(Sigma=Sig, q=diag, c=c, log_grad_norm2=d["grad_log_norm2"], degenerate=d["degenerate"],
                      batch_size=B, seeds=_network.seeds_array(seeds), seed_status=seed_status,
                      stop_layer=np.asarray(d["stop_layer"], dtype=np.int64), status=combine_status(seed_status))
