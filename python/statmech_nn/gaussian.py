"""Gaussian averages of activation functions (the layer every theory function stands on).

Conventions
-----------
``"erf"`` is ``erf(x/sqrt(2))``; ``"erf_sigmoid"`` is ``Phi(x) = (1 + erf(x/sqrt 2))/2``;
``"sigmoid"`` is the logistic function; ``"gelu"`` is ``x Phi(x)``; ``"swish"``/``"silu"`` is
``x * sigmoid(x)``; ``"leaky_relu"`` has slope ``slope`` for x < 0; ``"hardtanh"`` clips to [-1, 1].

The averages are full expectations over centred Gaussians with covariance ``C``:

* ``I2(C) = <g(a) g(b)>`` and ``J2(C) = <g'(a) g'(b)>`` (C is 2x2),
* ``I3(C) = <g'(a) b g(c)>`` (3x3),
* ``I4(C) = <g'(a) g'(b) g(c) g(d)>`` (4x4).

Every module takes its Gaussian averages from this one layer (C++ core: activation table,
rule builder, closed forms). ``I2`` and ``J2`` are the pair moments of the deep-network
recursions. Closed forms: ``linear``; ``erf`` (Williams, "Computing with infinite networks",
1997); ``erf_sigmoid`` (through erf); ``gelu`` (Gaussian integration by parts); ``relu`` and
``leaky_relu`` through the arc-cosine kernels (Cho & Saul, "Kernel methods for deep learning",
2009); ``abs`` (|x| = relu(x) + relu(-x)); ``sin``, ``cos`` and ``rbf`` (sqrt(2) sin(sqrt(2) x +
pi/4), whose NNGP is the RBF kernel, as in Novak et al., "Neural Tangents", 2020) through
characteristic functions; ``step`` (1 for x > 0, 1/2 at 0). ``step``'s derivative is taken as 0
almost everywhere, as backpropagation and Neural Tangents do: ``J2`` is 0, so no gradient or NTK
contribution passes through a step layer (the correlation map's slope at c = 1 is infinite, which
:func:`statmech_nn.meanfield.c_star` accounts for). The others are integrated by nested 1-D rules conditioned on the variable of larger
variance, with composite Gauss–Legendre panels split at the activation's kinks and scale points
and where the conditional mean crosses them (64-node Gauss–Hermite for Gaussians narrow on the
activation's scale); exactly singular ``C`` reduces to one dimension.

Accuracy (checked in tests/test_gaussian_accuracy.py against mpmath references): ``I2`` and
``J2`` of every activation agree to 1e-10 relative (1e-12 absolute where the value is ~0) for
correlations in [-1, 1] (including exactly +-1 and +-(1 - 1e-6)) and variances between 1e-2 and
1e2 with ratios up to 1e4; in the tests the typical error is ~1e-15. ``quadrature=True`` reproduces
the closed forms to the same tolerance (within that range of variances: the rules do not follow the
oscillations of sin, cos and rbf at variances far beyond 1e2, where only the closed forms are right).

``I3`` and ``I4`` have closed forms for ``linear``, ``erf``, ``relu``, ``sin``, ``cos`` and ``rbf``. For ReLU, I4 contains the
4-D orthant probability P(a, b, c, d > 0), which has no elementary form; it is evaluated as
Plackett's smooth 1-D integral to about 1e-13. Other activations use nested quadrature along the
Cholesky factor of C (40-node Gauss–Hermite / 16-node Gauss–Legendre panels per dimension in 3-D
and 4-D, ~1e-9 at unit-order variances; exact for singular C such as repeated indices).

``ACTIVATIONS`` lists the names; ``activation_traits()`` gives each activation's traits (parity,
homogeneity degree, kinks, scale, closed-form availability).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _core
from ._validation import ACTIVATIONS, as_float_array, check_activation, check_choice, check_memory, check_real, check_threads


def activation_traits(name: Optional[str] = None) -> Any:
    """Traits of one activation (a dict) or of all (a list of dicts, in the order of ``ACTIVATIONS``).

    Keys: ``name``, ``formula``, ``parity`` ("odd" about ``odd_center``, "even", "none"),
    ``homogeneity`` (degree k of phi(t x) = t^k phi(x), t > 0; None if not homogeneous), ``kinks``,
    ``scale`` (length scale of phi's shape), ``piecewise_linear``, ``smooth_odd``,
    ``closed_form_1d``, ``closed_form_2d`` (I2/J2), ``closed_form_I3_I4``, ``parameters``.
    """
    table = list(_core.activations())
    if name is None:
        return table
    name = check_activation(name)
    name = "swish" if name == "silu" else name
    return next(t for t in table if t["name"] == name)

__all__ = ["ACTIVATIONS", "activation_traits", "activation", "I2", "J2", "I3", "I4", "orthant_probability", "has_closed_form", "gauss_hermite"]


def activation(name: str, x: Any, derivative: int = 0, slope: float = 0.01) -> np.ndarray:
    """Evaluate an activation or its first/second derivative elementwise.

    Parameters
    ----------
    name : str
        Activation name (see the module docstring).
    x : array_like
        Points.
    derivative : {0, 1, 2}
        0 for g, 1 for g', 2 for g'' (zero on the pieces of piecewise-linear activations).
    slope : float
        Negative-side slope of ``leaky_relu``.
    """
    check_activation(name)
    if derivative not in (0, 1, 2) or isinstance(derivative, bool):
        raise ValueError(f"derivative must be 0, 1 or 2; got {derivative!r}")
    slope = check_real(slope, "slope")
    arr = as_float_array(x, "x")  # finite values only: NaN in, NaN out is never silent
    check_memory(16.0 * arr.size, "x", f"<array of shape {arr.shape}>")  # the output and a finiteness mask
    out = np.asarray(_core.gaussian.activation(name, arr, int(derivative), slope))
    if not np.all(np.isfinite(out)):
        raise ValueError(f"x: {name} overflows float64 at some of these points (|x| too large)")
    return out


def has_closed_form(name: str, which: str = "I2") -> bool:
    """Whether the average ``which`` ("I2", "J2", "I3", "I4") of this activation has a closed form.

    I2/J2: linear, erf, relu, leaky_relu, erf_sigmoid, gelu, abs, sin, cos, rbf, step; I3/I4: linear,
    erf, relu, sin, cos, rbf (``activation_traits`` lists the same)."""
    which = check_choice(which, ("I2", "J2", "I3", "I4"), "which")
    return bool(_core.gaussian.has_closed_form(check_activation(name), which))


def _check_cov_stack(C: Any, d: int, param: str = "C") -> np.ndarray:
    """Shape here; finiteness, symmetry and positive semidefiniteness are checked per matrix in C++
    (inside the parallel loop), which names the offending index."""
    arr = as_float_array(C, param, finite=False)  # finiteness is checked in C++ too
    if arr.ndim < 2 or arr.shape[-2:] != (d, d):
        raise ValueError(f"{param} must have shape (..., {d}, {d}); got {arr.shape}")
    return arr


def _average(which: str, d: int, name: str, C: Any, slope: float, num_threads: Optional[int],
             quadrature: bool) -> Any:
    check_activation(name)
    slope = check_real(slope, "slope")
    arr = _check_cov_stack(C, d)
    out = np.asarray(_core.gaussian.average(which, name, arr, slope, check_threads(num_threads), bool(quadrature)))
    if not np.all(np.isfinite(out)):
        bad = np.argwhere(~np.isfinite(np.atleast_1d(out)))[0]
        raise ValueError(f"C: the {which} average overflows float64 for matrix {tuple(int(i) for i in bad)} "
                         "(entries too large)")
    return float(out) if out.ndim == 0 else out


def I2(activation: str, C: Any, *, slope: float = 0.01, num_threads: Optional[int] = None,
       quadrature: bool = False) -> Any:
    """``<g(a) g(b)>`` for (a, b) ~ N(0, C); ``C`` has shape (..., 2, 2).

    Returns a float for a single matrix and an array of shape ``C.shape[:-2]`` for a stack.
    ``quadrature=True`` forces numerical integration (for checks)."""
    return _average("I2", 2, activation, C, slope, num_threads, quadrature)


def J2(activation: str, C: Any, *, slope: float = 0.01, num_threads: Optional[int] = None,
       quadrature: bool = False) -> Any:
    """``<g'(a) g'(b)>`` for (a, b) ~ N(0, C); ``C`` has shape (..., 2, 2)."""
    return _average("J2", 2, activation, C, slope, num_threads, quadrature)


def I3(activation: str, C: Any, *, slope: float = 0.01, num_threads: Optional[int] = None,
       quadrature: bool = False) -> Any:
    """``<g'(a) b g(c)>`` for (a, b, c) ~ N(0, C); ``C`` has shape (..., 3, 3)."""
    return _average("I3", 3, activation, C, slope, num_threads, quadrature)


def I4(activation: str, C: Any, *, slope: float = 0.01, num_threads: Optional[int] = None,
       quadrature: bool = False) -> Any:
    """``<g'(a) g'(b) g(c) g(d)>`` for (a, b, c, d) ~ N(0, C); ``C`` has shape (..., 4, 4).

    For ReLU this is the closed form derived by Gaussian integration by parts (module docstring),
    with the 4-D orthant probability as a 1-D Plackett integral."""
    return _average("I4", 4, activation, C, slope, num_threads, quadrature)


def orthant_probability(C: Any) -> float:
    """``P(x_1 > 0, ..., x_d > 0)`` for x ~ N(0, C), d <= 4 (singular C allowed)."""
    from ._validation import check_symmetric_psd

    arr = as_float_array(C, "C", ndim=2)
    if arr.shape[0] != arr.shape[1] or not 1 <= arr.shape[0] <= 4:
        raise ValueError(f"C must be a square matrix of size 1 to 4; got shape {arr.shape}")
    arr = check_symmetric_psd(arr, "C")
    return float(_core.gaussian.orthant_probability(arr))


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss–Hermite nodes and weights (weights sum to 1): E f(z) ~ sum w f(x)."""
    from ._validation import check_int

    n = check_int(n, "n", low=1, high=400)
    x, w = _core.gaussian.gauss_hermite(n)
    return np.asarray(x), np.asarray(w)
