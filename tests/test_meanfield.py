"""Mean-field theory of deep random networks: closed forms, known facts, solver behaviour, errors."""

from math import comb

import numpy as np
import pytest
from scipy import integrate

import statmech_nn.meanfield as mf
from statmech_nn import _core

PDF = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)  # noqa: E731


def quad_gauss(f, q):
    """E f(sqrt(q) z) by adaptive quadrature (independent of the library's rules)."""
    s = np.sqrt(q)
    return integrate.quad(lambda z: f(s * z) * PDF(z), -14, 14, points=[0.0], limit=2000, epsabs=1e-15,
                          epsrel=1e-13)[0]


# ---- Gaussian moments against independent quadrature ---------------------------------------------

@pytest.mark.parametrize("q", [1e-3, 0.3, 2.0, 8.0, 60.0])
def test_tanh_layer_moments_match_adaptive_quadrature_at_any_variance(q):
    phi2, dphi2, slope = _core.meanfield.layer_moments("tanh", 0.01, np.array([q]))
    assert phi2[0] == pytest.approx(quad_gauss(lambda x: np.tanh(x) ** 2, q), rel=1e-11)
    assert dphi2[0] == pytest.approx(quad_gauss(lambda x: (1 - np.tanh(x) ** 2) ** 2, q), rel=1e-11)
    # slope of the q-map: a centred finite difference of E phi^2
    h = 1e-5 * q
    fd = (quad_gauss(lambda x: np.tanh(x) ** 2, q + h) - quad_gauss(lambda x: np.tanh(x) ** 2, q - h)) / (2 * h)
    assert slope[0] == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("name", ["hardtanh", "sigmoid", "gelu", "swish", "leaky_relu"])
def test_layer_moments_other_activations(name):
    from statmech_nn.gaussian import activation as act

    for q in (0.2, 3.0):
        phi2, dphi2, _ = _core.meanfield.layer_moments(name, 0.01, np.array([q]))
        ref0 = quad_gauss(lambda x: act(name, np.atleast_1d(x))[0] ** 2, q)
        ref1 = quad_gauss(lambda x: act(name, np.atleast_1d(x), 1)[0] ** 2, q)
        assert phi2[0] == pytest.approx(ref0, rel=1e-9)
        assert dphi2[0] == pytest.approx(ref1, rel=1e-9)


def test_tanh_pair_moments_match_2d_quadrature():
    q, c = 3.0, 0.6
    s = np.sqrt(q)
    f = lambda z2, z1: np.tanh(s * z1) * np.tanh(s * (c * z1 + np.sqrt(1 - c * c) * z2)) * PDF(z1) * PDF(z2)  # noqa
    ref = integrate.dblquad(f, -10, 10, -10, 10, epsabs=1e-13, epsrel=1e-12)[0]
    pp, _ = _core.meanfield.pair_moments("tanh", 0.01, np.array([q]), np.array([c * q]), np.array([q]), 1)
    assert pp[0] == pytest.approx(ref, abs=1e-11)


def test_closed_form_pair_moments_agree_with_monte_carlo():
    # erf closed form against 1e6 Monte Carlo samples (std error < 1e-3 on E[phi phi], |phi| < 1).
    rng = np.random.default_rng(0)
    q11, q12, q22 = 1.5, 0.7, 0.9
    L = np.linalg.cholesky(np.array([[q11, q12], [q12, q22]]))
    u = rng.standard_normal((1_000_000, 2)) @ L.T
    from scipy.special import erf

    mc = np.mean(erf(u[:, 0] / np.sqrt(2)) * erf(u[:, 1] / np.sqrt(2)))
    pp, _ = _core.meanfield.pair_moments("erf", 0.01, np.array([q11]), np.array([q12]), np.array([q22]), 1)
    assert pp[0] == pytest.approx(mc, abs=5e-3)


# ---- known facts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sw2", [0.5, 1.3, 1.99])
@pytest.mark.parametrize("sb2", [0.0, 0.2])
def test_relu_chi1_is_half_sigma_w2_and_q_star_closed_form(sw2, sb2):
    assert mf.chi1("relu", sw2, sb2) == pytest.approx(sw2 / 2, rel=1e-14)
    fp = mf.q_star("relu", sw2, sb2)
    assert fp.q_star == pytest.approx(sb2 / (1 - sw2 / 2), abs=1e-12)


def test_relu_critical_line_is_sigma_w2_2():
    sb2 = np.array([0.0, 0.05, 0.3, 1.0])
    sc, qc = mf.critical_line("relu", sb2)
    np.testing.assert_allclose(sc, 2.0, rtol=1e-10)
    assert np.isinf(qc[1:]).all()  # with a bias q* diverges on the ReLU critical line


def test_tanh_zero_bias_critical_at_sigma_w2_1():
    sc, qc = mf.critical_line("tanh", [0.0])
    assert sc[0] == pytest.approx(1.0, abs=1e-7)
    assert qc[0] == pytest.approx(0.0, abs=1e-6)
    # ordered side: q* = 0 and chi1 = sigma_w2 phi'(0)^2; chaotic side: q* > 0, chi1 > 1, c* < 1
    assert mf.q_star("tanh", 0.8, 0.0).q_star == 0.0
    assert mf.chi1("tanh", 0.8, 0.0) == pytest.approx(0.8, rel=1e-12)
    cs = mf.c_star("tanh", 0.8, 0.0)  # q* = 0: the c-map tends to the identity, no c* is defined
    assert np.isnan(cs.c_star) and cs.status == "marginal" and cs.chi_c == pytest.approx(0.8)
    assert mf.q_star("tanh", 1.5, 0.0).q_star > 0.1
    assert mf.chi1("tanh", 1.5, 0.0) > 1.0
    assert mf.c_star("tanh", 1.5, 0.0).c_star == pytest.approx(0.0, abs=1e-12)  # odd phi, no bias


def test_tanh_critical_line_has_chi1_one_and_increases_with_bias():
    sb2 = np.array([0.01, 0.05, 0.1, 0.3])
    sc, qc = mf.critical_line("tanh", sb2)
    assert np.all(np.diff(sc) > 0)
    for w, b, q in zip(sc, sb2, qc):
        assert mf.chi1("tanh", w, b) == pytest.approx(1.0, abs=1e-9)
        assert mf.q_star("tanh", w, b).q_star == pytest.approx(q, rel=1e-9)


def fuss_catalan_density(L, n=2000):
    """Penson–Zyczkowski parametrisation of the Fuss–Catalan density of order L."""
    phi = np.linspace(1e-4, np.pi / (L + 1) - 1e-4, n)
    x = np.sin((L + 1) * phi) ** (L + 1) / (np.sin(phi) * np.sin(L * phi) ** L)
    rho = np.sin(phi) ** 2 * np.sin(L * phi) ** (L - 1) / (np.pi * np.sin((L + 1) * phi) ** L)
    return x, rho


@pytest.mark.parametrize("L", [1, 2, 4, 10])
def test_linear_gaussian_network_has_fuss_catalan_spectrum(L):
    x, rho = fuss_catalan_density(L, 200)
    keep = x > 1e-3
    r = mf.jacobian_spectrum("linear", 1.0, 0.0, L, "gaussian", x=x[keep])
    assert r.status == "ok"
    np.testing.assert_allclose(r.density, rho[keep], rtol=1e-6, atol=1e-9)
    assert r.edge == pytest.approx((L + 1) ** (L + 1) / L ** L, rel=1e-8)
    # moments of Fuss–Catalan: binom((L+1)k, k)/(Lk+1) -> mean 1, second moment L+1
    assert r.mean == pytest.approx(1.0)
    assert r.variance == pytest.approx(comb(2 * (L + 1), 2) / (2 * L + 1) - 1.0)


def test_orthogonal_linear_is_isometric_and_relu_is_not():
    r = mf.jacobian_spectrum("linear", 1.0, 0.0, 50, "orthogonal", x=[0.5, 2.0])
    assert r.variance == 0.0 and r.atom_at_edge == 1.0 and r.atom_at_edge_mass == 1.0
    rr = mf.jacobian_spectrum("relu", 2.0, 0.0, 50, "orthogonal", x=[0.5])
    assert rr.mean == pytest.approx(1.0) and rr.variance == pytest.approx(50.0)  # L (2 - 1)
    assert rr.atom_at_zero == 0.5
    rg = mf.jacobian_spectrum("relu", 2.0, 0.0, 50, "gaussian", x=[0.5])
    assert rg.variance == pytest.approx(100.0)


@pytest.mark.parametrize("name,sw2,sb2,L,w", [
    ("relu", 2.0, 0.0, 3, "gaussian"),
    ("hardtanh", 1.1, 0.01, 4, "orthogonal"),
    pytest.param("tanh", 1.2, 0.05, 3, "gaussian", marks=pytest.mark.slow),
    pytest.param("erf", 1.7, 0.05, 3, "orthogonal", marks=pytest.mark.slow),
])
def test_spectral_density_normalisation_and_mean(name, sw2, sb2, L, w):
    # continuous part + atoms integrates to 1 and reproduces the mean (trapezoid on a fine grid)
    if True:
        r = mf.jacobian_spectrum(name, sw2, sb2, L, w, x=[1.0])
        # log grid: the density diverges like x^(-L/(L+1)) at 0 for Gaussian weights
        # (orthogonal weights with phi' > 0 leave a gap at 0, where the density is exactly 0)
        lo = 1e-16 if (w == "gaussian" or r.atom_at_zero > 0) else 1e-4
        x = np.concatenate([np.geomspace(lo * r.edge, 0.5 * r.edge, 1500),
                            np.linspace(0.5 * r.edge, r.edge * 1.0001, 1500)[1:]])
        d = mf.jacobian_spectrum(name, sw2, sb2, L, w, x=x)
        assert d.status == "ok"
        mass = np.trapezoid(d.density, x) + d.atom_at_zero + d.atom_at_edge_mass
        mean = np.trapezoid(x * d.density, x) + d.atom_at_edge * d.atom_at_edge_mass
        assert mass == pytest.approx(1.0, abs=3e-3), name
        assert mean == pytest.approx(d.mean, rel=3e-3), name


@pytest.mark.parametrize("name,q", [("tanh", 0.05), ("tanh", 2.0), ("erf", 0.7), ("sigmoid", 3.0), ("gelu", 1.0)])
def test_derivative_law_reproduces_the_moments_of_phi_prime_squared(name, q):
    # the discretised law of D^2 = phi'(sqrt(q) z)^2 (atoms at x and -x merged where phi'^2 is even)
    # must carry unit mass and the first two moments of phi'^2 (independent adaptive quadrature)
    from statmech_nn.gaussian import activation as act

    value, prob = _core.meanfield.derivative_law(name, 0.01, q)
    value, prob = np.asarray(value), np.asarray(prob)
    assert prob.sum() == pytest.approx(1.0, abs=1e-13)
    d2 = lambda x: act(name, np.atleast_1d(x), 1)[0] ** 2  # noqa: E731
    assert np.dot(prob, value) == pytest.approx(quad_gauss(d2, q), rel=1e-11)
    assert np.dot(prob, value ** 2) == pytest.approx(quad_gauss(lambda x: d2(x) ** 2, q), rel=1e-11)


@pytest.mark.parametrize("w", ["gaussian", "orthogonal"])
def test_deep_tanh_spectrum_is_normalised_and_thread_independent(w):
    # depth 100 (the benchmark case): continuation + Newton must stay on the physical branch at
    # every point; mass and mean by trapezoid on a log/linear grid (discretisation ~1e-3)
    sw2, sb2, L = 1.05, 1e-3, 100
    r = mf.jacobian_spectrum("tanh", sw2, sb2, L, w, x=[1e-3])
    # Gaussian weights: density ~ x^(-L/(L+1)) at 0; orthogonal: a gap at 0 (density exactly 0)
    lo = 1e-14 if w == "gaussian" else 1e-4
    x = np.concatenate([np.geomspace(lo * r.edge, 0.5 * r.edge, 2000),
                        np.linspace(0.5 * r.edge, r.edge * 1.0001, 2000)[1:]])
    d1 = mf.jacobian_spectrum("tanh", sw2, sb2, L, w, x=x, num_threads=1)
    d2 = mf.jacobian_spectrum("tanh", sw2, sb2, L, w, x=x, num_threads=2)
    assert d1.status == "ok"
    np.testing.assert_array_equal(d1.density, d2.density)
    mass = np.trapezoid(d1.density, x)
    if w == "orthogonal":
        assert mass == pytest.approx(1.0, abs=3e-3)
    else:
        # the product of 100 Gaussian layers spreads its mass over hundreds of decades below the
        # edge (most of it below 1e-14 edge): only the mean is reachable on a grid
        assert 0.05 < mass < 1.0
    assert np.trapezoid(x * d1.density, x) == pytest.approx(d1.mean, rel=3e-3)


# ---- solvers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,sw2,sb2", [("tanh", 2.5, 0.1), ("erf", 1.2, 0.3), ("relu", 1.5, 0.2),
                                          ("sigmoid", 3.0, 0.1), ("hardtanh", 1.6, 0.05)])
def test_q_star_is_the_limit_of_the_length_map(name, sw2, sb2):
    fp = mf.q_star(name, sw2, sb2)
    it = mf.q_map(name, sw2, sb2, 1.0, depth=400)[-1]
    assert fp.status == "ok"
    assert fp.q_star == pytest.approx(it, rel=1e-10)
    assert mf.q_map(name, sw2, sb2, fp.q_star) == pytest.approx(fp.q_star, rel=1e-12)


@pytest.mark.parametrize("name,sw2,sb2", [("tanh", 2.5, 0.1), ("erf", 4.0, 0.1), ("tanh", 3.0, 0.05)])
def test_c_star_is_the_limit_of_the_correlation_map(name, sw2, sb2):
    cs = mf.c_star(name, sw2, sb2)
    assert cs.c_star < 1
    it = mf.c_map(name, sw2, sb2, 0.3, depth=600)[-1]
    assert cs.c_star == pytest.approx(it, abs=1e-8)
    assert mf.c_map(name, sw2, sb2, cs.c_star) == pytest.approx(cs.c_star, abs=1e-12)
    # c_star uses the Mehler series for non-closed-form activations; c_map and pair_moments the
    # nested 2-D quadrature: chi_c must agree too
    q = cs.q_star
    _, dd = _core.meanfield.pair_moments(name, 0.01, np.array([q]), np.array([cs.c_star * q]), np.array([q]), 1)
    assert cs.chi_c == pytest.approx(sw2 * dd[0], rel=1e-11)


def test_depth_scales_match_the_decay_of_the_maps():
    # chaotic tanh: |c^l - c*| ~ exp(-l / xi_c); |q^l - q*| ~ exp(-l / xi_q)
    name, sw2, sb2 = "tanh", 2.5, 0.05
    ds = mf.depth_scales(name, sw2, sb2)
    c = mf.c_map(name, sw2, sb2, 0.95, depth=300)
    dev = np.abs(c - ds.c_star)  # linear regime: dev ~ 1e-6 .. 1e-8
    rate = np.log(dev[150] / dev[200]) / 50
    assert 1 / rate == pytest.approx(ds.xi_c, rel=1e-3)
    q = mf.q_map(name, sw2, sb2, ds.q_star * 1.01, depth=20)
    dq = np.abs(q - ds.q_star)
    assert 1 / np.log(dq[5] / dq[10]) * 5 == pytest.approx(ds.xi_q, rel=1e-3)
    assert ds.xi_grad == pytest.approx(-1 / np.log(ds.chi1))
    # ordered phase: c* = 1, xi_c = -1/ln chi1
    do = mf.depth_scales(name, 0.9, 0.05)
    assert do.c_star == 1.0 and do.xi_c == pytest.approx(-1 / np.log(do.chi1))


def test_near_criticality_solvers_return_with_a_status():
    # tanh at (1, 0): q^l -> 0 only as 1/l; relu at (2, 0): every q is fixed; relu chaotic: diverges
    fp = mf.q_star("tanh", 1.0, 0.0)
    assert fp.status == "marginal" and fp.q_star == 0.0
    fp = mf.q_star("relu", 2.0, 0.0)
    assert fp.status == "marginal" and fp.q_star == pytest.approx(1.0)
    fp = mf.q_star("relu", 2.5, 0.1)
    assert fp.status == "diverged" and np.isinf(fp.q_star)
    fp = mf.q_star("linear", 1.0 + 1e-9, 0.1)
    assert fp.status == "diverged"
    sc, qc = mf.critical_line("tanh", [0.02])
    ds = mf.depth_scales("tanh", sc[0], 0.02)
    assert ds.xi_c > 1e5 and np.isfinite(ds.q_star)


def test_phase_diagram_matches_pointwise_functions_and_is_thread_independent():
    w = np.linspace(0.5, 3.0, 12)
    b = np.array([0.0, 0.05, 0.2])
    pd1 = mf.phase_diagram("tanh", w, b, num_threads=1)
    pd2 = mf.phase_diagram("tanh", w, b, num_threads=2)
    for f in ("q_star", "c_star", "chi1", "xi_q", "xi_c", "critical_sigma_w2"):
        np.testing.assert_array_equal(getattr(pd1, f), getattr(pd2, f))
    i, j = 7, 1
    assert pd1.q_star[i, j] == pytest.approx(mf.q_star("tanh", w[i], b[j]).q_star, rel=1e-10)
    cs = mf.c_star("tanh", w[i], b[j])
    assert pd1.c_star[i, j] == pytest.approx(cs.c_star, abs=1e-9)
    chaotic = pd1.chi1 > 1
    signal = pd1.q_star > 0
    assert np.all(pd1.c_star[chaotic] < 1) and np.all(pd1.c_star[~chaotic & signal] == 1)
    assert np.all(np.isnan(pd1.c_star[~signal]))
    assert pd1.critical_found.all()


# ---- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda: mf.q_star("tanh", 0.0, 0.1), "sigma_w2"),
    (lambda: mf.q_star("tanh", -1.0, 0.1), "sigma_w2"),
    (lambda: mf.q_star("tanh", 1.0, -0.1), "sigma_b2"),
    (lambda: mf.q_star("softplus", 1.0, 0.1), "activation"),
    (lambda: mf.backward("tanh", 1.0, 0.1, 0), "depth"),
    (lambda: mf.jacobian_spectrum("relu", 2.0, 0.0, 0), "depth"),
    (lambda: mf.jacobian_spectrum("relu", 2.0, 0.0, 5, weights="unitary"), "weights"),
    (lambda: mf.jacobian_spectrum("relu", 2.0, 0.0, 5, x=[-1.0, 1.0]), "x"),
    (lambda: mf.simulate("relu", 2.0, 0.0, 5, 1), "width"),
    (lambda: mf.simulate("relu", 2.0, 0.0, 5, 10, weights="x"), "weights"),
    (lambda: mf.simulate("relu", 2.0, 0.0, 5, 10, c_in=1.5), "c_in"),
    (lambda: mf.c_map("tanh", 1.5, 0.1, 1.2), "c"),
    (lambda: mf.phase_diagram("tanh", [[1.0]], [0.1]), "sigma_w2"),
    (lambda: mf.q_map("tanh", 1.0, 0.1, -1.0), "q"),
    (lambda: mf.q_star("tanh", float("nan"), 0.1), "sigma_w2"),
])
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="activation"):
        mf.q_star(3, 1.0, 0.1)
    with pytest.raises(TypeError, match="depth"):
        mf.backward("tanh", 1.0, 0.1, 2.5)
    with pytest.raises(TypeError, match="weights"):
        mf.jacobian_spectrum("relu", 2.0, 0.0, 3, weights=None)


def test_correlation_fixed_point_for_homogeneous_and_diverging_cases():
    # ReLU without bias: the c-map is independent of q, c -> 1 algebraically (slope 1 at c = 1)
    cs = mf.c_star("relu", 1.5, 0.0)
    assert cs.c_star == 1.0 and cs.status == "marginal"
    c = mf.c_map("relu", 1.5, 0.0, 0.2, q=1.0, depth=200)
    assert c[-1] > 0.99 and np.all(np.diff(c) > 0)
    # diverging q*: c* = 1 with status "diverged"
    cs = mf.c_star("relu", 3.0, 0.1)
    assert cs.c_star == 1.0 and cs.status == "diverged" and np.isinf(cs.q_star)
    pd = mf.phase_diagram("relu", [1.0, 3.0], [0.0, 0.1])
    np.testing.assert_array_equal(pd.c_star, 1.0)


def test_forward_divergence_is_a_status_not_an_exception():
    f = mf.forward("relu", 4.0, 0.1, 600)  # q doubles per layer: passes 1e8 q^1 at layer 28
    assert f.status == "diverged" and not f.ok
    q1 = 4.0 + 0.1
    # first layer past the bound: q^l = 2^(l-1) q^1 + 0.1 (2^(l-1) - 1) > 1e8 q^1 from l = 28 on
    assert f.stop_layer == 28
    assert np.all(np.isfinite(f.q_a[:27])) and np.all(f.q_a[:27] <= 1e8 * q1) and f.q_a[27] > 1e8 * q1
    assert np.all(np.isnan(f.q_a[28:])) and np.all(np.isnan(f.c[28:]))
    # without a bound it runs until float64 overflows (q ~ 2^l; the pair average overflows first,
    # its closed form multiplies q_a q_b: near layer 512)
    g = mf.forward("relu", 4.0, 0.1, 1100, divergence_bound=np.inf)
    k = g.stop_layer
    assert g.status == "diverged" and 500 < k < 1030
    assert not (np.isfinite(g.q_a[k - 1]) and np.isfinite(g.q_ab[k - 1]))
    assert np.all(np.isfinite(g.q_a[: g.stop_layer - 1]))
    ok = mf.forward("tanh", 4.0, 0.1, 6)
    assert ok.status == "ok" and ok.stop_layer == 0 and ok.ok
    # the brief's case: relu at sigma_w2 = 3 for 200 layers is not "ok"
    assert mf.forward("relu", 3.0, 0.0, 200).status == "diverged"
    with pytest.raises(ValueError, match="divergence_bound"):
        mf.forward("relu", 3.0, 0.0, 5, divergence_bound=0.5)


@pytest.mark.parametrize("name", ["relu", "tanh", "erf", "linear", "gelu", "hardtanh"])
def test_forward_identical_inputs_keep_c_exactly_one(name):
    f = mf.forward(name, 1.0, 0.0, 1000, c_in=1.0)
    assert f.status == "ok"
    np.testing.assert_array_equal(f.c, 1.0)
    np.testing.assert_array_equal(f.q_ab, f.q_a)
    f = mf.forward(name, 1.5, 0.1, 30, c_in=1.0, q_in=0.7)
    np.testing.assert_array_equal(f.c, 1.0)


def test_forward_and_backward_results_follow_the_protocol(tmp_path):
    import statmech_nn as sn

    for res in (mf.forward("tanh", 1.5, 0.1, 20), mf.backward("tanh", 1.5, 0.1, 20, q_in=1.0),
                mf.q_star("tanh", 1.5, 0.1), mf.c_star("tanh", 1.5, 0.1), mf.depth_scales("tanh", 1.5, 0.1),
                mf.phase_diagram("tanh", [1.0, 2.0], [0.0, 0.1]), mf.critical_line("tanh", [0.0, 0.1]),
                mf.jacobian_moments("tanh", 1.5, 0.1, 5), mf.jacobian_spectrum("relu", 2.0, 0.0, 5, n_points=20)):
        assert res.ok, res
        assert np.all(np.isin(np.asarray(res.status).ravel(), list(sn.STATUSES)))
        assert len(repr(res)) < 2000
        back = sn.load(res.save(tmp_path / type(res).__name__))
        assert type(back) is type(res)
        np.testing.assert_array_equal(np.asarray(back.status), np.asarray(res.status))
    assert mf.STATUSES is sn.STATUSES


def test_critical_line_and_jacobian_moments_unpack_like_tuples():
    line = mf.critical_line("relu", [0.0, 0.1])
    sw2, qc = line
    np.testing.assert_allclose(sw2, 2.0, rtol=1e-14)
    assert np.all(line.status == "ok")
    mean, var = mf.jacobian_moments("relu", 2.0, 0.0, 10)
    assert mean == pytest.approx(1.0, rel=1e-14) and var > 0


def test_fixed_point_slope_is_a_deprecated_alias():
    fp = mf.q_star("tanh", 1.5, 0.1)
    with pytest.warns(DeprecationWarning, match="q_map_derivative"):
        assert fp.slope == fp.q_map_derivative
    # dq-map/dq at q* by a centred difference
    h = 1e-5 * fp.q_star
    fd = (mf.q_map("tanh", 1.5, 0.1, fp.q_star + h) - mf.q_map("tanh", 1.5, 0.1, fp.q_star - h)) / (2 * h)
    assert fp.q_map_derivative == pytest.approx(fd, rel=1e-7)


def test_jacobian_overflow_is_a_status_not_an_exception():
    m = mf.jacobian_moments("relu", 4.0, 0.0, 2000)
    assert m.status == "diverged" and np.isinf(m.mean)
    assert m.log_mean == pytest.approx(2000 * np.log(2.0), rel=1e-14)
    s = mf.jacobian_spectrum("relu", 2.0, 0.0, 100000, x=[0.5, 1.0])
    assert s.log_mean == pytest.approx(0.0, abs=1e-12) and s.status in ("ok", "inaccurate")
    lin = mf.jacobian_spectrum("linear", 2.0, 0.0, 1000, x=[1.0])
    assert lin.status == "diverged" and np.isinf(lin.variance)
    assert lin.log_variance == pytest.approx(2000 * np.log(2.0) + np.log(1000.0), rel=1e-14)
    with pytest.raises(ValueError, match="n_points"):
        mf.jacobian_spectrum("relu", 2.0, 0.0, 10, n_points=10**8)


# ---- long calls: GIL released, Ctrl-C polled -----------------------------------------------------

INTERRUPT_SCRIPT = r"""
import sys, threading, time, numpy as np
import statmech_nn.meanfield as mf
ticks = [0]
def tick():
    while True:
        ticks[0] += 1
        time.sleep(0.001)
threading.Thread(target=tick, daemon=True).start()
call = sys.argv[1]
print("ready", flush=True)
t0 = time.time()
try:
    if call == "phase_diagram":  # ~ a minute on one core
        mf.phase_diagram("tanh", np.linspace(0.5, 4.0, 1500), np.linspace(0.0, 0.3, 1500), num_threads=1)
    elif call == "forward":  # minutes: 10^5 layers of 2-D tanh averages
        mf.forward("tanh", 4.0, 0.05, 100000, c_in=0.3)  # chaotic: c* < 1, 2-D averages
    elif call == "ntk":  # ~30 s: tanh's Mehler series for 2 million pairs and 30 layers
        from statmech_nn import ntk
        ntk.kernels(np.random.default_rng(0).standard_normal((2000, 5)), None, "tanh", 30, 1.5, 0.1, num_threads=1)
    else:  # ~ a minute on one core
        mf.jacobian_spectrum("tanh", 1.5, 0.05, 100, "gaussian", n_points=400000, num_threads=1)
except KeyboardInterrupt:
    print(f"interrupted {time.time() - t0:.2f} ticks {ticks[0]}", flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.skipif(__import__("os").name != "posix", reason="needs POSIX signals")
@pytest.mark.parametrize("call", ["phase_diagram", "jacobian_spectrum", "forward", "ntk"])
def test_long_calls_release_the_gil_and_stop_on_ctrl_c(call):
    from _interrupt import interrupt_child

    out = interrupt_child(INTERRUPT_SCRIPT, call)
    words = out.split()
    assert words[0] == "interrupted"
    # a Python thread kept running during the call (1 ms sleeps for ~1.5 s): the GIL was released
    assert int(words[3]) > 100, out


def test_backward_divergence_is_a_status():
    b = mf.backward("relu", 4.0, 0.0, 100, q_in=1.0)     # forward q passes 1e8 q^1 at layer 28
    assert b.status == "diverged" and b.stop_layer == 28 and np.all(np.isnan(b.q_grad))
    # chaotic tanh: chi1 ~ 8 per layer, q_grad = prod chi overflows float64 ~340 layers below the top
    g = mf.backward("tanh", 100.0, 0.0, 500, q_in=1.0)
    assert g.status == "diverged" and 0 < g.stop_layer < 200
    assert np.all(np.isinf(g.q_grad[: g.stop_layer])) and np.all(np.isfinite(g.q_grad[g.stop_layer:]))
    ok = mf.backward("tanh", 1.5, 0.1, 50)
    assert ok.status == "ok" and ok.stop_layer == 0
    np.testing.assert_allclose(ok.q_grad, ok.chi1[0] ** np.arange(49, -1, -1), rtol=1e-12)
