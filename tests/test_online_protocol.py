"""The result protocol for the on-line learning families (perceptron, committee) and the integrator:
status words, .ok, short repr, save/load round trip, dimension names, deprecated aliases; and the
divergence criterion of the committee ODE (a blow-up says "diverged", a unit decaying to zero does
not)."""

import warnings

import numpy as np
import pytest

import statmech_nn as sn
from statmech_nn import _core, committee, integrate, perceptron


def _fields_equal(a, b):
    for name in a._field_names():
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and x.shape == y.shape, name
            if x.dtype == object:
                assert list(x.ravel()) == list(y.ravel()), name
            else:
                np.testing.assert_array_equal(x, y, err_msg=name)
        elif isinstance(x, float) and np.isnan(x):
            assert np.isnan(y), name
        else:
            assert x == y, name


def _check_protocol(res, tmp_path):
    assert np.all(np.isin(np.asarray(res.status, dtype=object).ravel(), list(sn.STATUSES)))
    assert isinstance(res.ok, bool)
    text = repr(res)
    assert len(text) < 2000 and type(res).__name__ in text
    for name in res._field_names():
        v = getattr(res, name)
        if isinstance(v, np.ndarray) and v.ndim >= 1:
            assert name in res._dims and len(res._dims[name]) == v.ndim, (name, v.shape, res._dims.get(name))
    back = sn.load(res.save(tmp_path / type(res).__name__))
    assert type(back) is type(res)
    _fields_equal(res, back)
    return back


def _all_results():
    t = np.linspace(0, 5, 11)
    out = {
        "perceptron.averages": perceptron.averages("erf", 0.8, 0.3),
        "perceptron.ode": perceptron.ode("erf", "sgd", 1.0, 0.5, t=t),
        "perceptron.ode_wn": perceptron.ode("erf", "wn", 1.0, 0.5, t=t),
        "perceptron.simulate": perceptron.simulate("linear", "wn", 0.5, 1.0, 100, t=1.0, seeds=(0, 1)),
        "perceptron.stability": perceptron.stability("erf", "sgd", 1.0),
        "perceptron.time_to_error": perceptron.time_to_error("linear", "sgd", np.array([0.5, 1.0, 3.0]), 1.0,
                                                              t_max=100.0),
        "perceptron.time_to_error_map": perceptron.time_to_error("linear", "wn", np.array([[0.5], [1.0]]),
                                                                  np.array([[0.5, 1.0, 2.0]]), t_max=100.0),
        "committee.ode": committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 1.0, t=t),
        "committee.ode_bn": committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 1.0, t=t, batchnorm=True,
                                          eta_w=0.1),
        "committee.simulate": committee.simulate(200, 2, 2, 1.0, t=np.array([0, 0.5, 1.0]), seeds=[0, 1]),
        "committee.derivatives": committee.derivatives(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 1.0),
        "committee.plateau": committee.plateau(*(lambda o: (o.t, o.eg))(
            committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2) + 1e-3, np.eye(2), 1.0, t=np.linspace(0, 400, 801)))),
        "committee.plateau_scan": committee.plateau_scan([0.5, 1.0], [1e-3], t_max=50.0, n_points=51),
        "integrate.solve_ode": integrate.solve_ode(lambda t, y: -y, [1.0, 2.0], t),
    }
    return out


@pytest.fixture(scope="module")
def results():
    return _all_results()


def test_every_result_follows_the_protocol(results, tmp_path):
    for name, res in results.items():
        assert isinstance(res, sn.Result), name
        _check_protocol(res, tmp_path)


def test_status_words_of_successful_runs_are_ok(results):
    for name in ("perceptron.ode", "perceptron.ode_wn", "perceptron.simulate", "perceptron.stability",
                 "perceptron.averages", "committee.ode", "committee.ode_bn", "committee.simulate",
                 "committee.derivatives", "integrate.solve_ode"):
        assert results[name].status == "ok" and results[name].ok, name
    assert list(results["perceptron.simulate"].seed_status) == ["ok", "ok"]
    assert list(results["committee.simulate"].seed_status) == ["ok", "ok"]
    # linear SGD: eta = 3 > eta_c = 2 diverges; the others reach eps_g = 0.01 ("ok").
    tte = results["perceptron.time_to_error"]
    assert list(tte.status) == ["ok", "ok", "diverged"] and not tte.ok


def test_stability_status_is_ok_with_a_stable_flag():
    st = perceptron.stability("erf", "sgd", 5.0)  # eta_c = pi sqrt(5/3) ~ 4.06
    assert st.status == "ok" and st.stable is False
    assert perceptron.stability("erf", "sgd", 1.0).stable is True


def test_theory_and_simulation_twins_share_field_names(results):
    for theory, sim in (("perceptron.ode_wn", "perceptron.simulate"), ("committee.ode_bn", "committee.simulate")):
        th, sm = results[theory], results[sim]
        fields = {"l", "R", "z"} if "perceptron" in theory else {"Q", "R", "g", "w"}
        common = {"t", "eg", "status", "stop_time"} | fields
        assert common <= set(th._field_names()) and common <= set(sm._field_names())
    assert {"seeds", "seed_status", "stop_time"} <= set(results["perceptron.simulate"]._field_names())
    assert {"seeds", "seed_status", "stop_time"} <= set(results["committee.simulate"]._field_names())


def test_seeds_int_is_one_run():
    s = perceptron.simulate("linear", "sgd", 0.5, 1.0, 50, t=0.5, seeds=3)
    assert s.seeds.tolist() == [3] and s.l.shape[0] == 1
    c = committee.simulate(50, 2, 2, 1.0, t=np.array([0.0, 0.2]), seeds=3)
    assert c.seeds.tolist() == [3] and c.Q.shape[0] == 1


def test_t_stop_is_a_deprecated_alias(results):
    for name in ("perceptron.ode", "perceptron.simulate", "committee.ode", "committee.simulate",
                 "integrate.solve_ode"):
        res = results[name]
        with pytest.warns(DeprecationWarning):
            old = res.t_stop
        np.testing.assert_array_equal(old, res.stop_time)


def test_derivatives_answers_dict_style_access(results):
    d = results["committee.derivatives"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert d["Q"] is d.Q and d["eg"] == d.eg
    assert set(d.keys()) == {"Q", "R", "g", "w", "eg", "S", "P", "c"}
    with pytest.raises(KeyError):
        d["nope"]


def test_test_hooks_live_in_the_testing_module():
    x = np.asarray(_core._testing.normals(7, 3, 1000))
    assert x.shape == (1000,) and abs(x.mean()) < 0.15 and abs(x.std() - 1) < 0.1


# ---- divergence ------------------------------------------------------------------------------------

def test_committee_large_eta_diverges_with_a_stop_time():
    # erf saturates: Q drifts to infinity algebraically (Q ~ t^p, p ~ 0.6); before the criterion it
    # reported "completed" with Q ~ 8e4 at t = 100.
    o = committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 500.0, t=100.0)
    assert o.status == "diverged" and not o.ok
    assert 0 < o.stop_time < 100 and o.t[-1] <= o.stop_time
    assert np.all(np.isfinite(o.Q)) and np.all(np.isfinite(o.eg))
    # The criterion is on the field variances sigma^2 Q_ii relative to the problem's scale: the
    # same dynamics in other units (Q, R, T, eta times s; sigma / sqrt(s): identical fields)
    # diverges at the same time.
    s = 100.0
    o2 = committee.ode(0.25 * s * np.eye(2), 0.01 * s * np.eye(2), s * np.eye(2), 500.0 * s, t=100.0,
                       sigma=1.0 / np.sqrt(s), atol=1e-10 * s)
    assert o2.status == "diverged" and o2.stop_time == pytest.approx(o.stop_time, rel=1e-2)
    np.testing.assert_allclose(o2.eg, o.eg, rtol=1e-6)


def test_committee_algebraic_drift_is_what_the_criterion_catches():
    # Below the bound, the drift of Q is algebraic (~ t^p, p ~ 0.6), not exponential: the doubling of Q
    # takes longer and longer.
    t = np.array([0, 10.0, 100.0, 1000.0])
    o = committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 50.0, t=t, divergence_bound=1e9)
    q = o.Q[1:, 0, 0]
    slopes = np.diff(np.log(q)) / np.diff(np.log(t[1:]))
    assert o.status == "ok" and np.all((slopes > 0.4) & (slopes < 0.8))
    # The module docstring's example: eta = 500 reaches Q ~ 8e4 by t = 100 when not stopped.
    big = committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 500.0, t=[0, 100.0], divergence_bound=1e9)
    assert big.status == "ok" and 5e4 < big.Q[-1, 0, 0] < 1.2e5


def test_committee_unused_unit_decaying_to_zero_is_not_a_divergence():
    # K = 3 students learn M = 2 teachers: the third unit decays, Q_33 -> 0+ (rounding level near
    # t ~ 940). That is the boundary of the domain, not outside it.
    Q0 = 0.25 * np.eye(3)
    R0 = np.full((3, 2), 0.01) + 0.01 * np.eye(3, 2)
    o = committee.ode(Q0, R0, np.eye(2), 1.0, t=np.linspace(0, 1200, 61))
    assert o.status == "ok" and o.stop_time == 1200.0
    assert abs(o.Q[-1, 2, 2]) < 1e-8 and o.eg[-1] < 1e-10 and o.eg.min() > -1e-12


def test_committee_batchnorm_large_eta_is_not_a_divergence():
    # Under batch norm Q_ii grows (the effective rate eta/Q_ii falls) but the fields stay bounded.
    o = committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 500.0, batchnorm=True, t=50.0)
    assert o.status == "ok" and o.Q[-1, 0, 0] > 100 and o.eg[-1] < 0.05


def test_committee_leaving_the_gram_domain_is_a_divergence():
    # Euler with a step far too large overshoots R past sqrt(Q T) (no norm is large: it is the
    # Gram-matrix condition that fails, after the first step).
    t = np.array([0.0, 2.0, 4.0, 6.0])
    o = committee.ode(np.eye(1), 0.9 * np.eye(1), np.eye(1), 1.0, method="euler", dt=2.0, t=t)
    assert o.status == "diverged" and o.stop_time == 2.0 and o.t.tolist() == [0.0]
    d = committee.derivatives(np.eye(1), 0.9 * np.eye(1), np.eye(1), 1.0)
    Q1, R1 = 1.0 + 2.0 * d.Q[0, 0], 0.9 + 2.0 * d.R[0, 0]
    assert R1**2 > Q1 * 1.0 and Q1 < 10  # the step it refused
    # A small step stays inside.
    assert committee.ode(np.eye(1), 0.9 * np.eye(1), np.eye(1), 1.0, method="euler", dt=0.05, t=t).status == "ok"


def test_perceptron_ode_and_integrator_never_ok_with_non_finite():
    o = perceptron.ode("linear", "sgd", 3.0, 1.0, t=200.0)
    assert o.status == "diverged" and np.all(np.isfinite(o.l)) and o.stop_time < 200
    sol = integrate.solve_ode(lambda t, y: y**2, [1.0], np.linspace(0, 2, 5))
    assert sol.status != "ok" and np.all(np.isfinite(sol.y))


def test_perceptron_saturated_drift_is_a_divergence_but_wn_growth_is_not():
    # erf beyond eta_c = pi sqrt(5/3): l drifts to infinity algebraically (l ~ 200 by t = 100 at
    # eta = 500, which used to be reported as a success).
    o = perceptron.ode("erf", "sgd", 500.0, 1.0, t=100.0)
    assert o.status == "diverged" and o.stop_time < 100 and np.all(np.isfinite(o.l))
    assert o.l[-1] ** 2 <= 1e4
    below = perceptron.ode("erf", "sgd", 500.0, 1.0, t=100.0, divergence_bound=1e6)
    assert below.status == "ok" and 100 < below.l[-1] < 1000  # the drift itself: slow, unbounded
    # Weight normalisation at the same eta converges: z grows (eta / z^2 falls), l -> 1.
    w = perceptron.ode("erf", "wn", 500.0, 1.0, t=100.0)
    assert w.status == "ok" and w.z[-1] > 5 and abs(w.l[-1] - 1) < 1e-6
    # The bound is relative to the initial length.
    big = perceptron.ode("linear", "sgd", 0.5, 200.0, t=5.0)
    assert big.status == "ok"


def test_perceptron_simulation_uses_the_ode_criterion():
    th = perceptron.ode("linear", "sgd", 3.0, 1.0, t=30.0)
    sim = perceptron.simulate("linear", "sgd", 3.0, 1.0, 400, t=30.0, seeds=(0, 1))
    assert th.status == "diverged" and sim.status == "diverged" and not sim.ok
    assert list(sim.seed_status) == ["diverged", "diverged"]
    # Exponential growth at the same rate: the stop times agree within a few time units.
    assert np.all(np.abs(sim.stop_time - th.stop_time) < 0.35 * th.stop_time)
    w = perceptron.simulate("erf", "wn", 50.0, 1.0, 400, t=5.0, seeds=0)
    assert w.status == "ok" and np.all(np.isfinite(w.z))


def test_committee_simulation_uses_the_ode_criterion():
    # The twin stops where the theory does (eta = 500, erf: saturated drift past the bound).
    o = committee.ode(0.25 * np.eye(2), 0.01 * np.eye(2), np.eye(2), 500.0, t=10.0)
    s = committee.simulate(1000, 2, 2, 500.0, t=np.linspace(0, 10, 11), seeds=[0, 1, 2], student_scale=0.5)
    assert o.status == "diverged" and s.status == "diverged" and list(s.seed_status) == ["diverged"] * 3
    assert np.all(np.abs(s.stop_time - o.stop_time) < 0.25 * o.stop_time)
    # Below the bound nothing is flagged, and batch norm at the same eta is not a divergence.
    assert committee.simulate(200, 2, 2, 1.0, t=np.linspace(0, 5, 6), seeds=0).status == "ok"
    bn = committee.simulate(200, 2, 2, 500.0, batchnorm=True, t=np.linspace(0, 5, 6), seeds=0, student_scale=0.5)
    assert bn.status == "ok" and np.all(np.isfinite(bn.Q))


@pytest.mark.parametrize("kw", [dict(method="euler", dt=0.01), dict(method="euler", dt=0.5), dict(method="rk4", dt=0.5),
                                dict(rtol=1e-8), dict(rtol=1e-4, atol=1e-6)])
def test_committee_perfect_learning_on_the_gram_boundary_is_not_a_divergence(kw):
    # At perfect learning R_in^2 = Q_ii T_nn: the run ends on the boundary of the Gram domain, and
    # the integration error there must not read as leaving it.
    rng = np.random.default_rng(0)
    J = 0.5 * rng.standard_normal((2, 5000)) / np.sqrt(5000)
    B = rng.standard_normal((2, 5000)) / np.sqrt(5000)
    o = committee.ode(J @ J.T, J @ B.T, B @ B.T, 1.0, t=np.linspace(0, 1000, 101), **kw)
    assert o.status == "ok" and o.eg[-1] < 1e-6
