"""Every quantity that two modules compute must agree: the families take their Gaussian averages
from the one Gaussian layer, so these identities hold to rounding (1e-13), not to a quadrature
tolerance."""

import numpy as np
import pytest

import statmech_nn as sn

TOL = 1e-13


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))


@pytest.mark.parametrize("activation", ["linear", "erf", "relu", "tanh", "hardtanh", "leaky_relu", "sigmoid",
                                        "erf_sigmoid", "gelu", "swish"])
@pytest.mark.parametrize("l, R", [(1.0, 0.0), (0.7, 0.5), (2.0, 0.95), (1.3, -0.4), (0.2, 0.99), (5.0, 0.3),
                                  (20.0, 0.9), (-3.0, 0.5)])
def test_perceptron_eg_is_the_gaussian_layers(activation, l, R):
    """eps_g = 1/2 <(g(v) - g(l u))^2> with (l u, v) ~ N(0, [[l^2, l R], [l R, 1]]).

    The perceptron integrates (g(v) - g(l u))^2 directly (no cancellation when eps_g is small); the
    Gaussian layer's pair moments give the same number through I2. Measured worst: 1.3e-12 relative
    (leaky_relu at l = 0.2, R = 0.99, a kink at a nearly singular correlation), ~1e-15 elsewhere."""
    eg = sn.perceptron.averages(activation, l, R).eg
    C = np.array([[[l * l, l * R], [l * R, 1.0]], [[1.0, 1.0], [1.0, 1.0]], [[l * l, l * l], [l * l, l * l]]])
    cross, tt, ss = sn.gaussian.I2(activation, C)
    ref = 0.5 * (tt - 2.0 * cross + ss)
    assert abs(eg - ref) <= 1e-11 * max(1e-3, abs(ref)), (eg, ref)


@pytest.mark.parametrize("activation", ["erf", "relu", "linear"])
def test_committee_eg_is_the_gaussian_layers(activation, rng):
    K, M = 3, 2
    A = rng.normal(size=(K + M, K + M + 3))
    S = A @ A.T / (K + M + 3)
    Q, R, T = S[:K, :K], S[:K, K:], S[K:, K:]
    w = rng.normal(size=K)
    v = rng.normal(size=M)
    eg = sn.committee.generalisation_error(Q, R, T, w, v, activation=activation)

    def I2(a, b, c):
        return sn.gaussian.I2(activation, np.array([[a, b], [b, c]]))

    ref = 0.5 * sum(w[i] * w[j] * I2(Q[i, i], Q[i, j], Q[j, j]) for i in range(K) for j in range(K))
    ref += 0.5 * sum(v[n] * v[m] * I2(T[n, n], T[n, m], T[m, m]) for n in range(M) for m in range(M))
    ref -= sum(w[i] * v[n] * I2(Q[i, i], R[i, n], T[n, n]) for i in range(K) for n in range(M))
    assert abs(eg - ref) <= 1e-10 * max(1.0, abs(ref))


@pytest.mark.parametrize("c", [-1.0, -0.999999, -0.5, 0.0, 0.3, 0.99, 1.0])
def test_arccos_kernel_is_relu_I2(c):
    k = sn.batchnorm.arccos_kernel(1.0, c)
    ref = sn.gaussian.I2("relu", np.array([[1.0, c], [c, 1.0]]))
    assert abs(k - ref) <= TOL


@pytest.mark.parametrize("c", [-1.0, -0.5, 0.0, 0.7, 1.0])
def test_arccos_kernel_degree_zero_is_step_probability(c):
    """alpha = 0: P(u > 0, v > 0) = 1/4 + asin(c) / (2 pi) (Sheppard)."""
    k = sn.batchnorm.arccos_kernel(0.0, c)
    assert abs(k - (0.25 + np.arcsin(c) / (2 * np.pi))) <= TOL


@pytest.mark.parametrize("slope", [0.01, 0.2, -0.5])
@pytest.mark.parametrize("C", [[[1.0, 0.3], [0.3, 2.0]], [[0.02, 0.39], [0.39, 8.0]], [[1.0, -1.0], [-1.0, 1.0]]])
def test_leaky_closed_form_equals_quadrature(slope, C):
    C = np.array(C)
    closed = sn.gaussian.I2("leaky_relu", C, slope=slope)
    quad = sn.gaussian.I2("leaky_relu", C, slope=slope, quadrature=True)
    assert abs(closed - quad) <= 1e-10 * max(1.0, abs(closed))


@pytest.mark.parametrize("activation", ["erf", "relu", "tanh", "gelu", "sigmoid"])
def test_meanfield_q_map_is_the_gaussian_layers(activation):
    """q_map(q) = sigma_w2 <phi(x)^2> + sigma_b2 = sigma_w2 I2([[q, q], [q, q]]) + sigma_b2."""
    for q in (0.05, 1.0, 7.0):
        qm = sn.meanfield.q_map(activation, 1.7, 0.2, q)
        ref = 1.7 * sn.gaussian.I2(activation, np.full((2, 2), q)) + 0.2
        assert abs(qm - ref) <= 1e-10 * max(1.0, abs(ref))


@pytest.mark.parametrize("activation, l, R", [("tanh", 1.0, 0.5)] + [
    pytest.param(a, l, R, marks=pytest.mark.slow) for a in ("tanh", "sigmoid", "gelu")
    for l, R in ((0.7, -0.3), (2.0, 0.9), (1.0, 0.5)) if (a, l, R) != ("tanh", 1.0, 0.5)])
def test_perceptron_A_against_adaptive_quadrature(activation, l, R):
    """A1, A2, A3 of the quadrature path against SciPy's adaptive 2-D quadrature (independent code)."""
    integrate = pytest.importorskip("scipy.integrate")
    g = lambda x: sn.gaussian.activation(activation, x)
    dg = lambda x: sn.gaussian.activation(activation, x, derivative=1)
    s = np.sqrt(1.0 - R * R)
    pdf = lambda x: np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)

    def avg(f):
        # (v, u) with u = R v + s w, v and w independent standard normals; panels split at 0.
        total = 0.0
        for v0, v1 in ((-12, 0), (0, 12)):
            for w0, w1 in ((-12, 0), (0, 12)):
                val, _ = integrate.dblquad(lambda w, v: f(v, R * v + s * w) * pdf(v) * pdf(w), v0, v1, w0, w1,
                                           epsabs=1e-14, epsrel=1e-13)
                total += val
        return total

    d0 = lambda v, u: float(g(v) - g(l * u))
    a = sn.perceptron.averages(activation, l, R)
    A1 = avg(lambda v, u: float(dg(l * u)) * d0(v, u) * l * u)
    A2 = avg(lambda v, u: 0.5 * (float(dg(l * u)) * d0(v, u)) ** 2)
    A3 = avg(lambda v, u: float(dg(l * u)) * d0(v, u) * v)
    for ours, ref in ((a.A1, A1), (a.A2, A2), (a.A3, A3)):
        assert abs(ours - ref) <= 1e-10 * max(1e-2, abs(ref)), (ours, ref)


@pytest.mark.parametrize("activation", ["linear", "erf", "relu"])
@pytest.mark.parametrize("l, R", [(1.0, 0.0), (0.7, 0.5), (2.0, 0.95), (1.3, -0.4), (0.3, 0.999)])
def test_perceptron_closed_forms_are_the_gaussian_layers_I3_I4(activation, l, R):
    """The perceptron's closed-form A1, A2, A3 are combinations of the Gaussian layer's I3 and I4 over
    the fields (a, v) = (l u, v): A1 = I3(a, a, v) - I3(a, a, a), A3 = I3(a, v, v) - I3(a, v, a),
    A2 = 1/2 [I4(a, a, v, v) - 2 I4(a, a, v, a) + I4(a, a, a, a)]."""
    S = np.array([[l * l, l * R], [l * R, 1.0]])  # covariance of (a, v)

    def cov(idx):
        return S[np.ix_(idx, idx)]

    a, v = 0, 1
    I3 = lambda *idx: sn.gaussian.I3(activation, cov(list(idx)))
    I4 = lambda *idx: sn.gaussian.I4(activation, cov(list(idx)))
    A1 = I3(a, a, v) - I3(a, a, a)
    A3 = I3(a, v, v) - I3(a, v, a)
    A2 = 0.5 * (I4(a, a, v, v) - 2.0 * I4(a, a, v, a) + I4(a, a, a, a))
    res = sn.perceptron.averages(activation, l, R)
    for ours, ref in ((res.A1, A1), (res.A2, A2), (res.A3, A3)):
        assert abs(ours - ref) <= 1e-13 * max(1.0, abs(ref)), (ours, ref)
