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


# ---- reliability under bad and extreme input -----------------------------------------------------
@pytest.mark.parametrize("y0,msg", [([], "y0"), ([np.nan], "y0"), ([np.inf, 1.0], "y0"), (np.zeros((2, 2)), "y0")])
def test_bad_states_are_value_errors(y0, msg):
    with pytest.raises(ValueError, match=msg):
        solve_ode(lambda t, y: -y, y0, [0.0, 1.0])


@pytest.mark.parametrize("t", [[0.0, 1e300], [0.0, np.inf], [np.nan, 1.0], [-1e308, 1e308], [0.0, 2e15]])
def test_huge_or_non_finite_time_grids_are_value_errors(t):
    with pytest.raises(ValueError, match="t"):
        solve_ode(lambda t, y: -y, [1.0], t)


def test_max_steps_beyond_int64_is_a_value_error():
    with pytest.raises(ValueError, match="max_steps"):
        solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0], max_steps=2**63)


def test_event_returning_a_non_number_is_a_type_error():
    with pytest.raises(TypeError, match="event"):
        solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0], event=lambda t, y: "stop")
    with pytest.raises(TypeError, match="fun"):
        solve_ode(lambda t, y: "abc", [1.0], [0.0, 1.0])


@pytest.mark.parametrize("method", ["dopri5", "rk4", "euler"])
def test_non_finite_rhs_reports_divergence(method):
    sol = solve_ode(lambda t, y: y * np.nan, [1.0], [0.0, 1.0], method=method, dt=0.01)
    assert sol.status == "diverged"
    assert sol.stop_time == 0.0
    # Non-finite only after t = 0.5: stops there, the rows before are finite.
    sol = solve_ode(lambda t, y: -y if t < 0.5 else y * np.nan, [1.0], np.linspace(0, 1, 11), method=method,
                    dt=0.01)
    assert sol.status in ("diverged", "step_too_small")
    assert 0.4 <= sol.stop_time <= 0.51 + 1e-12  # the step (dt = 0.01) that produced the NaN
    assert np.all(np.isfinite(sol.y))


def test_rejected_steps_count_toward_max_steps():
    # A violently oscillating right-hand side rejects most trial steps; the budget still ends it.
    sol = solve_ode(lambda t, y: np.array([1e6 * np.sin(1e9 * t)]), [0.0], [0.0, 1.0], max_steps=50)
    assert sol.status == "max_steps"
    assert sol.n_steps + sol.n_rejected <= 50


@pytest.mark.parametrize("dt", [1e-310, 5e-324])
def test_subnormal_fixed_step_stagnates_with_a_status(dt):
    # Without an event, a step that cannot reach t[-1] within max_steps is refused up front.
    with pytest.raises(ValueError, match="dt"):
        solve_ode(lambda t, y: -y, [1.0], [1.0, 2.0], method="rk4", dt=dt)
    # With one (the run might stop early), t + dt == t at t = 1: no progress is possible.
    sol = solve_ode(lambda t, y: -y, [1.0], [1.0, 2.0], method="rk4", dt=dt, event=lambda t, y: 1.0)
    assert sol.status == "step_too_small"
    assert sol.stop_time == 1.0


def test_tiny_max_step_is_refused_up_front():
    # 1e300 steps of 1e-300 would grind through the whole step budget.
    with pytest.raises(ValueError, match="max_step"):
        solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0], max_step=1e-300)
    with pytest.raises(ValueError, match="dt"):
        solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0], method="euler", dt=0.1, max_steps=5)
    assert solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0], method="euler", dt=0.1, max_steps=10).status == "ok"


def test_subnormal_first_trial_step_grows():
    sol = solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0], dt=1e-310)
    assert sol.status == "ok"
    np.testing.assert_allclose(sol.y[-1, 0], np.exp(-1.0), rtol=1e-7)


def test_zero_atol_with_a_component_at_zero():
    # y1 starts at exactly 0 and atol = 0: the error norm must not divide 0 by 0.
    sol = solve_ode(lambda t, y: np.array([-y[0], y[0]]), [1.0, 0.0], [0.0, 1.0], atol=0.0)
    assert sol.status == "ok"
    np.testing.assert_allclose(sol.y[-1], [np.exp(-1.0), 1 - np.exp(-1.0)], rtol=1e-7)
    # A component identically 0 with atol = 0.
    sol = solve_ode(lambda t, y: np.array([-y[0], 0.0]), [1.0, 0.0], [0.0, 1.0], atol=0.0)
    assert sol.status == "ok" and sol.y[-1, 1] == 0.0


def test_stagnation_near_the_time_limit():
    # At t ~ 1e15 the spacing of doubles is 0.125: a step of 1e-3 cannot advance t.
    sol = solve_ode(lambda t, y: -y, [1.0], [1e15 - 1.0, 1e15], method="euler", dt=1e-3,
                    event=lambda t, y: 1.0)
    assert sol.status == "step_too_small"


def test_extreme_right_hand_side_ends_with_a_status():
    with np.errstate(over="ignore", invalid="ignore"):
        sol = solve_ode(lambda t, y: -1e300 * y, [1.0], [0.0, 1.0], max_steps=10_000)
    assert sol.status in ("diverged", "step_too_small", "max_steps")
