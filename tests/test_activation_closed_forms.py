"""Closed forms of the activations abs, sin, cos, rbf and step (and the gelu / erf_sigmoid
diagonals) in the Gaussian layer, against 50-digit mpmath references, and the kernels built on
them (ntk.kernels) against an mpmath recursion and against sampled wide networks.

The references are standard results written independently here and evaluated at 50 digits from
the same double inputs (c11, c12, c22):

* abs through the arc-cosine kernels (Cho & Saul, "Kernel methods for deep learning", 2009):
  |x| = relu(x) + relu(-x), E|u||v| = sqrt(c11 c22) 2 (k_1(rho) + k_1(-rho)),
  E sign(u) sign(v) = 2 (k_0(rho) - k_0(-rho));
* sin, cos through the characteristic function: E sin u sin v = e^{-(c11+c22)/2} sinh c12,
  E cos u cos v = e^{-(c11+c22)/2} cosh c12;
* rbf = sqrt(2) sin(sqrt(2) x + pi/4): E phi phi = e^{-(c11 + c22 - 2 c12)} (the RBF kernel),
  E phi' phi' = 2 e^{-(c11 + c22 - 2 c12)};
* step (Heaviside, 1/2 at 0): E phi phi = 1/4 + asin(rho)/(2 pi); phi' = 0 almost everywhere.

The identities themselves are checked against an independent 1-D mpmath integration
(tests/_gaussian_reference.py: the exact average over the conditional Gaussian, integrated over
the other variable) at moderate variances.

Accuracy claims (README "Accuracy"): over correlations -1 ... 1 (+-1 and +-(1 - 1e-12) included),
variances 1e-2 ... 1e4 with ratios up to 1e6 and zero variances, the closed forms are within a
forward-stable bound (8 ulp of the value plus the change of the value when each input moves by
8 ulp) and within 1e-13 relative (1e-300 absolute) of the 50-digit values of the same inputs.
"""

import mpmath as mp
import numpy as np
import pytest

import statmech_nn.gaussian as G
from statmech_nn import _core, meanfield, ntk

import _gaussian_reference as R

EPS = 2.0 ** -52
NEW = ("abs", "sin", "cos", "rbf", "step")
RHOS = [-1.0, -1 + 1e-12, -1 + 1e-6, -0.99, -0.7, -0.5, -0.3, -1e-3, 0.0, 1e-3, 0.2, 0.5, 0.9, 0.99,
        1 - 1e-6, 1 - 1e-12, 1.0] + list(np.random.default_rng(7).uniform(-1, 1, 8))
VARIANCES = [(1.0, 1.0), (1e-2, 1e-2), (0.25, 4.0), (0.02, 8.0), (8.0, 0.02), (1e-2, 1e2), (100.0, 100.0),
             (1e4, 1e4), (1e4, 3e3), (1e-2, 1e4), (1e4, 1.0)]
ZERO_VARIANCES = [(0.0, 0.0), (0.0, 1.0), (0.0, 1e4), (3.0, 0.0)]
REL_CLAIM = 1e-13


def _mp_pair(name, c11, c12, c22):
    """(E phi phi, E phi' phi') in mpmath from mp numbers (see the module docstring)."""
    bound = mp.sqrt(c11 * c22)
    c12 = max(min(c12, bound), -bound)
    if name in ("sin", "cos"):
        e = mp.exp(-(c11 + c22) / 2)
        ss, cc = e * mp.sinh(c12), e * mp.cosh(c12)
        return (ss, cc) if name == "sin" else (cc, ss)
    if name == "rbf":
        k = mp.exp(-(c11 + c22 - 2 * c12))
        return k, 2 * k
    if c11 == 0 or c22 == 0:
        # a zero-variance input is exactly 0: |0| = 0, sign(0) = 0, step(0) = 1/2
        return (mp.mpf(0), mp.mpf(0)) if name == "abs" else (mp.mpf(1) / 4, mp.mpf(0))
    rho = c12 / bound
    if name == "step":
        return mp.mpf(1) / 4 + mp.asin(rho) / (2 * mp.pi), mp.mpf(0)

    def k0(c):
        return (mp.pi - mp.acos(c)) / (2 * mp.pi)

    def k1(c):
        th = mp.acos(c)
        return (mp.sin(th) + (mp.pi - th) * c) / (2 * mp.pi)
    return bound * 2 * (k1(rho) + k1(-rho)), 2 * (k0(rho) - k0(-rho))


def _reference_and_tolerance(name, c11, c12, c22):
    """50-digit values and the forward-stable bound (see the module docstring)."""
    return R.reference_and_tolerance(lambda *y: _mp_pair(name, *y), c11, c12, c22, dps=50, delta=8 * EPS)


def _rows(name, c11, c12, c22):
    return _core._testing.pair_closed_form_rows(name, 0.01, float(c11), np.asarray(c12, float),
                                                np.asarray(c22, float))


def _sweep():
    for c11, c22 in VARIANCES:
        s = np.sqrt(c11 * c22)
        yield c11, np.array([r * s for r in RHOS]), c22, np.abs(RHOS) <= 0.99
    for c11, c22 in ZERO_VARIANCES:
        yield c11, np.zeros(1), c22, [True]


@pytest.mark.parametrize("name", NEW)
def test_closed_forms_match_50_digit_mpmath(name):
    """Forward-stable everywhere; 1e-13 relative where the inputs' rounding does not dominate
    (|rho| <= 0.99: near +-1 the correlation's last bit moves J2 of abs by ~1e-11, e.g. at
    rho = -1 + 1e-12, since asin has an infinite slope there)."""
    bad, worst = [], 0.0
    for c11, c12, c22, well in _sweep():
        pp, dd = _rows(name, c11, c12, np.full(c12.size, c22))
        for k in range(c12.size):
            (P, tp), (Dd, td) = _reference_and_tolerance(name, c11, c12[k], c22)
            for got, want, tol in ((pp[k], P, tp), (dd[k], Dd, td)):
                err = abs(got - float(want))
                rel = err / abs(float(want)) if err > 1e-300 else 0.0
                if well[k]:
                    worst = max(worst, rel)
                if err > tol or (well[k] and rel > REL_CLAIM):
                    bad.append((c11, c22, float(c12[k]), got, float(want), err / tol, rel))
    assert not bad, bad[:5]
    print(f"{name}: max relative error {worst:.1e} (|rho| <= 0.99)")


@pytest.mark.parametrize("name", NEW)
def test_rows_equal_the_scalar_pair_moments(name):
    """PairClosedFormRows (kernels) and pair_moments (I2, J2, meanfield, fisher): one formula."""
    rng = np.random.default_rng(4)
    c11 = 2.3
    c22 = np.concatenate([rng.uniform(0.05, 20.0, 30), [0.0, 1e4]])
    c12 = rng.uniform(-1, 1, c22.size) * np.sqrt(c11 * c22)
    c12[:3] = [np.sqrt(c11 * c22[0]), -np.sqrt(c11 * c22[1]), 0.0]
    pp, dd = _rows(name, c11, c12, c22)
    C = np.array([[[c11, a], [a, b]] for a, b in zip(c12, c22)])
    np.testing.assert_array_equal(pp, G.I2(name, C))
    np.testing.assert_array_equal(dd, G.J2(name, C))


# Moderate variances, where the 1-D reference integral (oscillatory for sin/cos/rbf) is reliable.
IDENTITY_POINTS = [((1.0, 1.0), 0.3), ((0.25, 4.0), -0.8), ((0.02, 8.0), 0.99), ((8.0, 0.02), -1.0),
                   ((2.0, 2.0), 1.0), ((1e-2, 1.0), 0.5)]


@pytest.mark.parametrize("name", NEW)
def test_identities_against_independent_integration(name):
    bad = []
    for (c11, c22), rho in IDENTITY_POINTS:
        c12 = rho * np.sqrt(c11 * c22)
        I, J = R.pair(name, c11, c12, c22, rho=rho)
        C = np.array([[c11, c12], [c12, c22]])
        i2, j2 = G.I2(name, C), G.J2(name, C)
        if abs(i2 - float(I)) > 1e-11 * abs(float(I)) + 1e-13 or abs(j2 - float(J)) > 1e-11 * abs(float(J)) + 1e-13:
            bad.append((c11, c22, rho, i2, float(I), j2, float(J)))
    assert not bad, bad


LAYER_Q = (0.0, 1e-8, 1e-3, 0.3, 1.0, 7.0, 100.0, 1e4)


def _mp_layer(name, q):
    """(E phi^2, E phi'^2, d E phi^2 / dq) over N(0, q) at 50 digits (pair forms at c12 = q)."""
    with mp.workdps(50):
        q = mp.mpf(q)
        if name in NEW:
            p = _mp_pair(name, q, q, q)
            if name == "step" and q > 0:
                p = (mp.mpf(1) / 2, mp.mpf(0))
            if name == "abs" and q == 0:
                p = (mp.mpf(0), mp.mpf(1))  # E phi'^2: the limit q -> 0, like relu's 1/2
            slope = {"abs": mp.mpf(1), "rbf": mp.mpf(0), "step": mp.mpf(0),
                     "sin": mp.exp(-2 * q), "cos": -mp.exp(-2 * q)}[name]  # d E phi^2 / dq
            return p[0], p[1], slope
        # gelu, erf_sigmoid: Phi(x) = P(u < x), u an independent unit Gaussian; E Phi(x)^2 =
        # P(u1 < x, u2 < x) = 1/4 + asin(q/(1+q))/(2 pi); gelu by Stein's lemma (see
        # tests/test_ntk_closed_forms.py); the q-derivative numerically (mpmath, 50 digits).
        def pair(t):
            r = t / (1 + t)
            P = mp.mpf(1) / 4 + mp.asin(r) / (2 * mp.pi)
            D = 1 + 2 * t
            if name == "erf_sigmoid":
                return P, 1 / (2 * mp.pi * mp.sqrt(D))
            e = 1 + t
            pp = t * P + (t * t * e * e + t * t * (1 - t * t)) / (2 * mp.pi * e * e * mp.sqrt(D))
            dd = P + t / (2 * mp.pi * mp.sqrt(D)) * (2 / e) + t / (2 * mp.pi * D ** mp.mpf(1.5))
            return pp, dd
        p = pair(q)
        slope = mp.diff(lambda t: pair(t)[0], q) if q > 0 else None
        return p[0], p[1], slope


@pytest.mark.parametrize("name", NEW + ("gelu", "erf_sigmoid"))
def test_layer_moments_closed_forms(name):
    q = np.array(LAYER_Q)
    phi2, dphi2, slope = _core.meanfield.layer_moments(name, 0.01, q)
    bad = []
    for k, qq in enumerate(LAYER_Q):
        P, D, S = _mp_layer(name, qq)
        refs = [(phi2[k], P), (dphi2[k], D)] + ([(slope[k], S)] if S is not None else [])
        for got, want in refs:
            if abs(got - float(want)) > 1e-14 * abs(float(want)) + 1e-300:
                bad.append((qq, got, float(want)))
    assert not bad, bad
    # The diagonal of the pair closed forms (used by the kernels) is the same quantity.
    for k, qq in enumerate(LAYER_Q[1:], 1):
        C = np.array([[qq, qq], [qq, qq]])
        assert G.I2(name, C) == pytest.approx(phi2[k], rel=1e-14, abs=1e-300)
        assert G.J2(name, C) == pytest.approx(dphi2[k], rel=1e-14, abs=1e-300)


def test_layer_moments_at_q_zero_are_the_values_at_zero_or_the_limits():
    q = np.array([0.0])
    assert _core.meanfield.layer_moments("step", 0.01, q)[0][0] == 0.25      # step(0)^2 = 1/4
    assert _core.meanfield.layer_moments("abs", 0.01, q)[1][0] == 1.0        # limit, like relu's 1/2
    assert _core.meanfield.layer_moments("sin", 0.01, q)[2][0] == 1.0        # d E sin^2 / dq at 0


# ---- the Saad-Solla averages I3, I4 of the sinusoids -----------------------------------------------

@pytest.mark.parametrize("name", ["sin", "cos", "rbf"])
def test_sinusoid_I3_I4_closed_forms_match_quadrature(name):
    rng = np.random.default_rng(11)
    for _ in range(4):
        A = rng.standard_normal((4, 4)) * 0.8
        C4 = A @ A.T
        C3 = C4[:3, :3]
        assert G.I3(name, C3) == pytest.approx(G.I3(name, C3, quadrature=True), rel=1e-9, abs=1e-12)
        assert G.I4(name, C4) == pytest.approx(G.I4(name, C4, quadrature=True), rel=1e-9, abs=1e-12)


def test_sinusoid_I4_large_variances_are_finite_and_bounded():
    C = np.full((4, 4), 5e3) + np.eye(4) * 10.0
    for name in ("sin", "cos", "rbf"):
        v = G.I4(name, C)
        assert np.isfinite(v) and abs(v) <= 4.0 + 1e-12


# ---- kernels ---------------------------------------------------------------------------------------

def _mp_kernels(name, x1, x2, depth, sw2, sb2):
    """The NNGP / NTK recursion in 50-digit arithmetic on the mpmath pair forms."""
    with mp.workdps(50):
        d = x1.shape[1]
        X1 = [[mp.mpf(float(v)) for v in row] for row in x1]
        X2 = [[mp.mpf(float(v)) for v in row] for row in x2]
        dot = lambda a, b: sum(u * v for u, v in zip(a, b))
        qa = [sw2 * dot(a, a) / d + sb2 for a in X1]
        qb = [sw2 * dot(b, b) / d + sb2 for b in X2]
        S = [[sw2 * dot(a, b) / d + sb2 for b in X2] for a in X1]
        T = [row[:] for row in S]
        for _ in range(depth):
            for i in range(len(X1)):
                for j in range(len(X2)):
                    P, J = _mp_pair(name, qa[i], S[i][j], qb[j])
                    S[i][j], T[i][j] = sw2 * P + sb2, sw2 * P + sb2 + sw2 * J * T[i][j]
            qa = [sw2 * _layer_value(name, q) + sb2 for q in qa]
            qb = [sw2 * _layer_value(name, q) + sb2 for q in qb]
        return np.array(S, dtype=float), np.array(T, dtype=float)


def _layer_value(name, q):
    if name == "step":
        return mp.mpf(1) / 2 if q > 0 else mp.mpf(1) / 4
    return _mp_pair(name, q, q, q)[0]


@pytest.mark.parametrize("name", NEW)
def test_kernels_match_a_50_digit_recursion(name):
    rng = np.random.default_rng(2)
    x1 = rng.standard_normal((5, 4)) * rng.uniform(0.3, 2.0, (5, 1))
    x2 = np.concatenate([rng.standard_normal((3, 4)), -x1[:1], x1[1:2]])  # antiparallel and identical pairs
    S, T = _mp_kernels(name, x1, x2, 3, 1.7, 0.2)
    k = ntk.kernels(x1, x2, name, 3, 1.7, 0.2)
    np.testing.assert_allclose(k.nngp, S, rtol=1e-12, atol=1e-14 * np.abs(S).max())
    np.testing.assert_allclose(k.ntk, T, rtol=1e-12, atol=1e-14 * np.abs(T).max())
    sym = ntk.kernels(x1, None, name, 3, 1.7, 0.2)
    S, T = _mp_kernels(name, x1, x1, 3, 1.7, 0.2)
    np.testing.assert_allclose(sym.ntk, T, rtol=1e-12, atol=1e-14 * np.abs(T).max())
    if name == "step":
        # phi' = 0 almost everywhere: nothing reaches the NTK through a step layer (Neural
        # Tangents' Sign does the same): the NTK is the last layer's NNGP
        np.testing.assert_array_equal(k.ntk, k.nngp)


@pytest.mark.parametrize("name", NEW)
def test_kernels_match_sampled_wide_networks(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 10))
    x /= np.linalg.norm(x, axis=1, keepdims=True) / np.sqrt(10)      # unit mean square
    k = ntk.kernels(x, None, name, 2, 1.5, 0.1)
    e = ntk.empirical(x, None, name, 2, 1.5, 0.1, width=2000, seeds=range(4))
    # finite width: fluctuations ~ 3/sqrt(width) of the kernel's scale per network (measured for
    # relu in tests/test_ntk.py), 4 networks: ~3.5 % standard error; tolerance 10 %. (The
    # empirical NNGP is one output's f(x) f(x') per network, far noisier: not compared here.)
    err = np.max(np.abs(e.ntk.mean(0) - k.ntk)) / np.max(np.abs(k.ntk))
    assert err < 0.10, (name, err)


# ---- meanfield -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NEW)
def test_meanfield_maps_agree_with_the_gaussian_layer(name):
    q = np.array([0.5, 2.0, 30.0])
    sw2, sb2 = 1.3, 0.05
    qm = meanfield.q_map(name, sw2, sb2, q)
    x1 = meanfield.chi1(name, sw2, sb2, q=q)
    for k, qq in enumerate(q):
        C = np.array([[qq, qq], [qq, qq]])
        assert float(np.ravel(qm)[k]) == pytest.approx(sw2 * G.I2(name, C) + sb2, rel=1e-13)
        assert float(np.ravel(x1)[k]) == pytest.approx(sw2 * G.J2(name, C), rel=1e-13, abs=1e-300)


# ---- fisher and batch norm -------------------------------------------------------------------------

@pytest.mark.parametrize("act,sw,sb", [("abs", 0.8, 0.1), ("sin", 2.0, 0.1), ("cos", 1.5, 0.2), ("rbf", 0.7, 0.1),
                                       ("step", 1.5, 0.2)])
def test_fisher_order_parameters_match_sampled_networks(act, sw, sb):
    """Tolerances as in tests/test_fisher.py (M = 1000, 4 networks, 3 outputs: ~1 % standard
    error). step: phi' = 0, so q_tilde vanishes below the read-out, in theory and in the networks."""
    from statmech_nn import fisher

    op = fisher.order_parameters(act, 2, sw, sb)
    em = fisher.empirical(act, 2, sw, sb, width=1000, n_samples=20, n_outputs=3, seeds=[11, 12, 13, 14])
    np.testing.assert_allclose(em.q_hat.mean(0), op.q_hat, rtol=0.03, atol=0.01)
    np.testing.assert_allclose(em.q_tilde.mean(0), op.q_tilde, rtol=0.05, atol=1e-12)
    np.testing.assert_allclose(em.q_hat_st.mean(0), op.q_hat_st, atol=0.03 * op.q_hat.max())
    np.testing.assert_allclose(em.q_tilde_st.mean(0), op.q_tilde_st, atol=0.05 * op.q_tilde.max())
    np.testing.assert_allclose(em.kappa1.mean(), op.kappa1, rtol=0.05)
    np.testing.assert_allclose(em.kappa2.mean(), op.kappa2, rtol=0.06, atol=0.01)
    if act == "step":
        assert np.all(op.q_tilde[:-1] == 0.0)


@pytest.mark.parametrize("B", [4, 10])
def test_batchnorm_closed_form_of_abs_matches_quadrature(B):
    """abs is positively homogeneous (|x| = relu(x) + relu(-x)): batch norm's closed form
    ("auto") and its quadrature give the same BSB1 fixed point."""
    from statmech_nn import batchnorm

    a = batchnorm.fixed_point("abs", B, 1.0, 0.0, method="auto")
    q = batchnorm.fixed_point("abs", B, 1.0, 0.0, method="quadrature", nodes=48)
    assert a.q_star == pytest.approx(q.q_star, rel=1e-12)
    assert a.c_star == pytest.approx(q.c_star, rel=1e-11)


# ---- Price's theorem: d I2 / d c12 = J2 --------------------------------------------------------------

@pytest.mark.parametrize("name", [a["name"] for a in _core.activations()])
def test_price_theorem_links_I2_and_J2(name):
    """d E[phi(u) phi(v)] / d c = E[phi'(u) phi'(v)] (central differences of I2, step 1e-4 of the
    scale: truncation ~1e-8 relative). step is the exception by design: its J2 is the derivative
    almost everywhere (0), while d I2 / d c is the density at the origin (a Dirac delta's average)."""
    for q1, q2, rho in ((1.0, 1.0, 0.3), (0.5, 3.0, -0.6), (4.0, 0.2, 0.8)):
        s = np.sqrt(q1 * q2)
        c, h = rho * s, 1e-4 * s
        C = lambda x: np.array([[q1, x], [x, q2]])
        fd = (G.I2(name, C(c + h)) - G.I2(name, C(c - h))) / (2 * h)
        if name == "step":
            assert G.J2(name, C(c)) == 0.0
            assert fd == pytest.approx(1 / (2 * np.pi * np.sqrt(q1 * q2 - c * c)), rel=1e-7)
        else:
            assert fd == pytest.approx(G.J2(name, C(c)), rel=1e-6, abs=1e-9), (q1, q2, rho)


# ---- the new activations in the mean-field and perceptron facades ----------------------------------

def test_step_correlation_fixed_point_is_the_iterated_map():
    """step's c-map has an infinite slope at c = 1, so c* < 1 (not the chi1 = 0 answer c* = 1):
    c* is the limit of iterating the map, chi_c its slope there (central difference)."""
    from statmech_nn import meanfield

    for sw2, sb2 in ((1.5, 0.1), (0.5, 0.0), (3.0, 1.0)):
        cs = meanfield.c_star("step", sw2, sb2)
        c = 0.3
        for _ in range(3000):
            c = float(meanfield.c_map("step", sw2, sb2, c))
        assert cs.status == "ok" and abs(float(cs.c_star) - c) < 1e-12
        h = 1e-6
        slope = (float(meanfield.c_map("step", sw2, sb2, c + h))
                 - float(meanfield.c_map("step", sw2, sb2, c - h))) / (2 * h)
        assert abs(float(cs.chi_c) - slope) < 1e-6 * max(1.0, slope)


def test_chi1_limits_and_critical_line_of_the_new_activations():
    """Where q* is infinite chi1 is its q -> inf limit: sigma_w2 E phi'^2 = sigma_w2 (abs), 2 sigma_w2
    (rbf); abs's critical line is vertical at sigma_w2 = 1 (chi1 does not depend on q)."""
    from statmech_nn import meanfield

    assert float(meanfield.chi1("abs", 2.0, 0.1)) == 2.0
    assert abs(float(meanfield.chi1("abs", 0.7, 0.1)) - 0.7) < 1e-14
    assert abs(float(meanfield.critical_line("abs", [0.0, 0.1]).sigma_w2[1]) - 1.0) < 1e-14
    q = 1e4
    assert abs(float(meanfield.chi1("rbf", 1.3, 0.1, q=q)) - 2.0 * 1.3) < 1e-6
    assert abs(float(meanfield.chi1("sin", 1.3, 0.1, q=q)) - 0.5 * 1.3) < 1e-6


def test_depth_scale_of_a_decreasing_q_map():
    """cos's q-map decreases (slope < 0): q^l approaches q* alternating at the rate |slope|."""
    from statmech_nn import meanfield

    ds = meanfield.depth_scales("cos", 1.5, 0.05)
    s = float(meanfield.q_star("cos", 1.5, 0.05).q_map_derivative)
    assert s < 0 and ds.status == "ok"
    assert abs(float(ds.xi_q) + 1.0 / np.log(abs(s))) < 1e-12


def test_abs_batchnorm_closed_form_and_step_perceptron_stability():
    from statmech_nn import batchnorm, perceptron

    a = batchnorm.gradient_explosion_rate("abs", 8.0, method="closed_form")
    b = batchnorm.gradient_explosion_rate("abs", 8.0, method="quadrature")
    assert abs(float(a) - float(b)) < 1e-10 * abs(float(b))
    with pytest.raises(ValueError, match="activation"):
        perceptron.stability("step", "sgd", 1.0)
