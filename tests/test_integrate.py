"""The C++ ODE integrators: accuracy, dense output, events, divergence, bad input."""

import numpy as np
import pytest

from statmech_nn.integrate import solve_ode


def test_dopri5_exponential_and_dense_output():
    t = np.linspace(0, 5, 37)  # output times that do not coincide with steps
    sol = solve_ode(lambda t, y: -y, [1.0, 2.0], t, rtol=1e-10, atol=1e-13)
    assert sol.status == "ok"
    np.testing.assert_allclose(sol.y[:, 0], np.exp(-t), rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(sol.y[:, 1], 2 * np.exp(-t), rtol=1e-8, atol=1e-13)
    # Dense output: requesting 37 output times does not change the step sequence.
    bare = solve_ode(lambda t, y: -y, [1.0, 2.0], [0.0, 5.0], rtol=1e-10, atol=1e-13)
    assert sol.n_steps == bare.n_steps
    assert sol.y[-1, 0] == bare.y[-1, 0]


def test_dopri5_oscillator_long_time():
    t = np.linspace(0, 50, 11)
    sol = solve_ode(lambda t, y: np.array([y[1], -y[0]]), [1.0, 0.0], t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.y[:, 0], np.cos(t), atol=1e-7)


@pytest.mark.parametrize("method,order", [("rk4", 4), ("euler", 1)])
def test_fixed_step_convergence_order(method, order):
    errs = []
    for dt in (0.02, 0.01):
        sol = solve_ode(lambda t, y: np.array([y[1], -y[0]]), [1.0, 0.0], [0.0, 2.0], method=method, dt=dt)
        errs.append(abs(sol.y[-1, 0] - np.cos(2.0)))
    assert errs[0] / errs[1] == pytest.approx(2**order, rel=0.1)


def test_event_location():
    # y = exp(-t) crosses 0.01 at t = ln 100.
    sol = solve_ode(lambda t, y: -y, [1.0], np.linspace(0, 10, 11), event=lambda t, y: y[0] - 0.01, rtol=1e-11,
                    atol=1e-14)
    assert sol.status == "event"
    assert sol.event_time == pytest.approx(np.log(100.0), rel=1e-9)
    assert sol.t[-1] <= sol.event_time
    assert sol.y_stop[0] == pytest.approx(0.01, rel=1e-7)
    # Already satisfied at t0.
    sol0 = solve_ode(lambda t, y: -y, [0.001], [0.0, 1.0], event=lambda t, y: y[0] - 0.01)
    assert sol0.status == "event" and sol0.event_time == 0.0


@pytest.mark.parametrize("method", ["dopri5", "rk4", "euler"])
def test_divergence_is_a_status(method):
    kw = {} if method == "dopri5" else {"dt": 0.01}
    sol = solve_ode(lambda t, y: y, [1.0], np.linspace(0, 100, 101), method=method, divergence_bound=1e6, **kw)
    assert sol.status == "diverged"
    assert np.log(1e6) * 0.9 < sol.stop_time < np.log(1e6) * 1.2
    assert np.all(np.isfinite(sol.y))
    assert sol.t[-1] <= sol.stop_time


def test_finite_time_blowup():
    # y' = y^2, y(0) = 1 blows up at t = 1.
    sol = solve_ode(lambda t, y: y**2, [1.0], [0.0, 2.0])
    assert sol.status in ("diverged", "step_too_small")
    assert sol.stop_time == pytest.approx(1.0, abs=1e-3)


def test_bad_input():
    f = lambda t, y: -y  # noqa: E731
    with pytest.raises(ValueError, match="method"):
        solve_ode(f, [1.0], [0, 1], method="rk45x")
    with pytest.raises(ValueError, match="dt"):
        solve_ode(f, [1.0], [0, 1], method="rk4")
    with pytest.raises(ValueError, match="t"):
        solve_ode(f, [1.0], [0, 2, 1])
    with pytest.raises(ValueError, match="y0"):
        solve_ode(f, [np.nan], [0, 1])
    with pytest.raises(ValueError, match="rtol"):
        solve_ode(f, [1.0], [0, 1], rtol=-1)
    with pytest.raises(TypeError, match="fun"):
        solve_ode(None, [1.0], [0, 1])
    # An exception raised inside the right-hand side propagates.
    def bad(t, y):
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        solve_ode(bad, [1.0], [0, 1])
