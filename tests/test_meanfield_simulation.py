"""Mean-field theory against sampled deep networks (the microscopic twin).

Tolerances come from the finite-width fluctuations: in a layer of width M the measured
q^l = |u^l|^2/M has relative standard deviation sqrt(2/M) about its conditional mean, the cosine c^l
fluctuates by about (1 - c^2)/sqrt(M), and each per-layer gradient ratio |delta^{l-1}|^2/|delta^l|^2
by about 2/sqrt(M). Averaging over S samples divides these by sqrt(S); the tolerances below are
about 4-5 such standard errors (plus the O(1/M) bias of the finite network).
"""

import numpy as np
import pytest

import statmech_nn.meanfield as mf


def _cdf(name, sw2, sb2, L, weights, grid, q):
    """Theory CDF on `grid` of the eigenvalues conditioned on lambda >= grid[0] (trapezoid)."""
    d = mf.jacobian_spectrum(name, sw2, sb2, L, weights, x=grid, q=q)
    assert d.status == "ok"
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (d.density[1:] + d.density[:-1]) * np.diff(grid))])
    return cdf / cdf[-1]


CASES = [
    ("tanh", 0.9, 0.05, "ordered"),
    ("tanh", 2.5, 0.05, "chaotic"),
    ("erf", 1.0, 0.1, "ordered"),
    ("erf", 4.0, 0.1, "chaotic"),
    ("relu", 1.5, 0.2, "ordered"),
    ("relu", 2.4, 0.1, "chaotic"),
]


@pytest.mark.parametrize("name,sw2,sb2,phase", CASES)
def test_forward_q_and_c_through_depth_match_simulation(name, sw2, sb2, phase):
    M, S, L = 1000, 4, 12
    x1 = mf.chi1(name, sw2, sb2)
    assert (x1 > 1) == (phase == "chaotic")
    th = mf.forward(name, sw2, sb2, L, q_in=0.8, c_in=0.4)
    sim = mf.simulate(name, sw2, sb2, L, M, q_in=0.8, c_in=0.4, seeds=range(11, 11 + S), gradients=False)
    se_q = np.sqrt(2.0 / (M * S))
    rel = sim.q_a.mean(0) / th.q_a - 1
    # relu chaotic: q grows by ~sigma_w2/2 per layer and the relative errors add up along depth
    growth = np.sqrt(np.arange(1, L + 1)) if name == "relu" else 1.0
    assert np.all(np.abs(rel) < 5 * se_q * growth + 2.0 / M), rel
    rel_b = sim.q_b.mean(0) / th.q_b - 1
    assert np.all(np.abs(rel_b) < 5 * se_q * growth + 2.0 / M), rel_b
    se_c = (1 - th.c ** 2 + 0.05) / np.sqrt(M * S)
    assert np.all(np.abs(sim.c.mean(0) - th.c) < 5 * se_c * growth + 2.0 / M), sim.c.mean(0) - th.c
    # the two phases really are different: correlations approach 1 (order) or c* < 1 (chaos)
    if phase == "ordered":
        assert th.c[-1] > th.c[0]
    else:
        assert mf.c_star(name, sw2, sb2).c_star < 0.999 or name == "relu"


@pytest.mark.parametrize("name,sw2,sb2", [("tanh", 2.5, 0.05), ("tanh", 0.8, 0.05), ("relu", 2.2, 0.1),
                                          ("erf", 1.5, 0.02)])
def test_chi1_matches_measured_gradient_growth(name, sw2, sb2):
    M, S, L = 1000, 4, 12
    fp = mf.q_star(name, sw2, sb2)
    q_in = 0.5 if not np.isfinite(fp.q_star) else max((fp.q_star - sb2) / sw2, 1e-3)
    sim = mf.simulate(name, sw2, sb2, L, M, q_in=q_in, c_in=0.3, seeds=range(5, 5 + S))
    th = mf.backward(name, sw2, sb2, L, q_in=q_in)
    # per-layer log growth of |delta|^2 towards the input vs ln chi1(q^l)
    log_ratio = np.log(sim.q_grad[:, :-1] / sim.q_grad[:, 1:])
    measured = log_ratio.mean()
    predicted = np.log(th.chi1[:-1]).mean()
    se = 2.0 / np.sqrt(M * S * (L - 1))
    assert measured == pytest.approx(predicted, abs=5 * se + 1.0 / M)
    if np.isfinite(fp.q_star):
        assert predicted == pytest.approx(np.log(mf.chi1(name, sw2, sb2)), abs=1e-3)
    # whole profile (normalised at the output layer) and the weight gradients
    prof = sim.q_grad.mean(0) / sim.q_grad.mean(0)[-1]
    depth_from_out = np.arange(L, 0, -1) - 1
    tol = 5 * 2.0 / np.sqrt(M * S) * np.sqrt(depth_from_out + 1)
    assert np.all(np.abs(np.log(prof / th.q_grad)) < tol + 0.02)
    wg = sim.weight_grad.mean(0) / sim.q_grad.mean(0)[-1]
    assert np.all(np.abs(np.log(wg / th.weight_grad)) < tol + 0.05)


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("name,sw2,sb2", [("relu", 2.0, 0.0), ("tanh", 1.3, 0.02), ("hardtanh", 1.2, 0.02)])
def test_jacobian_moments_match_sampled_networks(name, sw2, sb2, weights):
    M, S, L = 200, 16, 4
    fp = mf.q_star(name, sw2, sb2)
    q = 1.0 if name == "relu" else fp.q_star
    q_in = 1.0 if name == "relu" else (q - sb2) / sw2
    sim = mf.simulate(name, sw2, sb2, L, M, q_in=q_in, weights=weights, seeds=range(3, 3 + S), gradients=False,
                      jacobian=True)
    ev = sim.jacobian_eigenvalues
    mean, var = mf.jacobian_moments(name, sw2, sb2, L, weights, q=q if name != "relu" else None)
    # The per-sample mean tr(JJ^T)/M is a product of L layer gains, each fluctuating by
    # O(1/sqrt(M)) (e.g. the number of active ReLUs), so it varies by ~sqrt(L/M) between samples:
    # compare with 4 standard errors of the sample mean (plus an O(L/M) finite-width bias).
    per_sample = ev.mean(axis=1)
    se = per_sample.std(ddof=1) / np.sqrt(S)
    assert per_sample.mean() == pytest.approx(mean, abs=4 * se + mean * L / M)
    # The scale-free shape var/mean^2 = L (E phi'^4 / E phi'^2^2 - 1 + [Gaussian]) is insensitive
    # to those gains; its finite-width bias is O(L/M) relative.
    ratio = ev.var(axis=1) / ev.mean(axis=1) ** 2
    se_r = ratio.std(ddof=1) / np.sqrt(S)
    assert ratio.mean() == pytest.approx(var / mean ** 2, abs=4 * se_r + 3 * L / M * (var / mean ** 2 + 0.1))


@pytest.mark.parametrize("name,sw2,sb2,weights", [
    ("relu", 2.0, 0.0, "gaussian"),
    ("relu", 2.0, 0.0, "orthogonal"),
    ("tanh", 1.1, 0.01, "gaussian"),
    pytest.param("tanh", 1.1, 0.01, "orthogonal", marks=pytest.mark.slow),
])
def test_jacobian_spectral_density_matches_sampled_networks(name, sw2, sb2, weights):
    M, S, L = 400, 2, 5
    fp = mf.q_star(name, sw2, sb2)
    q = 1.0 if name == "relu" else fp.q_star
    q_in = 1.0 if name == "relu" else (q - sb2) / sw2
    sim = mf.simulate(name, sw2, sb2, L, M, q_in=q_in, weights=weights, seeds=range(7, 7 + S), gradients=False,
                      jacobian=True)
    r = mf.jacobian_spectrum(name, sw2, sb2, L, weights, x=[1.0], q=q if name != "relu" else None)
    # Each sample's overall gain fluctuates by O(sqrt(L/M)) (see the moments test): compare the
    # shapes, i.e. eigenvalues scaled by their sample's mean against the theory scaled by its mean.
    ev = sim.jacobian_eigenvalues
    ev = np.sort((ev / ev.mean(axis=1, keepdims=True) * r.mean).ravel())
    if name == "relu":  # the zero atom (mass fluctuating by ~1/(2 sqrt(M)) from layer to layer)
        assert np.mean(ev < 1e-9 * r.mean) == pytest.approx(r.atom_at_zero, abs=3 / np.sqrt(M))
    # Compare the law conditioned on lambda >= 1e-3 edge: below that, the singular density of
    # Gaussian products (~ x^(-L/(L+1))) is resolved only as M -> inf.
    grid = np.concatenate([np.geomspace(1e-3 * r.edge, 0.05 * r.edge, 200),
                           np.linspace(0.05 * r.edge, 1.05 * r.edge, 1500)[1:]])
    nz = ev[ev >= grid[0]]
    qq = None if name == "relu" else q
    cdf = _cdf(name, sw2, sb2, L, weights, grid, qq)
    emp = np.searchsorted(nz, grid, side="right") / nz.size
    ks = np.max(np.abs(emp - cdf))
    # eigenvalues of a random matrix are rigid: the KS distance to the limit law is O(1/M) plus
    # edge effects O(M^{-2/3}); 0.04 is ~3x what widths 400 give and far below model errors
    # (e.g. swapping Gaussian <-> orthogonal weights changes the law by > 0.1 here)
    assert ks < 0.04, ks
    cdf2 = _cdf(name, sw2, sb2, L, "orthogonal" if weights == "gaussian" else "gaussian", grid, qq)
    assert np.max(np.abs(emp - cdf2)) > 2 * ks


def test_simulation_is_thread_independent_and_seeded():
    a = mf.simulate("tanh", 1.5, 0.05, 5, 200, seeds=range(9, 9 + 3), jacobian=True, num_threads=1)
    b = mf.simulate("tanh", 1.5, 0.05, 5, 200, seeds=range(9, 9 + 3), jacobian=True, num_threads=2)
    for f in ("q_a", "q_b", "c", "q_grad", "weight_grad", "jacobian_eigenvalues"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    c = mf.simulate("tanh", 1.5, 0.05, 5, 200, seeds=range(20, 23), num_threads=2)
    assert not np.array_equal(a.q_a, c.q_a)
    o = mf.simulate("tanh", 1.5, 0.05, 3, 100, seeds=range(9, 9 + 2), weights="orthogonal", num_threads=2)
    o1 = mf.simulate("tanh", 1.5, 0.05, 3, 100, seeds=range(9, 9 + 2), weights="orthogonal", num_threads=1)
    np.testing.assert_array_equal(o.q_a, o1.q_a)


def test_simulated_input_pair_has_the_requested_geometry():
    sim = mf.simulate("linear", 1.0, 0.0, 1, 500, q_in=2.0, c_in=-0.3, seeds=range(1, 1 + 2), gradients=False)
    # layer 1 of a linear net: q^1 = sigma_w2 q_in within sqrt(2/M), c^1 = c_in within 1/sqrt(M)
    assert sim.q_a[:, 0] == pytest.approx(2.0, rel=5 * np.sqrt(2 / 500))
    assert sim.c[:, 0] == pytest.approx(-0.3, abs=5 / np.sqrt(500))


def test_orthogonal_hardtanh_top_atom_matches_sampled_networks():
    # With orthogonal weights, J J^T = sigma_w2^L exactly on the intersection of the layers'
    # linear-region subspaces: an atom of mass max(0, 1 - L P(|u| > 1)). Its sampled mass
    # fluctuates like the number of saturated units, ~sqrt(L p (1 - p) / M) per sample.
    w, b, L, M, S = 1.2, 0.02, 4, 300, 4
    q = mf.q_star("hardtanh", w, b).q_star
    r = mf.jacobian_spectrum("hardtanh", w, b, L, "orthogonal", x=[1.0])
    assert r.atom_at_edge == pytest.approx(w ** L)
    sim = mf.simulate("hardtanh", w, b, L, M, q_in=(q - b) / w, weights="orthogonal", seeds=range(1, 1 + S),
                      gradients=False, jacobian=True)
    frac = np.mean(np.abs(sim.jacobian_eigenvalues / r.atom_at_edge - 1) < 1e-8)
    p = 1 - r.atom_at_zero
    assert frac == pytest.approx(r.atom_at_edge_mass, abs=4 * np.sqrt(L * p * (1 - p) / (M * S)) + 1 / M)
