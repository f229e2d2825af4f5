"""The committee simulator's SGD steps replayed exactly in NumPy.

With explicit initial weights J0, B0 and the simulator's own random stream
(`_core._testing.normal_lanes`: step s of a b = 1 run draws its sample from the interleaved lanes
seeded by stream 2 + (s - 1), then the output noise from that stream), a few steps of the microscopic update are recomputed here from
the model's definition (Saad & Solla 1995; batch normalisation as in Takagi, Yoshida & Okada):

    xhat_i = c_i J_i . xi,  c_i = 1 or g_i / (sigma |J_i|),  err = v^T phi(B xi) + zeta - w^T phi(xhat)
    delta_i = phi'(xhat_i) w_i . err
    J_i += eta / N c_i delta_i xi                      (and, with the full gradient, J_i *= 1 - eta/N c_i delta_i x_i / |J_i|^2 first)
    g_i += eta / N delta_i x_i / (sigma |J_i|),  w += eta_w / N phi(xhat) err^T

and compared with the recorded overlaps to 1e-12 relative. This pins down the fused b = 1 step.
"""

import numpy as np
import pytest
from scipy.special import erf

from statmech_nn import _core, committee


def _phi(x):
    return erf(x / np.sqrt(2.0))


def _dphi(x):
    return np.sqrt(2.0 / np.pi) * np.exp(-0.5 * x * x)


def _replay(J, B, w, v, g, eta, eta_w, sigma, noise, norm, seed, steps):
    N = J.shape[1]
    O = v.shape[1]
    J, w, g = J.copy(), w.copy(), g.copy()
    out = []
    for s in range(1, steps + 1):
        z = _core._testing.normal_lanes(seed, 2 + (s - 1), N, then=O if noise > 0 else 0)
        xi = sigma * z[:N]
        qd = np.sum(J * J, axis=1)
        c = np.ones(len(J)) if norm == "none" else g / (sigma * np.sqrt(qd))
        x = J @ xi
        xh = c * x
        err = _phi(B @ xi) @ v
        if noise > 0:
            err = err + noise * z[N:]
        err = err - _phi(xh) @ w
        delta = _dphi(xh) * (w @ err)
        a = eta / N
        if norm != "none":
            g = g + a * delta * x / (sigma * np.sqrt(qd))
        if norm == "batchnorm_full":
            J = J * (1.0 - a * c * delta * x / qd)[:, None]
        J = J + (a * c * delta)[:, None] * xi[None, :]
        w = w + (eta_w / N) * np.outer(_phi(xh), err)
        out.append((J @ J.T, J @ B.T, g.copy(), w.copy()))
    return out


@pytest.mark.parametrize("norm,eta_w,noise,O", [("none", 0.0, 0.0, 1), ("none", 0.6, 0.3, 2),
                                                ("batchnorm", 0.0, 0.0, 1), ("batchnorm_full", 0.4, 0.2, 1)])
def test_single_sample_steps_replayed(norm, eta_w, noise, O):
    N, K, M, steps, seed = 60, 3, 2, 6, 5
    rng = np.random.default_rng(1)
    J0 = rng.standard_normal((K, N)) / np.sqrt(N)
    B0 = rng.standard_normal((M, N)) / np.sqrt(N)
    w = rng.uniform(0.5, 1.5, (K, O))
    v = rng.uniform(0.5, 1.5, (M, O))
    g0 = np.array([0.7, 1.3, 1.0])
    kw = dict(w=w, v=v, batch_size=1, sigma=1.3, t=np.arange(steps + 1) / N, seeds=[seed], eta_w=eta_w, noise=noise,
              J0=J0, B0=B0)
    if norm != "none":
        kw.update(batchnorm=True, g0=g0, bn_gradient="full" if norm == "batchnorm_full" else "fixed_std")
    sim = committee.simulate(N, K, M, 2.0, **kw)
    assert sim.status == "ok"
    ref = _replay(J0, B0, w, v, g0 if norm != "none" else np.ones(K), 2.0, eta_w, 1.3, noise, norm, seed, steps)
    for s, (Q, R, g, ww) in enumerate(ref, start=1):
        np.testing.assert_allclose(sim.Q[0, s], Q, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(sim.R[0, s], R, rtol=1e-12, atol=1e-14)
        if norm != "none":
            np.testing.assert_allclose(sim.g[0, s], g, rtol=1e-12)
        if eta_w > 0:
            np.testing.assert_allclose(np.asarray(sim.w[0, s]).reshape(K, O), ww, rtol=1e-12)
    # the steps moved the state (the comparison is not of the initial state with itself)
    assert np.max(np.abs(sim.Q[0, -1] - J0 @ J0.T)) > 1e-4


def test_single_sample_steps_replayed_over_several_blocks():
    # N spans two blocks of the fused pass (2048 columns each) and a tail that is not a multiple of 16
    N, K, M, steps, seed = 2 * 2048 + 37, 2, 3, 4, 11
    rng = np.random.default_rng(2)
    J0 = rng.standard_normal((K, N)) / np.sqrt(N)
    B0 = rng.standard_normal((M, N)) / np.sqrt(N)
    w, v = np.ones((K, 1)), np.ones((M, 1))
    sim = committee.simulate(N, K, M, 1.5, batch_size=1, t=np.arange(steps + 1) / N, seeds=[seed], J0=J0, B0=B0)
    ref = _replay(J0, B0, w, v, np.ones(K), 1.5, 0.0, 1.0, 0.0, "none", seed, steps)
    for s, (Q, R, _, _) in enumerate(ref, start=1):
        np.testing.assert_allclose(sim.Q[0, s], Q, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(sim.R[0, s], R, rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(sim.Q[0, -1] - J0 @ J0.T)) > 1e-6


def test_single_sample_pass_is_bitwise_the_same_on_every_instruction_set():
    # the b = 1 pass has SSE2, AVX2 and AVX-512 builds; each must give the baseline's bits
    best = _core._testing.closed_form_rows_isa()
    if best == 0:
        pytest.skip("this processor has neither AVX2 nor AVX-512: only the scalar build runs")
    kw = dict(batch_size=1, t=np.linspace(0, 3, 4), seeds=[3, 4], batchnorm=True, bn_gradient="full", num_threads=1)
    try:
        runs = []
        for level in range(best + 1):
            assert _core._testing.closed_form_rows_isa(level) == level
            runs.append(committee.simulate(2 * 2048 + 37, 3, 2, 1.0, **kw))
    finally:
        _core._testing.closed_form_rows_isa()
    for r in runs[1:]:
        assert r.status == "ok"
        np.testing.assert_array_equal(r.Q, runs[0].Q)
        np.testing.assert_array_equal(r.R, runs[0].R)
        np.testing.assert_array_equal(r.g, runs[0].g)
