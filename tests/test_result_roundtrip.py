"""Every result of every public function follows the protocol: a status word from STATUSES, .ok,
a short repr, to_dict(), and a save/load round trip that preserves fields and status."""

import numpy as np
import pytest

import statmech_nn as sn
from statmech_nn._result import Result

X = np.random.default_rng(3).normal(size=(4, 3))
Q0 = np.array([[0.5, 0.1], [0.1, 0.4]])
R0 = np.zeros((2, 2))
T = np.eye(2)

CALLS = {
    "perceptron.averages": lambda: sn.perceptron.averages("erf", 1.2, 0.3),
    "perceptron.ode": lambda: sn.perceptron.ode("erf", "wn", 1.0, 2.0, t=np.linspace(0, 5, 11)),
    "perceptron.ode diverged": lambda: sn.perceptron.ode("linear", "sgd", 5.0, 1.0, t=100.0),
    "perceptron.simulate": lambda: sn.perceptron.simulate("erf", "sgd", 1.0, 1.0, 200, t=[0.0, 1.0], seeds=[0, 1]),
    "perceptron.stability": lambda: sn.perceptron.stability("erf", "wn", 1.0, z=1.5),
    "perceptron.time_to_error": lambda: sn.perceptron.time_to_error("linear", "sgd", [0.5, 3.0], 1.0, t_max=200.0),
    "committee.ode": lambda: sn.committee.ode(Q0, R0, T, 1.0, t=np.linspace(0, 5, 6)),
    "committee.ode diverged": lambda: sn.committee.ode(Q0, R0, T, 500.0, t=100.0),
    "committee.simulate": lambda: sn.committee.simulate(100, 2, 2, 1.0, t=[0.0, 1.0], seeds=[0, 1]),
    "committee.derivatives": lambda: sn.committee.derivatives(Q0, R0, T, 1.0),
    "committee.plateau": lambda: sn.committee.plateau(np.linspace(0, 10, 50), np.exp(-np.linspace(0, 10, 50))),
    "integrate.solve_ode": lambda: sn.integrate.solve_ode(lambda t, y: -y, [1.0], [0.0, 1.0]),
    "meanfield.q_star": lambda: sn.meanfield.q_star("tanh", [1.0, 2.0], 0.1),
    "meanfield.c_star": lambda: sn.meanfield.c_star("tanh", 2.0, 0.1),
    "meanfield.depth_scales": lambda: sn.meanfield.depth_scales("tanh", 1.5, 0.05),
    "meanfield.forward": lambda: sn.meanfield.forward("tanh", 1.5, 0.05, 5),
    "meanfield.forward diverged": lambda: sn.meanfield.forward("relu", 3.0, 0.0, 200),
    "meanfield.backward": lambda: sn.meanfield.backward("tanh", 1.5, 0.05, 5),
    "meanfield.phase_diagram": lambda: sn.meanfield.phase_diagram("tanh", [1.0, 2.0], [0.0, 0.1]),
    "meanfield.critical_line": lambda: sn.meanfield.critical_line("tanh", [0.0, 0.1]),
    "meanfield.jacobian_spectrum": lambda: sn.meanfield.jacobian_spectrum("tanh", 1.0, 0.0, 4, n_points=20),
    "meanfield.jacobian_moments": lambda: sn.meanfield.jacobian_moments("tanh", 1.0, 0.0, 4),
    "meanfield.simulate": lambda: sn.meanfield.simulate("tanh", 1.5, 0.05, 3, 50, seeds=[0, 1]),
    "batchnorm.fixed_point": lambda: sn.batchnorm.fixed_point("relu", 4),
    "batchnorm.sphere_moments": lambda: sn.batchnorm.sphere_moments("relu", 4),
    "batchnorm.simulate": lambda: sn.batchnorm.simulate("relu", 4, 3, 32, seeds=[0, 1]),
    "fisher.order_parameters": lambda: sn.fisher.order_parameters("relu", 2),
    "fisher.eigen_stats": lambda: sn.fisher.eigen_stats("relu", 2),
    "fisher.empirical": lambda: sn.fisher.empirical("relu", 2, width=40, n_samples=5, seeds=[0, 1]),
    "ntk.kernels": lambda: sn.ntk.kernels(X, activation="tanh", depth=2),
    "ntk.predict_gd_mse": lambda: sn.ntk.predict_gd_mse(np.eye(3) * 2.0, np.ones(3), [0.0, 1.0]),
    "ntk.empirical": lambda: sn.ntk.empirical(X, None, "relu", 2, width=32, seeds=[0, 1]),
}


def _same(a, b):
    if isinstance(a, Result):
        return type(a) is type(b) and all(_same(getattr(a, k), getattr(b, k)) for k in a.to_dict())
    if isinstance(a, np.ndarray):
        b = np.asarray(b)
        if a.dtype == object or a.dtype.kind in "US":
            return a.shape == b.shape and [str(x) for x in a.ravel()] == [str(x) for x in b.ravel()]
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    return a == b


@pytest.mark.parametrize("name", sorted(CALLS))
def test_result_protocol(name, tmp_path):
    res = CALLS[name]()
    assert isinstance(res, Result), f"{name} returns {type(res).__name__}"
    words = np.asarray(res.status, dtype=object).ravel()
    assert words.size and all(str(w) in sn.STATUSES for w in words), res.status
    assert res.ok == all(str(w) in sn.OK_STATUSES for w in words)
    assert len(repr(res)) < 2000
    assert "<table>" in res._repr_html_()
    assert set(res.to_dict()) >= {"status"}
    back = sn.load(res.save(tmp_path / "r"))
    assert _same(res, back), name
    if "diverged" in name:
        assert res.status == "diverged" and not res.ok
    for field in ("seed_status", "seeds"):
        if "simulate" in name or "empirical" in name:
            assert hasattr(res, field), f"{name} lacks {field}"
