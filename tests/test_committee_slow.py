"""Long validations (pytest -m slow): convergence of simulation to theory as N grows, and seed
000's Fig. 2 setting over several seeds."""

import numpy as np
import pytest

from statmech_nn import committee

pytestmark = pytest.mark.slow


def _rms_dev(sim, **kw):
    devs = []
    for s in range(len(sim.seeds)):
        o = committee.ode(**sim.initial_state(s), t=sim.t, **kw)
        devs.append(np.concatenate([(o.Q - sim.Q[s]).ravel(), (o.R - sim.R[s]).ravel()]))
    return float(np.sqrt(np.mean(np.square(devs))))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_deviation_shrinks_like_one_over_sqrt_N(batchnorm):
    # Run-for-run RMS deviation over 4 seeds at N = 500 and N = 8000: the ratio should be
    # sqrt(16) = 4 for O(1/sqrt N) fluctuations (accept 2.5-6.5 given 4 seeds' scatter), and an
    # error in the ODEs (an O(1) drift mismatch) would leave the large-N deviation finite.
    kw = dict(eta=1.0, batchnorm=batchnorm)
    extra = dict(g0=[0.7, 1.4], student_scale=[1.5, 0.7]) if batchnorm else {}
    dev = {}
    for N in (500, 8000):
        sim = committee.simulate(N, 2, 2, t=np.linspace(0, 4, 9), seeds=[1, 2, 3, 4], **kw, **extra)
        dev[N] = _rms_dev(sim, **kw)
    ratio = dev[500] / dev[8000]
    print("rms deviation", dev, "ratio", ratio, "sqrt(N) dev", dev[8000] * np.sqrt(8000))
    assert 2.5 < ratio < 6.5, (dev, ratio)
    assert dev[8000] < 1.5 / np.sqrt(8000)


def test_seed000_fig2_setting_over_seeds():
    # K = M = 2, O = 1, eta = 1, N = 100, b = 100, sigma = 1, w = v = 1, BN, 20000 steps. The
    # mini-batch averages the gradient noise over b samples: fluctuations ~ 1/sqrt(N b) = 0.01.
    sim = committee.simulate(100, 2, 2, 1.0, batch_size=100, batchnorm=True, t=np.linspace(0, 200, 101),
                             seeds=[0, 1, 2, 3])
    for s in range(4):
        o = committee.ode(**sim.initial_state(s), eta=1.0, batch_size=100, batchnorm=True, t=sim.t)
        assert np.max(np.abs(o.Q - sim.Q[s])) < 0.06
        assert np.max(np.abs(o.R - sim.R[s])) < 0.06
        assert np.max(np.abs(o.g - sim.g[s])) < 0.06
        assert np.max(np.abs(o.eg - sim.eg[s])) < 0.01
