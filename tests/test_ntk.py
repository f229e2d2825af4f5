"""NTK / NNGP kernels: closed forms, quadrature, sampled finite networks, gradient descent."""

import numpy as np
import pytest
import scipy.linalg

from statmech_nn import ntk


def _inputs(n=6, d=8, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d))
    x[1] = x[0] * 1.7          # parallel inputs (correlation 1) exercise the boundary of the maps
    return x


def _arccos_reference(x, depth, sw, sb):
    """Independent relu recursion (Cho & Saul arc-cosine kernels) for the NTK parameterisation."""
    d = x.shape[1]
    S = sw * x @ x.T / d + sb
    Th = S.copy()
    for _ in range(depth):
        q = np.sqrt(np.diag(S))
        c = np.clip(S / np.outer(q, q), -1, 1)
        th = np.arccos(c)
        i2 = np.outer(q, q) * (np.sin(th) + (np.pi - th) * c) / (2 * np.pi)
        j2 = (np.pi - th) / (2 * np.pi)
        S = sw * i2 + sb
        Th = S + sw * j2 * Th
    return S, Th


def _arcsin_reference(x, depth, sw, sb):
    """Independent erf(x/sqrt2) recursion (Williams 1997 arcsine kernel)."""
    d = x.shape[1]
    S = sw * x @ x.T / d + sb
    Th = S.copy()
    for _ in range(depth):
        v = np.diag(S)
        den = np.sqrt(np.outer(1 + v, 1 + v))
        i2 = 2 / np.pi * np.arcsin(S / den)
        j2 = 2 / np.pi / np.sqrt(np.outer(1 + v, 1 + v) - S ** 2)
        S = sw * i2 + sb
        Th = S + sw * j2 * Th
    return S, Th


@pytest.mark.parametrize("act,ref", [("relu", _arccos_reference), ("erf", _arcsin_reference)])
def test_closed_forms_match_independent_formulas(act, ref):
    x = _inputs()
    k = ntk.kernels(x, None, act, 3, 1.8, 0.3, return_layers=True)
    S, Th = ref(x, 3, 1.8, 0.3)
    # rtol 1e-7: the reference's arccos(c) at c = 1 - O(1e-16) (diagonal) is only good to ~1e-8.
    np.testing.assert_allclose(k.nngp, S, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(k.ntk, Th, rtol=1e-7, atol=1e-12)
    assert k.nngp_layers.shape == (4, 6, 6)


def test_quadrature_path_matches_closed_form():
    # leaky_relu (no closed form: kink-split quadrature) with slope 0 is relu (closed form).
    x = _inputs()
    a = ntk.kernels(x, None, "relu", 2, 2.0, 0.1)
    b = ntk.kernels(x, None, "leaky_relu", 2, 2.0, 0.1, slope=0.0)
    # x[1] = 1.7 x[0]: their correlation is 1 only up to the rounding of x.x' (1e-16), and the
    # arc-cosine kernel's J2 = (pi - arccos c)/(2 pi) has an infinite slope at c = 1, so that pair
    # is determined only to sqrt(1e-16) / (2 pi) ~ 1e-8 relative; every other entry to 1e-9.
    off = np.ones(a.ntk.shape, bool)
    off[[0, 1], [1, 0]] = False
    np.testing.assert_allclose(b.ntk[off], a.ntk[off], rtol=1e-9)
    np.testing.assert_allclose(b.nngp[off], a.nngp[off], rtol=1e-9)
    np.testing.assert_allclose(b.ntk, a.ntk, rtol=1e-8)
    np.testing.assert_allclose(b.nngp, a.nngp, rtol=1e-8)


def test_cross_kernel_is_a_block_of_the_joint_kernel():
    x = _inputs(8)
    full = ntk.kernels(x, None, "tanh", 2, 1.5, 0.1)
    cross = ntk.kernels(x[:3], x[3:], "tanh", 2, 1.5, 0.1)
    # tanh's averages: the Mehler series in the joint call (enough pairs per input), the 2-D
    # quadrature in the small cross call; both ~1e-14 of the kernel's scale (entries near 0 are
    # compared on that scale)
    for a, b in ((cross.ntk, full.ntk[:3, 3:]), (cross.nngp, full.nngp[:3, 3:])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13 * np.max(np.abs(b)))


@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_infinite_width_ntk_matches_sampled_networks(act):
    x = _inputs()
    k = ntk.kernels(x, None, act, 2, 2.0, 0.1)
    e = ntk.empirical(x, None, act, 2, 2.0, 0.1, width=2000, seeds=range(6))
    # Measured: one relu network's NTK deviates by ~7 % (mostly a common scale) at width 1500,
    # i.e. ~2.7/sqrt(width); 6 nets at 2000: standard error ~2.5 %; tolerance 8 % (~3 sigma).
    err = np.max(np.abs(e.ntk.mean(0) - k.ntk)) / np.max(np.abs(k.ntk))
    assert err < 0.08
    # The fluctuation shrinks like 1/sqrt(width): 16x the width, about 1/4 the spread.
    small = ntk.empirical(x, None, act, 2, 2.0, 0.1, width=100, seeds=range(8)).ntk
    big = ntk.empirical(x, None, act, 2, 2.0, 0.1, width=1600, seeds=range(8)).ntk
    ratio = np.sqrt(np.mean((big - k.ntk) ** 2) / np.mean((small - k.ntk) ** 2))
    assert 0.12 < ratio < 0.45


def test_nngp_matches_output_covariance_of_sampled_networks():
    x = _inputs()
    k = ntk.kernels(x, None, "erf", 2, 2.5, 0.2)
    # f.f'/C over C = 100 readout units and 40 networks: per-entry sampling error
    # ~ sqrt(2 / 4000) ~ 2.2 % (+ O(1/sqrt(400 * 40)) from the hidden layers); the relative
    # Frobenius error averages the 21 distinct entries, tolerance 6 %.
    e = ntk.empirical(x, None, "erf", 2, 2.5, 0.2, width=400, n_outputs=100, seeds=range(40))
    assert np.linalg.norm(e.nngp.mean(0) - k.nngp) / np.linalg.norm(k.nngp) < 0.06


def test_standard_parameterisation_matches_sampled_networks():
    x = _inputs()
    k = ntk.kernels(x, None, "relu", 2, 2.0, 0.1, parameterization="standard", width=2000)
    e = ntk.empirical(x, None, "relu", 2, 2.0, 0.1, width=2000, parameterization="standard", seeds=range(6))
    # Measured per-network spread ~4/sqrt(width) (9 % at 2000); 6 nets: ~3.7 %; tolerance 11 %.
    err = np.max(np.abs(e.ntk.mean(0) - k.ntk)) / np.max(np.abs(k.ntk))
    assert err < 0.11
    # Standard NTK grows with the width (it is the Fisher Gram); the NNGP does not.
    k2 = ntk.kernels(x, None, "relu", 2, 2.0, 0.1, parameterization="standard", width=4000)
    assert k2.ntk[0, 0] / k.ntk[0, 0] == pytest.approx(2.0, rel=0.02)
    np.testing.assert_allclose(k2.nngp, k.nngp)


def test_predict_gd_mse_matches_exact_linear_dynamics():
    x = _inputs(7)
    K = ntk.kernels(x, None, "relu", 2, 2.0, 0.1).ntk
    Kx = ntk.kernels(x[:3] + 0.1, x, "relu", 2, 2.0, 0.1).ntk
    rng = np.random.default_rng(3)
    y = rng.standard_normal((7, 2))
    f0, g0 = rng.standard_normal((7, 2)), rng.standard_normal((3, 2))
    t = np.array([0.0, 0.3, 2.0])
    p = ntk.predict_gd_mse(K, y, t, eta=0.7, ntk_test_train=Kx, f0_train=f0, f0_test=g0)
    for i, ti in enumerate(t):
        E = scipy.linalg.expm(-0.7 * K * ti)
        np.testing.assert_allclose(p.f_train[i], y + E @ (f0 - y), atol=1e-10)
        # test points: df*/dt = -eta Kx (f - y) integrated: g0 + Kx K^{-1} (I - E)(y - f0)
        np.testing.assert_allclose(p.f_test[i], g0 + Kx @ np.linalg.solve(K, (np.eye(7) - E) @ (y - f0)),
                                   atol=1e-8)
    inf = ntk.predict_gd_mse(K, y, np.inf, ntk_test_train=Kx)
    np.testing.assert_allclose(inf.f_train, y, atol=1e-8)
    np.testing.assert_allclose(inf.f_test, Kx @ np.linalg.solve(K, y), atol=1e-8)  # kernel regression
    assert p.loss_train[0] == pytest.approx(0.5 * np.sum((f0 - y) ** 2))
    assert np.all(np.diff(p.loss_train) < 0)


def test_predict_gd_mse_matches_gradient_descent_of_a_wide_network():
    """Gradient descent of a real width-2048 one-hidden-layer net in the NTK parameterisation vs
    the linearised prediction with its empirical NTK at initialisation (error O(1/sqrt(M)))."""
    from statmech_nn import _core

    d, n, M, sw, sb, seed = 5, 6, 2048, 2.0, 0.1, 7
    rng0 = np.random.default_rng(1)
    x = rng0.standard_normal((n + 2, d))
    y = rng0.standard_normal(n)
    emp = ntk.empirical(x[:n], x, "erf", 1, sw, sb, width=M, seeds=[seed])
    _, Ws, bs = _core._testing.network_sample([d, M, 1], 1, sw, sb, "gaussian", seed)  # the engine's network
    # NTK parameters: omega = W sqrt(fan_in)/sigma_w, beta = b / sigma_b.
    w1 = Ws[0] * np.sqrt(d / sw)
    b1 = bs[0] / np.sqrt(sb)
    w2 = Ws[1][0] * np.sqrt(M / sw)
    b2 = bs[1][0] / np.sqrt(sb)
    from scipy.special import erf

    def fwd(xx):
        u = np.sqrt(sw / d) * xx @ w1.T + np.sqrt(sb) * b1
        h = erf(u / np.sqrt(2))
        return u, h, np.sqrt(sw / M) * h @ w2 + np.sqrt(sb) * b2

    f_init = fwd(x)[2]
    np.testing.assert_allclose(f_init, np.concatenate([emp.f1[0, :, 0], emp.f2[0, n:, 0]]), rtol=1e-10)
    dt, steps = 0.01, 150
    for _ in range(steps):
        u, h, f = fwd(x[:n])
        r = f - y                                        # dL/df for L = 1/2 sum (f - y)^2
        dphi = np.sqrt(2 / np.pi) * np.exp(-0.5 * u * u)
        gw2 = np.sqrt(sw / M) * h.T @ r
        gb2 = np.sqrt(sb) * r.sum()
        du = (r[:, None] * np.sqrt(sw / M) * w2[None, :]) * dphi
        gw1 = np.sqrt(sw / d) * du.T @ x[:n]
        gb1 = np.sqrt(sb) * du.sum(0)
        w1 -= dt * gw1
        b1 -= dt * gb1
        w2 -= dt * gw2
        b2 -= dt * gb2
    f_gd = fwd(x)[2]
    p = ntk.predict_gd_mse(emp.ntk[0][:, :n], y, dt * steps, eta=1.0, ntk_test_train=emp.ntk[0][:, :].T[n:],
                           f0_train=f_init[:n], f0_test=f_init[n:])
    # Euler with dt = 0.01 (dt * lambda_max ~ 0.05: ~1 % discretisation) plus O(1/sqrt(M)) drift.
    scale = np.max(np.abs(y))
    np.testing.assert_allclose(f_gd[:n], p.f_train, atol=0.03 * scale)
    np.testing.assert_allclose(f_gd[n:], p.f_test, atol=0.03 * scale)
    # The network has actually learned (the comparison is not trivially at f_0).
    assert np.max(np.abs(f_gd[:n] - f_init[:n])) > 0.3 * scale


@pytest.mark.parametrize("call,exc,word", [
    (lambda: ntk.kernels(np.ones((2, 3)), np.ones((2, 4))), ValueError, "x2"),
    (lambda: ntk.kernels(np.ones((2, 3)), parameterization="mup"), ValueError, "parameterization"),
    (lambda: ntk.kernels(np.ones((2, 3)), parameterization="standard"), ValueError, "width"),
    (lambda: ntk.kernels(np.ones((2, 3)), depth=-1), ValueError, "depth"),
    (lambda: ntk.kernels(np.ones((2, 3)), sigma_w2=0.0), ValueError, "sigma_w2"),
    (lambda: ntk.kernels([[1.0, np.nan]]), ValueError, "x1"),
    (lambda: ntk.kernels("abc"), TypeError, "x1"),
    (lambda: ntk.kernels(np.ones((2, 3)), activation="sine"), ValueError, "activation"),
    (lambda: ntk.kernels(np.ones((2, 3)), return_layers=1), TypeError, "return_layers"),
    (lambda: ntk.kernels(np.ones((2, 3)), divergence_bound="big"), TypeError, "divergence_bound"),
    (lambda: ntk.kernels(np.ones((2, 3)), parameterization="standard", width=3, width_ratios=[[1.0]]),
     ValueError, "width_ratios"),
    (lambda: ntk.predict_gd_mse(np.array([[1.0, 2.0], [2.0, 1.0]]), [1.0, 2.0], 1.0), ValueError, "ntk_train_train"),
    (lambda: ntk.predict_gd_mse(np.eye(2), [1.0, 2.0, 3.0], 1.0), ValueError, "y_train"),
    (lambda: ntk.predict_gd_mse(np.eye(2), [1.0, 2.0], -1.0), ValueError, "t"),
    (lambda: ntk.predict_gd_mse(np.eye(2), [1.0, 2.0], 1.0, eta=0.0), ValueError, "eta"),
    (lambda: ntk.predict_gd_mse(np.eye(2), [1.0, 2.0], 1.0, ntk_test_train=np.ones((3, 3))), ValueError,
     "ntk_test_train"),
    (lambda: ntk.empirical(np.ones((2, 3)), width=0), ValueError, "width"),
    (lambda: ntk.empirical(np.ones((2, 3)), n_outputs=2.5), TypeError, "n_outputs"),
])
def test_bad_input(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_results_do_not_depend_on_thread_count():
    x = _inputs(5)
    a = ntk.kernels(x, None, "tanh", 2, 1.5, 0.1, num_threads=1)
    b = ntk.kernels(x, None, "tanh", 2, 1.5, 0.1, num_threads=2)
    np.testing.assert_array_equal(a.ntk, b.ntk)
    np.testing.assert_array_equal(a.nngp, b.nngp)
    # equal norms (the Mehler-series path) and the read-out-only (pair-major) loop
    xe = np.stack([x[0] * s for s in ([1, -1, 1, 1, -1, 1, 1, -1], [-1, -1, 1, 1, 1, 1, -1, 1], [1] * 8)])
    for store in (True, False):
        a = ntk.kernels(xe, None, "gelu", 3, 1.5, 0.1, num_threads=1, return_layers=store)
        b = ntk.kernels(xe, None, "gelu", 3, 1.5, 0.1, num_threads=2, return_layers=store)
        np.testing.assert_array_equal(a.ntk, b.ntk)
        np.testing.assert_array_equal(a.nngp, b.nngp)
        np.testing.assert_array_equal(a.ntk, a.ntk.T)


def test_single_input_and_one_row():
    k = ntk.kernels([1.0, 2.0, 3.0], None, "erf", 1, 2.0, 0.1)
    assert k.ntk.shape == (1, 1) and np.isfinite(k.ntk).all()


def test_divergence_is_a_status_with_the_layer():
    x = _inputs()
    k = ntk.kernels(x, None, "relu", 1000, 4.0, 0.0, return_layers=True)
    # relu at sigma_w2 = 4: Sigma^l = 2^(l-1) Sigma^1, past 1e8 Sigma^1 at l = 28
    assert k.status == "diverged" and not k.ok and k.stop_layer == 28
    assert np.all(np.isfinite(k.nngp_layers[:27])) and np.all(np.isnan(k.nngp_layers[27:]))
    assert np.all(np.isnan(k.nngp)) and np.all(np.isnan(k.ntk))
    np.testing.assert_allclose(np.diagonal(k.nngp_layers[26]), 2.0 ** 26 * np.diagonal(k.nngp_layers[0]),
                               rtol=1e-13)
    # without a bound: float64 overflow near layer 1000 * log(2) / log(2) ~ 1020
    k = ntk.kernels(x, None, "relu", 1100, 4.0, 0.0, divergence_bound=np.inf)
    assert k.status == "diverged" and 500 < k.stop_layer <= 1101 and k.nngp_layers is None
    ok = ntk.kernels(x, None, "tanh", 1000, 4.0, 0.0)
    assert ok.status == "ok" and np.all(np.isfinite(ok.ntk))
    with pytest.raises(ValueError, match="divergence_bound"):
        ntk.kernels(x, None, "relu", 3, divergence_bound=1.0)


def test_return_layers_false_gives_the_same_read_out():
    x = _inputs()
    for act in ("relu", "tanh", "gelu"):
        a = ntk.kernels(x, None, act, 3, 1.7, 0.2, return_layers=True)
        b = ntk.kernels(x, None, act, 3, 1.7, 0.2)
        np.testing.assert_array_equal(a.nngp, b.nngp)
        np.testing.assert_array_equal(a.ntk, b.ntk)
        assert b.nngp_layers is None and b.ntk_layers is None


def test_width_ratios_of_the_standard_parameterisation():
    x = _inputs()
    base = ntk.kernels(x, None, "relu", 2, 2.0, 0.1, parameterization="standard", width=100, return_layers=True)
    same = ntk.kernels(x, None, "relu", 2, 2.0, 0.1, parameterization="standard", width=100,
                       width_ratios=[1.0, 1.0])
    np.testing.assert_array_equal(base.ntk, same.ntk)
    r = ntk.kernels(x, None, "relu", 2, 2.0, 0.1, parameterization="standard", width=100, width_ratios=[0.5, 3.0],
                    return_layers=True)
    # Theta^{l+1} = M_l <phi phi>(Lambda^l) + 1 + dSigma^{l+1} Theta^l with M_1 = 50, M_2 = 300
    S, T = base.nngp_layers, r.ntk_layers
    i2 = [(S[l + 1] - 0.1) / 2.0 for l in range(2)]            # <phi phi> at hidden layers 1, 2
    th = x @ x.T + 1.0
    j2 = []
    for l in range(2):
        q = np.sqrt(np.diag(S[l]))
        c = np.clip(S[l] / np.outer(q, q), -1, 1)
        j2.append((np.pi - np.arccos(c)) / (2 * np.pi))
    for l, m in enumerate((50.0, 300.0)):
        th = m * i2[l] + 1.0 + 2.0 * j2[l] * th
    np.testing.assert_allclose(T[-1], th, rtol=1e-7)
    with pytest.raises(ValueError, match="width_ratios"):
        ntk.kernels(x, None, "relu", 2, parameterization="standard", width=10, width_ratios=[1.0])
    with pytest.raises(ValueError, match="width_ratios"):
        ntk.kernels(x, None, "relu", 2, width_ratios=[1.0, 1.0])


def test_kernel_results_follow_the_protocol(tmp_path):
    import statmech_nn as sn

    x = _inputs()
    k = ntk.kernels(x, None, "tanh", 2, 1.5, 0.1, return_layers=True)
    p = ntk.predict_gd_mse(k.ntk, np.arange(6.0), [0.0, 1.0, np.inf])
    for res in (k, p):
        assert res.status == "ok" and res.ok and len(repr(res)) < 2000
        back = sn.load(res.save(tmp_path / type(res).__name__))
        assert type(back) is type(res) and back.status == "ok"
    np.testing.assert_array_equal(sn.load(k.save(tmp_path / "k")).ntk_layers, k.ntk_layers)
