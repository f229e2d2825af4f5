"""Fisher information of deep random networks: mean-field statistics vs sampled networks.

Finite-size effects: the readout weights (and every weight matrix) are shared by all inputs, so
one network's order parameters fluctuate by O(1/sqrt(M)) (e.g. sum_i W_ki^2 phi'^2 over M units);
averaging n_seeds networks gives a standard error ~ c / sqrt(M n_seeds) with c ~ 1 measured
(relu, M = 500: ~5 % per network on lambda_max). Tolerances below are about 3 standard errors.
"""

import numpy as np
import pytest

from statmech_nn import fisher, gaussian

SEEDS = [11, 12, 13, 14]


@pytest.mark.parametrize("act,sw,sb", [("relu", 2.0, 0.1), ("erf", 3.0, 0.2), ("tanh", 1.5, 0.05)])
def test_order_parameters_match_sampled_networks(act, sw, sb):
    op = fisher.order_parameters(act, 2, sw, sb)
    em = fisher.empirical(act, 2, sw, sb, width=1000, n_samples=20, n_outputs=3, seeds=SEEDS)
    # M = 1000, 4 networks, C = 3 outputs: standard error ~ 1 / sqrt(12000) ~ 1 %; tolerance 4 %.
    np.testing.assert_allclose(em.q_hat.mean(0), op.q_hat, rtol=0.03, atol=0.01)
    np.testing.assert_allclose(em.q_tilde.mean(0), op.q_tilde, rtol=0.05)
    # Cross-input quantities: absolute tolerance relative to the diagonal scale.
    np.testing.assert_allclose(em.q_hat_st.mean(0), op.q_hat_st, atol=0.03 * op.q_hat.max())
    np.testing.assert_allclose(em.q_tilde_st.mean(0), op.q_tilde_st, atol=0.05 * op.q_tilde.max())
    assert em.q_tilde[:, -1] == pytest.approx(1.0)  # q~^L = 1 exactly (linear readout)
    np.testing.assert_allclose(em.kappa1.mean(), op.kappa1, rtol=0.05)
    np.testing.assert_allclose(em.kappa2.mean(), op.kappa2, rtol=0.06, atol=0.01)


@pytest.mark.parametrize("act,sw,sb,C", [("relu", 2.0, 0.1, 1), ("erf", 3.0, 0.2, 2)])
def test_eigenvalue_statistics_match_empirical_fim(act, sw, sb, C):
    M, T = 1000, 30
    th = fisher.eigen_stats(act, 2, sw, sb, width=M, n_samples=T, n_outputs=C)
    em = fisher.empirical(act, 2, sw, sb, width=M, n_samples=T, n_outputs=C, seeds=SEEDS)
    # Exact parameter count vs alpha M^2: relative O(1/M) (0.2 % here); statistics: ~3 sigma.
    assert em.m_lambda.mean() == pytest.approx(th.m_lambda, rel=0.04)
    assert em.s_lambda.mean() == pytest.approx(th.s_lambda, rel=0.12)
    assert em.lambda_max.mean() == pytest.approx(th.lambda_max, rel=0.07)
    assert th.eta_c == pytest.approx(2.0 / th.lambda_max)
    # Consistency of the empirical spectrum with the traces.
    P = em.num_params
    np.testing.assert_allclose(em.eigenvalues.sum(1) / P, em.m_lambda, rtol=1e-10)
    np.testing.assert_allclose((em.eigenvalues ** 2).sum(1) / P, em.s_lambda, rtol=1e-10)


def test_lambda_max_grows_linearly_with_width():
    lm = [fisher.empirical("relu", 2, 2.0, 0.0, width=M, n_samples=20, seeds=SEEDS).lambda_max.mean() for M in (200, 800)]
    th = fisher.eigen_stats("relu", 2, 2.0, 0.0, width=np.array([200.0, 800.0]), n_samples=20).lambda_max
    assert th[1] / th[0] == pytest.approx(4.0)
    assert lm[1] / lm[0] == pytest.approx(4.0, rel=0.12)
    # Mean eigenvalue ~ 1/M: the spectrum is pathological (most eigenvalues ~ 0, a few ~ M).
    em = fisher.empirical("relu", 2, 2.0, 0.0, width=800, n_samples=20, seeds=SEEDS[:1])
    assert em.lambda_max[0] / em.m_lambda[0] > 1e5


def _fd_jacobian(Ws, bs, x, act):
    """Central finite-difference Jacobian of all outputs w.r.t. all weights and biases."""
    def forward(params):
        h = x
        L = len(Ws)
        for l in range(L):
            W, b = params[2 * l], params[2 * l + 1]
            u = h @ W.T + b
            h = gaussian.activation(act, u) if l < L - 1 else u
        return h.reshape(-1)  # (T*C,), index t*C + k

    params = []
    for W, b in zip(Ws, bs):
        params += [W.copy(), b.copy()]
    cols = []
    eps = 1e-6
    for p in params:
        flat = p.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = forward(params)
            flat[i] = old - eps
            fm = forward(params)
            flat[i] = old
            cols.append((fp - fm) / (2 * eps))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("batchnorm_last", [False, True])
def test_gram_trick_equals_fim_from_the_jacobian(batchnorm_last):
    from statmech_nn import _core

    act, T, C, M, seed = "tanh", 4, 2, 6, 5
    em = fisher.empirical(act, 2, 1.7, 0.3, width=M, n_samples=T, n_outputs=C, seeds=[seed],
                          batchnorm="last" if batchnorm_last else "none",
                          return_gram=True)
    # the engine's inputs and weights for this seed
    x, Ws, bs = _core._testing.network_sample(list(em.widths), T, 1.7, 0.3, "gaussian", seed)
    J = _fd_jacobian(Ws, bs, x.T, act)      # (T*C, P)
    assert J.shape[1] == em.num_params
    if batchnorm_last:
        J = np.kron(np.eye(T) - 1.0 / T, np.eye(C)) @ J
    F = J.T @ J / T
    ev = np.sort(np.linalg.eigvalsh(F))[::-1][: T * C]
    np.testing.assert_allclose(em.eigenvalues[0], ev, rtol=1e-6, atol=1e-8 * ev[0])
    np.testing.assert_allclose(em.gram[0], J @ J.T, rtol=1e-6, atol=1e-8 * ev[0])


def test_batchnorm_last_layer_statistics_and_sharpness():
    M, T = 1000, 30
    th = fisher.eigen_stats("relu", 2, 2.0, 0.1, width=M, n_samples=T, batchnorm="last")
    em = fisher.empirical("relu", 2, 2.0, 0.1, width=M, n_samples=T, seeds=SEEDS, batchnorm="last")
    assert em.m_lambda.mean() == pytest.approx(th.m_lambda, rel=0.05)
    assert em.s_lambda.mean() == pytest.approx(th.s_lambda, rel=0.15)
    plain = fisher.eigen_stats("relu", 2, 2.0, 0.1, width=M, n_samples=T)
    assert th.lambda_max < 0.25 * plain.lambda_max
    # lambda_max^BN = alpha (kappa1 - kappa2) M / T is leading order; the bulk fluctuations add
    # O(sqrt(M/T)) (relative O(sqrt(T/M)) ~ 20-40 % here), so only the order of magnitude is checked.
    assert th.lambda_max < em.lambda_max.mean() < 2.0 * th.lambda_max
    # With T proportional to M, the BN lambda_max stays O(1) while the plain one grows like M.
    # One network's plain lambda_max fluctuates by ~16 % at M = 100 (~6 % at M = 400), so with 8
    # networks per width the ratio has a standard error of ~6 %: compare it with the theory's ratio
    # (3.69) within 3 standard errors estimated from the seeds themselves.
    seeds = range(20, 28)
    bn = [fisher.empirical("relu", 2, 2.0, 0.1, width=m, n_samples=m // 4, seeds=seeds,
                           batchnorm="last").lambda_max.mean() for m in (100, 400)]
    pl = [fisher.empirical("relu", 2, 2.0, 0.1, width=m, n_samples=m // 4, seeds=seeds).lambda_max for m in (100, 400)]
    th_pl = fisher.eigen_stats("relu", 2, 2.0, 0.1, width=np.array([100.0, 400.0]), n_samples=np.array([25.0, 100.0])).lambda_max
    ratio = pl[1].mean() / pl[0].mean()
    se = ratio * np.sqrt(sum((p.std(ddof=1) / p.mean()) ** 2 / p.size for p in pl))
    assert ratio == pytest.approx(th_pl[1] / th_pl[0], abs=3 * se)
    assert ratio > 3.0
    assert bn[1] / bn[0] < 1.5


def test_width_ratios_enter_alpha_and_kappa():
    a = [0.5, 2.0, 1.0]
    op = fisher.order_parameters("relu", 2, 2.0, 0.0, alphas=a)
    assert op.alpha == pytest.approx(0.5 * 2.0 + 2.0 * 1.0)
    em = fisher.empirical("relu", 2, 2.0, 0.0, width=500, n_samples=20, alphas=a, seeds=SEEDS)
    assert list(em.widths) == [250, 1000, 500, 1]
    th = fisher.eigen_stats("relu", 2, 2.0, 0.0, width=500, n_samples=20, alphas=a)
    assert em.m_lambda.mean() == pytest.approx(th.m_lambda, rel=0.05)
    assert em.lambda_max.mean() == pytest.approx(th.lambda_max, rel=0.08)


def test_broadcasting_and_infinite_T():
    st = fisher.eigen_stats("erf", 3, 2.0, 0.1, width=[100, 1000], n_samples=np.inf)
    assert st.lambda_max.shape == (2,)
    assert st.lambda_max[1] == pytest.approx(st.alpha * st.kappa2 * 1000)
    assert st.s_lambda[0] == pytest.approx(st.alpha * st.kappa2 ** 2)


@pytest.mark.parametrize("call,exc,word", [
    (lambda: fisher.order_parameters("nope"), ValueError, "activation"),
    (lambda: fisher.order_parameters("relu", depth=0), ValueError, "depth"),
    (lambda: fisher.order_parameters("relu", sigma_w2=-1.0), ValueError, "sigma_w2"),
    (lambda: fisher.order_parameters("relu", sigma_b2=float("nan")), ValueError, "sigma_b2"),
    (lambda: fisher.order_parameters("relu", depth=2, alphas=[1, 1]), ValueError, "alphas"),
    (lambda: fisher.order_parameters("relu", depth=1, alphas=[1, -1]), ValueError, "alphas"),
    (lambda: fisher.eigen_stats("relu", width=0), ValueError, "width"),
    (lambda: fisher.eigen_stats("relu", n_samples=0.5), ValueError, "n_samples"),
    (lambda: fisher.eigen_stats("relu", n_outputs=0), ValueError, "n_outputs"),
    (lambda: fisher.eigen_stats("relu", batchnorm="yes"), ValueError, "batchnorm"),
    (lambda: fisher.eigen_stats("relu", batchnorm="all"), ValueError, "batchnorm"),
    (lambda: fisher.eigen_stats("relu", width=10, M=10), TypeError, "M"),
    (lambda: fisher.empirical("relu", width=True), TypeError, "width"),
    (lambda: fisher.empirical("relu", width=10, n_samples=1, batchnorm="last"), ValueError, "n_samples"),
    (lambda: fisher.empirical("relu", width=10, seeds=[-1]), ValueError, "seeds"),
    (lambda: fisher.empirical(3), TypeError, "activation"),
])
def test_bad_input(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_eigen_stats_old_argument_names_still_work():
    new = fisher.eigen_stats("relu", 2, 2.0, 0.1, width=500, n_samples=30, n_outputs=2, batchnorm="last")
    with pytest.warns(DeprecationWarning, match="width"):
        old = fisher.eigen_stats("relu", 2, 2.0, 0.1, M=500, T=30, C=2, batchnorm_last=True)
    assert old.lambda_max == new.lambda_max and old.batchnorm == "last"
    with pytest.warns(DeprecationWarning, match="width"):
        assert old.M == 500
    with pytest.warns(DeprecationWarning):
        assert old.batchnorm_last is True


def test_order_parameters_closed_forms():
    # relu, sigma_b2 = 0: qhat^l = q^l / 2 = sigma_w2^l / 2^l, qtilde^l = (sigma_w2 / 2)^(L - l), and
    # for independent inputs (qhat^0_st = 0) every cross moment stays 0 (relu: E phi phi at c = 0
    # is q / (2 pi) > 0 though: the arc-cosine kernel at c = 0).
    op = fisher.order_parameters("relu", 3, 2.0, 0.0)
    np.testing.assert_allclose(op.q, [2.0, 2.0, 2.0], rtol=1e-15)
    np.testing.assert_allclose(op.q_hat, [1.0, 1.0, 1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(op.q_tilde, [1.0, 1.0, 1.0, 1.0], rtol=1e-15)
    assert op.q_hat_st[1] == pytest.approx(2.0 / (2 * np.pi), rel=1e-14)
    assert op.kappa1 == pytest.approx(4.0 / 3.0, rel=1e-14)   # sum_l alpha qtilde qhat / alpha = 4 / 3
    assert op.status == "ok" and op.stop_layer == 0


def test_order_parameters_overflow_is_a_status(tmp_path):
    import statmech_nn as sn

    op = fisher.order_parameters("erf", 10000, 4.0, 0.0)
    assert op.status == "diverged" and op.stop_layer > 0 and not op.ok
    assert np.all(np.isfinite(op.q)) and np.all(np.isfinite(op.q_hat))
    st = fisher.eigen_stats("erf", 10000, 4.0, 0.0)
    assert st.status == "diverged"
    # relu at sigma_w2 = 4: q doubles per layer and passes 1e8 q^1 at layer 28
    rl = fisher.order_parameters("relu", 40, 4.0, 0.0)
    assert rl.status == "diverged" and rl.stop_layer == 28 and np.isnan(rl.q[28:]).all()
    assert fisher.order_parameters("relu", 40, 4.0, 0.0, divergence_bound=np.inf).status == "ok"
    with pytest.raises(ValueError, match="divergence_bound"):
        fisher.order_parameters("relu", 4, divergence_bound=0.0)
    ok = fisher.order_parameters("tanh", 50, 1.5, 0.1)
    assert ok.status == "ok" and np.isfinite(ok.kappa1)
    for res in (ok, fisher.eigen_stats("relu", 2, 2.0, 0.1, width=[10.0, 100.0])):
        back = sn.load(res.save(tmp_path / type(res).__name__))
        assert back.status == res.status and len(repr(res)) < 2000
