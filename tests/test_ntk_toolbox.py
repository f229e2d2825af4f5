"""Kernel toolbox: GP posterior, ensemble of gradient-descent predictions, largest learning rate.

Every check is against linear algebra written here independently (np.linalg.solve, scipy's expm,
an explicit gradient-descent loop), never against the module's own numbers.
"""

import numpy as np
import pytest
import scipy.linalg

import statmech_nn as sn
from statmech_nn import ntk


def _problem(n=12, m=5, k=2, seed=0, act="relu"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + m, 4))
    kk = ntk.kernels(x, None, act, 2, 2.0, 0.1)
    y = rng.standard_normal((n, k))
    tr, te = slice(0, n), slice(n, n + m)
    return kk, y, tr, te


def test_gp_inference_matches_direct_linear_algebra():
    kk, y, tr, te = _problem()
    for K in (kk.nngp, kk.ntk):
        for reg, absolute in ((0.0, False), (0.1, False), (0.3, True)):
            res = ntk.gp_inference(K[tr, tr], y, K[te, tr], K[te, te], diag_reg=reg, diag_reg_absolute_scale=absolute)
            r = reg if absolute else reg * np.mean(np.diag(K[tr, tr]))
            A = K[tr, tr] + r * np.eye(12)
            mean = K[te, tr] @ np.linalg.solve(A, y)
            cov = K[te, te] - K[te, tr] @ np.linalg.solve(A, K[tr, te])
            np.testing.assert_allclose(res.mean, mean, rtol=1e-9, atol=1e-10 * np.abs(mean).max())
            np.testing.assert_allclose(res.cov, cov, rtol=1e-8, atol=1e-9 * np.abs(K).max())
            assert res.diag_reg == pytest.approx(r)
    # 1-D targets keep their shape; without test kernels: the training points
    res = ntk.gp_inference(kk.nngp[tr, tr], y[:, 0], diag_reg=1e-3)
    assert res.mean.shape == (12,) and res.cov is None


def test_gp_inference_refuses_a_singular_kernel_without_regularisation():
    K = np.ones((3, 3))
    with pytest.raises(ValueError, match="diag_reg"):
        ntk.gp_inference(K, [1.0, 2.0, 3.0])
    assert ntk.gp_inference(K, [1.0, 2.0, 3.0], diag_reg=1e-6).ok
    with pytest.raises(ValueError, match="diag_reg"):
        ntk.gp_inference(np.eye(2), [1.0, 2.0], diag_reg=-1.0)
    with pytest.raises(ValueError, match="k_test_test"):
        ntk.gp_inference(np.eye(2), [1.0, 2.0], np.ones((3, 2)), np.ones((2, 2)))


def _ensemble_reference(K, Th, y, t, eta, tr, te):
    """Lee et al. 2019 with scipy's matrix exponential and explicit inverses."""
    E = scipy.linalg.expm(-eta * t * Th[tr, tr])
    A = Th[te, tr] @ np.linalg.solve(Th[tr, tr], np.eye(len(E)) - E)
    mean_tr, mean_te = (np.eye(len(E)) - E) @ y, A @ y
    cov_tr = E @ K[tr, tr] @ E.T
    cov_te = K[te, te] - A @ K[tr, te] - K[te, tr] @ A.T + A @ K[tr, tr] @ A.T
    return mean_tr, cov_tr, mean_te, cov_te


@pytest.mark.parametrize("dynamics", ["ntk", "nngp"])
def test_gd_ensemble_matches_the_matrix_exponential(dynamics):
    kk, y, tr, te = _problem(act="erf")
    K = kk.nngp
    Th = kk.ntk if dynamics == "ntk" else kk.nngp
    ts = np.array([0.0, 0.05, 0.7, 3.0])
    kw = dict(ntk_train_train=Th[tr, tr], ntk_test_train=Th[te, tr]) if dynamics == "ntk" else {}
    res = ntk.predict_gd_ensemble(K[tr, tr], y, ts, eta=0.8, nngp_test_train=K[te, tr], nngp_test_test=K[te, te], **kw)
    assert res.dynamics == dynamics and res.mean_test.shape == (4, 5, 2) and res.cov_test.shape == (4, 5, 5)
    for i, t in enumerate(ts):
        m_tr, c_tr, m_te, c_te = _ensemble_reference(K, Th, y, t, 0.8, tr, te)
        scale = np.abs(K).max()
        np.testing.assert_allclose(res.mean_train[i], m_tr, atol=1e-9 * np.abs(y).max())
        np.testing.assert_allclose(res.cov_train[i], c_tr, atol=1e-9 * scale)
        np.testing.assert_allclose(res.mean_test[i], m_te, atol=1e-8 * np.abs(y).max())
        np.testing.assert_allclose(res.cov_test[i], c_te, atol=1e-8 * scale)
    # the mean is one linearised network's prediction from zero initial outputs
    one = ntk.predict_gd_mse(Th[tr, tr], y, ts, eta=0.8, ntk_test_train=Th[te, tr])
    np.testing.assert_allclose(res.mean_test, one.f_test, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.mean_train, one.f_train, rtol=1e-10, atol=1e-12)


def test_gd_ensemble_at_infinite_time_is_the_posterior():
    kk, y, tr, te = _problem(act="gelu")
    K, Th = kk.nngp, kk.ntk
    # read-out-only training converges to the exact Bayesian (NNGP) posterior
    res = ntk.predict_gd_ensemble(K[tr, tr], y, np.inf, nngp_test_train=K[te, tr], nngp_test_test=K[te, te])
    post = ntk.gp_inference(K[tr, tr], y, K[te, tr], K[te, te])
    np.testing.assert_allclose(res.mean_test, post.mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.cov_test, post.cov, atol=1e-8 * np.abs(K).max())
    np.testing.assert_allclose(res.mean_train, y, atol=1e-8)
    np.testing.assert_allclose(res.cov_train, 0.0, atol=1e-8 * np.abs(K).max())
    # training every layer: the NTK-GP mean, and a long finite time approaches t = inf
    res = ntk.predict_gd_ensemble(K[tr, tr], y, [1e7, np.inf], ntk_train_train=Th[tr, tr], nngp_test_train=K[te, tr],
                                  ntk_test_train=Th[te, tr], nngp_test_test=K[te, te])
    post = ntk.gp_inference(Th[tr, tr], y, Th[te, tr])
    np.testing.assert_allclose(res.mean_test[1], post.mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.mean_test[0], res.mean_test[1], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.cov_test[0], res.cov_test[1], atol=1e-6 * np.abs(K).max())


def test_gd_ensemble_shapes_and_protocol(tmp_path):
    kk, y, tr, te = _problem()
    res = ntk.predict_gd_ensemble(kk.nngp[tr, tr], y[:, 0], 1.0)
    assert res.mean_train.shape == (12,) and res.cov_train.shape == (12, 12) and res.mean_test is None
    lr = ntk.max_learning_rate(kk.ntk[tr, tr])
    post = ntk.gp_inference(kk.nngp[tr, tr], y, kk.nngp[te, tr], kk.nngp[te, te])
    for r in (res, lr, post):
        assert r.status == "ok" and r.ok and len(repr(r)) < 2000
        back = sn.load(r.save(tmp_path / type(r).__name__))
        assert type(back) is type(r) and back.status == "ok"
    with pytest.raises(ValueError, match="ntk_test_train"):
        ntk.predict_gd_ensemble(kk.nngp[tr, tr], y, 1.0, ntk_test_train=kk.ntk[te, tr])
    with pytest.raises(ValueError, match="t"):
        ntk.predict_gd_ensemble(kk.nngp[tr, tr], y, -1.0)
    with pytest.raises(ValueError, match="nngp_test_train"):
        ntk.predict_gd_ensemble(kk.nngp[tr, tr], y, 1.0, nngp_test_train=np.ones((3, 4)))


def test_max_learning_rate_separates_converging_from_diverging_descent():
    kk, y, tr, _ = _problem(n=15)
    Th = kk.ntk[tr, tr]
    lr = ntk.max_learning_rate(Th)
    assert lr.lambda_max == pytest.approx(np.linalg.eigvalsh(Th)[-1], rel=1e-12)
    assert float(lr) == pytest.approx(2.0 / lr.lambda_max)

    def descend(eta, steps=3000):
        f = np.zeros_like(y)
        for _ in range(steps):
            f = f - eta * Th @ (f - y)      # gradient step of 1/2 sum |f - y|^2 in the kernel regime
        return np.abs(f - y).max()
    # below the bound every mode of the residual shrinks (the slow ones slowly), above it the top one grows
    assert descend(0.98 * lr.eta_max) <= np.abs(y).max() * np.sqrt(y.size)
    assert descend(1.02 * lr.eta_max) > 1e3
    assert ntk.max_learning_rate(Th, momentum=0.5).eta_max == pytest.approx(1.5 * lr.eta_max)
    with pytest.raises(ValueError, match="momentum"):
        ntk.max_learning_rate(Th, momentum=1.0)
    with pytest.raises(ValueError, match="ntk_train_train"):
        ntk.max_learning_rate(np.zeros((2, 2)))


def test_multi_output_time_convention():
    """Outputs evolve independently with the same kernel; time is eta t for every k (Neural
    Tangents' time is n k eta t, its loss being normalised by the n k target entries)."""
    kk, y, tr, te = _problem(k=3)
    Th = kk.ntk[tr, tr]
    a = ntk.predict_gd_mse(Th, y, 0.4, eta=2.0)
    b = ntk.predict_gd_mse(Th, y, 0.8, eta=1.0)
    np.testing.assert_allclose(a.f_train, b.f_train, rtol=1e-12)
    for j in range(3):
        one = ntk.predict_gd_mse(Th, y[:, j], 0.8)
        np.testing.assert_allclose(b.f_train[:, j], one.f_train, rtol=1e-12, atol=1e-14)
    # gradient flow of L = 1/2 sum_{i,k} (f_ik - y_ik)^2 with d f/dt = -Theta dL/df, by small Euler steps
    f = np.zeros_like(y)
    h = 1e-4
    for _ in range(int(0.8 / h)):
        f -= h * Th @ (f - y)
    np.testing.assert_allclose(b.f_train, f, rtol=0, atol=1e-3 * np.abs(y).max())
