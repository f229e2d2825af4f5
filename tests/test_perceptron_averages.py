"""Perceptron Gaussian averages: closed forms vs 2-D quadrature and Monte Carlo; fixed-point
constants; the random generator of the simulators."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import erf

import statmech_nn as sn
from statmech_nn import _core

P = sn.perceptron
CLOSED = ["linear", "erf", "relu"]
POINTS = [(1.0, 0.0), (0.3, 0.5), (2.0, -0.7), (1.0, 1.0), (1.5, 0.999), (-0.8, 0.4), (0.05, 0.9), (3.0, -1.0)]


@pytest.mark.parametrize("act", CLOSED)
@pytest.mark.parametrize("l,R", POINTS)
def test_closed_forms_match_quadrature(act, l, R):
    c = P.averages(act, l, R)
    q = P.averages(act, l, R, quadrature=True)
    # The 2-D quadrature (mean2; Gauss-Legendre panels of width 1.5/|l| in v for |l| > 1.25) is
    # accurate to ~1e-9 here; the closed forms are exact to rounding.
    for name in ("A1", "A2", "A3", "eg", "A1_over_l"):
        assert getattr(c, name) == pytest.approx(getattr(q, name), abs=1e-8), name


def _mc_averages(act, l, R, n=400_000, seed=0):
    g = {"linear": lambda x: x, "erf": lambda x: erf(x / math.sqrt(2)), "relu": lambda x: np.maximum(x, 0.0)}[act]
    gp = {
        "linear": lambda x: np.ones_like(x),
        "erf": lambda x: math.sqrt(2 / math.pi) * np.exp(-x * x / 2),
        "relu": lambda x: (x > 0).astype(float),
    }[act]
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(n)
    v = R * u + math.sqrt(1 - R * R) * rng.standard_normal(n)
    a = l * u
    d = g(v) - g(a)
    samples = {"A1": gp(a) * d * a, "A2": 0.5 * (gp(a) * d) ** 2, "A3": gp(a) * d * v, "eg": 0.5 * d * d}
    return {k: (s.mean(), s.std() / math.sqrt(n)) for k, s in samples.items()}


@pytest.mark.parametrize("act", CLOSED)
@pytest.mark.parametrize("l,R", [(0.7, 0.3), (1.8, -0.5)])
def test_closed_forms_match_monte_carlo(act, l, R):
    c = P.averages(act, l, R)
    for name, (mean, sem) in _mc_averages(act, l, R).items():
        # 5 standard errors of the 4e5-sample mean (plus a floor for zero-variance cases).
        assert abs(getattr(c, name) - mean) < 5 * sem + 1e-12, name


def test_linear_closed_form_values():
    # g(x) = x: A1 = lR - l^2, A3 = 1 - lR, A2 = eps_g = (1 - 2lR + l^2)/2.
    l, R = 0.6, 0.25
    a = P.averages("linear", l, R)
    assert a.A1 == pytest.approx(l * R - l * l, abs=1e-15)
    assert a.A3 == pytest.approx(1 - l * R, abs=1e-15)
    assert a.A2 == pytest.approx(0.5 * (1 - 2 * l * R + l * l), abs=1e-15)
    assert a.eg == pytest.approx(a.A2, abs=1e-15)


@pytest.mark.parametrize("act", CLOSED + ["tanh", "hardtanh", "gelu"])
def test_averages_vanish_at_global_solution(act):
    a = P.averages(act, 1.0, 1.0)
    for name in ("A1", "A2", "A3", "eg"):
        assert abs(getattr(a, name)) < 1e-9, name


@pytest.mark.parametrize("act", ["tanh", "hardtanh", "leaky_relu", "sigmoid"])
def test_quadrature_activations_match_monte_carlo(act):
    l, R = 1.3, 0.4
    a = P.averages(act, l, R)
    g = lambda x: sn.gaussian.activation(act, x)  # noqa: E731
    gp = lambda x: sn.gaussian.activation(act, x, derivative=1)  # noqa: E731
    rng = np.random.default_rng(1)
    n = 400_000
    u = rng.standard_normal(n)
    v = R * u + math.sqrt(1 - R * R) * rng.standard_normal(n)
    d = g(v) - g(l * u)
    for name, s in {"A1": gp(l * u) * d * l * u, "A2": 0.5 * (gp(l * u) * d) ** 2, "A3": gp(l * u) * d * v,
                    "eg": 0.5 * d * d}.items():
        assert abs(getattr(a, name) - s.mean()) < 5 * s.std() / math.sqrt(n) + 1e-12, name


@pytest.mark.parametrize("act", ["linear", "erf", "relu", "tanh", "hardtanh", "swish"])
def test_fixed_point_derivatives_by_finite_differences(act):
    """dA1/dl = -<g'^2 a^2> and dA2/dR = -<g'^4> at (1, 1) (Price's theorem)."""
    st = P.stability(act, "sgd", 0.1)
    h = 1e-4
    # l-derivative: central difference (A1 is smooth in l at R = 1).
    dA1 = (P.averages(act, 1 + h, 1.0).A1 - P.averages(act, 1 - h, 1.0).A1) / (2 * h)
    assert dA1 == pytest.approx(st.dA1_dl, rel=1e-4, abs=1e-6)
    # R-derivative: one-sided (R <= 1); second-order one-sided stencil. ReLU has a
    # (1 - R)^{3/2} correction, so its error is O(sqrt(h)).
    f = lambda R: P.averages(act, 1.0, R).A2  # noqa: E731
    dA2 = (3 * f(1.0) - 4 * f(1 - h) + f(1 - 2 * h)) / (2 * h)
    assert dA2 == pytest.approx(st.dA2_dR, rel=2e-2)


def test_eta_c_values():
    assert P.stability("linear", "sgd", 0.1).eta_c == pytest.approx(2.0)
    assert P.stability("relu", "sgd", 0.1).eta_c == pytest.approx(2.0)
    assert P.stability("erf", "sgd", 0.1).eta_c == pytest.approx(math.pi * math.sqrt(5 / 3), rel=1e-13)
    # Quadrature path: <g'^2>, <g'^4> of tanh by direct 1-D integration.
    x, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    gp = 1 - np.tanh(x) ** 2
    assert P.stability("tanh", "sgd", 0.1).eta_c == pytest.approx(2 * np.sum(w * gp**2) / np.sum(w * gp**4), rel=1e-10)


def test_linear_stability_rates():
    st = P.stability("linear", "sgd", 0.5)
    assert sorted(-st.eigenvalues) == pytest.approx(sorted([0.5, 0.5 * 1.5]))
    assert st.rate_R == pytest.approx(0.75) and st.rate_l == pytest.approx(0.5)
    wn = P.stability("linear", "wn", 0.5, z=0.5)
    e = 0.5 / 0.25
    assert wn.eta_eff == pytest.approx(e)
    assert wn.rate_R == pytest.approx(e * (2 - e))  # eta/z^2, not eta/z (seed Table 1 typo)
    assert not P.stability("linear", "sgd", 2.5).stable
    assert P.stability("linear", "wn", 2.5, z=1.5).stable


def test_random_generator_is_standard_normal_and_deterministic():
    x = np.asarray(_core.perceptron._normals(7, 3, 400_000))
    assert np.array_equal(x, np.asarray(_core.perceptron._normals(7, 3, 400_000)))
    assert not np.array_equal(x[:100], np.asarray(_core.perceptron._normals(7, 4, 100)))
    n = x.size
    assert abs(x.mean()) < 5 / math.sqrt(n)
    assert abs(x.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(stats.kurtosis(x)) < 5 * math.sqrt(24 / n)
    assert stats.kstest(x, "norm").pvalue > 1e-4
    # Tails (beyond the ziggurat base r = 3.654): P(|x| > 3.7) = 2.16e-4.
    p = 2 * stats.norm.sf(3.7)
    assert abs(np.mean(np.abs(x) > 3.7) - p) < 5 * math.sqrt(p / n)


def test_tanh_quadrature_at_large_length_vs_scipy():
    """g'(l u) is narrow at large l: the rules must resolve it in both the outer and the inner
    variable (an independent adaptive 2-D integral as reference)."""
    from scipy import integrate

    l, R = 3.0, 0.3
    s = np.sqrt(1 - R * R)

    def f(w, v):
        u = R * v + s * w
        d = (1 - np.tanh(l * u) ** 2) * (np.tanh(v) - np.tanh(l * u))
        return 0.5 * d * d * np.exp(-(v * v + w * w) / 2) / (2 * np.pi)

    ref = integrate.dblquad(f, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)[0]
    assert abs(P.averages("tanh", l, R).A2 - ref) < 1e-10


def test_tanh_averages_at_huge_length_bounded_work():
    import time

    t = time.perf_counter()
    a = P.averages("tanh", 1e16, 0.0)
    assert time.perf_counter() - t < 10.0
    assert np.isfinite([a.A1, a.A2, a.A3, a.eg]).all()
    # l -> infinity: tanh(l u) -> sign(u), eg -> (E tanh^2 + 1)/2 - E[tanh(v) sign(u)] = (E tanh^2 + 1)/2 at R = 0
    z, w = np.polynomial.hermite_e.hermegauss(200)
    e_t2 = np.sum(w * np.tanh(z) ** 2) / np.sqrt(2 * np.pi)
    assert abs(a.eg - 0.5 * (e_t2 + 1.0)) < 1e-9
