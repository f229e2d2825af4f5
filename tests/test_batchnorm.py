"""Batch-norm mean field (SPEC §3b): closed forms vs quadrature vs Monte Carlo, limits, theory vs
real deep BN networks, bad input."""

import math

import numpy as np
import pytest

import statmech_nn.batchnorm as bn
from statmech_nn import _core

FIELDS = ("phi2", "phi12", "dphi2", "dphi12", "dphix2", "dphix12")


def sphere_samples(B, n, rng):
    """x = BN(z) = sqrt(B) G z / |G z|, z ~ N(0, I_B): uniform on the sphere of radius sqrt(B) in 1-perp."""
    z = rng.normal(size=(n, B))
    z -= z.mean(axis=1, keepdims=True)
    return math.sqrt(B) * z / np.linalg.norm(z, axis=1, keepdims=True)


NUMPY_PHI = {
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    "linear": (lambda x: x, lambda x: np.ones_like(x)),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
}


# ---- closed forms vs quadrature vs Monte Carlo --------------------------------------------------

@pytest.mark.parametrize("activation,alpha", [("relu", 1.0), ("linear", 1.0), ("leaky_relu", 1.0), ("alpha_relu", 2.0),
                                              ("alpha_relu", 1.5)])
@pytest.mark.parametrize("B", [2, 3, 4, 5, 8, 33, 400])
def test_closed_form_equals_quadrature(activation, alpha, B):
    # Both are accurate to ~1e-13 (the quadrature's own n-vs-2n estimate is reported as `error`).
    cf = bn.sphere_moments(activation, B, slope=0.2, alpha=alpha, method="closed_form")
    qu = bn.sphere_moments(activation, B, slope=0.2, alpha=alpha, method="quadrature")
    assert cf["method"] == "closed_form" and qu["method"] == "quadrature"
    if alpha == 1.5:
        # phi' = 1.5 sqrt(x) has an infinite slope at 0: the quadrature converges only algebraically
        # (its own n-vs-2n estimate says ~1e-5), the closed form is exact.
        tol = 10 * qu["error"] + 1e-10
    else:
        assert qu["error"] < 1e-8
        tol = 1e-10
    for f in FIELDS:
        assert cf[f] == pytest.approx(qu[f], abs=tol, rel=1e-10), f


def test_arccos_kernel_and_c_alpha():
    # k_1(c) = (sqrt(1-c^2) + (pi - arccos c) c)/(2 pi); c_B(1) = (B-1)/2 Gamma((B-1)/2)/Gamma((B+1)/2) = 1.
    c = np.array([-1.0, -0.5, 0.0, 0.3, 1.0])
    k1 = (np.sqrt(1 - c**2) + (np.pi - np.arccos(c)) * c) / (2 * np.pi)
    assert np.allclose(bn.arccos_kernel(1.0, c), k1, rtol=1e-14, atol=1e-16)
    assert bn.arccos_kernel(0.0, 0.0) == pytest.approx(0.25)
    for B in (2, 5, 100):
        assert bn.c_alpha(B, 1.0) == pytest.approx(1.0, rel=1e-12)
        assert bn.c_alpha(B, 0.0) == pytest.approx(1.0, rel=1e-14)
    # E x1^4 on the sphere: x1 = sqrt(B-1) v, v one coordinate of a uniform unit vector in R^{B-1},
    # E v^4 = 3/((B-1)(B+1)), so E x1^4 = 3 (B-1)/(B+1) = c_B(2) * E y^4 with E y^4 = 3.
    B = 7
    assert bn.c_alpha(B, 2.0) * 3 == pytest.approx(3 * (B - 1) / (B + 1), rel=1e-12)
    with pytest.raises(ValueError, match="c"):
        bn.arccos_kernel(1.0, 1.5)


def test_identity_exact_values():
    # phi(x) = x: E x x^T = B G / (B - 1) exactly, and lambda_G = (B - 2)/(B - 3).
    for B in (4, 5, 9, 100):
        fp = bn.fixed_point("linear", B, 1.0, 0.0)
        assert fp.q_star == pytest.approx(1.0, rel=1e-13)
        assert fp.c_star == pytest.approx(-1.0 / (B - 1), rel=1e-12)
        assert bn.gradient_explosion_rate("linear", B) == pytest.approx((B - 2) / (B - 3), rel=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
@pytest.mark.parametrize("B", [4, 7])
def test_sphere_moments_vs_numpy_monte_carlo(activation, B):
    # Independent NumPy Monte Carlo over the sphere; n = 4e5 gives standard errors ~1e-3, bound 5 sigma.
    rng = np.random.default_rng(10 + B)
    x = sphere_samples(B, 400_000, rng)
    f, df = NUMPY_PHI[activation]
    samples = {
        "phi2": f(x[:, 0]) ** 2, "phi12": f(x[:, 0]) * f(x[:, 1]),
        "dphi2": df(x[:, 0]) ** 2, "dphi12": df(x[:, 0]) * df(x[:, 1]),
        "dphix2": (df(x[:, 0]) * x[:, 0]) ** 2, "dphix12": df(x[:, 0]) * x[:, 0] * df(x[:, 1]) * x[:, 1],
    }
    m = bn.sphere_moments(activation, B, method="quadrature")
    for k, s in samples.items():
        se = s.std() / math.sqrt(s.size)
        assert abs(m[k] - s.mean()) < 5 * se + 1e-12, k


@pytest.mark.parametrize("activation", ["erf", "gelu", "hardtanh", "swish"])
def test_quadrature_converges_other_activations(activation):
    for B in (3, 4, 6, 50):
        m = bn.sphere_moments(activation, B)
        assert m["method"] == "quadrature" and m["error"] < 1e-9
        fp = bn.fixed_point(activation, B, 1.7, 0.05)
        assert fp.status == "ok" and fp.ok


def test_arccos_kernel_general_alpha_vs_integer_closed_forms_and_mc():
    # The generic-alpha quadrature path (alpha = 1 +- 1e-9 is not special-cased) matches J_1, J_2.
    for c in (-0.9, -0.3, 0.0, 0.5, 0.95):
        for a in (1.0, 2.0):
            assert _core.batchnorm.arccos_kernel(a + 1e-9, c) == pytest.approx(_core.batchnorm.arccos_kernel(a, c), rel=1e-6)
    rng = np.random.default_rng(3)
    u, w = rng.normal(size=(2, 1_000_000))
    c = 0.4
    v = c * u + math.sqrt(1 - c * c) * w
    s = np.maximum(u, 0) ** 1.5 * np.maximum(v, 0) ** 1.5
    assert abs(_core.batchnorm.arccos_kernel(1.5, c) - s.mean()) < 5 * s.std() / 1000


@pytest.mark.parametrize("activation", ["relu", "linear", "leaky_relu"])
def test_laplace_covariance_map_vs_monte_carlo(activation):
    # General (non-BSB1) Sigma: deterministic Laplace quadrature vs C++ Monte Carlo (n = 3e5, the
    # maximum over B^2 entries of |difference| / standard error stays below 5).
    rng = np.random.default_rng(5)
    for B in (3, 6):
        A = rng.normal(size=(B, B + 1))
        S = A @ A.T / (B + 1) + 0.3
        V = bn.covariance_map(activation, S, 1.0, 0.0, slope=0.1)
        Vmc, err = _core._testing.batchnorm_v_monte_carlo(activation, 0.1, 1.0, S, 300_000, 7, 0)
        assert np.max(np.abs(V - Vmc) / err) < 5


def test_covariance_map_b2_and_bsb1_fixed_point():
    # B = 2: BN(h) = +-(1, -1) with P(+) = P(h1 > h2) = 1/2 -> E relu relu^T = [[1/2, 0], [0, 1/2]].
    S = np.array([[2.0, 0.3], [0.3, 0.5]])
    assert np.allclose(bn.covariance_map("relu", S, 1.0, 0.0), [[0.5, 0.0], [0.0, 0.5]], atol=1e-12)
    # The fixed point is a fixed point of the map (Laplace path for relu, sphere quadrature for tanh).
    for act in ("relu", "tanh", "leaky_relu"):
        fp = bn.fixed_point(act, 6, 1.5, 0.2)
        out, err, method = bn.covariance_map(act, fp.Sigma, 1.5, 0.2, return_error=True)
        assert method in ("laplace", "sphere_quadrature")
        assert np.max(np.abs(out - fp.Sigma)) < 1e-11


def test_covariance_trajectory_converges_to_bsb1():
    B = 6
    S0 = np.diag(np.arange(1.0, B + 1))
    traj = bn.covariance_trajectory("relu", S0, 60, 2.0, 0.1)
    fp = bn.fixed_point("relu", B, 2.0, 0.1)
    dist = np.max(np.abs(traj - fp.Sigma), axis=(1, 2))
    # geometric convergence (rate ~0.67 per layer here) down to the ~1e-11 accuracy of the map
    assert dist[1] > 1e-2 and dist[-1] < 1e-9
    ratio = dist[20:40] / dist[19:39]
    assert np.all(ratio < 0.9) and np.ptp(ratio) < 0.02


# ---- large-B limits ------------------------------------------------------------------------------

def gauss_mean(f, n=200):
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return float(np.sum(w * f(x)) / math.sqrt(2 * math.pi))


@pytest.mark.parametrize("activation", ["relu", "tanh", "erf"])
def test_large_batch_limit(activation):
    # x1 -> N(0,1) with O(1/B) corrections; lambda_G -> E phi'^2 / Var phi (pi/(pi-1) for ReLU).
    phis = {"relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
            "tanh": NUMPY_PHI["tanh"],
            "erf": (lambda x: np.vectorize(math.erf)(x / math.sqrt(2)), lambda x: math.sqrt(2 / math.pi) * np.exp(-x * x / 2))}
    phi, dphi = phis[activation]
    if activation == "relu":  # kink at 0: exact values
        e2, e1, ed2 = 0.5, 1 / math.sqrt(2 * math.pi), 0.5
    else:
        e2, e1, ed2 = gauss_mean(lambda x: phi(x) ** 2), gauss_mean(phi), gauss_mean(lambda x: dphi(x) ** 2)
    limit = ed2 / (e2 - e1 ** 2)
    if activation == "relu":
        assert limit == pytest.approx(math.pi / (math.pi - 1), rel=1e-14)
    assert bn.gradient_explosion_rate(activation, math.inf) == pytest.approx(limit, rel=1e-9)
    B = 20000
    fp = bn.fixed_point(activation, B, 1.3, 0.2)
    assert fp.q_star == pytest.approx(1.3 * e2 + 0.2, abs=20 / B)
    assert fp.q_star * fp.c_star == pytest.approx(1.3 * e1 ** 2 + 0.2, abs=20 / B)
    lam = bn.gradient_explosion_rate(activation, np.array([100, 1000, B]))
    assert np.all(np.abs(lam - limit) < 50 / np.array([100, 1000, B]))
    assert abs(lam[2] - limit) < abs(lam[0] - limit)


# ---- the backward operator: reduction formula and leading eigenvector -----------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_rate_vs_monte_carlo_of_backward_operator(activation):
    """lambda_G = B/((B-3) Var) * rho(T), T(Pi) = E[P D Pi D P], P = G - y y^T. Monte Carlo of the full
    (B^2 x B^2) operator T checks both the sphere reduction and that its leading eigenvector is G."""
    B = 5
    rng = np.random.default_rng(11)
    n = 200_000
    x = sphere_samples(B, n, rng)
    f, df = NUMPY_PHI[activation]
    y = x / math.sqrt(B)
    G = np.eye(B) - 1.0 / B
    P = G[None] - y[:, :, None] * y[:, None, :]
    PD = P * df(x)[:, None, :]
    T = np.einsum("nij,nkl->ikjl", PD, PD).reshape(B * B, B * B) / n  # vec(PD Pi D P) = T vec(Pi)
    T = 0.5 * (T + T.T)  # symmetric in the Frobenius inner product up to MC noise
    rho = np.linalg.eigvalsh(T)[-1]
    mu_G = (G.ravel() @ T @ G.ravel()) / (G.ravel() @ G.ravel())
    m = bn.sphere_moments(activation, B)
    lam = bn.gradient_explosion_rate(activation, B)
    var = m["phi2"] - m["phi12"]
    # MC relative error ~ 1/sqrt(n) ~ 2e-3 per entry; the leading eigenvalue is that of G within 1%.
    assert rho == pytest.approx(mu_G, rel=1e-2)
    assert B * mu_G / ((B - 3) * var) == pytest.approx(lam, rel=1e-2)


# ---- theory vs real deep BN networks ------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "linear", "tanh"])
@pytest.mark.parametrize("B", [6, 16])
def test_simulation_matches_fixed_point_and_gradient_rate(activation, B):
    """Width M = 800, depth 30, 3 seeds. Batch covariances average M neurons: per-layer relative
    fluctuations ~ sqrt(2/M) = 5%, averaged over 20 layers and 3 seeds ~ 0.5-1% (layers correlate), so
    3% on q* and 0.01 on c*. The log growth of |grad|^2 over 23 layers has a per-seed spread of
    ~1.5% (measured); the 3-seed mean is held to 5%."""
    sw2, sb2 = 2.0, 0.1
    fp = bn.fixed_point(activation, B, sw2, sb2)
    sim = bn.simulate(activation, B, 30, 800, sw2, sb2, seeds=[1, 2, 3], Sigma0=np.diag(np.linspace(0.5, 2, B)))
    assert sim.status == "ok" and list(sim.seed_status) == ["ok"] * 3
    assert sim.Sigma.shape == (3, 31, B, B)
    assert abs(sim.q[:, 10:].mean() / fp.q_star - 1) < 0.03
    assert abs(sim.c[:, 10:].mean() - fp.c_star) < 0.01
    # converged to the BSB1 form: off-diagonals equal, diagonals equal (within O(1/sqrt(M)) noise)
    S = sim.Sigma[:, 10:].mean(axis=(0, 1))
    off = S[~np.eye(B, dtype=bool)]
    # entries fluctuate by ~q sqrt(2/M) = 0.05 q per layer, and layers are correlated (the forward map
    # contracts at ~0.7 per layer), so the spread of the layer-averaged entries is held to 0.08 q
    # (Sigma0 itself has a spread of 0.5 q).
    assert np.std(off) < 0.08 * fp.q_star and np.std(np.diag(S)) < 0.08 * fp.q_star
    lam = bn.gradient_explosion_rate(activation, B)
    growth = np.exp(np.log(sim.growth_rate(5, 28)).mean())
    assert growth == pytest.approx(lam, rel=0.05)


def test_simulation_first_layer_matches_covariance_map():
    # Non-BSB1 input covariance, one layer: Sigma^1 = sigma_w2 V(Sigma^0) + sigma_b2 11^T up to
    # O(sqrt(2/M)) per entry; M = 2000 and 4 seeds -> ~1.6%; bound 5% of q.
    B = 5
    rng = np.random.default_rng(2)
    A = rng.normal(size=(B, B))
    S0 = A @ A.T / B + 0.2 * np.eye(B)
    sim = bn.simulate("relu", B, 1, 2000, 1.5, 0.3, seeds=range(4), Sigma0=S0)
    assert np.max(np.abs(sim.Sigma[:, 0].mean(axis=0) - S0)) < 0.05 * np.max(np.diag(S0))
    pred = bn.covariance_map("relu", S0, 1.5, 0.3)
    assert np.max(np.abs(sim.Sigma[:, 1].mean(axis=0) - pred)) < 0.05 * pred[0, 0]


def test_gradient_scale_invariance():
    # BN is scale invariant, so for homogeneous phi sigma_w2 changes no gradient ratio past layer 0.
    a = bn.simulate("tanh", 6, 12, 300, 1.0, 0.0, seeds=[4])
    b = bn.simulate("relu", 6, 12, 300, 1.0, 0.0, seeds=[4])
    assert np.all(np.isfinite(a.log_grad_norm2)) and np.all(np.isfinite(b.log_grad_norm2))
    # relu is homogeneous: scaling sigma_w2 changes nothing after the first BN (BN is scale invariant).
    c = bn.simulate("relu", 6, 12, 300, 4.0, 0.0, seeds=[4])
    # (layer 0 differs by log 4: dL/dh^0 = J^T(... W^1T delta^1) carries the factor 2 of W^1 once)
    rel_c = c.log_grad_norm2 - c.log_grad_norm2[:, -1:]
    rel_b = b.log_grad_norm2 - b.log_grad_norm2[:, -1:]
    assert np.allclose(rel_c[:, 1:], rel_b[:, 1:], rtol=0, atol=1e-8)
    assert rel_c[0, 0] - rel_b[0, 0] == pytest.approx(math.log(4.0), abs=1e-8)


def test_threads_do_not_change_results():
    kw = dict(seeds=[1, 2, 3], Sigma0=None)
    a = bn.simulate("tanh", 5, 6, 200, 1.5, 0.1, num_threads=1, **kw)
    b = bn.simulate("tanh", 5, 6, 200, 1.5, 0.1, num_threads=2, **kw)
    assert np.array_equal(a.Sigma, b.Sigma) and np.array_equal(a.log_grad_norm2, b.log_grad_norm2)
    # a single seed is split into fixed row blocks and run in parallel inside the seed
    a = bn.simulate("relu", 5, 4, 300, 1.5, 0.1, seeds=9, num_threads=1)
    b = bn.simulate("relu", 5, 4, 300, 1.5, 0.1, seeds=9, num_threads=2)
    assert np.array_equal(a.Sigma, b.Sigma) and np.array_equal(a.log_grad_norm2, b.log_grad_norm2)
    S = np.diag([1.0, 2.0, 3.0, 4.0])
    m1 = bn.covariance_map("tanh", S, n_samples=50_000, seed=3, num_threads=1)
    m2 = bn.covariance_map("tanh", S, n_samples=50_000, seed=3, num_threads=2)
    assert np.array_equal(m1, m2)


# ---- bad input ------------------------------------------------------------------------------------

def test_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        bn.fixed_point("relu", 1)
    with pytest.raises(TypeError, match="batch_size"):
        bn.fixed_point("relu", 4.5)
    with pytest.raises(ValueError, match="batch_size"):
        bn.gradient_explosion_rate("relu", 3)
    with pytest.raises(ValueError, match="batch_size"):
        bn.gradient_explosion_rate("tanh", 2)
    with pytest.raises(ValueError, match="batch_size"):
        bn.gradient_explosion_rate("relu", np.array([5, 3]))
    with pytest.raises(ValueError, match="sigma_w2"):
        bn.fixed_point("relu", 4, 0.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        bn.fixed_point("relu", 4, -1.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        bn.fixed_point("relu", 4, 1.0, -0.1)
    with pytest.raises(ValueError, match="activation"):
        bn.fixed_point("softplus", 4)
    with pytest.raises(TypeError, match="activation"):
        bn.fixed_point(None, 4)
    with pytest.raises(ValueError, match="method"):
        bn.fixed_point("tanh", 4, method="closed_form")
    with pytest.raises(ValueError, match="alpha"):
        bn.fixed_point("alpha_relu", 4, alpha=-1.0)
    with pytest.raises(ValueError, match="Sigma"):
        bn.covariance_map("relu", np.ones((3, 3)))  # G Sigma G = 0: BN undefined
    with pytest.raises(ValueError, match="Sigma"):
        bn.covariance_map("relu", np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="Sigma"):
        bn.covariance_map("relu", np.array([[1.0]]))
    with pytest.raises(ValueError, match="Sigma"):
        bn.covariance_map("relu", np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="width"):
        bn.simulate("relu", 4, 3, 0)
    with pytest.raises(ValueError, match="depth"):
        bn.simulate("relu", 4, 0, 10)
    with pytest.raises(ValueError, match="Sigma0"):
        bn.simulate("relu", 4, 3, 10, Sigma0=np.eye(3))
    with pytest.raises(ValueError, match="seeds"):
        bn.simulate("relu", 4, 3, 10, seeds=[-1])
    with pytest.raises(ValueError, match="num_threads"):
        bn.simulate("relu", 4, 3, 10, num_threads=0)


# ---- validation, vocabulary and the result protocol ------------------------------------------------

def test_bsb1_validates_every_argument():
    with pytest.raises(ValueError, match="q"):
        bn.bsb1(3, math.nan, 0.5)
    with pytest.raises(ValueError, match="c"):
        bn.bsb1(3, 1.0, math.nan)
    with pytest.raises(ValueError, match="c"):
        bn.bsb1(3, 1.0, -0.6)  # below -1/(B-1): not positive semidefinite
    with pytest.raises(ValueError, match="batch_size"):
        bn.bsb1(1, 1.0, 0.0)
    assert np.linalg.eigvalsh(bn.bsb1(3, 2.0, -0.5))[0] == pytest.approx(0.0, abs=1e-14)


def test_fixed_point_never_reports_nan_as_success():
    # alpha = 200: E max(x, 0)^400 overflows float64 -> a non-ok status, never a NaN marked "ok"
    fp = bn.fixed_point("alpha_relu", 4, alpha=200.0)
    assert not fp.ok and fp.status == "diverged"
    with pytest.raises(ValueError, match="alpha"):
        bn.gradient_explosion_rate("alpha_relu", 5, alpha=200.0)
    with pytest.raises(ValueError, match="alpha"):
        bn.covariance_map("alpha_relu", np.diag([1.0, 2.0, 3.0]), alpha=60.0)  # no silent NaN either
    for a in (1.0, 2.0, 50.0):
        fp = bn.fixed_point("alpha_relu", 4, alpha=a)
        assert fp.ok and np.isfinite(fp.q_star) and np.isfinite(fp.c_star)


def test_sizes_are_refused():
    with pytest.raises(ValueError, match="depth"):
        bn.covariance_trajectory("relu", np.eye(3), 10**9)
    with pytest.raises(ValueError, match="width"):
        bn.simulate("relu", 4, 2, 100_000)  # a 100000 x 100000 weight matrix is 80 GB
    with pytest.raises(ValueError, match="n_samples"):
        bn.covariance_map("tanh", np.diag([1.0, 2.0, 3.0]), n_samples=10**15)


def test_batch_size_vocabulary_and_deprecated_B():
    with pytest.warns(DeprecationWarning, match="batch_size"):
        fp = bn.fixed_point("relu", B=4)
    assert fp.batch_size == 4
    with pytest.warns(DeprecationWarning):
        assert fp.B == 4
    with pytest.warns(DeprecationWarning, match="batch_size"):
        sim = bn.simulate("relu", B=4, depth=2, width=20)
    assert sim.batch_size == 4 and sim.Sigma.shape == (1, 3, 4, 4)
    assert bn.sphere_moments("relu", 4)["phi2"] == bn.sphere_moments("relu", batch_size=4).phi2


def test_results_save_and_load(tmp_path):
    import statmech_nn as sn

    for res in (bn.fixed_point("tanh", 5, 1.5, 0.1), bn.sphere_moments("tanh", 5),
                bn.simulate("tanh", 4, 3, 30, 1.5, 0.1, seeds=[1, 2])):
        assert res.status in sn.STATUSES and res.ok and len(repr(res)) < 2000
        back = sn.load(res.save(tmp_path / type(res).__name__))
        assert type(back) is type(res) and back.status == res.status
        for k, v in res.to_dict().items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(getattr(back, k), v)
    sim = bn.simulate("tanh", 4, 3, 30, 1.5, 0.1, seeds=[1, 2])
    assert list(sim.seeds) == [1, 2] and list(sim.seed_status) == ["ok", "ok"] and list(sim.stop_layer) == [3, 3]


def test_c_alpha_against_mpmath_including_huge_degrees():
    # c_B(alpha) = ((B-1)/2)^alpha Gamma((B-1)/2) / Gamma((B-1)/2 + alpha); huge degrees underflow to
    # 0 (never inf/nan: alpha log h and lgamma(h + alpha) both overflow there).
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for B in (4, 5, 100, 4096):
        for alpha in (-0.4, 0.0, 0.5, 1.0, 2.0, 7.5, 50.0, 1e3, 1e14, 2e15, 1e100, 1.7976931348623157e308):
            h = mpmath.mpf(B - 1) / 2
            ref = mpmath.exp(alpha * mpmath.log(h) + mpmath.loggamma(h) - mpmath.loggamma(h + alpha))
            got = bn.c_alpha(B, alpha)
            if ref < mpmath.mpf("1e-300"):
                assert 0.0 <= got < 1e-290, (B, alpha, got)
            else:
                assert abs(got - float(ref)) <= 1e-12 * float(ref), (B, alpha, got, ref)
