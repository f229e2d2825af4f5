"""Deep random networks at initialisation: mean-field signal propagation and dynamical isometry.

Model (Poole et al. 2016, "Exponential expressivity in deep neural networks through transient
chaos"; Schoenholz et al. 2017, "Deep information propagation"; Pennington, Schoenholz & Ganguli
2017/2018, "Resurrecting the sigmoid" and "The emergence of spectral universality")::

    u^l = W^l h^{l-1} + b^l,   h^l = phi(u^l),   W_ij ~ N(0, sigma_w2 / M),   b_i ~ N(0, sigma_b2)

for the hidden layers l = 1..L (``depth`` = L, the number of nonlinear layers, as in
:mod:`statmech_nn.ntk` and :mod:`statmech_nn.fisher`) of width M; the input is h^0 = x with
``q_in = |x|^2 / M``.

Conventions
-----------
* ``q^l`` is the second moment of a pre-activation, ``q^l = |u^l|^2 / M`` (so
  ``q^1 = sigma_w2 q_in + sigma_b2``); the length map is
  ``q^{l+1} = sigma_w2 E[phi(sqrt(q^l) z)^2] + sigma_b2``, z ~ N(0, 1). The same q^l is the
  diagonal of the NNGP kernel ``ntk.kernels(...).nngp_layers[l-1]`` of an input with
  ``|x|^2/d = q_in``, and fisher's ``q`` for ``q_in = 1``.
* ``c^l`` is the correlation of the pre-activations of two inputs, ``q12 / sqrt(q11 q22)``; the
  covariance map is ``q12^{l+1} = sigma_w2 E[phi(u1) phi(u2)] + sigma_b2`` over the bivariate
  Gaussian (u1, u2) of the previous layer. The input pair has correlation ``c_in`` (cosine);
  identical inputs (``c_in = 1``, equal lengths) keep ``c = 1`` exactly.
* ``chi1 = sigma_w2 E[phi'(sqrt(q*) z)^2]`` (order for chi1 < 1, chaos for chi1 > 1);
  ``chi_c = sigma_w2 E[phi'(u1) phi'(u2)]`` at the correlation fixed point c*.
* Depth scales (Schoenholz et al. 2017): ``xi_q = -1/ln(dq-map/dq at q*)``,
  ``xi_c = -1/ln chi_c`` and ``xi_grad = -1/ln chi1`` (signed: > 0 when gradients vanish with
  depth, < 0 when they explode, infinite at criticality).
* Gradients: ``q_grad^l = |dLoss/du^l|^2 / M`` with ``dLoss/du^L ~ N(0, I)`` (so q_grad^L = 1),
  ``q_grad^{l-1} = chi1(q^{l-1}) q_grad^l`` for equal widths (gradient independence);
  ``weight_grad^l = |dLoss/dW^l|^2 / M^2 = q_grad^l * |h^{l-1}|^2 / M``.
* The input–output Jacobian is ``J = dh^L/dh^0 = D^L W^L ... D^1 W^1`` with
  ``D^l = diag(phi'(u^l))``; its squared singular values are the eigenvalues of ``J J^T``.
* Activations as in :mod:`statmech_nn.gaussian` (``"erf"`` is erf(x/sqrt 2)).

Statuses (:data:`statmech_nn.STATUSES`): ``"ok"``; ``"marginal"`` (a fixed point at criticality:
slope of the map within 1e-6 of 1, approached only algebraically in depth); ``"diverged"`` (q* =
inf for unbounded activations, or a layer-by-layer run whose q left the divergence bound, see
below); ``"not_reached"`` (no crossing of the critical line found); ``"inaccurate"`` (spectral
density points whose root solve did not converge). Fixed-point stability is read from
``q_map_derivative < 1``.

Divergence bound: a layer-by-layer run (:func:`forward`, :func:`backward`) stops at the first
layer whose q is not finite or exceeds ``divergence_bound`` (default 1e8) times the first layer's scale ``max(q_a^1, q_b^1)``; it reports
``status="diverged"`` and ``stop_layer`` (that layer, 1-based). Layers before it are valid; the
entry at stop_layer holds the offending q, later ones are NaN. Pass ``divergence_bound=np.inf``
to follow an exploding but representable q (e.g. ReLU above criticality) up to float64 overflow.

Numerics: every Gaussian average comes from the Gaussian layer of the core (closed forms for
linear, erf and relu; rules adapted to the activation otherwise, ~1e-14 relative for tanh at any
variance); the layer recursion is the core's deep-network layer, shared with :mod:`statmech_nn.ntk`
and :mod:`statmech_nn.fisher`. Fixed points are bracketed safeguarded-Newton roots (not
iterations), so they return even at criticality where the iteration converges only algebraically.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import numpy as np

from . import _core
from ._result import STATUSES as _STATUSES
from ._result import Result, combine_status, resultclass, status_codes, status_words
from ._validation import (
    MAX_DEPTH,
    check_memory,
    as_float_array,
    check_activation,
    check_choice,
    check_divergence_bound,
    check_int,
    check_real,
    check_threads,
)

__all__ = [
    "q_map",
    "q_star",
    "c_map",
    "c_star",
    "chi1",
    "chi_c",
    "depth_scales",
    "forward",
    "backward",
    "phase_diagram",
    "critical_line",
    "jacobian_spectrum",
    "jacobian_moments",
    "simulate",
    "STATUSES",
    "WEIGHTS",
    "DIVERGENCE_BOUND",
    "FixedPoint",
    "CorrelationFixedPoint",
    "DepthScales",
    "Forward",
    "Backward",
    "PhaseDiagram",
    "CriticalLine",
    "JacobianSpectrum",
    "JacobianMoments",
    "Simulation",
]

#: Alias of the package-wide status vocabulary :data:`statmech_nn.STATUSES`.
STATUSES = _STATUSES
WEIGHTS = ("gaussian", "orthogonal")
#: Default divergence bound of the layer-by-layer runs, relative to the first layer's q.
DIVERGENCE_BOUND = 1e8
_mf = _core.meanfield
# words of the core's fixed-point codes (Converged, Marginal, Diverged)


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------

def _arr(v: Any, param: str) -> np.ndarray:
    arr = as_float_array(v, param)
    if arr.size == 0:
        raise ValueError(f"{param} must not be empty")
    return arr.reshape(np.shape(v)) if arr.size == 1 and np.ndim(v) == 0 else arr


def _sigma_w2(v: Any) -> np.ndarray:
    arr = _arr(v, "sigma_w2")
    if np.any(arr <= 0):
        raise ValueError("sigma_w2 must be > 0 (the weight variance times the width)")
    return arr


def _sigma_b2(v: Any) -> np.ndarray:
    arr = _arr(v, "sigma_b2")
    if np.any(arr < 0):
        raise ValueError("sigma_b2 must be >= 0 (the bias variance)")
    return arr


def _q_array(v: Any, param: str = "q", positive: bool = False) -> np.ndarray:
    arr = _arr(v, param)
    if positive and np.any(arr <= 0):
        raise ValueError(f"{param} must be > 0")
    if np.any(arr < 0):
        raise ValueError(f"{param} must be >= 0 (a second moment)")
    return arr


def _corr_array(v: Any, param: str = "c") -> np.ndarray:
    arr = _arr(v, param)
    if np.any(np.abs(arr) > 1):
        raise ValueError(f"{param} must lie in [-1, 1] (a correlation)")
    return arr


def _act(activation: Any, slope: Any) -> tuple[str, float]:
    name = check_activation(activation)
    return name, check_real(slope, "slope")


def _out(arr: Any) -> Any:
    return float(arr) if np.ndim(arr) == 0 else arr


_status = status_words


def _check_depth(depth: Any) -> int:
    return check_int(depth, "depth", low=1, high=MAX_DEPTH)


_check_bound = check_divergence_bound


# ---------------------------------------------------------------------------------------------
# maps and fixed points
# ---------------------------------------------------------------------------------------------

def q_map(activation: str, sigma_w2: Any, sigma_b2: Any, q: Any, *, depth: Optional[int] = None,
          slope: float = 0.01, num_threads: Optional[int] = None) -> Any:
    """The length map ``q -> sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2`` (broadcasts).

    With ``depth=L`` returns the iterates ``[q, map(q), ..., map^L(q)]`` stacked on a new first
    axis; an iterate that overflows is inf from there on (:func:`forward` reports where, with a
    status). Returns a float or an array (a map, not a result)."""
    name, slope = _act(activation, slope)
    w, b, qq = np.broadcast_arrays(_sigma_w2(sigma_w2), _sigma_b2(sigma_b2), _q_array(q))
    shape = w.shape
    nt = check_threads(num_threads)
    flat = [np.ascontiguousarray(a.ravel(), dtype=float) for a in (w, b, qq)]
    if depth is None:
        phi2, _, _ = _mf.layer_moments(name, slope, flat[2], nt)
        with np.errstate(over="ignore", invalid="ignore"):
            out = flat[0] * np.asarray(phi2) + flat[1]
        if not np.all(np.isfinite(out)):
            raise ValueError("sigma_w2, sigma_b2, q: the length map overflows float64 here")
        return _out(out.reshape(shape))
    depth = _check_depth(depth)
    out = np.asarray(_mf.q_map_iterates(name, slope, *flat, depth, nt))
    return out.reshape((depth + 1,) + shape)


@resultclass
class FixedPoint(Result):
    """Fixed point q* of the length map reached from ``q_init``.

    Fields: ``q_star`` (inf when it diverges), ``q_map_derivative`` (dq-map/dq at q*: < 1 stable,
    1 marginal; the deprecated name ``slope`` still reads it), ``status`` ("ok", "marginal" or
    "diverged"; an array of words for array arguments)."""

    q_star: Any
    q_map_derivative: Any
    status: Any
    _aliases = {"slope": "q_map_derivative"}


def q_star(activation: str, sigma_w2: Any, sigma_b2: Any, *, q_init: float = 1.0, slope: float = 0.01,
           num_threads: Optional[int] = None) -> FixedPoint:
    """Fixed point of the length map (broadcasts over ``sigma_w2``, ``sigma_b2``).

    The length map is increasing, so iterating from ``q_init > 0`` moves monotonically to the
    nearest fixed point; that one is bracketed and solved by safeguarded Newton, which also returns
    at criticality (status ``"marginal"``) where the iteration converges only as a power of depth.
    """
    name, slope = _act(activation, slope)
    q_init = check_real(q_init, "q_init", positive=True)
    w, b = np.broadcast_arrays(_sigma_w2(sigma_w2), _sigma_b2(sigma_b2))
    q, sl, st = _mf.q_star(name, slope, np.ascontiguousarray(w.ravel()), np.ascontiguousarray(b.ravel()), q_init,
                           check_threads(num_threads))
    return FixedPoint(_out(np.asarray(q).reshape(w.shape)), _out(np.asarray(sl).reshape(w.shape)),
                      _status(np.asarray(st).reshape(w.shape)))


def chi1(activation: str, sigma_w2: Any, sigma_b2: Any, *, q: Any = None, slope: float = 0.01) -> Any:
    """``chi1 = sigma_w2 E[phi'(sqrt(q) z)^2]`` at ``q`` (default: at the fixed point q*).

    Where q* diverges the q -> inf limit is returned (e.g. sigma_w2/2 for ReLU). Returns a float
    or an array (use :func:`depth_scales` for a result with statuses)."""
    name, slope = _act(activation, slope)
    if q is None:
        fp = q_star(name, sigma_w2, sigma_b2, slope=slope)
        qarr = np.asarray(fp.q_star, dtype=float)
        w = np.broadcast_to(_sigma_w2(sigma_w2), qarr.shape)
    else:
        w, _, qarr = np.broadcast_arrays(_sigma_w2(sigma_w2), _sigma_b2(sigma_b2), _q_array(q))
    flat_q = np.ascontiguousarray(np.asarray(qarr, dtype=float).ravel())
    flat_w = np.ascontiguousarray(np.broadcast_to(w, np.shape(qarr)).ravel(), dtype=float)
    out = np.asarray(_mf.chi1(name, slope, flat_w, flat_q))
    out = out.reshape(np.shape(qarr))
    return _out(out)


def c_map(activation: str, sigma_w2: float, sigma_b2: float, c: Any, *, q: Optional[float] = None,
          depth: Optional[int] = None, slope: float = 0.01, num_threads: Optional[int] = None) -> Any:
    """The correlation map at equal lengths ``q`` (default q*):
    ``c -> (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q_map(q)``, (u1, u2) ~ N(0, q [[1, c], [c, 1]]).

    Broadcasts over ``c``. With ``depth=L`` returns the iterates ``[c, map(c), ..., map^L(c)]`` at
    the fixed length (Schoenholz et al.'s convention; use :func:`forward` for the joint q, c
    recursion from arbitrary inputs). Returns a float or an array."""
    name, slope = _act(activation, slope)
    w = float(_sigma_w2(check_real(sigma_w2, "sigma_w2")))
    b = float(_sigma_b2(check_real(sigma_b2, "sigma_b2")))
    if q is None:
        fp = q_star(name, w, b, slope=slope)
        if not np.isfinite(fp.q_star):
            raise ValueError("q: the length map diverges here (q* = inf); pass a finite q")
        q = fp.q_star
    q = check_real(q, "q", positive=True)
    cc = _corr_array(c)
    flat = np.ascontiguousarray(cc.ravel(), dtype=float)
    out = np.asarray(_mf.c_map_iterates(name, slope, w, b, q, flat, 1 if depth is None else _check_depth(depth),
                                        check_threads(num_threads)))
    if not np.all(np.isfinite(out)):
        raise ValueError("q: the correlation map is undefined here (the next layer's q underflows to 0 or "
                         "overflows float64)")
    if depth is None:
        return _out(out[1].reshape(cc.shape))
    return out.reshape((out.shape[0],) + cc.shape)


@resultclass
class CorrelationFixedPoint(Result):
    """Stable fixed point c* of the correlation map at q* and ``chi_c`` there (``c_star = 1`` in the
    ordered phase, where ``chi_c = chi1``). Where q* = 0 (phi(0) = 0, no bias, ordered) the signal
    vanishes, the correlation map tends to the identity and no c* exists: ``c_star`` is nan with
    status ``"marginal"`` and ``chi_c = chi1``. Where q* diverges, ``c_star = 1`` (``"diverged"``)."""

    c_star: Any
    chi_c: Any
    q_star: Any
    status: Any


_status_codes = status_codes


def c_star(activation: str, sigma_w2: Any, sigma_b2: Any, *, slope: float = 0.01,
           num_threads: Optional[int] = None) -> CorrelationFixedPoint:
    """Stable fixed point of the correlation map at q* (broadcasts)."""
    name, slope = _act(activation, slope)
    fp = q_star(name, sigma_w2, sigma_b2, slope=slope, num_threads=num_threads)
    w, b = np.broadcast_arrays(_sigma_w2(sigma_w2), _sigma_b2(sigma_b2))
    qarr = np.broadcast_to(np.asarray(fp.q_star, dtype=float), w.shape)
    c, x, st = _mf.c_star(name, slope, np.ascontiguousarray(w.ravel()), np.ascontiguousarray(b.ravel()),
                          np.ascontiguousarray(qarr.ravel()), check_threads(num_threads))
    st = np.maximum(np.asarray(st), (np.asarray(_status_codes(fp.status)).ravel()))
    return CorrelationFixedPoint(_out(np.asarray(c).reshape(w.shape)), _out(np.asarray(x).reshape(w.shape)),
                                 fp.q_star, _status(st.reshape(w.shape)))


def chi_c(activation: str, sigma_w2: Any, sigma_b2: Any, *, slope: float = 0.01) -> Any:
    """``chi_c = sigma_w2 E[phi'(u1) phi'(u2)]`` at the correlation fixed point (q*, c*)."""
    return c_star(activation, sigma_w2, sigma_b2, slope=slope).chi_c


@resultclass
class DepthScales(Result):
    """Depth scales of Schoenholz et al. (2017) and the quantities they come from.

    ``xi_q = -1/ln(dq-map/dq at q*)``, ``xi_c = -1/ln chi_c`` (infinite at the critical line),
    ``xi_grad = -1/ln chi1`` (signed: negative means gradients explode with depth); ``q_star``,
    ``c_star``, ``chi1``, ``chi_c``; ``status`` that of c* (see :class:`CorrelationFixedPoint`)."""

    xi_q: Any
    xi_c: Any
    xi_grad: Any
    q_star: Any
    c_star: Any
    chi1: Any
    chi_c: Any
    status: Any


def depth_scales(activation: str, sigma_w2: Any, sigma_b2: Any, *, slope: float = 0.01,
                 num_threads: Optional[int] = None) -> DepthScales:
    """Depth scales ``xi_q``, ``xi_c``, ``xi_grad`` at (sigma_w2, sigma_b2) (broadcasts)."""
    name, slope = _act(activation, slope)
    fp = q_star(name, sigma_w2, sigma_b2, slope=slope, num_threads=num_threads)
    cs = c_star(name, sigma_w2, sigma_b2, slope=slope, num_threads=num_threads)
    x1 = np.asarray(chi1(name, sigma_w2, sigma_b2, q=None, slope=slope), dtype=float)
    # |slope|: a decreasing q-map (cos) approaches q* alternating, at the rate of |slope|
    s = np.abs(np.asarray(fp.q_map_derivative, dtype=float))
    xc = np.asarray(cs.chi_c, dtype=float)
    with np.errstate(divide="ignore"):
        xi_q = np.where(s < 1, -1.0 / np.log(np.where(s < 1, s, 0.5)), np.inf)
        xi_q = np.where(np.isfinite(np.asarray(fp.q_star, dtype=float)), xi_q, np.nan)
        xi_c = np.where(xc < 1, -1.0 / np.log(np.where(xc < 1, xc, 0.5)), np.inf)
        lx = np.log(x1)
        xi_grad = np.where(lx != 0, -1.0 / np.where(lx != 0, lx, 1.0), np.inf)
    return DepthScales(_out(xi_q), _out(xi_c), _out(xi_grad), fp.q_star, cs.c_star, _out(x1), cs.chi_c, cs.status)


# ---------------------------------------------------------------------------------------------
# layer-by-layer theory (the twins of simulate)
# ---------------------------------------------------------------------------------------------

@resultclass
class Forward(Result):
    """Mean-field prediction of the forward pass of an input pair, layers ``layer = 1..L``.

    ``q_a``, ``q_b`` (pre-activation second moments), ``q_ab`` (their covariance) and ``c`` (their
    correlation; exactly 1 for identical inputs; NaN with status ``"degenerate"`` where a second
    moment underflows to 0, e.g. sigma_w2 ~ 1e-320); ``status`` ``"ok"`` or ``"diverged"`` with
    ``stop_layer`` the first layer past the divergence bound (0 when none; see the module
    docstring: earlier layers are valid, later ones NaN) and the ``divergence_bound`` used."""

    layer: np.ndarray
    q_a: np.ndarray
    q_b: np.ndarray
    c: np.ndarray
    q_ab: np.ndarray
    status: str
    stop_layer: int
    divergence_bound: float
    _dims = {"layer": ("layer",), "q_a": ("layer",), "q_b": ("layer",), "c": ("layer",), "q_ab": ("layer",)}


def _first_layer(w: float, b: float, q_in: float, q_in_b: float, c_in: float) -> tuple[float, float, float]:
    qa, qb = w * q_in + b, w * q_in_b + b
    # equal lengths: c_in * q_in (c_in = 1 gives q_ab = q_a exactly)
    q12 = w * c_in * (q_in if q_in_b == q_in else float(np.sqrt(q_in * q_in_b))) + b
    return qa, q12, qb


def forward(activation: str, sigma_w2: float, sigma_b2: float, depth: int, *, q_in: float = 1.0,
            c_in: float = 0.5, q_in_b: Optional[float] = None, slope: float = 0.01,
            divergence_bound: float = DIVERGENCE_BOUND) -> Forward:
    """Joint length/covariance recursion for two inputs with ``|x_a|^2/M = q_in``,
    ``|x_b|^2/M = q_in_b`` (default q_in) and cosine ``c_in``:
    ``q^1 = sigma_w2 q_in + sigma_b2``, ``q12^1 = sigma_w2 c_in sqrt(q_in q_in_b) + sigma_b2``,
    then ``depth - 1`` layers of the length and covariance maps (``depth`` hidden layers).

    ``divergence_bound``: see the module docstring (default 1e8 times the first layer's q)."""
    name, slope = _act(activation, slope)
    w = float(_sigma_w2(check_real(sigma_w2, "sigma_w2")))
    b = float(_sigma_b2(check_real(sigma_b2, "sigma_b2")))
    depth = _check_depth(depth)
    q_in = check_real(q_in, "q_in", positive=True)
    q_in_b = q_in if q_in_b is None else check_real(q_in_b, "q_in_b", positive=True)
    c_in = check_real(c_in, "c_in", low=-1.0, high=1.0)
    bound = _check_bound(divergence_bound)
    qa, q12, qb = _first_layer(w, b, q_in, q_in_b, c_in)
    d = _mf.forward(name, slope, w, b, depth, qa, q12, qb, bound)
    c = np.asarray(d["c"])
    status = "diverged" if d["diverged"] else "ok"
    valid = slice(None) if not d["diverged"] else slice(0, max(int(d["stop_layer"]) - 1, 0))
    if status == "ok" and not np.all(np.isfinite(c[valid])):
        status = "degenerate"  # a second moment underflowed to 0: the correlation is undefined (NaN)
    return Forward(np.arange(1, depth + 1), np.asarray(d["q_a"]), np.asarray(d["q_b"]), c,
                   np.asarray(d["q_ab"]), status, int(d["stop_layer"]), bound)


@resultclass
class Backward(Result):
    """Mean-field gradient norms through depth (layers ``layer = 1..L``).

    ``q`` is the forward q^l; ``chi1`` is sigma_w2 E[phi'(u^l)^2] per layer; ``q_grad`` is
    ``|dLoss/du^l|^2/M`` normalised to ``q_grad^L = 1``; ``weight_grad`` is the mean squared
    weight gradient per entry ``q_grad^l |h^{l-1}|^2/M``; ``rate = ln chi1(q*)`` is the growth rate
    of gradients per layer towards the input and ``xi_grad = -1/rate``. ``status``: that of q*
    ("ok", "marginal", "diverged") combined with the run's ("diverged" when the forward q left
    the divergence bound or q_grad overflowed; ``stop_layer`` says where, 0 when nowhere), and
    "degenerate" where chi1(q*) underflows to 0 or overflows (``rate`` is then -inf or inf)."""

    layer: np.ndarray
    q: np.ndarray
    chi1: np.ndarray
    q_grad: np.ndarray
    weight_grad: np.ndarray
    rate: float
    xi_grad: float
    status: str
    stop_layer: int
    _dims = {"layer": ("layer",), "q": ("layer",), "chi1": ("layer",), "q_grad": ("layer",), "weight_grad": ("layer",)}


def backward(activation: str, sigma_w2: float, sigma_b2: float, depth: int, *, q_in: Optional[float] = None,
             slope: float = 0.01, divergence_bound: float = DIVERGENCE_BOUND) -> Backward:
    """Backpropagated gradient norms ``q_grad^l`` (Schoenholz et al. 2017), equal widths:
    ``q_grad^{l-1} = sigma_w2 E[phi'(u^{l-1})^2] q_grad^l``. With ``q_in=None`` the forward pass
    sits at the fixed point q* (then ``q_grad^l = chi1^{L-l}``); otherwise it starts from an input
    with ``|x|^2/M = q_in``."""
    name, slope = _act(activation, slope)
    w = float(_sigma_w2(check_real(sigma_w2, "sigma_w2")))
    b = float(_sigma_b2(check_real(sigma_b2, "sigma_b2")))
    depth = _check_depth(depth)
    bound = _check_bound(divergence_bound)
    fp = q_star(name, w, b, slope=slope)
    if q_in is None:
        if not np.isfinite(fp.q_star):
            raise ValueError("q_in: q* diverges here; pass an input second moment q_in")
        q1 = float(fp.q_star)
        h_in = (fp.q_star - b) / w
    else:
        q_in = check_real(q_in, "q_in", positive=True)
        q1 = w * q_in + b
        h_in = q_in
    d = _mf.forward(name, slope, w, b, depth, q1, q1, q1, bound)
    q = np.asarray(d["q_a"])
    if q_in is None:
        q = np.full(depth, q1)   # at the fixed point exactly (the map reproduces it to rounding)
    q_grad = np.asarray(d["q_grad"])
    h_prev = np.concatenate([[h_in], np.asarray(d["phi2_a"])[:-1]])
    x1 = chi1(name, w, b, slope=slope)
    with np.errstate(divide="ignore", over="ignore"):
        rate = float(np.log(x1))
    status = combine_status([fp.status if q_in is None else "ok",
                             "diverged" if (d["diverged"] or d["grad_diverged"]) else "ok"])
    if not np.isfinite(rate):  # chi1(q*) underflows to 0 or overflows: a limit, not a number
        status = combine_status([status, "degenerate"])
    stop = int(d["stop_layer"] or d["grad_stop_layer"])
    with np.errstate(invalid="ignore", over="ignore"):
        wg = q_grad * h_prev
    return Backward(np.arange(1, depth + 1), q, np.asarray(d["chi"]), q_grad, wg, rate,
                    float(-1.0 / rate) if rate != 0 else float("inf"), status, stop)


# ---------------------------------------------------------------------------------------------
# phase diagram
# ---------------------------------------------------------------------------------------------

@resultclass
class PhaseDiagram(Result):
    """Order–chaos phase diagram on a grid; 2-D arrays have shape (len(sigma_w2), len(sigma_b2)).

    ``q_star``, ``c_star``, ``chi1``, ``chi_c``, ``xi_q``, ``xi_c`` (nan where q* diverges; ``c_star``
    nan where q* = 0, see :class:`CorrelationFixedPoint`; ``c_star``, ``chi_c`` and ``xi_c`` nan
    when ``with_correlation=False``), ``status`` (of q*: an array of words), and the
    critical line chi1 = 1 per sigma_b2: ``critical_sigma_w2`` and ``critical_q_star`` (nan where no
    crossing was found in [1e-6, 1e6]; q* may be inf on it for unbounded activations),
    ``critical_found`` (bool)."""

    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi1: np.ndarray
    chi_c: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray
    status: np.ndarray
    critical_sigma_w2: np.ndarray
    critical_q_star: np.ndarray
    critical_found: np.ndarray
    _dims = {**{k: ("sigma_w2", "sigma_b2") for k in ("q_star", "c_star", "chi1", "chi_c", "xi_q", "xi_c", "status")},
             "sigma_w2": ("sigma_w2",), "sigma_b2": ("sigma_b2",),
             **{k: ("sigma_b2",) for k in ("critical_sigma_w2", "critical_q_star", "critical_found")}}


def phase_diagram(activation: str, sigma_w2: Any, sigma_b2: Any, *, with_correlation: bool = True,
                  q_init: float = 1.0, slope: float = 0.01, num_threads: Optional[int] = None,
                  progress: bool = False) -> PhaseDiagram:
    """q*, c*, chi1, chi_c, xi_q, xi_c on the grid ``sigma_w2 x sigma_b2`` and the critical line.

    Parallel over sigma_b2 columns; within a column sigma_w2 must increase (solvers warm-start).
    ``progress=True`` shows a progress bar of the sigma_b2 columns done (``tqdm``, the ``sweep``
    extra). For ``step`` (derivative 0 almost everywhere) chi1 = 0: gradients vanish at any depth
    and there is no chi1 = 1 line (``critical_sigma_w2`` is nan), while the correlation map has
    c* < 1 everywhere (its slope at c = 1 is infinite)."""
    name, slope = _act(activation, slope)
    w = _sigma_w2(sigma_w2)
    b = _sigma_b2(sigma_b2)
    if w.ndim != 1 or b.ndim != 1 or w.size < 1 or b.size < 1:
        raise ValueError("sigma_w2 and sigma_b2 must be non-empty 1-D grids")
    if not isinstance(with_correlation, (bool, np.bool_)):
        raise TypeError("with_correlation must be a bool")
    q_init = check_real(q_init, "q_init", positive=True)
    # Seven float fields and the status words per grid point, plus four per sigma_b2 column.
    check_memory(8.0 * (w.size * b.size * 9 + b.size * 6), "sigma_w2" if w.size >= b.size else "sigma_b2",
                 f"<grid of {w.size} x {b.size} points>")
    from ._progress import core_progress

    with core_progress(progress, "phase_diagram", "column", b.size):
        d = _mf.phase_diagram(name, slope, w, b, q_init, bool(with_correlation), check_threads(num_threads))
    st = np.asarray(_status(d["status"]))
    return PhaseDiagram(w.copy(), b.copy(), d["q_star"], d["c_star"], d["chi1"], d["chi_c"], d["xi_q"], d["xi_c"],
                        st.reshape(np.shape(d["q_star"])), d["critical_sigma_w2"], d["critical_q_star"],
                        np.asarray(d["critical_found"]).astype(bool))


@resultclass
class CriticalLine(Result):
    """The critical line chi1(q*) = 1: for each ``sigma_b2``, ``sigma_w2`` on it and ``q_star``
    there (nan where no crossing was found in sigma_w2 in [1e-6, 1e6]: status ``"not_reached"``;
    q* may be inf on it for unbounded activations). ``status`` is an array of words (one per
    sigma_b2). Unpacks as ``sigma_w2, q_star = critical_line(...)``."""

    sigma_b2: np.ndarray
    sigma_w2: np.ndarray
    q_star: np.ndarray
    found: np.ndarray
    status: np.ndarray
    _dims = {"sigma_w2": ("sigma_b2",), "q_star": ("sigma_b2",), "found": ("sigma_b2",), "status": ("sigma_b2",)}

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.sigma_w2, self.q_star))


def critical_line(activation: str, sigma_b2: Any, *, slope: float = 0.01,
                  num_threads: Optional[int] = None) -> CriticalLine:
    """sigma_w2 on the critical line chi1(q*) = 1 and q* there, for each sigma_b2."""
    b = np.atleast_1d(_sigma_b2(sigma_b2)).astype(float)
    pd = phase_diagram(activation, np.array([0.5, 4.0]), b, with_correlation=False, slope=slope,
                       num_threads=num_threads)
    found = pd.critical_found
    return CriticalLine(b.copy(), pd.critical_sigma_w2, pd.critical_q_star, found,
                        np.where(found, "ok", "not_reached").astype(str))


# ---------------------------------------------------------------------------------------------
# Jacobian spectrum
# ---------------------------------------------------------------------------------------------

@resultclass
class JacobianSpectrum(Result):
    """Spectrum of J J^T (squared singular values of the input–output Jacobian).

    ``mean = chi1^L`` (product of per-layer chi1 at q), ``variance`` (exact, from the first-order
    S-transform coefficients: ``mean^2 L (E[phi'^4]/E[phi'^2]^2 - 1 + [1 for Gaussian W])``),
    ``log_mean``, ``log_variance`` their natural logarithms (``log_variance = -inf`` where the
    variance is exactly 0, e.g. at q = 0 or for linear phi with orthogonal W; finite also where mean or
    variance overflow float64: then ``status="diverged"``, ``mean``/``variance`` are inf and the density
    NaN), ``x``/``density`` the continuous part of the spectral density, ``atom_at_zero`` the mass
    of the zero eigenvalue (P(phi' = 0), e.g. 1/2 for ReLU), ``atom_at_edge``/``atom_at_edge_mass``
    the atom orthogonal weights put at the top of the spectrum, ``(sigma_w2 max phi'^2)^L`` with
    mass ``max(0, 1 - L P(phi'^2 < max))`` (free product of projections; 0 for Gaussian weights and
    for smooth activations; ``atom_at_edge`` is nan where that mass is 0 and the location
    overflows), ``edge`` the upper edge of the support, ``q`` the pre-activation variance used for
    the law of phi'^2, ``status`` ``"ok"``, ``"inaccurate"`` (some points failed to converge, their
    density is nan) or ``"diverged"``."""

    x: np.ndarray
    density: np.ndarray
    mean: float
    variance: float
    atom_at_zero: float
    atom_at_edge: float
    atom_at_edge_mass: float
    edge: float
    chi1: float
    q: float
    depth: int
    weights: str
    status: str
    log_mean: float
    log_variance: float


_Q_FREE = ("linear", "relu", "leaky_relu")  # law of phi'^2 independent of q


def _spectrum_q(name: str, slope: float, w: float, b: float, q: Any) -> float:
    if q is not None:
        return check_real(q, "q", nonnegative=True)
    if name in _Q_FREE:
        return 1.0
    fp = q_star(name, w, b, slope=slope)
    if not np.isfinite(fp.q_star):
        raise ValueError("q: q* diverges for these parameters; pass q explicitly")
    return float(fp.q_star)


@resultclass
class JacobianMoments(Result):
    """Mean and variance of the eigenvalues of J J^T (see :class:`JacobianSpectrum`), with their
    logarithms; unpacks as ``mean, variance = jacobian_moments(...)``."""

    mean: float
    variance: float
    log_mean: float
    log_variance: float
    status: str

    def __iter__(self) -> Iterator[float]:
        return iter((self.mean, self.variance))


def jacobian_moments(activation: str, sigma_w2: float, sigma_b2: float, depth: int,
                     weights: str = "gaussian", *, q: Optional[float] = None, slope: float = 0.01) -> JacobianMoments:
    """Mean and variance of the eigenvalues of J J^T at q (default q*), exact in the large-width
    limit; ``status="diverged"`` (with finite ``log_mean``, ``log_variance``) where they overflow."""
    r = jacobian_spectrum(activation, sigma_w2, sigma_b2, depth, weights, q=q, slope=slope, x=np.array([1.0]))
    status = "diverged" if not (np.isfinite(r.mean) and np.isfinite(r.variance)) else "ok"
    return JacobianMoments(r.mean, r.variance, r.log_mean, r.log_variance, status)


def jacobian_spectrum(activation: str, sigma_w2: float, sigma_b2: float, depth: int, weights: str = "gaussian", *,
                      x: Any = None, n_points: int = 400, q: Optional[float] = None, slope: float = 0.01,
                      num_threads: Optional[int] = None) -> JacobianSpectrum:
    """Spectral density of J J^T by free multiplicative convolution (Pennington et al. 2017/2018).

    ``S_{JJ^T} = (S_{D^2} S_{WW^T})^L`` with ``S_{WW^T}(y) = 1/(sigma_w2 (1 + y))`` for Gaussian and
    ``1/sigma_w2`` for orthogonal weights; the law of ``D^2 = phi'(sqrt(q) z)^2`` is exact for
    linear, relu, leaky_relu and hardtanh (atoms) and a quadrature discretisation for smooth
    activations. ``q`` defaults to q* (the forward pass sits at its fixed point). ``x`` are the
    evaluation points (> 0, at most 10^6); by default ``n_points`` points on (0, 1.02 edge]."""
    name, slope = _act(activation, slope)
    w = float(_sigma_w2(check_real(sigma_w2, "sigma_w2")))
    b = float(_sigma_b2(check_real(sigma_b2, "sigma_b2")))
    depth = _check_depth(depth)
    weights = check_choice(weights, WEIGHTS, "weights")
    qv = _spectrum_q(name, slope, w, b, q)
    if x is None:
        n_points = check_int(n_points, "n_points", low=1, high=10**6)
        xs = np.zeros(0)
    else:
        xs = as_float_array(x, "x")
        if xs.ndim != 1 or xs.size < 1:
            raise ValueError("x must be a non-empty 1-D array of points")
        if xs.size > 10**6:
            raise ValueError("x: at most 10^6 evaluation points")
        if np.any(xs <= 0):
            raise ValueError("x must be > 0 (the atom at zero is reported separately)")
        n_points = xs.size
    value, prob = _mf.derivative_law(name, slope, qv)
    d = _mf.jacobian_spectrum(np.asarray(value), np.asarray(prob), w, depth, weights, xs, int(n_points),
                              check_threads(num_threads))
    value, prob = np.asarray(value), np.asarray(prob)
    x1 = w * float(np.dot(value, prob))
    dmax = float(value.max())
    top_mass = 0.0
    if weights == "orthogonal" and name in ("linear", "relu", "leaky_relu", "hardtanh"):
        top_mass = max(0.0, 1.0 - depth * (1.0 - float(prob[value == dmax].sum())))
    with np.errstate(over="ignore", divide="ignore"):
        top = float(np.exp(depth * np.log(w * dmax))) if dmax > 0 else 0.0
    if not np.isfinite(top) and top_mass == 0.0:
        top = float("nan")
    if d["overflow"] or (top_mass > 0 and not np.isfinite(top)):
        status = "diverged"
    else:
        status = "ok" if d["failed"] == 0 else "inaccurate"
    return JacobianSpectrum(np.asarray(d["x"]), np.asarray(d["density"]), float(d["mean"]), float(d["variance"]),
                            float(d["atom_at_zero"]), top, top_mass, float(d["edge"]), x1,
                            qv, depth, weights, status, float(d["log_mean"]), float(d["log_variance"]))

# ---------------------------------------------------------------------------------------------
# microscopic simulation
# ---------------------------------------------------------------------------------------------

@resultclass
class Simulation(Result):
    """Measurements on sampled networks (the microscopic twin of :func:`forward` and
    :func:`backward`); per-layer arrays have shape (n_seeds, depth), layer l = 1..L.

    Attributes
    ----------
    layer : (depth,) layer numbers 1..L.
    q_a, q_b : |u^l|^2 / M for the two inputs (the theory's ``Forward.q_a``, ``q_b``).
    c : cosine of the two inputs' pre-activations (``Forward.c``).
    q_grad : |dLoss/du^l|^2 / M for dLoss/du^L ~ N(0, I) backpropagated at input a
        (``Backward.q_grad``, which is normalised to 1 at layer L), or None.
    weight_grad : |dLoss/dW^l|^2 / M^2 = q_grad^l |h^{l-1}|^2 / M (``Backward.weight_grad``), or None.
    jacobian_eigenvalues : (n_seeds, width) eigenvalues of J J^T (ascending) at input a, or None.
    width : int; weights : "gaussian" or "orthogonal".
    seeds : (n_seeds,) the seed of each network.
    seed_status : (n_seeds,) "ok" or "diverged" (activations overflowed: later layers are NaN).
    stop_layer : (n_seeds,) last layer with finite activations (depth when not diverged).
    status : the most severe word of ``seed_status``.
    """

    layer: np.ndarray
    q_a: np.ndarray
    q_b: np.ndarray
    c: np.ndarray
    q_grad: Optional[np.ndarray]
    weight_grad: Optional[np.ndarray]
    jacobian_eigenvalues: Optional[np.ndarray]
    width: int
    weights: str
    seeds: np.ndarray
    seed_status: np.ndarray
    stop_layer: np.ndarray
    status: str
    _dims = {"q_a": ("seed", "layer"), "q_b": ("seed", "layer"), "c": ("seed", "layer"),
             "q_grad": ("seed", "layer"), "weight_grad": ("seed", "layer")}


def simulate(activation: str, sigma_w2: float, sigma_b2: float, depth: int, width: int, *, q_in: float = 1.0,
             c_in: float = 0.5, weights: str = "gaussian", seeds: Any = None, gradients: bool = True,
             jacobian: bool = False, slope: float = 0.01, num_threads: Optional[int] = None,
             samples: Optional[int] = None, seed: Optional[int] = None, progress: bool = False) -> Simulation:
    """Sample real networks of width M = ``width`` and depth L and measure q^l, c^l for an input pair
    (|x|^2/M = q_in exactly, cosine c_in exactly), backpropagated gradient norms and, with
    ``jacobian=True``, the eigenvalues of J J^T (cost O(L M^3) per network).

    Parameters
    ----------
    seeds : int or sequence of ints, optional
        One network per seed (an int is one network); default ``range(4)``.
    samples, seed : deprecated
        The old ``samples=S, seed=s`` mean ``seeds=range(s, s + S)``.
    num_threads : int, optional
        Threads (default: OpenMP's). Results do not depend on it (the sampled-network engine draws
        every layer from ``Rng(seed, layer * 2**32 + block)``).
    progress : bool
        Show a progress bar of the seeds done (``tqdm``, the ``sweep`` extra).

    Returns
    -------
    Simulation
    """
    import warnings

    from . import _network
    from ._progress import check_progress, core_progress
    from ._validation import check_seeds

    if samples is not None or seed is not None:
        if seeds is not None:
            raise TypeError("simulate() got both seeds and the deprecated samples/seed")
        warnings.warn("simulate(): samples=S, seed=s are deprecated; use seeds=range(s, s + S)",
                      DeprecationWarning, stacklevel=2)
        s0 = 0 if seed is None else check_int(seed, "seed", low=0, high=2**63 - 1)
        S = 4 if samples is None else check_int(samples, "samples", low=1, high=10**6)
        seeds = range(s0, s0 + S)
    name, slope = _act(activation, slope)
    w = float(_sigma_w2(check_real(sigma_w2, "sigma_w2")))
    b = float(_sigma_b2(check_real(sigma_b2, "sigma_b2")))
    depth = _check_depth(depth)
    width = check_int(width, "width", low=2)
    q_in = check_real(q_in, "q_in", positive=True)
    c_in = check_real(c_in, "c_in", low=-1.0, high=1.0)
    weights = check_choice(weights, WEIGHTS, "weights")
    seeds = check_seeds(range(4) if seeds is None else seeds)
    for flag, pname in ((gradients, "gradients"), (jacobian, "jacobian")):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{pname} must be a bool")
    nt = check_threads(num_threads)
    with core_progress(check_progress(progress), "meanfield.simulate", "seed", len(seeds)):
        d = _network.run([width] * (depth + 1), 2, name, slope=slope, sigma_w2=w, sigma_b2=b, seeds=seeds,
                         weights=weights, linear_readout=False, input="pair", q_in=q_in, c_in=c_in,
                         backward="random" if gradients else "none", jacobian=bool(jacobian),
                         num_threads=nt, batch_name="seeds")
    pre = d["pre_cov"][:, 1:]
    q_a, q_b = pre[..., 0, 0].copy(), pre[..., 1, 1].copy()
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        den = np.sqrt(q_a * q_b)
        c = np.where(den > 0, pre[..., 0, 1] / np.where(den > 0, den, 1.0), 1.0)
    c[~np.isfinite(q_a)] = np.nan
    q_grad = weight_grad = None
    if gradients:
        with np.errstate(over="ignore", invalid="ignore"):
            q_grad = np.exp(d["grad_log_norm2"][:, 1:]) * d["grad_cov"][:, 1:, 0, 0] / width
            weight_grad = q_grad * d["post_cov"][:, :, 0, 0]
    seed_status = d["seed_status"]
    return Simulation(layer=np.arange(1, depth + 1), q_a=q_a, q_b=q_b, c=c, q_grad=q_grad, weight_grad=weight_grad,
                      jacobian_eigenvalues=d.get("jacobian_eigenvalues"), width=width, weights=weights,
                      seeds=_network.seeds_array(seeds), seed_status=seed_status,
                      stop_layer=np.asarray(d["stop_layer"], dtype=np.int64), status=combine_status(seed_status))
