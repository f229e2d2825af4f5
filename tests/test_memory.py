"""Memory estimates: every entry point refuses, before allocating, a call that needs more memory
than the process can get (ValueError naming the parameter and the bytes), and the limit follows
RLIMIT_AS and statmech_nn.set_memory_limit."""

import os
import subprocess
import sys

import numpy as np
import pytest

import statmech_nn as sn


@pytest.fixture
def small_limit():
    sn.set_memory_limit(64 * 2**20)  # 64 MiB
    try:
        yield
    finally:
        sn.set_memory_limit(None)


# (call, the parameter the error must name): each needs far more than 64 MiB and far less than the
# machine, so only the estimate can refuse it.
CASES = [
    (lambda: sn.perceptron.simulate("erf", "sgd", 1.0, 1.0, 10**7, t=0.001, seeds=[0, 1]), "N"),
    (lambda: sn.perceptron.time_to_error("erf", "sgd", np.linspace(0.1, 1, 1000)[:, None],
                                         np.linspace(0.5, 2, 1000)), "grid"),
    (lambda: sn.meanfield.phase_diagram("tanh", np.linspace(0.5, 4, 2000), np.linspace(0, 1, 2000)), "grid"),
    (lambda: sn.meanfield.simulate("tanh", 1.5, 0.05, depth=3, width=6000, seeds=0), "width"),
    (lambda: sn.fisher.empirical(depth=2, width=5000, n_samples=64), "width"),
    (lambda: sn.batchnorm.simulate("relu", 64, 3, 20000), "width"),
    (lambda: sn.gaussian.activation("erf", np.broadcast_to(np.zeros(1), (10**8,))), "x"),
    (lambda: sn.gaussian.I2("erf", np.broadcast_to(np.eye(2), (10**7, 2, 2))), "C"),
    (lambda: sn.integrate.solve_ode(lambda t, y: -y, np.ones(1000), np.linspace(0, 1, 10**5)), "t"),
    (lambda: sn.batchnorm.covariance_trajectory("relu", np.eye(64) + 0.1, 10**5), "depth"),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_estimates_refuse_beyond_the_limit(small_limit, i):
    call, param = CASES[i]
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert "GiB" in msg and param in msg, msg


def test_limit_is_restored_and_validated():
    assert sn.memory_limit() > 64 * 2**20
    with pytest.raises(ValueError, match="nbytes"):
        sn.set_memory_limit(-1)
    with pytest.raises(ValueError, match="nbytes"):
        sn.set_memory_limit(float("nan"))
    with pytest.raises(ValueError, match="nbytes"):
        sn.set_memory_limit(True)
    sn.set_memory_limit(1e9)
    try:
        assert sn.memory_limit() <= 1e9
    finally:
        sn.set_memory_limit(None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/statm")
def test_limit_follows_rlimit_as():
    # Under `ulimit -v` the estimate must refuse what the address space cannot hold, instead of
    # the allocation failing with MemoryError / std::bad_alloc.
    script = r"""
import resource
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import statmech_nn as sn
lim = sn.memory_limit()
assert lim < 3 << 30, lim
try:
    sn.perceptron.simulate("erf", "sgd", 1.0, 1.0, 10**8, t=1e-6, seeds=0)
except ValueError as e:
    assert "N=" in str(e), e
    print("refused")
"""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refused" in out.stdout


def test_vectorised_arccos_kernel_matches_scalar_calls():
    c = np.linspace(-1, 1, 41).reshape(41, 1) * np.ones((1, 3))
    for alpha in (0.0, 1.0, 1.5, 2.0):
        vec = sn.batchnorm.arccos_kernel(alpha, c)
        assert vec.shape == c.shape
        one = np.array([sn.batchnorm.arccos_kernel(alpha, float(x)) for x in c.ravel()]).reshape(c.shape)
        np.testing.assert_array_equal(vec, one)
    # alpha = 1: (sin t + (pi - t) cos t) / (2 pi), t = arccos c (Cho & Saul 2009)
    t = np.arccos(c)
    np.testing.assert_allclose(sn.batchnorm.arccos_kernel(1.0, c), (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi),
                               rtol=1e-13, atol=1e-16)


def test_gradient_explosion_rate_evaluates_each_batch_size_once():
    B = np.array([[8, 4, 8], [16, 4, 8]])
    out = sn.batchnorm.gradient_explosion_rate("relu", B)
    assert out.shape == B.shape
    for b, v in zip(B.ravel(), out.ravel()):
        assert v == sn.batchnorm.gradient_explosion_rate("relu", int(b))
