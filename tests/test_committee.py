"""Soft committee machine: ODEs vs the microscopic drift, ODEs vs simulation, bad input.

Tolerances. A simulated overlap deviates from its N = infinity trajectory by O(1/sqrt(N)): each
of the t*N steps adds a random increment of size O(1/N), so the accumulated noise after time t is
~ sqrt(t/N) times an O(1) rate (smaller for mini-batches), and the finite-N drift corrections are
O(1/N). We compare run for run (the ODE starts from each run's own measured Q0, R0, T), so the
initial-condition scatter does not count. The bounds below are ~4-6 / sqrt(N) in absolute terms;
the model errors they must catch (a missing 1/b, a dropped (g_i sqrt Q_jj)/(g_j sqrt Q_ii) factor)
are O(1) effects, several times larger (asserted where it matters).
"""

import numpy as np
import pytest

from statmech_nn import committee
from statmech_nn.gaussian import activation as act_fn


# ---- ODE right-hand side vs a direct Monte-Carlo average of the microscopic update -------------

def _drift_mc(Q, R, T, eta, w, v, b, sigma, act, g=None, full=False, noise=0.0, eta_w=0.0, n=400_000, seed=1):
    """E[Delta Q_ij] N, E[Delta R_in] N, E[Delta g_i] N, E[Delta w] N per SGD step (N -> inf) by sampling
    the raw fields (x, y) ~ N(0, sigma^2 [[Q, R], [R^T, T]]) and applying the update rule."""
    K, M = R.shape
    rng = np.random.default_rng(seed)
    C = sigma**2 * np.block([[Q, R], [R.T, T]])
    z = rng.multivariate_normal(np.zeros(K + M), C, size=n, method="eigh")
    x, y = z[:, :K], z[:, K:]
    c = np.ones(K) if g is None else g / (sigma * np.sqrt(np.diag(Q)))
    xh = x * c
    t_out = act_fn(act, y) @ v
    s_out = act_fn(act, xh) @ w
    err = t_out - s_out
    zeta = noise * rng.standard_normal(err.shape)
    dphi = act_fn(act, xh, derivative=1)
    delta = dphi * (err @ w.T)                    # (n, K) without noise
    delta_noisy = dphi * ((err + zeta) @ w.T)
    # first-order: c_i delta_i (x_j - [full] x_i Q_ij / Q_ii)
    dQ = np.empty((K, K))
    for i in range(K):
        for j in range(K):
            ai = c[i] * delta[:, i] * (x[:, j] - (x[:, i] * Q[i, j] / Q[i, i] if full else 0))
            aj = c[j] * delta[:, j] * (x[:, i] - (x[:, j] * Q[i, j] / Q[j, j] if full else 0))
            dQ[i, j] = eta * np.mean(ai + aj) + eta**2 * sigma**2 * c[i] * c[j] * np.mean(
                delta_noisy[:, i] * delta_noisy[:, j]) / b
    dR = np.empty((K, M))
    for i in range(K):
        for m in range(M):
            dR[i, m] = eta * c[i] * np.mean(delta[:, i] * (y[:, m] - (x[:, i] * R[i, m] / Q[i, i] if full else 0)))
    dg = None if g is None else eta * np.mean(delta * x, axis=0) / (sigma * np.sqrt(np.diag(Q)))
    dw = eta_w * (act_fn(act, xh).T @ err) / n
    eg = 0.5 * np.mean(np.sum(err**2, axis=1))
    return dQ, dR, dg, dw, eg


def _random_state(K, M, seed, scales=None):
    rng = np.random.default_rng(seed)
    N = 40
    J = rng.standard_normal((K, N)) / np.sqrt(N)
    B = rng.standard_normal((M, N)) / np.sqrt(N)
    J[0] += 0.6 * B[0]
    if scales is not None:
        J = J * np.asarray(scales)[:, None]
    return J @ J.T, J @ B.T, B @ B.T


CASES = {
    "plain_erf": dict(K=2, M=2, O=1, act="erf", b=1, sigma=1.0),
    "plain_K3M2_relu_sigma": dict(K=3, M=2, O=1, act="relu", b=10, sigma=0.7),
    "linear_O2": dict(K=2, M=3, O=2, act="linear", b=4, sigma=1.3),
    "bn_unequal": dict(K=2, M=2, O=1, act="erf", b=1, sigma=1.5, g=[0.5, 1.7], scales=[0.4, 2.0]),
    "bn_full_relu_O2": dict(K=3, M=2, O=2, act="relu", b=3, sigma=0.8, g=[1.2, 0.6, 2.0], scales=[1.5, 0.5, 1.0],
                            full=True),
    "noise_trained_w": dict(K=2, M=2, O=1, act="erf", b=2, sigma=1.0, noise=0.5, eta_w=0.7),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_derivatives_match_microscopic_drift(name):
    p = CASES[name]
    K, M, O = p["K"], p["M"], p["O"]
    Q, R, T = _random_state(K, M, seed=len(name), scales=p.get("scales"))
    rng = np.random.default_rng(7)
    w = 0.5 + rng.random((K, O))
    v = 0.5 + rng.random((M, O))
    eta = 0.8
    g = np.asarray(p["g"]) if "g" in p else None
    full = p.get("full", False)
    mc = _drift_mc(Q, R, T, eta, w, v, p["b"], p["sigma"], p["act"], g=g, full=full, noise=p.get("noise", 0.0),
                   eta_w=p.get("eta_w", 0.0))
    d = committee.derivatives(Q, R, T, eta, w, v, batch_size=p["b"], batchnorm=g is not None, g=g,
                              sigma=p["sigma"], activation=p["act"], bn_gradient="full" if full else "fixed_std",
                              noise=p.get("noise", 0.0), eta_w=p.get("eta_w", 0.0))
    # Monte-Carlo standard errors with 4e5 samples are ~ 2e-3 x the scale of the integrands.
    scale = 1.0 + np.max(np.abs(mc[0]))
    np.testing.assert_allclose(d["Q"], mc[0], atol=0.01 * scale)
    np.testing.assert_allclose(d["R"], mc[1], atol=0.01 * scale)
    if g is not None:
        np.testing.assert_allclose(d["g"], mc[2], atol=0.01 * scale)
    np.testing.assert_allclose(d["w"], mc[3], atol=0.01 * scale)
    assert d["eg"] == pytest.approx(mc[4], rel=0.01, abs=1e-3)


def test_generalisation_error_closed_form_erf():
    # Saad & Solla: eg = (1/pi) [sum_ik asin(Q_ik/sqrt((1+Q_ii)(1+Q_kk))) + sum_nm asin(T..) - 2 sum_in asin(R..)]
    Q, R, T = _random_state(3, 2, seed=3)
    ref = 0.0
    for i in range(3):
        for k in range(3):
            ref += np.arcsin(Q[i, k] / np.sqrt((1 + Q[i, i]) * (1 + Q[k, k])))
    for n in range(2):
        for m in range(2):
            ref += np.arcsin(T[n, m] / np.sqrt((1 + T[n, n]) * (1 + T[m, m])))
    for i in range(3):
        for n in range(2):
            ref -= 2 * np.arcsin(R[i, n] / np.sqrt((1 + Q[i, i]) * (1 + T[n, n])))
    assert committee.generalisation_error(Q, R, T) == pytest.approx(ref / np.pi, rel=1e-12)
