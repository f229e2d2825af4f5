"""Fisher information matrix (FIM) of deep random networks: mean-field eigenvalue statistics.

Karakida, Akaho & Amari (AISTATS 2019), "Universal statistics of Fisher information in deep neural
networks: mean field approach". Network with L = ``depth`` + 1 weight layers::

    u^l = W^l h^{l-1} + b^l,  h^l = phi(u^l)  (l = 1..L-1),  f = u^L  (C linear outputs),  h^0 = x

W^l_ij ~ N(0, sigma_w2 / M_{l-1}), b^l_i ~ N(0, sigma_b2) (trained directly: standard
parameterisation), widths M_l = alpha_l M for l = 0..L-1 (M_0 = input dimension), M_L = C, inputs
x ~ N(0, I). FIM over T inputs: ``F = (1/T) sum_t sum_k grad f_k(x_t) grad f_k(x_t)^T``.

Order parameters (infinite width, gradient-independence assumption):

* forward ``q^l = sigma_w2 qhat^{l-1} + sigma_b2`` (pre-activation variance),
  ``q^l_st = sigma_w2 qhat^{l-1}_st + sigma_b2``; ``qhat^l = <phi(u)^2>`` (= I2 on [[q, q], [q, q]]),
  ``qhat^l_st = I2([[q, q_st], [q_st, q]])``; ``qhat^0 = 1``, ``qhat^0_st = 0`` (x ~ N(0, I));
* backward ``qtilde^l = sum_i delta_i^l(t)^2`` with ``delta^l = d f_k / d u^l``:
  ``qtilde^l = sigma_w2 qtilde^{l+1} J2([[q, q], [q, q]])``,
  ``qtilde^l_st = sigma_w2 qtilde^{l+1}_st J2([[q, q_st], [q_st, q]])``, ``qtilde^L = qtilde^L_st = 1``;
* ``kappa1 = sum_{l=1}^{L} (alpha_{l-1}/alpha) qtilde^l qhat^{l-1}``, ``kappa2`` the same with the
  st quantities, ``alpha = sum_{l=1}^{L-1} alpha_l alpha_{l-1}`` (so that the number of parameters
  is P ~ alpha M^2; the last layer, the biases and C M_{L-1} are O(M), relative O(1/M)). Every
  layer, the last included, contributes to kappa: the trace of F per layer is C M_{l-1}
  qtilde^l qhat^{l-1}, all O(M).

Eigenvalue statistics (T inputs; the CT x CT Gram G = J J^T of the Jacobian has diagonal
M alpha kappa1 and same-output off-diagonal M alpha kappa2)::

    m_lambda = kappa1 C / M
    s_lambda = alpha C ((T-1)/T kappa2^2 + kappa1^2 / T)
    lambda_max = alpha ((T-1)/T kappa2 + kappa1/T) M,      eta_c = 2 / lambda_max

When kappa2 = 0 (odd activation and sigma_b2 = 0: inputs stay uncorrelated) there is no Theta(M)
outlier and the lambda_max formula reduces to alpha kappa1 M / T, the mean nonzero eigenvalue, a
lower bound (see the batch-norm remark below).

With ``batchnorm="last"`` (formerly ``batchnorm_last=True``) the outputs are mean-subtracted over the batch of T inputs
(f_k(t) - (1/T) sum_s f_k(s)): G -> P G P with P the centring matrix, which removes the
kappa2 11^T direction (Karakida, Akaho & Amari, NeurIPS 2019)::

    m_lambda = C (kappa1 - kappa2) (T-1)/(T M),   s_lambda = alpha C (kappa1 - kappa2)^2 (T-1)/T^2,
    lambda_max = alpha (kappa1 - kappa2) M / T

so lambda_max is no longer proportional to M at fixed ratio (it is O(1) when T ~ M). This
lambda_max is the leading order: it is the mean of the C(T-1) nonzero eigenvalues, hence a lower
bound; the bulk fluctuations of G add O(sqrt(M/T)) (measured: the empirical lambda_max is 1.3-2x
this value for T = M/4 and T = 30, M = 1000), which does not change the O(1)-vs-Theta(M) conclusion.

The empirical FIM (:func:`empirical`) uses the exact identity "nonzero spectrum of F = spectrum of
G / T" with ``G[(s,k),(t,k')] = sum_l (delta^l_k(s).delta^l_k'(t)) (h^{l-1}(s).h^{l-1}(t) + 1)``
(the +1 is the bias term), never forming the P x P matrix or the Jacobian.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _core, _interruptible
from ._deprecation import renamed_arguments
from ._result import Result, combine_status, resultclass
from ._validation import (MAX_DEPTH, as_float_array, check_activation, check_choice, check_divergence_bound, check_int, check_real, check_seeds,
                          check_threads)

# Divergence bound of the order-parameter recursion, relative to q^1 (as statmech_nn.meanfield).
_DIVERGENCE_BOUND = 1e8

__all__ = ["OrderParameters", "EigenStats", "EmpiricalFisher", "order_parameters", "eigen_stats", "empirical"]


@resultclass
class OrderParameters(Result):
    """Mean-field order parameters of the FIM.

    ``q``, ``q_st``: pre-activation variance / covariance of the hidden layers l = 1..depth
    (shape (depth,); the same q^l as :func:`statmech_nn.meanfield.forward` with ``q_in = 1``,
    ``c_in = 0`` and the NNGP diagonal of :func:`statmech_nn.ntk.kernels`).
    ``q_hat``, ``q_hat_st``: forward order parameters of h^l, l = 0..L-1 (shape (L,)).
    ``q_tilde``, ``q_tilde_st``: backward order parameters of delta^l, l = 1..L (shape (L,)).
    ``kappa1``, ``kappa2``, ``alpha``: as in the module docstring. ``alphas``: (alpha_0..alpha_{L-1}).
    ``status``: "ok", or "diverged" when q left the divergence bound (1e8 times q^1) or
    q_tilde / kappa overflowed float64, with ``stop_layer`` the layer (0 when none)."""

    q: np.ndarray
    q_st: np.ndarray
    q_hat: np.ndarray
    q_hat_st: np.ndarray
    q_tilde: np.ndarray
    q_tilde_st: np.ndarray
    kappa1: float
    kappa2: float
    alpha: float
    alphas: np.ndarray
    status: str = "ok"
    stop_layer: int = 0


def _check_alphas(alphas: Any, depth: int) -> np.ndarray:
    if alphas is None:
        return np.ones(depth + 1)
    a = as_float_array(alphas, "alphas", ndim=1)
    if a.size != depth + 1:
        raise ValueError(f"alphas must have depth + 1 = {depth + 1} entries (alpha_0 for the input, then one "
                         f"per hidden layer); got {a.size}")
    if np.any(a <= 0):
        raise ValueError("alphas must be > 0")
    return a


def _common(activation, depth, sigma_w2, sigma_b2, alphas):
    check_activation(activation)
    depth = check_int(depth, "depth", low=1, high=MAX_DEPTH)
    sigma_w2 = check_real(sigma_w2, "sigma_w2", positive=True)
    sigma_b2 = check_real(sigma_b2, "sigma_b2", nonnegative=True)
    return depth, sigma_w2, sigma_b2, _check_alphas(alphas, depth)


def order_parameters(activation: str = "relu", depth: int = 2, sigma_w2: float = 2.0, sigma_b2: float = 0.0,
                     alphas: Any = None, slope: float = 0.01, num_threads: Optional[int] = None, *,
                     divergence_bound: float = _DIVERGENCE_BOUND) -> OrderParameters:
    """Mean-field order parameters (q̂, q̃ and their cross-input versions) and kappa1, kappa2.

    Parameters
    ----------
    activation : str
        Any activation of :mod:`statmech_nn.gaussian` ("erf" is erf(x/sqrt 2)).
    depth : int
        Number of hidden layers (L - 1 >= 1); the network has L = depth + 1 weight layers.
    sigma_w2, sigma_b2 : float
        Weight variance (times fan-in) and bias variance.
    alphas : sequence of depth + 1 floats, optional
        Width ratios alpha_0 (input), alpha_1..alpha_{L-1}; default all 1.
    num_threads : int, optional
        Accepted for uniformity (the recursion is sequential in depth).
    divergence_bound : float
        The run stops with ``status="diverged"`` at the first layer whose q exceeds this factor
        times q^1 (default 1e8, as :mod:`statmech_nn.meanfield`; ``np.inf``: float64 overflow only).
    """
    depth, sigma_w2, sigma_b2, a = _common(activation, depth, sigma_w2, sigma_b2, alphas)
    slope = check_real(slope, "slope")
    check_threads(num_threads)
    divergence_bound = check_divergence_bound(divergence_bound)
    d = _core.fisher.order_parameters(activation, slope, depth, sigma_w2, sigma_b2, a, divergence_bound)
    return OrderParameters(q=np.asarray(d["q"]), q_st=np.asarray(d["q_st"]), q_hat=np.asarray(d["q_hat"]),
                           q_hat_st=np.asarray(d["q_hat_st"]), q_tilde=np.asarray(d["q_tilde"]),
                           q_tilde_st=np.asarray(d["q_tilde_st"]), kappa1=float(d["kappa1"]),
                           kappa2=float(d["kappa2"]), alpha=float(d["alpha"]), alphas=a,
                           status="diverged" if d["diverged"] else "ok", stop_layer=int(d["stop_layer"]))


@resultclass
class EigenStats(Result):
    """Mean-field FIM eigenvalue statistics (arrays broadcast over ``width`` and ``n_samples``).

    ``m_lambda`` = (1/P) sum lambda (mean eigenvalue), ``s_lambda`` = (1/P) sum lambda^2, ``lambda_max``,
    ``eta_c`` = 2 / lambda_max (gradient-descent stability bound on the loss 1/2 sum (f-y)^2 / T;
    inf where lambda_max underflows to 0),
    ``kappa1``, ``kappa2``, ``alpha``, ``num_params`` ~ alpha M^2, ``batchnorm`` ("none" or
    "last"), ``status`` (that of :func:`order_parameters`). The field names are those of the
    microscopic twin :class:`EmpiricalFisher`. Old field names ``M``, ``T``, ``mean``,
    ``second_moment`` and ``batchnorm_last`` still read (deprecated)."""

    width: np.ndarray
    n_samples: np.ndarray
    m_lambda: np.ndarray
    s_lambda: np.ndarray
    lambda_max: np.ndarray
    eta_c: np.ndarray
    kappa1: float
    kappa2: float
    alpha: float
    num_params: np.ndarray
    batchnorm: str
    status: str = "ok"
    _aliases = {"M": "width", "T": "n_samples", "mean": "m_lambda", "second_moment": "s_lambda"}

    @property
    def batchnorm_last(self) -> bool:
        """Deprecated: ``batchnorm == "last"``."""
        import warnings

        warnings.warn("EigenStats.batchnorm_last is deprecated; use .batchnorm", DeprecationWarning, stacklevel=2)
        return self.batchnorm == "last"


def _check_batchnorm(batchnorm: Any) -> str:
    if isinstance(batchnorm, (bool, np.bool_)):   # the old batchnorm_last flag
        return "last" if batchnorm else "none"
    if batchnorm not in ("none", "last"):
        if batchnorm == "all":
            raise ValueError('batchnorm: the mean-field FIM statistics cover "none" and "last" only')
        raise ValueError(f'batchnorm must be "none" or "last"; got {batchnorm!r}')
    return str(batchnorm)


@renamed_arguments(M="width", T="n_samples", C="n_outputs", batchnorm_last="batchnorm")
def eigen_stats(activation: str = "relu", depth: int = 2, sigma_w2: float = 2.0, sigma_b2: float = 0.0,
                width: Any = 1000, n_samples: Any = 100, n_outputs: int = 1, alphas: Any = None,
                batchnorm: Any = "none", slope: float = 0.01) -> EigenStats:
    """Mean, second moment and largest eigenvalue of the FIM (module docstring).

    ``width`` (M, the width scale, > 0) and ``n_samples`` (T, the number of inputs, >= 1;
    ``np.inf`` for the expectation over the input distribution) broadcast against each other.
    ``n_outputs`` (C) is the number of outputs; ``batchnorm="last"`` mean-subtracts the outputs
    over the batch (Karakida, Akaho & Amari, NeurIPS 2019). The old names ``M``, ``T``, ``C`` and
    ``batchnorm_last`` still work (deprecated).
    """
    depth, sigma_w2, sigma_b2, a = _common(activation, depth, sigma_w2, sigma_b2, alphas)
    Mv = as_float_array(width, "width")
    if np.any(Mv <= 0):
        raise ValueError("width must be > 0")
    Tv = as_float_array(n_samples, "n_samples", finite=False)
    if np.any(np.isnan(Tv)) or np.any(Tv < 1) or np.any(Tv == -np.inf):
        raise ValueError("n_samples must be >= 1 (np.inf allowed)")
    C = check_int(n_outputs, "n_outputs", low=1)
    bn = _check_batchnorm(batchnorm)
    op = order_parameters(activation, depth, sigma_w2, sigma_b2, a, slope=slope)
    k1, k2, al = op.kappa1, op.kappa2, op.alpha
    Mb, Tb = np.broadcast_arrays(Mv, Tv)
    invT = np.where(np.isinf(Tb), 0.0, 1.0 / Tb)
    frac = 1.0 - invT   # (T-1)/T
    with np.errstate(over="ignore", invalid="ignore"):
        if bn == "none":
            mean = k1 * C / Mb
            s2 = al * C * (frac * k2 ** 2 + k1 ** 2 * invT)
            lmax = al * (frac * k2 + k1 * invT) * Mb
        else:
            dk = k1 - k2
            mean = C * dk * frac / Mb
            s2 = al * C * dk ** 2 * frac * invT
            lmax = al * dk * Mb * invT
    with np.errstate(divide="ignore", invalid="ignore"):
        eta_c = np.where(lmax > 0, 2.0 / np.where(lmax > 0, lmax, 1.0), np.inf)
    return EigenStats(width=Mb.copy(), n_samples=Tb.copy(), m_lambda=mean, s_lambda=s2, lambda_max=lmax,
                      eta_c=eta_c, kappa1=k1, kappa2=k2, alpha=al, num_params=al * Mb ** 2, batchnorm=bn,
                      status=op.status)


@resultclass
class EmpiricalFisher(Result):
    """FIM of sampled finite networks (one row per seed; the microscopic twin of
    :func:`order_parameters` and :func:`eigen_stats`).

    Attributes
    ----------
    m_lambda, s_lambda : (n_seeds,) (1/P) tr F and (1/P) tr F^2, P = ``num_params`` (exact count,
        biases included when ``include_bias``); deprecated aliases ``mean``, ``second_moment``.
    lambda_max : (n_seeds,) largest eigenvalue of F.
    eigenvalues : (n_seeds, C T) the nonzero spectrum of F (= spectrum of G/T, descending).
    q_hat, q_hat_st : (n_seeds, L) measured forward order parameters, layers 0..L-1.
    q_tilde, q_tilde_st : (n_seeds, L) measured backward order parameters, layers 1..L (averaged over
        inputs, input pairs s != t and outputs; the st quantities are NaN when T = 1).
    kappa1, kappa2 : (n_seeds,) computed from them with the nominal alphas (kappa2 NaN when T = 1).
    num_params : int; widths : (L+1,) M_0..M_L; gram : (n_seeds, C T, C T) or None.
    n_samples, n_outputs : T and C; batchnorm : "none" or "last".
    seeds, seed_status, status : the seeds, a word per seed ("ok" or "diverged": activations overflowed,
        the seed's numbers are NaN) and the worst word.
    stop_layer : (n_seeds,) last weight layer with finite activations (L when not diverged).
    """

    m_lambda: np.ndarray
    s_lambda: np.ndarray
    lambda_max: np.ndarray
    eigenvalues: np.ndarray
    q_hat: np.ndarray
    q_hat_st: np.ndarray
    q_tilde: np.ndarray
    q_tilde_st: np.ndarray
    kappa1: np.ndarray
    kappa2: np.ndarray
    num_params: int
    widths: np.ndarray
    gram: Optional[np.ndarray]
    n_samples: int
    n_outputs: int
    batchnorm: str
    seeds: np.ndarray
    seed_status: np.ndarray
    stop_layer: np.ndarray
    status: str
    _aliases = {"mean": "m_lambda", "second_moment": "s_lambda"}


@renamed_arguments(M="width", T="n_samples", C="n_outputs", batchnorm_last="batchnorm")
def empirical(activation: str = "relu", depth: int = 2, sigma_w2: float = 2.0, sigma_b2: float = 0.0,
              width: int = 500, n_samples: int = 50, n_outputs: int = 1, alphas: Any = None, seeds: Any = 0,
              batchnorm: Any = "none", include_bias: bool = True, return_gram: bool = False,
              slope: float = 0.01, num_threads: Optional[int] = None, progress: bool = False) -> EmpiricalFisher:
    """Empirical FIM of sampled random networks through the CT x CT Gram (exact, no Jacobian).

    Parameters
    ----------
    width : int
        Width scale M (deprecated alias ``M``): widths M_l = round(alpha_l M) (l = 0..L-1), M_L = C.
    n_samples : int
        Number of inputs T (deprecated alias ``T``); x_t ~ N(0, I_{M_0}).
    n_outputs : int
        Number of linear outputs C (deprecated alias ``C``).
    batchnorm : {"none", "last"} or bool
        "last": the outputs are mean-subtracted over the batch (Karakida, Akaho & Amari 2019);
        deprecated alias ``batchnorm_last`` (True means "last").
    seeds : int or sequence of ints
        One network and one input batch per seed.
    num_threads : int, optional
        Threads; results do not depend on it.
    progress : bool
        Show a progress bar of the seeds done (``tqdm``, the ``sweep`` extra).

    The networks come from the sampled-network engine (``Rng(seed, layer * 2**32 + block)`` streams).
    Runs needing more than 4 GiB are refused with a ValueError naming the parameter.
    """
    from . import _network

    depth, sigma_w2, sigma_b2, a = _common(activation, depth, sigma_w2, sigma_b2, alphas)
    M = check_int(width, "width", low=1)
    T = check_int(n_samples, "n_samples", low=1)
    C = check_int(n_outputs, "n_outputs", low=1)
    seeds = check_seeds(seeds)
    slope = check_real(slope, "slope")
    if isinstance(batchnorm, (bool, np.bool_)):
        batchnorm = "last" if batchnorm else "none"
    batchnorm = check_choice(batchnorm, ("none", "last"), "batchnorm")
    for name, v in (("include_bias", include_bias), ("return_gram", return_gram)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool")
    if batchnorm == "last" and T < 2:
        raise ValueError("n_samples must be >= 2 with batchnorm='last' (mean subtraction over the batch)")
    L = depth + 1
    widths = [max(1, int(round(ai * M))) for ai in a] + [C]
    P = sum(widths[l] * widths[l - 1] for l in range(1, L + 1)) + (sum(widths[1:]) if include_bias else 0)
    from ._progress import core_progress

    with core_progress(progress, "fisher.empirical", "seed", len(seeds)):
        d = _network.run(widths, T, activation, slope=slope, sigma_w2=sigma_w2, sigma_b2=sigma_b2, seeds=seeds,
                         batchnorm=batchnorm, input="gaussian", backward="outputs", gram=True,
                         gram_bias=bool(include_bias), num_threads=check_threads(num_threads),
                         batch_name="n_samples")
    S = len(seeds)
    G = d["gram"]
    with np.errstate(invalid="ignore", over="ignore"):
        ev = _interruptible.call(np.linalg.eigvalsh, np.nan_to_num(G) / T, size=G.size)[:, ::-1]
        ev[~np.all(np.isfinite(G), axis=(1, 2))] = np.nan
        m_lambda = np.trace(G, axis1=1, axis2=2) / T / P
        s_lambda = np.sum(G * G, axis=(1, 2)) / T ** 2 / P
        off = ~np.eye(T, dtype=bool)
        post = d["post_cov"]                                   # (S, L, T, T), layers 0..L-1
        qh = np.einsum("nltt->nlt", post).mean(axis=2)
        qhs = post[:, :, off].mean(axis=2) if T > 1 else np.full((S, L), np.nan)
        D = np.exp(d["grad_log_norm2"][:, 1:])[:, :, None, None] * d["grad_cov"][:, 1:]   # layers 1..L
        dd = np.einsum("nlakbk->nlabk", D.reshape(S, L, T, C, T, C))   # same-output overlaps
        qt = np.einsum("nlaak->nlak", dd).mean(axis=(2, 3))
        qts = dd[:, :, off].mean(axis=(2, 3)) if T > 1 else np.full((S, L), np.nan)
    alpha = float(np.sum(a[1:] * a[:-1]))
    k1 = np.sum(a * qt * qh, axis=1) / alpha
    k2 = np.sum(a * qts * qhs, axis=1) / alpha
    seed_status = d["seed_status"]
    return EmpiricalFisher(m_lambda=m_lambda, s_lambda=s_lambda, lambda_max=ev[:, 0].copy(), eigenvalues=ev.copy(),
                           q_hat=qh, q_hat_st=qhs, q_tilde=qt, q_tilde_st=qts, kappa1=k1, kappa2=k2,
                           num_params=int(P), widths=np.asarray(widths), gram=G if return_gram else None,
                           n_samples=T, n_outputs=C, batchnorm=batchnorm, seeds=_network.seeds_array(seeds),
                           seed_status=seed_status, stop_layer=np.asarray(d["stop_layer"], dtype=np.int64),
                        status=combine_status(seed_status))
