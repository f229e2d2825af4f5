"""The Runge–Kutta–Chebyshev integrator (method="rkc"): accuracy against known solutions, stability
on stiff linear problems, second order, events and dense output, status words, Ctrl-C, and the
committee ODE against a converged Dormand–Prince reference."""

import os

import numpy as np
import pytest

import statmech_nn as sn
from statmech_nn import committee, perceptron
from statmech_nn.integrate import METHODS, solve_ode


def heat_problem(n=50):
    """u_t = u_xx + 1 on (0, 1), u = 0 at both ends, n interior points: the semi-discrete system
    y' = A y + 1 and its exact solution from the eigen-decomposition of A (eigenvalues from
    -pi^2 to about -4 (n + 1)^2: spectral radius ~1e4 at n = 50)."""
    dx = 1.0 / (n + 1)
    x = np.arange(1, n + 1) * dx
    k = np.arange(1, n + 1)
    lam = -(4.0 / dx**2) * np.sin(k * np.pi * dx / 2) ** 2
    V = np.sqrt(2 * dx) * np.sin(np.outer(x, k) * np.pi)  # orthonormal eigenvectors of A

    def rhs(t, y):
        d = np.empty_like(y)
        d[1:-1] = y[2:] - 2 * y[1:-1] + y[:-2]
        d[0] = y[1] - 2 * y[0]
        d[-1] = y[-2] - 2 * y[-1]
        return d / dx**2 + 1.0

    y_steady = V @ ((V.T @ -np.ones(n)) / lam)
    y0 = np.sin(np.pi * x) + 0.5 * np.sin(7 * np.pi * x) + 3 * x * (1 - x)

    def exact(t):
        return y_steady + V @ (np.exp(lam * t) * (V.T @ (y0 - y_steady)))

    return rhs, y0, exact


def test_rkc_is_offered():
    assert "rkc" in METHODS
    with pytest.raises(ValueError, match="method"):
        solve_ode(lambda t, y: -y, [1.0], [0, 1], method="rkc2")


def test_heat_equation_accuracy_and_cost():
    rhs, y0, exact = heat_problem()
    t = np.linspace(0.0, 1.0, 11)
    ref = np.array([exact(ti) for ti in t])
    errors = {}
    for rtol in (1e-3, 1e-5, 1e-7):
        sol = solve_ode(rhs, y0, t, method="rkc", rtol=rtol, atol=rtol)
        assert sol.status == "ok"
        errors[rtol] = np.max(np.abs(sol.y - ref))
        # Second order with local error control: the global error follows rtol^(2/3)
        # (measured 0.11-0.22 rtol^(2/3) here, max |y| ~ 1).
        assert errors[rtol] < 0.6 * rtol ** (2 / 3)
    assert errors[1e-3] > errors[1e-5] > errors[1e-7]
    # Stability, not accuracy, limits Dormand–Prince here (spectral radius ~1e4: ~22000
    # evaluations whatever the tolerance); RKC needs 670-3200 (measured), >= 6x fewer at rtol 1e-5.
    dopri = solve_ode(rhs, y0, t, rtol=1e-5, atol=1e-5)
    rkc = solve_ode(rhs, y0, t, method="rkc", rtol=1e-5, atol=1e-5)
    assert rkc.n_rhs * 6 < dopri.n_rhs
    assert np.max(np.abs(dopri.y - ref)) < 1e-4


@pytest.mark.parametrize("lam", [1.0, 1e2, 1e4])
def test_decay_stable_for_large_lambda(lam):
    t = np.linspace(0.0, 10.0, 11)
    sol = solve_ode(lambda t, y: -lam * y, [1.0], t, method="rkc", rtol=1e-6, atol=1e-9)
    assert sol.status == "ok"
    # Absolute error (the solution decays from 1): measured 1.2e-5 at lambda = 1, <= 1e-10 beyond.
    np.testing.assert_allclose(sol.y[:, 0], np.exp(-lam * t), rtol=0, atol=5e-5 if lam == 1.0 else 1e-8)
    # Steps are not bounded by stability: an explicit method with a fixed stability interval needs
    # >= 10 lambda / 3.3 steps (3e4 at lambda = 1e4); RKC took ~700 at every lambda.
    assert sol.n_steps < 1500
    if lam == 1e4:
        assert sol.n_rhs < 4000


def test_decay_with_oscillating_source():
    # y' = -lam (y - cos t) - sin t, y(0) = 2: y = cos t + exp(-lam t).
    lam = 1e3
    t = np.linspace(0.0, 10.0, 41)
    sol = solve_ode(lambda t, y: -lam * (y - np.cos(t)) - np.sin(t), [2.0], t, method="rkc", rtol=1e-6,
                    atol=1e-9)
    assert sol.status == "ok"
    np.testing.assert_allclose(sol.y[:, 0], np.cos(t) + np.exp(-lam * t), rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", ["linear", "riccati", "stiff"])
def test_second_order_with_fixed_steps(case):
    # A huge rtol accepts every step, so dt = max_step = h fixes the step (and, on the linear
    # problems, the stage count); halving h divides the error by ~4 (second order).
    if case == "linear":
        f, y0, exact = (lambda t, y: -(y - np.cos(t)) - np.sin(t)), 2.0, np.cos(2.0) + np.exp(-2.0)
    elif case == "riccati":
        f, y0, exact = (lambda t, y: -y**2), 1.0, 1.0 / 3.0
    else:  # lambda = 1000: 5 to 11 stages at these steps
        f, y0, exact = (lambda t, y: -1e3 * (y - np.cos(t)) - np.sin(t)), 1.0, np.cos(2.0)
    errs = []
    for h in (0.1, 0.05, 0.025):
        sol = solve_ode(f, [y0], [0.0, 2.0], method="rkc", dt=h, max_step=h, rtol=1e3, atol=0.0)
        assert sol.status == "ok" and sol.n_rejected == 0
        assert sol.n_steps == pytest.approx(2.0 / h, abs=1)
        errs.append(abs(sol.y[-1, 0] - exact))
    ratios = errs[0] / errs[1], errs[1] / errs[2]
    if case == "stiff":
        assert min(ratios) > 3.5  # at least second order (measured 14.8 and 7.8)
    else:
        assert ratios == pytest.approx((4.0, 4.0), rel=0.1)  # measured 4.06-4.27


def test_dense_output_and_step_sequence():
    f = lambda t, y: np.array([y[1], -y[0]])  # noqa: E731
    t = np.linspace(0.0, 5.0, 37)  # output times that do not coincide with steps
    sol = solve_ode(f, [1.0, 0.0], t, method="rkc", rtol=1e-8, atol=1e-10)
    bare = solve_ode(f, [1.0, 0.0], [0.0, 5.0], method="rkc", rtol=1e-8, atol=1e-10)
    assert sol.status == bare.status == "ok"
    assert sol.n_steps == bare.n_steps and sol.y[-1, 0] == bare.y[-1, 0]
    # Cubic Hermite between steps: as accurate as the steps themselves (global error ~3e-6 here).
    np.testing.assert_allclose(sol.y[:, 0], np.cos(t), rtol=0, atol=2e-5)
    np.testing.assert_allclose(sol.y[:, 1], -np.sin(t), rtol=0, atol=2e-5)


def test_event_location():
    # y = exp(-t) crosses 0.01 at t = ln 100.
    sol = solve_ode(lambda t, y: -y, [1.0], np.linspace(0, 10, 11), method="rkc", event=lambda t, y: y[0] - 0.01,
                    rtol=1e-9, atol=1e-12)
    assert sol.status == "event"
    assert sol.event_time == pytest.approx(np.log(100.0), rel=1e-6)
    assert sol.t[-1] <= sol.event_time
    assert sol.y_stop[0] == pytest.approx(0.01, rel=1e-6)
    sol0 = solve_ode(lambda t, y: -y, [0.001], [0.0, 1.0], method="rkc", event=lambda t, y: y[0] - 0.01)
    assert sol0.status == "event" and sol0.event_time == 0.0


def test_status_words():
    grow = solve_ode(lambda t, y: y, [1.0], np.linspace(0, 100, 101), method="rkc", divergence_bound=1e6)
    assert grow.status == "diverged" and np.log(1e6) * 0.9 < grow.stop_time < np.log(1e6) * 1.2
    assert np.all(np.isfinite(grow.y)) and grow.t[-1] <= grow.stop_time
    blowup = solve_ode(lambda t, y: y**2, [1.0], [0.0, 2.0], method="rkc")
    assert blowup.status in ("diverged", "step_too_small") and blowup.stop_time == pytest.approx(1.0, abs=1e-3)
    nan0 = solve_ode(lambda t, y: y * np.nan, [1.0], [0.0, 1.0], method="rkc")
    assert nan0.status == "diverged" and nan0.stop_time == 0.0
    nan_later = solve_ode(lambda t, y: -y if t < 0.5 else y * np.nan, [1.0], np.linspace(0, 1, 11), method="rkc")
    assert nan_later.status in ("diverged", "step_too_small") and 0.4 <= nan_later.stop_time <= 0.5 + 1e-9
    budget = solve_ode(lambda t, y: -y, [1.0], [0.0, 100.0], method="rkc", rtol=1e-10, max_steps=20)
    assert budget.status == "max_steps" and budget.n_steps + budget.n_rejected == 20
    with pytest.raises(ValueError, match="max_step"):
        solve_ode(lambda t, y: -y, [1.0], [0.0, 100.0], method="rkc", max_step=0.1, max_steps=10)
    # A step costs at most 1000 right-hand sides, so max_steps bounds the work even at a spectral
    # radius of 1.2e12 (the decay stays stable and the run ends as max_steps).
    stiff = solve_ode(lambda t, y: -1e12 * y, [1.0], [0.0, 1e3], method="rkc", rtol=1.0, atol=1.0, max_steps=50)
    assert stiff.status == "max_steps" and stiff.n_rhs <= 50 * 1000 + 200 and abs(stiff.y_stop[0]) < 1.0
    constant = solve_ode(lambda t, y: np.zeros_like(y), [1.0, 2.0], [0.0, 1e6], method="rkc")
    assert constant.status == "ok" and np.all(constant.y[-1] == [1.0, 2.0])


def test_result_round_trip(tmp_path):
    sol = solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0], method="rkc")
    back = sn.load(sol.save(tmp_path / "rkc"))
    assert back.status == "ok" and np.array_equal(back.y, sol.y) and len(repr(sol)) < 2000


def _committee_problem(K=10, M=10, seed=0, N=10_000):
    rng = np.random.default_rng(seed)
    J = 0.5 * rng.standard_normal((K, N)) / np.sqrt(N)
    B = rng.standard_normal((M, N)) / np.sqrt(N)
    return J @ J.T, J @ B.T, B @ B.T


def test_committee_against_converged_reference():
    # K = M = 10 erf, t <= 1000: RKC at rtol 1e-6 against Dormand–Prince at rtol 1e-12 (converged:
    # rtol 1e-10 agrees with it to 1e-10). Measured: Q, R relative errors 7.6e-6 and 5.6e-6, eps_g
    # 2.6e-6 (Dormand–Prince at rtol 1e-6: 5e-8, 8e-8, 1.6e-6).
    Q0, R0, T = _committee_problem()
    t = np.linspace(0.0, 1000.0, 11)
    ref = committee.ode(Q0, R0, T, 1.0, t=t, rtol=1e-12, atol=1e-14, num_threads=1)
    sol = committee.ode(Q0, R0, T, 1.0, t=t, method="rkc", rtol=1e-6, atol=1e-8, num_threads=1)
    assert sol.status == ref.status == "ok"
    for name in ("Q", "R"):
        a, b = getattr(sol, name), getattr(ref, name)
        rel = np.max(np.abs(a - b), axis=(1, 2)) / np.max(np.abs(b), axis=(1, 2))
        assert rel.max() < 3e-5, name
    assert np.max(np.abs(sol.eg - ref.eg)) < 1e-5


def test_committee_fewer_evaluations_at_modest_accuracy():
    # Where the step of Dormand–Prince is limited by stability (rtol 1e-3, t <= 1e4), RKC needs
    # fewer right-hand sides (measured 545 against 1418; 321 against 560 at t <= 1000) and is as
    # accurate in eps_g (measured 4.7e-4 against 3.0e-3 for Dormand–Prince at the same rtol).
    Q0, R0, T = _committee_problem()
    short = dict(t=[0.0, 1000.0], rtol=1e-3, atol=1e-5, num_threads=1)
    assert committee.ode(Q0, R0, T, 1.0, method="rkc", **short).n_rhs < 0.75 * committee.ode(Q0, R0, T, 1.0,
                                                                                             **short).n_rhs
    t = np.linspace(0.0, 1e4, 21)
    ref = committee.ode(Q0, R0, T, 1.0, t=t, rtol=1e-10, atol=1e-12, num_threads=1)
    kw = dict(t=t, rtol=1e-3, atol=1e-5, num_threads=1)
    dopri = committee.ode(Q0, R0, T, 1.0, **kw)
    rkc = committee.ode(Q0, R0, T, 1.0, method="rkc", **kw)
    assert rkc.status == dopri.status == "ok"
    assert rkc.n_rhs < 0.6 * dopri.n_rhs
    assert np.max(np.abs(rkc.eg - ref.eg)) < 2e-3
    assert np.max(np.abs(rkc.eg - ref.eg)) <= np.max(np.abs(dopri.eg - ref.eg))


def test_perceptron_ode_accepts_rkc():
    t = np.linspace(0.0, 50.0, 11)
    ref = perceptron.ode("erf", "sgd", 0.5, 1.0, t=t, rtol=1e-11, atol=1e-13)
    sol = perceptron.ode("erf", "sgd", 0.5, 1.0, t=t, method="rkc", rtol=1e-7, atol=1e-9)
    assert sol.status == ref.status == "ok"
    np.testing.assert_allclose(sol.eg, ref.eg, rtol=0, atol=1e-5)


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_ctrl_c_stops_rkc():
    from _interrupt import interrupt_child

    script = """
import numpy as np, statmech_nn as sn
Q0 = 0.25 * np.eye(10); R0 = np.full((10, 10), 1e-3); T = np.eye(10)
print("ready", flush=True)
try:
    sn.committee.ode(Q0, R0, T, 1.0, t=[0.0, 1e12], method="rkc", rtol=1e-13, atol=1e-15, max_steps=10**12,
                     num_threads=1)
    print("finished")
except KeyboardInterrupt:
    print("interrupted")
"""
    assert interrupt_child(script, wait=1.0).strip() == "interrupted"


def test_committee_divergence_is_a_status():
    o = committee.ode(np.eye(2), 0.1 * np.eye(2), np.eye(2), 6.0, activation="linear", t=50.0, method="rkc")
    ref = committee.ode(np.eye(2), 0.1 * np.eye(2), np.eye(2), 6.0, activation="linear", t=50.0)
    assert o.status == ref.status == "diverged"
    assert o.stop_time == pytest.approx(ref.stop_time, rel=0.05) and np.all(np.isfinite(o.Q))


def test_perceptron_time_to_error_with_rkc():
    # The event on the dense output of RKC (rtol 1e-7) against Dormand–Prince (rtol 1e-8): measured
    # relative differences <= 3e-5.
    eta = np.array([0.2, 0.5, 1.0, 1.5])
    ref = perceptron.time_to_error("erf", "sgd", eta, 1.0, threshold=0.01)
    sol = perceptron.time_to_error("erf", "sgd", eta, 1.0, threshold=0.01, method="rkc", rtol=1e-7, atol=1e-9)
    assert list(sol.status) == ["ok"] * 4
    np.testing.assert_allclose(sol.time, ref.time, rtol=2e-4)


def test_committee_threads_identical():
    Q0, R0, T = _committee_problem()
    a = committee.ode(Q0, R0, T, 1.0, t=[0.0, 20.0], method="rkc", rtol=1e-6, num_threads=1)
    b = committee.ode(Q0, R0, T, 1.0, t=[0.0, 20.0], method="rkc", rtol=1e-6, num_threads=2)
    np.testing.assert_array_equal(a.Q, b.Q)
    assert a.n_rhs == b.n_rhs
