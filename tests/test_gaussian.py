"""Gaussian averages: closed forms against quadrature and Monte Carlo, edge cases, bad input."""

import numpy as np
import pytest

import statmech_nn as sn
from statmech_nn import gaussian as G

from conftest import random_cov

CLOSED = ["linear", "erf", "relu"]
DIMS = {"I2": 2, "J2": 2, "I3": 3, "I4": 4}
FUNCS = {"I2": G.I2, "J2": G.J2, "I3": G.I3, "I4": G.I4}


def mc_average(which, name, C, n, rng):
    """Monte Carlo estimate and its standard error."""
    x = rng.multivariate_normal(np.zeros(C.shape[0]), C, size=n, method="cholesky")
    g = lambda v: G.activation(name, v)  # noqa: E731
    dg = lambda v: G.activation(name, v, derivative=1)  # noqa: E731
    if which == "I2":
        s = g(x[:, 0]) * g(x[:, 1])
    elif which == "J2":
        s = dg(x[:, 0]) * dg(x[:, 1])
    elif which == "I3":
        s = dg(x[:, 0]) * x[:, 1] * g(x[:, 2])
    else:
        s = dg(x[:, 0]) * dg(x[:, 1]) * g(x[:, 2]) * g(x[:, 3])
    return s.mean(), s.std() / np.sqrt(n)


@pytest.mark.parametrize("name", CLOSED)
@pytest.mark.parametrize("which", list(DIMS))
def test_closed_form_matches_quadrature(name, which, rng):
    # The nested quadrature is independent of the closed forms (it only evaluates g and g').
    for k in range(4):
        scale = 0.5 + k
        C = random_cov(rng, DIMS[which], scale=scale)
        closed = FUNCS[which](name, C)
        quad = FUNCS[which](name, C, quadrature=True)
        # Relative 1e-9, with an absolute floor for averages that are small compared with their
        # natural size (the quadrature's own error is ~1e-12 of the variance scale).
        assert closed == pytest.approx(quad, rel=1e-9, abs=1e-11 * scale**2)


@pytest.mark.parametrize("name", CLOSED)
@pytest.mark.parametrize("which", list(DIMS))
def test_closed_form_matches_monte_carlo(name, which, rng):
    n = 1_000_000
    C = random_cov(rng, DIMS[which])
    est, se = mc_average(which, name, C, n, rng)
    # 5 standard errors: a false failure has probability < 1e-6.
    assert abs(FUNCS[which](name, C) - est) < 5 * se + 1e-12


@pytest.mark.parametrize("name", ["tanh", "gelu", "swish", "sigmoid", "erf_sigmoid", "hardtanh", "leaky_relu"])
def test_quadrature_activations_match_monte_carlo(name, rng):
    n = 1_000_000
    for which in DIMS:
        C = random_cov(rng, DIMS[which])
        est, se = mc_average(which, name, C, n, rng)
        assert abs(FUNCS[which](name, C) - est) < 5 * se + 1e-12, which


def test_erf_sigmoid_and_gelu_closed_forms_by_quadrature():
    # Phi(a) Phi(b): <Phi(a)Phi(b)> = 1/4 + asin(c/sqrt((1+q1)(1+q2)))/(2 pi); an independent
    # closed form checks the smooth quadrature to 1e-12.
    C = np.array([[1.3, 0.4], [0.4, 0.8]])
    exact = 0.25 + np.arcsin(0.4 / np.sqrt(2.3 * 1.8)) / (2 * np.pi)
    assert G.I2("erf_sigmoid", C) == pytest.approx(exact, rel=1e-12)
    # erf by quadrature vs its closed form at larger variance.
    C4 = random_cov(np.random.default_rng(1), 4, scale=3.0)
    assert G.I4("erf", C4, quadrature=True) == pytest.approx(G.I4("erf", C4), rel=1e-10)


def test_relu_I4_repeated_indices(rng):
    """Repeated indices (singular C) are the common case in the committee ODEs."""
    A = rng.normal(size=(3, 5)) / np.sqrt(5)
    base = A @ A.T  # covariance of three distinct fields x, y, z
    for idx in [(0, 0, 1, 2), (0, 1, 0, 1), (0, 0, 0, 0), (0, 1, 2, 2), (0, 0, 1, 1), (1, 0, 0, 2)]:
        C = base[np.ix_(idx, idx)]
        closed = G.I4("relu", C)
        quad = G.I4("relu", C, quadrature=True)
        assert np.isfinite(closed)
        assert closed == pytest.approx(quad, rel=1e-8, abs=1e-12), idx


def test_relu_I4_near_singular():
    # Student and teacher fields almost aligned (late learning): rho = 1 - 1e-9.
    eps = 1e-9
    C = np.array([[1.0, 0.3, 1 - eps, 0.2], [0.3, 1.0, 0.3, 0.5], [1 - eps, 0.3, 1.0, 0.2], [0.2, 0.5, 0.2, 1.0]])
    C[2, 0] = C[0, 2]
    v = G.I4("relu", C)
    Cs = C.copy()
    Cs[0, 2] = Cs[2, 0] = 1.0
    assert v == pytest.approx(G.I4("relu", Cs), abs=1e-4)
    assert v == pytest.approx(G.I4("relu", C, quadrature=True), abs=1e-4)


def test_orthant_probabilities():
    assert G.orthant_probability(np.eye(4)) == pytest.approx(1 / 16, abs=1e-15)
    # Equicorrelated rho = 1/2: P = 1/(d+1).
    for d in (2, 3, 4):
        R = 0.5 * (np.eye(d) + np.ones((d, d)))
        assert G.orthant_probability(R) == pytest.approx(1 / (d + 1), abs=1e-13)
    # Plackett's integral vs Monte Carlo for a generic matrix.
    rng = np.random.default_rng(3)
    C = random_cov(rng, 4)
    x = rng.multivariate_normal(np.zeros(4), C, size=2_000_000)
    p = np.mean(np.all(x > 0, axis=1))
    se = np.sqrt(p * (1 - p) / x.shape[0])
    assert abs(G.orthant_probability(C) - p) < 5 * se
    # Duplicates and antiparallel pairs.
    R3 = 0.5 * (np.eye(3) + np.ones((3, 3)))
    dup = R3[np.ix_([0, 0, 1, 2], [0, 0, 1, 2])]
    assert G.orthant_probability(dup) == pytest.approx(0.25, abs=1e-13)
    anti = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert G.orthant_probability(anti) == 0.0


@pytest.mark.parametrize("name", CLOSED + ["tanh", "hardtanh"])
def test_edge_cases_no_nan(name):
    cases2 = [np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([[1.0, -1.0], [-1.0, 1.0]]),
              np.array([[0.0, 0.0], [0.0, 1.0]]), np.zeros((2, 2))]
    for C in cases2:
        assert np.isfinite(G.I2(name, C)) and np.isfinite(G.J2(name, C))
    for C4 in [np.ones((4, 4)), np.diag([0.0, 1.0, 1.0, 1.0]), np.diag([1.0, 1.0, 0.0, 2.0])]:
        assert np.isfinite(G.I4(name, C4))
    assert np.isfinite(G.I3(name, np.ones((3, 3))))


def test_perfect_correlation_values():
    # rho = 1: I2 = <g(a)^2>.
    C = np.array([[2.0, 2.0], [2.0, 2.0]])
    assert G.I2("relu", C) == pytest.approx(1.0, rel=1e-14)  # <relu(a)^2> = q/2
    assert G.I2("erf", C) == pytest.approx(2 / np.pi * np.arcsin(2 / 3), rel=1e-14)
    assert G.J2("relu", C) == pytest.approx(0.5, rel=1e-14)
    assert G.I2("relu", np.array([[1.0, -1.0], [-1.0, 1.0]])) == pytest.approx(0.0, abs=1e-15)


def test_vectorised_stack_and_threads(rng):
    stack = np.stack([random_cov(rng, 4) for _ in range(300)]).reshape(3, 100, 4, 4)
    one = G.I4("relu", stack, num_threads=1)
    two = G.I4("relu", stack, num_threads=2)
    assert one.shape == (3, 100)
    np.testing.assert_array_equal(one, two)
    assert one[1, 7] == G.I4("relu", stack[1, 7])
    q1 = G.I4("tanh", 0.4 * stack[0, :6], num_threads=1)
    q2 = G.I4("tanh", 0.4 * stack[0, :6], num_threads=2)
    np.testing.assert_array_equal(q1, q2)


def test_activation_values():
    x = np.linspace(-3, 3, 13)
    from math import erf, sqrt

    np.testing.assert_allclose(G.activation("erf", x), [erf(v / sqrt(2)) for v in x], rtol=1e-15)
    np.testing.assert_allclose(G.activation("relu", x, 1), (x > 0).astype(float))
    np.testing.assert_allclose(G.activation("leaky_relu", x, slope=0.2), np.where(x > 0, x, 0.2 * x))
    # Derivatives against central differences for the smooth activations.
    h = 1e-5
    for name in ["erf", "tanh", "sigmoid", "erf_sigmoid", "gelu", "swish"]:
        fd = (G.activation(name, x + h) - G.activation(name, x - h)) / (2 * h)
        np.testing.assert_allclose(G.activation(name, x, 1), fd, rtol=1e-8, atol=1e-9)
        fd2 = (G.activation(name, x + h, 1) - G.activation(name, x - h, 1)) / (2 * h)
        np.testing.assert_allclose(G.activation(name, x, 2), fd2, rtol=1e-6, atol=1e-8)
    assert G.activation("erf", 0.0, 1) == pytest.approx(np.sqrt(2 / np.pi))


def test_gauss_hermite_rule():
    x, w = G.gauss_hermite(20)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.sum(w * x**2) == pytest.approx(1.0, abs=1e-13)
    assert np.sum(w * x**4) == pytest.approx(3.0, abs=1e-12)


def test_bad_input():
    C2 = np.eye(2)
    with pytest.raises(ValueError, match="activation"):
        G.I2("softsign", C2)
    with pytest.raises(TypeError, match="activation"):
        G.I2(3, C2)
    with pytest.raises(ValueError, match="C"):
        G.I2("erf", np.eye(3))
    with pytest.raises(ValueError, match="symmetric"):
        G.I2("erf", np.array([[1.0, 0.5], [0.2, 1.0]]))
    with pytest.raises(ValueError, match="semidefinite"):
        G.I2("erf", np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        G.I4("relu", np.full((4, 4), np.nan))
    with pytest.raises(TypeError, match="C"):
        G.I3("erf", "not a matrix")
    with pytest.raises(ValueError, match="num_threads"):
        G.I2("erf", C2, num_threads=0)
    with pytest.raises(ValueError, match="derivative"):
        G.activation("erf", 1.0, derivative=3)
    with pytest.raises(ValueError, match="C"):
        G.orthant_probability(np.eye(5))


def test_package_metadata():
    assert isinstance(sn.__version__, str) and sn.__version__.count(".") == 2
    assert sn.max_threads() >= 1


def test_relu_I4_triple_coincidences(rng):
    """A field appearing three or four times (Theta(a)^2 r(a) ... ): exact reductions."""
    A = rng.normal(size=(2, 5)) / np.sqrt(5)
    base = A @ A.T
    for idx in [(0, 0, 0, 1), (0, 0, 1, 0), (0, 1, 0, 0), (1, 0, 0, 0), (0, 0, 0, 0), (0, 1, 1, 1)]:
        C = base[np.ix_(idx, idx)]
        assert G.I4("relu", C) == pytest.approx(G.I4("relu", C, quadrature=True), rel=1e-9, abs=1e-13), idx
    # Theta(a)^2 r(a)^2 = r(a)^2: <r(a)^2> = q/2.
    assert G.I4("relu", np.full((4, 4), 2.0)) == pytest.approx(1.0, rel=1e-14)


def test_non_psd_4x4_detected_only_by_full_determinant():
    # Equicorrelation -0.4: every 2x2 and 3x3 principal minor is positive, the 4x4 one is not.
    R = np.full((4, 4), -0.4) + 1.4 * np.eye(4)
    assert np.linalg.eigvalsh(R)[0] < 0
    with pytest.raises(ValueError, match=r"C\[1\].*semidefinite"):
        G.I4("erf", np.stack([np.eye(4), R]))
    # A singular but PSD matrix (repeated fields) is accepted.
    assert np.isfinite(G.I4("erf", np.ones((4, 4))))


def test_activation_traits_table_matches_the_functions():
    """Each trait of the one activation table is checked on the function itself."""
    from statmech_nn import _validation

    table = G.activation_traits()
    assert tuple(t["name"] for t in table) + ("silu",) == G.ACTIVATIONS == _validation.ACTIVATIONS
    x = np.linspace(-5.0, 5.0, 401)
    x = x[np.abs(x) > 1e-9]
    for t in table:
        name = t["name"]
        f = G.activation(name, x)
        if t["parity"] == "odd":
            c = t["odd_center"]
            np.testing.assert_allclose(G.activation(name, -x) - c, -(f - c), atol=1e-15)
        else:
            assert not np.allclose(G.activation(name, -x), -f)
        if t["homogeneity"] is not None:
            np.testing.assert_allclose(G.activation(name, 2.5 * x), 2.5 ** t["homogeneity"] * f, rtol=1e-14)
        if t["piecewise_linear"]:
            assert np.all(G.activation(name, x, derivative=2) == 0.0)
        else:
            assert np.any(G.activation(name, x, derivative=2) != 0.0)
        for k in t["kinks"]:  # the derivative (or, for step, phi itself) jumps there
            around = np.array([k - 1e-9, k + 1e-9])
            d, v = G.activation(name, around, derivative=1), G.activation(name, around)
            assert abs(d[1] - d[0]) > 1e-3 or abs(v[1] - v[0]) > 1e-3
        assert t["smooth_odd"] == (t["parity"] == "odd" and t["odd_center"] == 0.0 and not t["piecewise_linear"])
        assert G.has_closed_form(name) == t["closed_form_2d"]
        assert G.has_closed_form(name, "I4") == t["closed_form_I3_I4"]
