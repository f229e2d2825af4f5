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


# ---- ODE vs simulation, run for run -------------------------------------------------------------

def _overlay(sim, **ode_kwargs):
    """Largest deviation |ODE - simulation| over seeds and times for Q, R, g and eg."""
    dev = {"Q": 0.0, "R": 0.0, "g": 0.0, "eg": 0.0}
    for s in range(len(sim.seeds)):
        o = committee.ode(**sim.initial_state(s), t=sim.t, **ode_kwargs)
        assert o.status == "ok"
        dev["Q"] = max(dev["Q"], float(np.max(np.abs(o.Q - sim.Q[s]))))
        dev["R"] = max(dev["R"], float(np.max(np.abs(o.R - sim.R[s]))))
        dev["eg"] = max(dev["eg"], float(np.max(np.abs(o.eg - sim.eg[s]))))
        if o.g is not None:
            dev["g"] = max(dev["g"], float(np.max(np.abs(o.g - sim.g[s]))))
    return dev


OVERLAYS = {
    # name: (simulate kwargs, tolerance in units of 1/sqrt(N) for Q, R, g; eg)
    "plain_K2M2_b1": dict(N=2000, K=2, M=2, eta=1.0, t=np.linspace(0, 8, 17), seeds=[1, 2]),
    "plain_K3M2_b10_sigma": dict(N=1000, K=3, M=2, eta=1.5, batch_size=10, sigma=0.8, t=np.linspace(0, 6, 13),
                                 seeds=[3]),
    "bn_unequal_b1": dict(N=2000, K=2, M=2, eta=1.0, batchnorm=True, g0=[0.5, 1.6], student_scale=[0.5, 2.0],
                          sigma=1.5, t=np.linspace(0, 8, 17), seeds=[4, 5]),
    "bn_unequal_b16_O2": dict(N=1000, K=2, M=2, eta=1.0, w=[[1.0, 0.5], [0.3, 1.0]], v=[[1.0, 0.0], [0.2, 1.0]],
                              batchnorm=True, g0=[2.0, 0.7], student_scale=[1.8, 0.6], batch_size=16,
                              t=np.linspace(0, 5, 11), seeds=[6]),
}


@pytest.mark.parametrize("name", sorted(OVERLAYS))
def test_ode_matches_simulation(name):
    kw = dict(OVERLAYS[name])
    sim = committee.simulate(**kw)
    assert sim.status == "ok"
    N = kw.pop("N")
    for key in ("K", "M", "t", "seeds", "student_scale", "g0"):
        kw.pop(key, None)
    dev = _overlay(sim, **kw)
    print(name, {k: v * np.sqrt(N) for k, v in dev.items()})
    # O(1/sqrt N) fluctuations: over t <= 8 the measured run-to-run scatter is ~1-2.5 / sqrt(N).
    tol = 4.0 / np.sqrt(N)
    assert dev["Q"] < tol and dev["R"] < tol and dev["g"] < tol
    assert dev["eg"] < 2.0 / np.sqrt(N)


def test_batch_size_scales_the_second_order_term():
    # eta = 2 makes the eta^2 sigma^2 P / b term O(1): the ODE with the simulation's b must match,
    # the ODE with b = 1 must not (its deviation is measured at > 30 / sqrt(N)).
    N = 1000
    sims = {b: committee.simulate(N, 2, 2, 2.0, batch_size=b, t=np.linspace(0, 3, 7), seeds=[11]) for b in (1, 8)}
    for b, sim in sims.items():
        right = committee.ode(**sim.initial_state(0), eta=2.0, batch_size=b, t=sim.t)
        wrong = committee.ode(**sim.initial_state(0), eta=2.0, batch_size=9 - b, t=sim.t)
        assert np.max(np.abs(right.Q - sim.Q[0])) < 4.0 / np.sqrt(N)
        assert np.max(np.abs(wrong.Q - sim.Q[0])) > 10.0 / np.sqrt(N)


def test_simulation_does_not_depend_on_thread_count():
    kw = dict(N=300, K=2, M=2, eta=1.0, batch_size=40, batchnorm=True, t=np.linspace(0, 0.5, 3), test_samples=50)
    for seeds in ([5], [5, 6, 7]):
        a = committee.simulate(**kw, seeds=seeds, num_threads=1)
        b = committee.simulate(**kw, seeds=seeds, num_threads=2)
        np.testing.assert_array_equal(a.Q, b.Q)
        np.testing.assert_array_equal(a.g, b.g)
        np.testing.assert_array_equal(a.eg_mc, b.eg_mc)
    # the same seed gives the same run whether alone or among others
    np.testing.assert_array_equal(committee.simulate(**kw, seeds=[6]).Q[0], b.Q[1])


def test_monte_carlo_test_error_matches_analytic():
    sim = committee.simulate(500, 2, 3, 1.0, t=[0.0, 1.0], seeds=[2], test_samples=20000, activation="relu")
    # 2e4 samples: relative standard error ~ 1-2 %.
    np.testing.assert_allclose(sim.eg_mc, sim.eg, rtol=0.06)


def test_ode_rhs_threads_identical():
    rng = np.random.default_rng(0)
    K = M = 10
    J = rng.standard_normal((K, 60)) / np.sqrt(60)
    B = rng.standard_normal((M, 60)) / np.sqrt(60)
    a = committee.ode(J @ J.T, J @ B.T, B @ B.T, 0.5, t=[0, 0.5], num_threads=1)
    b = committee.ode(J @ J.T, J @ B.T, B @ B.T, 0.5, t=[0, 0.5], num_threads=2)
    np.testing.assert_array_equal(a.Q, b.Q)


def test_divergence_is_a_status():
    o = committee.ode(np.eye(2), 0.1 * np.eye(2), np.eye(2), 6.0, activation="linear", t=50.0)
    assert o.status == "diverged"
    assert 0 < o.stop_time < 50 and np.all(np.isfinite(o.Q))
    s = committee.simulate(200, 2, 2, 6.0, activation="linear", t=np.linspace(0, 30, 31), seeds=[1, 2])
    assert s.status == "diverged" and list(s.seed_status) == ["diverged", "diverged"]
    assert np.all(s.stop_time < 30)
    # nothing beyond the divergence bound is recorded: finite values, then NaN
    assert np.all(np.isfinite(s.Q[:, 0])) and np.nanmax(np.abs(s.Q)) < 1e8
    assert np.all(np.isnan(s.Q[:, -1]))


def test_linear_network_fixed_point():
    # Linear SCM with w = v = 1: the student learns the teacher's sum; eg -> 0.
    o = committee.ode(np.eye(2), np.zeros((2, 2)) + 0.1, np.eye(2), 0.5, activation="linear", t=200.0)
    assert o.status == "ok" and o.eg[-1] < 1e-8


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=0.0), ValueError, "eta"),
    (dict(Q0=[[1, 2], [2, 1]], R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0), ValueError, "Q0"),
    (dict(Q0=[[1, 0.5], [0.4, 1]], R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0), ValueError, "Q0"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 3)), T=np.eye(2), eta=1.0), ValueError, "R0"),
    (dict(Q0=np.eye(2), R0=2 * np.eye(2), T=np.eye(2), eta=1.0), ValueError, "positive semidefinite"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, w=np.ones(3)), ValueError, "w"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, w=np.ones((2, 2))), ValueError, "outputs"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, batch_size=0), ValueError, "batch_size"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, batch_size=2.5), TypeError, "batch_size"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, batchnorm=True, g0=[1, -1]), ValueError, "g0"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, g0=[1, 1]), ValueError, "g0"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, sigma=0), ValueError, "sigma"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, activation="tanh"), ValueError, "activation"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, batchnorm="yes"), TypeError, "batchnorm"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, t=[0, 2, 1]), ValueError, "t"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, method="rk4", dt=-0.1), ValueError, "dt"),
    (dict(Q0=np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2), eta=1.0, noise=-1), ValueError, "noise"),
    (dict(Q0=np.zeros((0, 0)), R0=np.zeros((0, 2)), T=np.eye(2), eta=1.0), ValueError, "K"),
])
def test_ode_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        committee.ode(**kwargs)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(N=0), ValueError, "N"),
    (dict(K=0), ValueError, "K"),
    (dict(M=0), ValueError, "M"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(w=np.ones((2, 0))), ValueError, "O"),
    (dict(batchnorm=True, g0=0.0), ValueError, "g0"),
    (dict(sigma=-1.0), ValueError, "sigma"),
    (dict(seeds=[-1]), ValueError, "seeds"),
    (dict(t=[0.0, 0.001]), ValueError, "t"),
    (dict(t=[0.5, 1.0]), ValueError, "t"),
    (dict(J0=np.ones((2, 5))), ValueError, "J0"),
    (dict(J0=np.zeros((2, 50))), ValueError, "J0"),
    (dict(student_scale=[1.0, -1.0]), ValueError, "student_scale"),
    (dict(num_threads=0), ValueError, "num_threads"),
    (dict(activation="nope"), ValueError, "activation"),
])
def test_simulate_bad_input(kwargs, exc, word):
    base = dict(N=50, K=2, M=2, eta=1.0, t=[0.0, 0.1])
    base.update(kwargs)
    with pytest.raises(exc, match=word):
        committee.simulate(**base)
