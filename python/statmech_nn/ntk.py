"""Neural tangent kernel of deep fully-connected networks: infinite width and sampled finite nets.

Network (``depth`` hidden layers, then a linear readout with ``n_outputs`` units)::

    u^l = W^l h^{l-1} + b^l,   h^l = phi(u^l)  (l = 1..depth),   f = u^{depth+1},   h^0 = x

Parameterisations (``d`` = input dimension, ``M_{l-1}`` = fan-in of layer l):

* ``"ntk"``: ``W^l = sigma_w / sqrt(M_{l-1}) * omega``, ``b^l = sigma_b * beta`` with omega, beta
  ~ N(0, 1) the trained parameters. The kernels have a finite infinite-width limit::

      Sigma^1 = sigma_w2 x.x'/d + sigma_b2,             Theta^1 = Sigma^1
      Sigma^l = sigma_w2 I2(Lambda^{l-1}) + sigma_b2,   dSigma^l = sigma_w2 J2(Lambda^{l-1})
      Theta^l = Sigma^l + dSigma^l Theta^{l-1}

  (``sigma_w2``, ``sigma_b2`` may be given per weight layer: those of layer l in the line for
  Sigma^l, dSigma^l; a layer with sigma_b2 = 0 has no bias)
  with ``Lambda`` the 2x2 covariance of (u(x), u(x')) at the previous layer and I2 = <phi phi>,
  J2 = <phi' phi'> (closed forms for linear, relu, leaky_relu, abs, erf, erf_sigmoid, gelu, sin, cos,
  rbf and step, quadrature for the others; step's derivative is 0 almost everywhere, so a step layer
  passes nothing to the NTK, as in Neural Tangents).
  NNGP = Sigma^{depth+1}, NTK = Theta^{depth+1}.
* ``"standard"``: ``W^l ~ N(0, sigma_w2 / M_{l-1})`` and ``b^l ~ N(0, sigma_b2)`` are trained
  directly (Karakida et al.'s convention). The NTK then grows with the width ``M`` (it is the Gram
  matrix of the Fisher information, :mod:`statmech_nn.fisher`)::

      Theta^1 = x.x' + 1,
      Theta^l = M_{l-1} <phi phi>(Lambda^{l-1}) + 1 + dSigma^l Theta^{l-1}

  with hidden widths ``M_l = width * width_ratios[l-1]`` (the same as Neural Tangents'
  ``parameterization="standard"``). The NNGP is unchanged.

The kernel recursion runs in the C++ deep-network layer: the diagonal of each input once, then the
pairs in 64 x 64 tiles (only those on and above the diagonal when ``x2`` is None), each tile one
small GEMM for the first layer and one pass per layer over contiguous rows of pairs; parallel over
tiles, GIL released, identical results for any thread count. Gaussian averages come from the core's
Gaussian layer: closed forms for linear, relu, leaky_relu, erf, erf_sigmoid and gelu (a few ns per
entry and layer, vectorised) and for abs, sin, cos, rbf and step (scalar). Other activations (tanh,
sigmoid, swish, hardtanh, ...) use the Mehler (Hermite) series: the coefficients a_k(q) of each
input's variance are computed once per layer, and a pair sums a_k(q1) a_k(q2) c^k until a
Cauchy-Schwarz bound on the remainder is below 1e-14 (about a microsecond per entry and layer; tanh
at n = 200, depth 3 went from 44 s to 0.06 s). Where the series does not converge (c near +-1) or
there are too few pairs per input, the 2-D quadrature (~1e-12 accurate, a fraction of a ms per
entry and layer) takes over.

The empirical NTK of a sampled network is ``sum_l (delta^l(x).delta^l(x')) (h^{l-1}(x).h^{l-1}(x'))``
(times sigma_w2/M_{l-1} for "ntk") plus the bias terms ``sum_l delta^l(x).delta^l(x')`` (times
sigma_b2), computed from one forward and one backward pass per input, never forming the Jacobian.

Gradient-descent convention (:func:`predict_gd_mse`, :func:`predict_gd_ensemble`,
:func:`max_learning_rate`): loss ``L = 1/2 sum_i |f(x_i) - y_i|^2`` (sum over the n training
points and the k outputs, no normalisation), gradient flow ``d theta/dt = -eta dL/dtheta``, so that
``f_t(X) - y = exp(-eta Theta t) (f_0(X) - y)`` for each output. Neural Tangents'
``predict.gradient_descent_mse`` and ``gradient_descent_mse_ensemble`` normalise the loss by the
number of target entries, ``1/(2 n k) sum |f - y|^2`` (their exponent is ``-Theta t /
y_train.size``): their time ``t_NT`` equals ``n k`` times our ``eta t``, and their
``max_learning_rate`` is ``n k`` times ours.

Kernel toolbox: :func:`gp_inference` (exact Gaussian-process posterior mean and covariance with the
NNGP, the Bayesian posterior of an infinitely wide network, or with the NTK), :func:`predict_gd_mse`
(one linearised network), :func:`predict_gd_ensemble` (mean and covariance over random
initialisations of infinitely wide networks trained by gradient flow for a time t; Lee et al.,
"Wide neural networks of any depth evolve as linear models under gradient descent", 2019) and
:func:`max_learning_rate`.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _core, _interruptible
from ._deprecation import renamed_arguments
from ._result import Result, combine_status, resultclass
from ._validation import (as_float_array, check_activation, check_choice, check_divergence_bound, check_int,
                          check_memory, check_real, check_threads)

__all__ = ["Kernels", "GDPrediction", "GPPosterior", "GDEnsemble", "LearningRate", "EmpiricalNTK", "kernels",
           "predict_gd_mse", "gp_inference", "predict_gd_ensemble", "max_learning_rate", "empirical"]

PARAMETERIZATIONS = ("ntk", "standard")


@resultclass
class Kernels(Result):
    """Infinite-width kernels between ``x1`` (rows) and ``x2`` (columns).

    Fields: ``nngp`` and ``ntk`` (n1 x n2, read-out layer depth+1), ``nngp_layers`` and
    ``ntk_layers`` (depth+1, n1, n2: Sigma^l and Theta^l for l = 1..depth+1; None unless
    ``return_layers=True``), ``parameterization``, ``status`` ("ok" or "diverged") and
    ``stop_layer`` (the first layer l where an input's Sigma^l(x, x) left the divergence bound,
    0 when none; kernels from that layer on are NaN)."""

    nngp: np.ndarray
    ntk: np.ndarray
    nngp_layers: Optional[np.ndarray]
    ntk_layers: Optional[np.ndarray]
    parameterization: str
    status: str = "ok"
    stop_layer: int = 0
    _dims = {"nngp": ("x1", "x2"), "ntk": ("x1", "x2"), "nngp_layers": ("layer", "x1", "x2"),
             "ntk_layers": ("layer", "x1", "x2")}


def _check_inputs(x1: Any, x2: Any):
    x1 = as_float_array(x1, "x1")
    if x1.ndim == 1:
        x1 = x1[None, :]
    if x1.ndim != 2 or x1.shape[0] < 1 or x1.shape[1] < 1:
        raise ValueError(f"x1 must be an (n, d) array of inputs; got shape {x1.shape}")
    if x2 is None:
        return x1, None
    x2 = as_float_array(x2, "x2")
    if x2.ndim == 1:
        x2 = x2[None, :]
    if x2.ndim != 2 or x2.shape[0] < 1:
        raise ValueError(f"x2 must be an (n, d) array of inputs; got shape {x2.shape}")
    if x2.shape[1] != x1.shape[1]:
        raise ValueError(f"x2 must have the input dimension of x1 ({x1.shape[1]}); got {x2.shape[1]}")
    return x1, x2


def _layer_variances(value: Any, param: str, depth: int, positive: bool):
    """A variance for every layer (float) or one per weight layer (sequence of depth + 1): returns
    (scalar, per-layer array); the array is empty for a scalar."""
    if np.ndim(value) == 0:
        v = check_real(value, param, positive=positive, nonnegative=not positive)
        return v, np.zeros(0)
    arr = as_float_array(value, param, ndim=1)
    if arr.size != depth + 1:
        raise ValueError(f"{param} must be a number or a sequence of depth + 1 = {depth + 1} values (one per "
                         f"weight layer, the read-out last); got {arr.size}")
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
    if np.any(bad):
        raise ValueError(f"{param} must hold finite values {'> 0' if positive else '>= 0'}; got {float(arr[bad][0])!r} "
                         f"at layer {int(np.argmax(bad)) + 1}")
    return float(arr[0]), np.ascontiguousarray(arr)


def _times(t: Any) -> Tuple[np.ndarray, bool]:
    """Times of the gradient-descent predictions: a non-negative scalar or 1-D array (np.inf
    allowed), as a 1-D array, and whether a scalar was given."""
    tt = as_float_array(t, "t", finite=False)
    scalar_t = tt.ndim == 0
    tt = np.atleast_1d(tt)
    if tt.ndim != 1 or np.any(np.isnan(tt)) or np.any(tt < 0):
        raise ValueError("t must be a non-negative scalar or 1-D array of times (np.inf allowed)")
    return tt, scalar_t


@renamed_arguments(store_layers="return_layers")
def kernels(x1: Any, x2: Any = None, activation: str = "relu", depth: int = 1, sigma_w2: float = 2.0,
            sigma_b2: float = 0.0, parameterization: str = "ntk", width: Optional[int] = None,
            slope: float = 0.01, num_threads: Optional[int] = None, *, width_ratios: Any = None,
            return_layers: bool = False, divergence_bound: float = 1e8) -> Kernels:
    """Infinite-width NNGP and NTK kernels of a deep fully-connected network.

    Parameters
    ----------
    x1, x2 : array_like, shapes (n1, d) and (n2, d)
        Inputs (rows). ``x2=None`` means ``x2 = x1``.
    activation : str
        Any activation of :mod:`statmech_nn.gaussian` ("erf" is erf(x/sqrt 2)).
    depth : int
        Number of hidden layers (>= 0); the read-out is linear. ``nngp_layers[l-1]`` (l <= depth)
        is the pre-activation covariance of hidden layer l: its diagonal is the mean-field q^l of
        :func:`statmech_nn.meanfield.forward` with ``q_in = |x|^2/d``.
    sigma_w2, sigma_b2 : float or sequence of depth + 1 floats
        Weight variance (times fan-in) and bias variance: one value for every layer, or one per
        weight layer l = 1..depth+1 (the linear read-out last), e.g. ``sigma_b2=[0.1, 0, 0, 0.1]``.
        ``sigma_b2 = 0`` in a layer makes it bias-free: with the "ntk" parameterisation its bias
        contributes to neither kernel. (In the "standard" parameterisation the biases are trained
        parameters initialised with variance sigma_b2; the NTK keeps their "+1" term whatever the
        variance.)
    parameterization : {"ntk", "standard"}
        See the module docstring. "standard" needs ``width`` (hidden width M).
    width : int, optional
        Hidden width for the standard parameterisation (ignored for "ntk").
    width_ratios : sequence of ``depth`` floats, optional
        Standard parameterisation: hidden widths ``M_l = width * width_ratios[l-1]`` (default 1).
    return_layers : bool
        Also return every layer's kernels (``nngp_layers``, ``ntk_layers``: (depth+1) n1 n2 entries
        each). Default False: only the read-out is kept (2 n1 n2 doubles in all, plus about
        3 x 64^2 doubles of working memory per thread), so that n = 2 10^4 inputs fit in 24 GiB.
        ``store_layers`` is its deprecated old name. A call whose output would not fit in the
        available memory is refused (ValueError naming ``return_layers`` or ``x1``).
    divergence_bound : float
        A layer where some input's Sigma^l(x, x) exceeds this factor times its Sigma^1(x, x) (or
        is not finite) stops the recursion: ``status="diverged"``, ``stop_layer`` = that layer,
        NaN from there on. Default 1e8 (as the mean-field module); ``np.inf`` for overflow only.

    Accuracy and speed: linear, relu, leaky_relu, erf, erf_sigmoid and gelu use the Gaussian
    layer's closed forms (arc-cosine kernels, Cho & Saul, "Kernel methods for deep learning",
    2009; the arcsine kernel, Williams, "Computing with infinite networks", 1997) evaluated
    branch-free over rows of pairs, two (SSE2), four (AVX2) or eight (AVX-512) pairs per
    instruction as the processor allows (chosen at run time; the first layer's Gram blocks too).
    Every instruction set runs the same IEEE operations in the same order, without fused
    multiply-adds, so the kernels are bitwise the same on every x86-64 processor and for every
    thread count (tested). Per layer they agree with a
    60-digit evaluation of the standard formulas to within what 8 ulp of their inputs allow (a few
    1e-16 relative where the kernel is well conditioned; gelu to a few ulp of its formula's terms,
    which cancel at large variances and negative correlation), over correlations -1..1 (exactly
    +-1 included) and variances 1e-2..1e4, unequal included (tested). Other activations use the Mehler
    series (per input variance, for any pair of variances) or the ~1e-12 2-D quadrature per pair: tanh, erf, gelu, sigmoid and swish kernels agree with a
    25-digit reference to 1e-10 relative (tested at depth 3 on both paths, incl. nearly parallel and
    antiparallel inputs). The pairs are computed in 64 x 64 tiles (for ``x2=None`` only those on
    and above the diagonal), in parallel over tiles.

    Returns
    -------
    Kernels
    """
    check_activation(activation)
    x1, x2 = _check_inputs(x1, x2)
    depth = check_int(depth, "depth", low=0, high=10000)
    sigma_w2, sw2_layers = _layer_variances(sigma_w2, "sigma_w2", depth, positive=True)
    sigma_b2, sb2_layers = _layer_variances(sigma_b2, "sigma_b2", depth, positive=False)
    parameterization = check_choice(parameterization, PARAMETERIZATIONS, "parameterization")
    slope = check_real(slope, "slope")
    nt = check_threads(num_threads)
    if not isinstance(return_layers, (bool, np.bool_)):
        raise TypeError("return_layers must be a bool")
    divergence_bound = check_divergence_bound(divergence_bound)
    if width is not None:
        width = check_int(width, "width", low=1)
    elif parameterization == "standard":
        raise ValueError("width: the standard parameterisation needs the hidden width (an int >= 1)")
    ratios = np.zeros(0)
    if width_ratios is not None:
        if parameterization != "standard":
            raise ValueError("width_ratios: only the standard parameterisation depends on the widths")
        ratios = as_float_array(width_ratios, "width_ratios", ndim=1)
        if ratios.size != depth or np.any(ratios <= 0):
            raise ValueError(f"width_ratios must hold depth = {depth} positive entries; got {ratios.size}")
    n1 = x1.shape[0]
    n2 = n1 if x2 is None else x2.shape[0]
    entries = 2.0 * n1 * n2
    if return_layers:
        check_memory(8.0 * entries * (depth + 1), "return_layers", True)
    # without a closed form: a Mehler series (~13 KB at most) per input variance and hidden layer
    from .gaussian import has_closed_form

    series = 0.0 if has_closed_form(activation, "I2") else 13e3 * (n1 + (0 if x2 is None else n2)) * depth
    check_memory(8.0 * entries + series, "x1", f"<{n1} x {n2} kernels>")
    d = _core.ntk.kernels(x1, x2, activation, slope, depth, sigma_w2, sigma_b2, sw2_layers, sb2_layers,
                          parameterization == "standard",
                          float(width or 0), ratios, bool(return_layers), float(divergence_bound), nt)
    nngp, ntk_ = np.asarray(d["nngp"]), np.asarray(d["ntk"])
    status = "diverged" if d["diverged"] else "ok"
    if return_layers:
        return Kernels(nngp=nngp[-1], ntk=ntk_[-1], nngp_layers=nngp, ntk_layers=ntk_,
                       parameterization=parameterization, status=status, stop_layer=int(d["stop_layer"]))
    return Kernels(nngp=nngp, ntk=ntk_, nngp_layers=None, ntk_layers=None, parameterization=parameterization,
                   status=status, stop_layer=int(d["stop_layer"]))


# ---- gradient descent on MSE in the kernel regime ---------------------------------------------

@resultclass
class GDPrediction(Result):
    """Predictions of gradient flow on MSE with a fixed kernel.

    ``t`` (n_t,), ``f_train`` (n_t, n_train, k), ``f_test`` (n_t, n_test, k) or None,
    ``loss_train`` (n_t,) = 1/2 sum_i |f_t(x_i) - y_i|^2, ``status`` ("ok")."""

    t: np.ndarray
    f_train: np.ndarray
    f_test: Optional[np.ndarray]
    loss_train: np.ndarray
    status: str = "ok"


_GD_MAX_ENTRY = 1e100  # largest |entry| predict_gd_mse accepts (its products and squares stay finite)


def predict_gd_mse(ntk_train_train: Any, y_train: Any, t: Any, eta: float = 1.0,
                   ntk_test_train: Any = None, f0_train: Any = None, f0_test: Any = None) -> GDPrediction:
    """Gradient-flow predictions of a linearised network (kernel regime) trained on MSE.

    With Theta = ``ntk_train_train`` (n x n, PSD) and loss ``1/2 sum_i |f(x_i) - y_i|^2``::

        f_t(X)  = f_0(X)  + (I - exp(-eta Theta t)) (y - f_0(X))
        f_t(x*) = f_0(x*) + Theta(x*, X) Theta^{-1} (I - exp(-eta Theta t)) (y - f_0(X))

    With ``f0_train = f0_test = None`` (zero) this is the mean prediction over random
    initialisations of an infinitely wide network (Lee et al. 2019). Theta^{-1}(I - e^{-eta Theta t})
    is applied through the eigendecomposition, so a singular Theta is fine (its null directions
    give eta t). Neural Tangents' time (loss normalised by the n k target entries) is
    ``n * k * eta * t`` (see the module docstring).

    Parameters
    ----------
    ntk_train_train : (n, n) array
    y_train : (n,) or (n, k) array
    t : scalar or 1-D array of times (>= 0); ``np.inf`` gives the converged kernel regression
        ``f_inf(x*) = f_0(x*) + Theta(x*, X) Theta^+ (y - f_0(X))``
    eta : float, learning rate (> 0)
    ntk_test_train : (n_test, n) array, optional
    f0_train, f0_test : arrays shaped like the outputs, optional (initial outputs; default 0)

    Every entry of the kernels, targets and initial outputs must be at most 1e100 in magnitude
    (ValueError otherwise), so that the loss and the predictions stay finite.
    """
    K = _train_kernel(ntk_train_train, "ntk_train_train")
    n = K.shape[0]
    y, vec = _targets(y_train, n)
    eta = check_real(eta, "eta", positive=True)
    tt, scalar_t = _times(t)
    f0 = np.zeros_like(y) if f0_train is None else _bounded(as_float_array(f0_train, "f0_train").reshape(y.shape),
                                                           "f0_train")
    Kx = None
    if ntk_test_train is not None:
        Kx = _bounded(as_float_array(ntk_test_train, "ntk_test_train", ndim=2), "ntk_test_train")
        if Kx.shape[1] != n:
            raise ValueError(f"ntk_test_train must have {n} columns (training points); got shape {Kx.shape}")
        g0 = (np.zeros((Kx.shape[0], y.shape[1])) if f0_test is None
              else _bounded(as_float_array(f0_test, "f0_test").reshape(Kx.shape[0], y.shape[1]), "f0_test"))
    # The predictions at every time on train (and test) points, in a list and stacked.
    check_memory(16.0 * tt.size * (n + (0 if Kx is None else Kx.shape[0])) * y.shape[1], "t", f"<{tt.size} times>")
    lam, V = _interruptible.call(np.linalg.eigh, K, size=K.size)
    lam = np.maximum(lam, 0.0)
    r = V.T @ (y - f0)  # residual in the eigenbasis
    scale = max(float(lam[-1]), 1e-300)
    ftr, fte, loss = [], [], []
    for ti in tt:
        small = lam <= 1e-12 * scale
        if np.isinf(ti):
            # Converged: kernel regression with the pseudo-inverse (null directions never move).
            decay = np.where(small, 0.0, 1.0)
            inv_decay = np.where(small, 0.0, 1.0 / np.where(small, 1.0, lam))
        else:
            decay = -np.expm1(-eta * ti * lam)                # 1 - e^{-eta lam t}
            inv_decay = np.where(small, eta * ti, decay / np.where(small, 1.0, lam))  # Theta^{-1}(1 - e^{..})
        ftr.append(f0 + V @ (decay[:, None] * r))
        res = ftr[-1] - y
        loss.append(0.5 * float(np.sum(res * res)))
        if Kx is not None:
            fte.append(g0 + Kx @ (V @ (inv_decay[:, None] * r)))
    f_train = np.stack(ftr)
    f_test = np.stack(fte) if Kx is not None else None
    if vec:
        f_train = f_train[..., 0]
        f_test = f_test[..., 0] if f_test is not None else None
    if scalar_t:
        f_train = f_train[0]
        f_test = f_test[0] if f_test is not None else None
    return GDPrediction(t=tt, f_train=f_train, f_test=f_test, loss_train=np.asarray(loss))


# ---- Gaussian-process inference and the ensemble of gradient-descent predictions --------------

def _bounded(arr: np.ndarray, param: str) -> np.ndarray:
    # Squares and products of entries (the loss, Theta(x*, X) Theta^{-1} ...) must stay finite.
    if arr.size and float(np.max(np.abs(arr))) > _GD_MAX_ENTRY:
        raise ValueError(f"{param}: entries must be at most {_GD_MAX_ENTRY:g} in magnitude")
    return arr


def _kernel_matrix(K: Any, param: str, shape=None) -> np.ndarray:
    K = as_float_array(K, param, ndim=2)
    if shape is not None and K.shape != shape:
        raise ValueError(f"{param} must have shape {shape}; got {K.shape}")
    return _bounded(K, param)


def _train_kernel(K: Any, param: str) -> np.ndarray:
    """A training-set kernel: square, symmetric positive semidefinite, at least one point."""
    from ._validation import check_symmetric_psd

    K = check_symmetric_psd(_kernel_matrix(K, param), param, tol=1e-8)
    if K.shape[0] < 1:
        raise ValueError(f"{param} must have at least one training point; got shape (0, 0)")
    return K


def _targets(y_train: Any, n: int):
    y = as_float_array(y_train, "y_train")
    vec = y.ndim == 1
    if vec:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise ValueError(f"y_train must have shape ({n},) or ({n}, k); got {np.shape(y_train)}")
    _bounded(y, "y_train")
    return y, vec


def _regularised(K: np.ndarray, diag_reg: Any, absolute: Any) -> tuple:
    diag_reg = check_real(diag_reg, "diag_reg", nonnegative=True)
    if not isinstance(absolute, (bool, np.bool_)):
        raise TypeError("diag_reg_absolute_scale must be a bool")
    n = K.shape[0]
    reg = float(diag_reg) * (1.0 if absolute else float(np.trace(K)) / n)
    return K + reg * np.eye(n), reg


@resultclass
class GPPosterior(Result):
    """Gaussian-process posterior on test points (or on the training points when none are given).

    Fields: ``mean`` (n_test, k) or (n_test,) like ``y_train``; ``cov`` (n_test, n_test), the
    posterior covariance of each output (the same for every output), None without
    ``k_test_test``; ``diag_reg`` the absolute regulariser added to the training kernel's
    diagonal; ``status`` ("ok")."""

    mean: np.ndarray
    cov: Optional[np.ndarray]
    diag_reg: float
    status: str = "ok"
    _dims = {"cov": ("test", "test")}


def gp_inference(k_train_train: Any, y_train: Any, k_test_train: Any = None, k_test_test: Any = None,
                 diag_reg: float = 0.0, diag_reg_absolute_scale: bool = False) -> GPPosterior:
    """Exact Gaussian-process posterior mean and covariance with a given kernel.

    With ``K = k_train_train + r I`` (``r`` = ``diag_reg`` times the mean diagonal of
    ``k_train_train``, or ``diag_reg`` itself with ``diag_reg_absolute_scale=True``, the
    convention of Neural Tangents' ``predict.gp_inference``)::

        mean = k(x*, X) K^{-1} y,     cov = k(x*, x*) - k(x*, X) K^{-1} k(X, x*)

    With the NNGP (``kernels(...).nngp``) this is the exact Bayesian posterior of an infinitely
    wide network with Gaussian prior and Gaussian likelihood of variance ``r`` (Lee et al., "Deep
    neural networks as Gaussian processes", 2018); with the NTK, the "NTK-GP" posterior. An
    infinite ensemble of networks trained by gradient flow converges to a different Gaussian
    (:func:`predict_gd_ensemble` at ``t = inf``) unless only the read-out is trained.

    Parameters
    ----------
    k_train_train : (n, n) array, symmetric positive semidefinite
    y_train : (n,) or (n, k) array
    k_test_train : (n_test, n) array, optional (default: the training points themselves)
    k_test_test : (n_test, n_test) array, optional; needed for ``cov``
    diag_reg : float >= 0
    diag_reg_absolute_scale : bool

    Returns
    -------
    GPPosterior

    Solved by a Cholesky factorisation; a kernel that is not numerically positive definite after
    regularisation is a ValueError naming ``k_train_train`` (pass ``diag_reg > 0``).
    """
    K = _train_kernel(k_train_train, "k_train_train")
    n = K.shape[0]
    y, vec = _targets(y_train, n)
    Kr, reg = _regularised(K, diag_reg, diag_reg_absolute_scale)
    Kx = K if k_test_train is None else _kernel_matrix(k_test_train, "k_test_train")
    if Kx.shape[1] != n:
        raise ValueError(f"k_test_train must have {n} columns (training points); got shape {Kx.shape}")
    m = Kx.shape[0]
    Kt = None
    if k_test_test is not None:
        Kt = _kernel_matrix(k_test_test, "k_test_test", shape=(m, m))
    try:
        L = _interruptible.call(np.linalg.cholesky, Kr, size=Kr.size)
    except np.linalg.LinAlgError:
        raise ValueError("k_train_train is not numerically positive definite: pass diag_reg > 0") from None

    def cho_solve(b: np.ndarray) -> np.ndarray:  # Kr^-1 b through the two triangular factors
        return _interruptible.call(lambda: np.linalg.solve(L.T, np.linalg.solve(L, b)), size=Kr.size)

    mean = Kx @ cho_solve(y)
    cov = None
    if Kt is not None:
        cov = Kt - Kx @ cho_solve(Kx.T)
        cov = 0.5 * (cov + cov.T)
    if not np.all(np.isfinite(mean)) or (cov is not None and not np.all(np.isfinite(cov))):
        raise ValueError("k_train_train is too ill-conditioned for this solve: pass diag_reg > 0")
    return GPPosterior(mean=mean[:, 0] if vec else mean, cov=cov, diag_reg=reg)


@resultclass
class GDEnsemble(Result):
    """Mean and covariance of the outputs of infinitely wide networks trained by gradient flow on
    MSE, over their random initialisations (Lee et al. 2019).

    Fields: ``t`` (n_t,); ``mean_train`` (n_t, n, k) and ``cov_train`` (n_t, n, n);
    ``mean_test`` (n_t, n_test, k) and ``cov_test`` (n_t, n_test, n_test), None without test
    kernels (``cov_test`` also None without ``nngp_test_test``); ``dynamics`` ("ntk": every layer
    trained, "nngp": only the read-out); ``status`` ("ok"). The k outputs are independent with one
    covariance. Shapes drop the time axis for a scalar ``t`` and the output axis for a 1-D
    ``y_train``."""

    t: np.ndarray
    mean_train: np.ndarray
    cov_train: np.ndarray
    mean_test: Optional[np.ndarray]
    cov_test: Optional[np.ndarray]
    dynamics: str
    status: str = "ok"


def predict_gd_ensemble(nngp_train_train: Any, y_train: Any, t: Any, eta: float = 1.0, ntk_train_train: Any = None,
                        nngp_test_train: Any = None, ntk_test_train: Any = None, nngp_test_test: Any = None,
                        diag_reg: float = 0.0, diag_reg_absolute_scale: bool = False) -> GDEnsemble:
    """Ensemble mean and covariance of gradient-flow predictions at times t (kernel regime).

    The initial outputs are Gaussian with the NNGP ``K`` as covariance; training by gradient flow on
    ``1/2 sum |f - y|^2`` with learning rate ``eta`` moves them with the NTK ``Theta`` (the module
    docstring's time convention: Neural Tangents' time is ``n k eta t``). With
    ``A_t = Theta(x*, X) Theta^{-1} (I - exp(-eta Theta t))``::

        mean_t(x*) = A_t y
        cov_t(x*)  = K(x*, x*) - A_t K(X, x*) - K(x*, X) A_t^T + A_t K A_t^T
        on the training set: mean = (I - e^{-eta Theta t}) y,  cov = e^{-eta Theta t} K e^{-eta Theta t}

    Without NTK arguments only the read-out is trained (``Theta = K``): at ``t = inf`` this is the
    exact Bayesian posterior (:func:`gp_inference` with the NNGP). ``mean`` equals
    :func:`predict_gd_mse` with zero initial outputs. ``Theta^{-1}(I - e^{-eta Theta t})`` is
    applied through the eigendecomposition (null directions give ``eta t``, and at ``t = inf`` the
    pseudo-inverse).

    Parameters
    ----------
    nngp_train_train : (n, n) array
    y_train : (n,) or (n, k) array
    t : scalar or 1-D array of times >= 0 (``np.inf`` allowed)
    eta : float > 0
    ntk_train_train : (n, n) array, optional (default: the NNGP, read-out-only training)
    nngp_test_train, ntk_test_train : (n_test, n) arrays, optional (the NTK one is needed for test
        predictions under "ntk" dynamics, the NNGP one for their covariance)
    nngp_test_test : (n_test, n_test) array, optional (needed for ``cov_test``)
    diag_reg, diag_reg_absolute_scale : regulariser added to Theta's diagonal (as in
        :func:`gp_inference`)

    Returns
    -------
    GDEnsemble
    """
    from ._validation import check_symmetric_psd

    K = _train_kernel(nngp_train_train, "nngp_train_train")
    n = K.shape[0]
    y, vec = _targets(y_train, n)
    eta = check_real(eta, "eta", positive=True)
    tt, scalar_t = _times(t)
    dynamics = "nngp" if ntk_train_train is None else "ntk"
    if dynamics == "ntk":
        Th = check_symmetric_psd(_kernel_matrix(ntk_train_train, "ntk_train_train", shape=(n, n)),
                                 "ntk_train_train", tol=1e-8)
    else:
        if ntk_test_train is not None:
            raise ValueError("ntk_test_train: pass ntk_train_train as well (or neither, for read-out training)")
        Th = K
    Th, _ = _regularised(Th, diag_reg, diag_reg_absolute_scale)
    Kx = None if nngp_test_train is None else _kernel_matrix(nngp_test_train, "nngp_test_train")
    if Kx is not None and Kx.shape[1] != n:
        raise ValueError(f"nngp_test_train must have {n} columns (training points); got shape {Kx.shape}")
    Tx = Kx if dynamics == "nngp" else (None if ntk_test_train is None
                                        else _kernel_matrix(ntk_test_train, "ntk_test_train"))
    if Tx is not None and Tx.shape[1] != n:
        raise ValueError(f"ntk_test_train must have {n} columns (training points); got shape {Tx.shape}")
    if Kx is not None and Tx is not None and Kx.shape != Tx.shape:
        raise ValueError(f"ntk_test_train must have the shape of nngp_test_train {Kx.shape}; got {Tx.shape}")
    m = None if Tx is None else Tx.shape[0]
    Kt = None
    if nngp_test_test is not None:
        if m is None:
            raise ValueError("nngp_test_test: pass the test-train kernels as well")
        Kt = _kernel_matrix(nngp_test_test, "nngp_test_test", shape=(m, m))
    if Kt is not None and Kx is None:
        raise ValueError("nngp_test_train: needed for the test covariance (nngp_test_test was given)")

    lam, V = _interruptible.call(np.linalg.eigh, Th, size=Th.size)
    lam = np.maximum(lam, 0.0)
    small = lam <= 1e-12 * max(float(lam[-1]), 1e-300)
    Vy = V.T @ y
    KV = V.T @ K @ V                       # K in Theta's eigenbasis
    XV = None if Tx is None else Tx @ V    # Theta(x*, X) in the eigenbasis
    KxV = None if Kx is None else Kx @ V
    mtr, ctr, mte, cte = [], [], [], []
    for ti in tt:
        if np.isinf(ti):
            e = np.where(small, 1.0, 0.0)                                   # e^{-eta lam t}
            g = np.where(small, 0.0, 1.0 / np.where(small, 1.0, lam))       # lam^{-1}(1 - e^{..})
        else:
            e = np.exp(-eta * ti * lam)
            g = np.where(small, eta * ti, -np.expm1(-eta * ti * lam) / np.where(small, 1.0, lam))
        mtr.append(V @ ((1.0 - e)[:, None] * Vy))
        c = V @ (e[:, None] * KV * e[None, :]) @ V.T
        ctr.append(0.5 * (c + c.T))
        if XV is not None:
            A = XV * g[None, :]                                             # A_t in the eigenbasis
            mte.append(A @ Vy)
            if Kt is not None:
                AK = A @ KxV.T
                c = Kt - AK - AK.T + A @ KV @ A.T
                cte.append(0.5 * (c + c.T))

    def shape(lst, drop_k):
        if not lst:
            return None
        a = np.stack(lst)
        if drop_k:
            a = a[..., 0]
        return a[0] if scalar_t else a

    return GDEnsemble(t=tt, mean_train=shape(mtr, vec), cov_train=shape(ctr, False), mean_test=shape(mte, vec),
                      cov_test=shape(cte, False), dynamics=dynamics)


@resultclass
class LearningRate(Result):
    """The largest learning rate for which full-batch gradient descent on MSE in the kernel regime
    converges: ``eta_max = 2 (1 + momentum) / lambda_max`` (``float(result)`` gives it).

    Fields: ``eta_max``, ``lambda_max`` (top eigenvalue of the NTK), ``momentum``, ``status``."""

    eta_max: float
    lambda_max: float
    momentum: float
    status: str = "ok"

    def __float__(self) -> float:
        return float(self.eta_max)


def max_learning_rate(ntk_train_train: Any, momentum: float = 0.0) -> LearningRate:
    """Largest stable learning rate of gradient descent on ``1/2 sum_i |f(x_i) - y_i|^2``.

    One step maps the residual by ``I - eta Theta``, a contraction iff ``eta < 2 / lambda_max``;
    with heavy-ball momentum ``beta`` the bound is ``2 (1 + beta) / lambda_max``. Neural Tangents'
    ``max_learning_rate`` refers to the loss normalised by the n k target entries and is ``n k``
    times this value.

    Parameters
    ----------
    ntk_train_train : (n, n) array, symmetric positive semidefinite, not zero
    momentum : float in [0, 1)

    Returns
    -------
    LearningRate
    """
    K = _train_kernel(ntk_train_train, "ntk_train_train")
    momentum = check_real(momentum, "momentum", nonnegative=True)
    if momentum >= 1.0:
        raise ValueError(f"momentum must be in [0, 1); got {momentum}")
    lam = float(_interruptible.call(np.linalg.eigvalsh, K, size=K.size)[-1])
    if not lam > 0.0:
        raise ValueError("ntk_train_train must not be zero (its top eigenvalue is 0)")
    return LearningRate(eta_max=2.0 * (1.0 + momentum) / lam, lambda_max=lam, momentum=momentum)


# ---- sampled finite networks -------------------------------------------------------------------

@resultclass
class EmpiricalNTK(Result):
    """Empirical NTK of sampled networks (the microscopic twin of :func:`kernels`).

    Attributes
    ----------
    ntk : (n_seeds, n1, n2) for one output (the k = k' diagonal block averaged over outputs).
    ntk_full : (n_seeds, n1, C, n2, C) every output pair.
    nngp : (n_seeds, n1, n2) = f(x).f(x')/C (one network's outputs).
    f1, f2 : outputs at x1 and x2 (n_seeds, n, C).
    parameterization : "ntk" or "standard".
    seeds, seed_status, status : the seeds, a word per seed ("ok" or "diverged": activations overflowed,
        the seed's numbers are NaN) and the worst word.
    stop_layer : (n_seeds,) last weight layer with finite activations (L when not diverged).
    """

    ntk: np.ndarray
    ntk_full: np.ndarray
    nngp: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    parameterization: str
    seeds: np.ndarray
    seed_status: np.ndarray
    stop_layer: np.ndarray
    status: str


def empirical(x1: Any, x2: Any = None, activation: str = "relu", depth: int = 1, sigma_w2: float = 2.0,
              sigma_b2: float = 0.0, parameterization: str = "ntk", width: int = 512, n_outputs: int = 1,
              seeds: Any = 0, slope: float = 0.01, num_threads: Optional[int] = None) -> EmpiricalNTK:
    """Empirical NTK ``sum_theta df(x)/dtheta df(x')/dtheta`` of sampled finite networks.

    Same network, parameterisations and positional order as :func:`kernels` (hidden widths all
    ``width``). Exact (no Jacobian is formed): per layer, (delta.delta')(h.h') plus the bias term.
    For "ntk" it converges to :func:`kernels`' ``ntk`` as width -> infinity, fluctuations
    O(1/sqrt(width)).

    ``seeds``: an int or a sequence of ints (one network per seed). The networks come from the
    sampled-network engine (``Rng(seed, layer * 2**32 + block)`` streams): results do not depend on
    ``num_threads``. Runs needing more than 4 GiB are refused with a ValueError naming the parameter.
    """
    import warnings

    from . import _network
    from ._validation import check_seeds

    if isinstance(parameterization, (int, np.integer)) and not isinstance(parameterization, bool) \
            and isinstance(width, str):
        # the pre-1.0 positional order (..., sigma_b2, width, parameterization)
        warnings.warn("ntk.empirical(): pass width after parameterization (the order of ntk.kernels) or by "
                      "keyword", DeprecationWarning, stacklevel=2)
        parameterization, width = width, parameterization
    check_activation(activation)
    x1, x2 = _check_inputs(x1, x2)
    depth = check_int(depth, "depth", low=0, high=10000)
    sigma_w2 = check_real(sigma_w2, "sigma_w2", positive=True)
    sigma_b2 = check_real(sigma_b2, "sigma_b2", nonnegative=True)
    width = check_int(width, "width", low=1)
    parameterization = check_choice(parameterization, PARAMETERIZATIONS, "parameterization")
    C = check_int(n_outputs, "n_outputs", low=1)
    slope = check_real(slope, "slope")
    seeds = check_seeds(seeds)
    same = x2 is None
    x = x1 if same else np.concatenate([x1, x2], axis=0)
    n, n1 = x.shape[0], x1.shape[0]
    cols = slice(0, n1) if same else slice(n1, n)
    widths = [x.shape[1]] + [width] * depth + [C]
    d = _network.run(widths, n, activation, slope=slope, sigma_w2=sigma_w2, sigma_b2=sigma_b2, seeds=seeds,
                     parameterization=parameterization, input="given", x=x.T, backward="outputs", gram=True,
                     outputs=True, num_threads=check_threads(num_threads), batch_name="x1")
    S = len(seeds)
    full = d["gram"].reshape(S, n, C, n, C)[:, :n1, :, cols, :]
    diag = np.einsum("sakbk->sab", full) / C   # output-diagonal blocks, averaged over k
    f = d["outputs"]
    f1, f2 = f[:, :n1], f[:, cols]
    nngp = np.einsum("snk,smk->snm", f1, f2) / C
    seed_status = d["seed_status"]
    return EmpiricalNTK(ntk=diag, ntk_full=np.ascontiguousarray(full), nngp=nngp, f1=f1.copy(), f2=f2.copy(),
                        parameterization=parameterization, seeds=_network.seeds_array(seeds),
                        seed_status=seed_status, stop_layer=np.asarray(d["stop_layer"], dtype=np.int64),
                        status=combine_status(seed_status))
