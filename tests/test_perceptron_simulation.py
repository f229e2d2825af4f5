"""Microscopic SGD / weight-normalisation simulation of the perceptron against the ODE theory."""

import numpy as np
import pytest

import statmech_nn as sn

P = sn.perceptron

N = 2000
SEEDS = list(range(8))


@pytest.mark.parametrize("rule", ["sgd", "wn"])
@pytest.mark.parametrize("act", ["linear", "erf", "relu"])
def test_simulation_overlays_ode(rule, act):
    eta, l0, R0, z0 = 0.8, 0.7, 0.1, 0.5
    t = np.linspace(0, 5, 11)
    sim = P.simulate(act, rule, eta, l0, N=N, t=t, seeds=SEEDS, R0=R0, z0=z0)
    th = P.ode(act, rule, eta, l0, R0, z0, t=sim.t)
    assert sim.status == "ok" and th.status == "ok"
    assert np.array_equal(sim.t, t)
    names = ["l", "R", "eg"] + (["z"] if rule == "wn" else [])
    # Per-seed fluctuations of the order parameters are O(1/sqrt(N)) (measured sd*sqrt(N) <= 0.75
    # here); the mean of S seeds then deviates from the N -> infinity curve by ~ c/sqrt(N S), plus
    # O(1/N) finite-size drift. Tolerance: 4/sqrt(N S) = 0.032 (about 5 sigma with c = 0.75).
    tol = 4.0 / np.sqrt(N * len(SEEDS))
    for name in names:
        per_seed = getattr(sim, name)
        assert per_seed.shape == (len(SEEDS), t.size)
        assert np.max(per_seed.std(axis=0, ddof=1)) * np.sqrt(N) < 2.0, name
        dev = np.abs(getattr(sim, name + "_mean") - getattr(th, name))
        assert np.max(dev) < tol, (name, np.max(dev))
    # The initial condition is imposed exactly.
    assert np.allclose(sim.l[:, 0], l0, atol=1e-12) and np.allclose(sim.R[:, 0], R0, atol=1e-12)
    if rule == "wn":
        assert np.allclose(sim.z[:, 0], z0, atol=1e-12)
    else:
        assert sim.z is None and th.z is None


def test_quadrature_activation_overlay():
    """An activation without closed forms (tanh): quadrature ODE vs simulation, same tolerance."""
    t = np.linspace(0, 4, 5)
    sim = P.simulate("tanh", "wn", 0.8, 0.7, N=N, t=t, seeds=SEEDS, R0=0.1, z0=0.5)
    th = P.ode("tanh", "wn", 0.8, 0.7, 0.1, 0.5, t=sim.t)
    tol = 4.0 / np.sqrt(N * len(SEEDS))
    for name in ("l", "R", "z", "eg"):
        assert np.max(np.abs(getattr(sim, name + "_mean") - getattr(th, name))) < tol, name


def test_simulation_thread_count_and_seed_position_independent():
    t = np.linspace(0, 1, 5)
    a = P.simulate("erf", "wn", 0.5, 1.0, N=500, t=t, seeds=[3, 4, 5], num_threads=1)
    b = P.simulate("erf", "wn", 0.5, 1.0, N=500, t=t, seeds=[3, 4, 5], num_threads=2)
    c = P.simulate("erf", "wn", 0.5, 1.0, N=500, t=t, seeds=[5], num_threads=2)
    for name in ("l", "R", "z", "eg"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
        assert np.array_equal(getattr(a, name)[2], getattr(c, name)[0])
    assert not np.array_equal(a.R[0], a.R[1])


def test_sgd_simulation_diverges_above_eta_c_wn_converges():
    # l grows like exp(eta (eta - 2) t / 2): it passes the bound l = 1e8 near t = 30.
    t = np.linspace(0, 60, 61)
    s = P.simulate("linear", "sgd", 2.5, 1.0, N=200, t=t, seeds=[0, 1])
    assert s.status == "diverged" and set(s.seed_status) == {"diverged"}
    assert np.all(s.stop_time < 60)
    assert np.isnan(s.l[:, -1]).all() and np.isfinite(s.l[:, 0]).all()
    # N large enough that the first WN steps from z0 = 0.05 are small (at N = 200 one seed's |V|
    # jumps to 6 in a few steps, a finite-N effect that slows it down by a factor ~10).
    w = P.simulate("linear", "wn", 2.5, 1.0, N=2000, t=np.linspace(0, 15, 4), seeds=[0, 1])
    th = P.ode("linear", "wn", 2.5, 1.0, t=w.t)
    assert w.status == "ok"
    assert np.all(w.eg[:, -1] < 1e-6) and th.eg[-1] < 1e-6  # realizable: eps_g -> 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(N=1), "N"),
        (dict(N=0), "N"),
        (dict(eta=0.0), "eta"),
        (dict(l0=-1.0), "l0"),
        (dict(z0=0.0), "z0"),
        (dict(R0=-1.2), "R0"),
        (dict(rule="sgdm"), "rule"),
        (dict(activation="cosh"), "activation"),
        (dict(t=[0.0, 1.0, 0.5]), "t"),
        (dict(t=[0.0, 1e-5]), "t"),
        (dict(seeds=[-1]), "seeds"),
        (dict(seeds=[]), "seeds"),
    ],
)
def test_simulate_bad_input(kwargs, match):
    args = dict(activation="erf", rule="sgd", eta=0.5, l0=1.0, N=100, t=1.0, seeds=[0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        P.simulate(**args)


def test_simulate_type_errors():
    with pytest.raises(TypeError, match="N"):
        P.simulate("erf", "sgd", 0.5, 1.0, N=100.5)
    with pytest.raises(TypeError, match="seeds"):
        P.simulate("erf", "sgd", 0.5, 1.0, N=100, seeds=[0.5])


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["sgd", "wn"])
def test_fig2_settings(rule):
    """Seed 001 Fig. 2: N = 10000, eta = 0.1, l0 = 1, z0 = 0.05, g(x) = x."""
    t = np.linspace(0, 30, 16)
    sim = P.simulate("linear", rule, 0.1, 1.0, N=10_000, t=t, seeds=[0, 1], z0=0.05)
    th = P.ode("linear", rule, 0.1, 1.0, 0.0, 0.05, t=sim.t)
    # 4/sqrt(N S) = 0.028; with z0 = 0.05 the first WN steps change |V| by O(eta^2/(N z0^4)) = 16%
    # of itself, a finite-N effect that shifts z by ~1% (allowed separately).
    tol = 4.0 / np.sqrt(10_000 * 2)
    for name in ("l", "R", "eg"):
        assert np.max(np.abs(getattr(sim, name + "_mean") - getattr(th, name))) < tol, name
    if rule == "wn":
        assert np.max(np.abs(sim.z_mean / th.z - 1)) < 0.03


@pytest.mark.parametrize("rule", ["sgd", "wn"])
def test_simulation_is_exactly_the_seed_update(rule):
    """Replay the simulator's random stream (B, initial direction, then one x per step) in NumPy
    and apply seed 001's updates literally: eq. (1) for SGD, eq. (5) for WN (r and V from the old
    values). Agreement to rounding shows the fused C++ pass implements exactly those updates."""
    from math import erf, exp, pi, sqrt

    from statmech_nn import _core

    n, steps, eta, l0, R0, z0, seed = 40, 300, 0.9, 0.8, 0.3, 0.4, 11
    g = lambda h: erf(h / sqrt(2))  # noqa: E731
    gp = lambda h: sqrt(2 / pi) * exp(-h * h / 2)  # noqa: E731
    stream = np.asarray(_core._testing.normals(seed, 0, 2 * n + (steps + 1) * n))
    B = stream[:n] * sqrt(n) / np.linalg.norm(stream[:n])
    w = stream[n:2 * n] - (stream[n:2 * n] @ B / n) * B
    direction = R0 * B / sqrt(n) + sqrt(1 - R0 * R0) * w / np.linalg.norm(w)
    J = sqrt(n) * l0 * direction
    V = sqrt(n) * z0 * direction
    r = sqrt(n) * l0
    ls, Rs, zs = [], [], []
    for k in range(steps + 1):
        if rule == "sgd":
            ls.append(np.linalg.norm(J) / sqrt(n))
            Rs.append(J @ B / (np.linalg.norm(J) * sqrt(n)))
        else:
            ls.append(r / sqrt(n))
            zs.append(np.linalg.norm(V) / sqrt(n))
            Rs.append(V @ B / (np.linalg.norm(V) * sqrt(n)))
        x = stream[2 * n + k * n:2 * n + (k + 1) * n] / sqrt(n)
        if rule == "sgd":
            h = J @ x
            J = J + eta * gp(h) * (g(B @ x) - g(h)) * x
        else:
            nv = np.linalg.norm(V)
            h = r * (V @ x) / nv
            delta = gp(h) * (g(B @ x) - g(h))
            r, V = r + eta * delta * h / r, V + eta * delta * (r / nv * x - h / nv**2 * V)
    sim = P.simulate("erf", rule, eta, l0, N=n, t=np.arange(steps + 1) / n, seeds=[seed], R0=R0, z0=z0)
    assert np.allclose(sim.l[0], ls, rtol=1e-10, atol=1e-12)
    assert np.allclose(sim.R[0], Rs, rtol=1e-10, atol=1e-12)
    if rule == "wn":
        assert np.allclose(sim.z[0], zs, rtol=1e-10, atol=1e-12)
