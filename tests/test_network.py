"""The one sampled-network engine behind meanfield.simulate, batchnorm.simulate, fisher.empirical and
ntk.empirical: thread-count invariance, orthogonal weights, the exact Gram, memory caps, the result
protocol."""

import warnings

import numpy as np
import pytest

import statmech_nn as sn
from statmech_nn import _core, batchnorm, fisher, gaussian, meanfield, ntk

# ---- results do not depend on the thread count (bitwise) ------------------------------------------

SIMULATORS = {
    # width 300 > the 128-row block: a single seed is split over several blocks and threads
    "meanfield": lambda seeds, nt: meanfield.simulate("tanh", 1.5, 0.05, 4, 300, seeds=seeds, jacobian=True,
                                                      num_threads=nt),
    "meanfield_orthogonal": lambda seeds, nt: meanfield.simulate("relu", 2.0, 0.0, 3, 200, seeds=seeds,
                                                                 weights="orthogonal", num_threads=nt),
    "batchnorm": lambda seeds, nt: batchnorm.simulate("tanh", 5, 4, 300, 1.5, 0.1, seeds=seeds, num_threads=nt),
    "fisher": lambda seeds, nt: fisher.empirical("erf", 2, 1.5, 0.1, width=300, n_samples=6, n_outputs=2, seeds=seeds,
                                                 return_gram=True, num_threads=nt),
    "fisher_bn": lambda seeds, nt: fisher.empirical("relu", 2, 2.0, 0.1, width=200, n_samples=5, seeds=seeds,
                                                    batchnorm="last", num_threads=nt),
    "ntk": lambda seeds, nt: ntk.empirical(np.random.default_rng(0).normal(size=(4, 7)), None, "relu", 2, 2.0, 0.1,
                                           "ntk", 300, n_outputs=2, seeds=seeds, num_threads=nt),
}


@pytest.mark.parametrize("name", sorted(SIMULATORS))
@pytest.mark.parametrize("seeds", [3, [1, 2, 5]])
def test_every_simulator_is_bitwise_thread_independent(name, seeds):
    a = SIMULATORS[name](seeds, 1)
    b = SIMULATORS[name](seeds, 2)
    assert a.status == "ok" and b.status == "ok"
    n = 0
    for k, v in a.to_dict().items():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            np.testing.assert_array_equal(v, getattr(b, k), err_msg=k)
            n += 1
    assert n >= 3
    c = SIMULATORS[name](7, 2)
    first = next(k for k, v in a.to_dict().items() if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim > 1)
    assert not np.array_equal(getattr(a, first)[0], getattr(c, first)[0])  # another seed, another network


# ---- the sampled weights -------------------------------------------------------------------------

def test_orthogonal_weights_are_orthogonal_and_gaussian_weights_have_the_stated_variance():
    M, sw2, sb2 = 150, 1.7, 0.3
    x, Ws, bs = _core._testing.network_sample([M, M, M], 4, sw2, sb2, "orthogonal", 9)
    for W in Ws:
        np.testing.assert_allclose(W @ W.T, sw2 * np.eye(M), atol=1e-12)
        np.testing.assert_allclose(W.T @ W, sw2 * np.eye(M), atol=1e-12)
    assert not np.allclose(Ws[0], Ws[1])
    # Haar: the sign fix makes the diagonal of R positive, so E W_ii = 0 (no bias towards +1)
    _, Wg, bg = _core._testing.network_sample([400, 500], 3, sw2, sb2, "gaussian", 9)
    W = Wg[0]
    # entries N(0, sw2 / 400): the sample variance of 2e5 entries is within 4 sqrt(2 / 2e5) relative
    assert W.var() == pytest.approx(sw2 / 400, rel=4 * np.sqrt(2 / W.size))
    assert bg[0].var() == pytest.approx(sb2, rel=4 * np.sqrt(2 / 500))
    with pytest.raises(ValueError, match="weights"):
        meanfield.simulate("tanh", 1.0, 0.0, 2, 10, weights="unitary")


@pytest.mark.parametrize("rows,cols", [(300, 120), (120, 300), (1, 50), (50, 1)])
def test_non_square_orthogonal_weights_are_scaled_semi_orthogonal(rows, cols):
    """Haar semi-orthogonal weights: orthonormal columns (rows > cols) or rows (rows < cols), scaled so
    that the mean square entry is sigma_w2 / fan-in, as for Gaussian weights."""
    sw2 = 1.7
    _, Ws, _ = _core._testing.network_sample([cols, rows], 2, sw2, 0.0, "orthogonal", 11)
    W = Ws[0]
    assert W.shape == (rows, cols)
    if rows >= cols:
        np.testing.assert_allclose(W.T @ W, sw2 * rows / cols * np.eye(cols), atol=1e-12 * max(1, rows / cols))
    else:
        np.testing.assert_allclose(W @ W.T, sw2 * np.eye(rows), atol=1e-12)
    # exactly (not only on average): sum of squares = sw2 rows, i.e. mean square entry sw2 / cols
    assert np.mean(W ** 2) == pytest.approx(sw2 / cols, rel=1e-12)


def test_non_square_orthogonal_weights_are_haar():
    """Over seeds, every entry of a sign-fixed Haar semi-orthogonal matrix has mean 0 and the same
    second moment sigma_w2 / cols (the unfixed Householder Q is biased: its R_jj > 0 convention
    would correlate W_jj with the Gaussian draw)."""
    rows, cols, S, sw2 = 6, 3, 4000, 1.0
    for shape in ((rows, cols), (cols, rows)):
        r, c = shape
        W = np.array([_core._testing.network_sample([c, r], 1, sw2, 0.0, "orthogonal", s)[1][0] for s in range(S)])
        # each entry is bounded by the row/column norm, so its variance <= E W^2 = sw2 / c and the
        # mean over S seeds has sd <= sqrt(sw2 / c / S)
        sd = np.sqrt(sw2 / c / S)
        assert np.max(np.abs(W.mean(axis=0))) < 4.5 * sd, shape
        m2 = (W ** 2).mean(axis=0)
        # W_ij^2 s2 / ... : Var(W_ij^2) <= E W^4 <= (max norm^2) E W^2; loose 5-sigma bound
        bound = 5 * np.sqrt((sw2 * max(1, r / c)) * sw2 / c / S)
        assert np.max(np.abs(m2 - sw2 / c)) < bound, shape


@pytest.mark.parametrize("d,width", [(200, 1000), (2000, 1000)])
def test_q_map_of_wide_orthogonal_networks_with_a_non_square_input_layer(d, width):
    """The length map measured on wide orthogonal networks whose first layer is not square (fan-in d)
    matches meanfield.forward: the scaling keeps E|W x|^2 / M_1 = sigma_w2 |x|^2 / d."""
    from statmech_nn import _network
    sw2, sb2, L, q_in, c_in = 1.5, 0.05, 4, 1.3, 0.4
    seeds = [0, 1, 2, 3]
    res = _network.run([d] + [width] * L, 2, "tanh", sigma_w2=sw2, sigma_b2=sb2, seeds=seeds, weights="orthogonal",
                       linear_readout=False, input="pair", q_in=q_in, c_in=c_in)
    pre = res["pre_cov"][:, 1:]
    th = meanfield.forward("tanh", sw2, sb2, L, q_in=q_in, c_in=c_in)
    q = pre[..., 0, 0].mean(axis=0)
    cos = (pre[..., 0, 1] / np.sqrt(pre[..., 0, 0] * pre[..., 1, 1])).mean(axis=0)
    # fluctuations O(1/sqrt(width seeds)) from the biases and the finite width: 3% is > 5 sigma here
    np.testing.assert_allclose(q, th.q_a, rtol=0.03)
    np.testing.assert_allclose(cos, th.c, atol=0.03)
    # the thread count does not change the numbers
    res2 = _network.run([d] + [width] * L, 2, "tanh", sigma_w2=sw2, sigma_b2=sb2, seeds=seeds, weights="orthogonal",
                        linear_readout=False, input="pair", q_in=q_in, c_in=c_in, num_threads=1)
    np.testing.assert_array_equal(res2["pre_cov"], res["pre_cov"])


# ---- the Gram: engine vs the explicit parameter Jacobian --------------------------------------------

def _explicit_jacobian(x, Ws, bs, act, param, sw2, sb2):
    """J[(t, k), theta] = d f_k(x_t) / d theta from the chain rule written as explicit matrix products
    (no recursion on error vectors, no autograd): d f / d u^l = W^L D^{L-1} W^{L-1} ... D^l."""
    L = len(Ws)
    T = x.shape[0]
    C = Ws[-1].shape[0]
    rows = []
    for t in range(T):
        hs, Ds = [x[t]], []
        for l in range(L):
            u = Ws[l] @ hs[-1] + bs[l]
            if l < L - 1:
                Ds.append(np.diag(gaussian.activation(act, u, 1)))
                hs.append(gaussian.activation(act, u))
        for k in range(C):
            blocks = []
            for l in range(L):  # weight layer l + 1
                A = np.eye(C)
                for m in range(L - 1, l, -1):
                    A = A @ Ws[m] @ Ds[m - 1]
                dfdu = A[k]
                wf = sw2 / Ws[l].shape[1] if param == "ntk" else 1.0
                bf = sb2 if param == "ntk" else 1.0
                blocks.append(np.sqrt(wf) * np.outer(dfdu, hs[l]).ravel())
                blocks.append(np.sqrt(bf) * dfdu)
            rows.append(np.concatenate(blocks))
    return np.array(rows)


@pytest.mark.parametrize("act,batchnorm_mode", [("tanh", "none"), ("relu", "none"), ("erf", "last")])
def test_fisher_gram_equals_the_explicit_jacobian_gram(act, batchnorm_mode):
    T, C, M, seed, sw2, sb2 = 5, 3, 7, 4, 1.7, 0.3
    em = fisher.empirical(act, 2, sw2, sb2, width=M, n_samples=T, n_outputs=C, seeds=[seed], return_gram=True,
                          batchnorm=batchnorm_mode)
    x, Ws, bs = _core._testing.network_sample(list(em.widths), T, sw2, sb2, "gaussian", seed)
    J = _explicit_jacobian(x.T, Ws, bs, act, "standard", sw2, sb2)
    assert J.shape == (T * C, em.num_params)
    if batchnorm_mode == "last":
        J = np.kron(np.eye(T) - 1.0 / T, np.eye(C)) @ J
    G = J @ J.T
    np.testing.assert_allclose(em.gram[0], G, rtol=0, atol=1e-12 * np.abs(G).max())
    ev = np.sort(np.linalg.eigvalsh(J.T @ J / T))[::-1][: T * C]
    np.testing.assert_allclose(em.eigenvalues[0], ev, rtol=0, atol=1e-11 * ev[0])


@pytest.mark.parametrize("param", ["ntk", "standard"])
def test_ntk_gram_equals_the_explicit_jacobian_gram(param):
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=(3, 5)), rng.normal(size=(2, 5))
    sw2, sb2, width, C, seed = 1.9, 0.2, 6, 2, 8
    e = ntk.empirical(x1, x2, "tanh", 2, sw2, sb2, param, width, n_outputs=C, seeds=seed)
    # the engine's weights for given inputs are those of the Gaussian-input draw (same streams)
    _, Ws, bs = _core._testing.network_sample([5, width, width, C], 5, sw2, sb2, "gaussian", seed)
    x = np.concatenate([x1, x2])
    J = _explicit_jacobian(x, Ws, bs, "tanh", param, sw2, sb2).reshape(5, C, -1)
    full = np.einsum("akp,blp->akbl", J[:3], J[3:])
    np.testing.assert_allclose(e.ntk_full[0], full, rtol=0, atol=1e-12 * np.abs(full).max())
    f = np.stack([Ws[2] @ np.tanh(Ws[1] @ np.tanh(Ws[0] @ xi + bs[0]) + bs[1]) + bs[2] for xi in x])
    np.testing.assert_allclose(e.f1[0], f[:3], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(e.f2[0], f[3:], rtol=1e-13, atol=1e-13)


# ---- memory caps -----------------------------------------------------------------------------------

def test_memory_cap_raises_value_error_naming_the_parameter():
    with pytest.raises(ValueError, match="width"):
        fisher.empirical("relu", width=10**6)
    with pytest.raises(ValueError, match="n_samples"):
        fisher.empirical("relu", width=10, n_samples=10**5)
    with pytest.raises(ValueError, match="width"):
        meanfield.simulate("tanh", 1.0, 0.0, 2, 10**5, seeds=0)
    with pytest.raises(ValueError, match="width"):
        ntk.empirical(np.ones((2, 3)), width=10**6, depth=2)
    with pytest.raises(ValueError, match="n_outputs"):
        ntk.empirical(np.ones((2, 3)), width=10, n_outputs=10**5)


# ---- vocabulary, statuses and the result protocol ------------------------------------------------------

def test_meanfield_seeds_and_deprecated_samples_seed():
    a = meanfield.simulate("tanh", 1.5, 0.05, 3, 50, seeds=range(5, 8))
    with pytest.warns(DeprecationWarning, match="seeds"):
        b = meanfield.simulate("tanh", 1.5, 0.05, 3, 50, samples=3, seed=5)
    np.testing.assert_array_equal(a.q_a, b.q_a)
    assert list(a.seeds) == [5, 6, 7] and list(a.seed_status) == ["ok"] * 3 and list(a.stop_layer) == [3] * 3
    one = meanfield.simulate("tanh", 1.5, 0.05, 3, 50, seeds=6)
    np.testing.assert_array_equal(one.q_a[0], a.q_a[1])
    with pytest.raises(TypeError, match="seeds"):
        meanfield.simulate("tanh", 1.5, 0.05, 3, 50, seeds=1, samples=2)


def test_overflowing_activations_say_diverged():
    # relu with sigma_w2 = 1e12: q grows by 5e11 per layer and overflows float64 after ~26 layers
    sim = meanfield.simulate("relu", 1e12, 0.0, 60, 20, seeds=[0, 1])
    assert sim.status == "diverged" and not sim.ok
    assert list(sim.seed_status) == ["diverged", "diverged"]
    stop = int(sim.stop_layer[0])
    assert 10 < stop < 60
    assert np.all(np.isfinite(sim.q_a[0, :stop])) and np.all(np.isnan(sim.q_a[0, stop:]))
    assert sim.q_grad is not None and np.all(np.isnan(sim.q_grad[0]))
    # the same words from the Fisher and NTK simulators (sigma_w2 = 1e80: the output layer overflows)
    em = fisher.empirical("relu", 3, 1e80, 0.0, width=20, n_samples=4, seeds=[0, 1])
    assert em.status == "diverged" and not em.ok and list(em.stop_layer) == [3, 3]
    assert np.all(np.isnan(em.lambda_max))
    e = ntk.empirical(np.eye(3), None, "relu", 3, 1e80, 0.0, "standard", 20, seeds=0)
    assert e.status == "diverged" and not e.ok


def test_fisher_and_ntk_vocabulary():
    with pytest.warns(DeprecationWarning):
        old = fisher.empirical("relu", 2, 2.0, 0.1, M=40, T=6, C=2, seeds=1, batchnorm_last=True)
    new = fisher.empirical("relu", 2, 2.0, 0.1, width=40, n_samples=6, n_outputs=2, seeds=1, batchnorm="last")
    np.testing.assert_array_equal(old.eigenvalues, new.eigenvalues)
    with pytest.warns(DeprecationWarning):
        assert new.mean[0] == new.m_lambda[0]
    x = np.random.default_rng(1).normal(size=(3, 4))
    a = ntk.empirical(x, None, "erf", 1, 2.0, 0.1, "standard", 30, seeds=2)
    with pytest.warns(DeprecationWarning):
        b = ntk.empirical(x, None, "erf", 1, 2.0, 0.1, 30, "standard", seeds=2)  # the old positional order
    np.testing.assert_array_equal(a.ntk, b.ntk)


@pytest.mark.parametrize("make", [
    lambda: meanfield.simulate("tanh", 1.5, 0.05, 3, 40, seeds=[1, 2], jacobian=True),
    lambda: fisher.empirical("relu", 2, 2.0, 0.1, width=30, n_samples=5, seeds=[1, 2], return_gram=True),
    lambda: ntk.empirical(np.eye(3), None, "relu", 1, 2.0, 0.1, seeds=[1, 2], width=20),
    lambda: batchnorm.simulate("relu", 4, 3, 30, seeds=[1, 2]),
])
def test_simulator_results_follow_the_protocol(make, tmp_path):
    res = make()
    assert res.status in sn.STATUSES and res.ok and len(repr(res)) < 2000
    assert list(res.seeds) == [1, 2] and list(res.seed_status) == ["ok", "ok"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = sn.load(res.save(tmp_path / "r"))
    assert type(back) is type(res) and back.status == res.status
    for k, v in res.to_dict().items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(getattr(back, k), v, err_msg=k)


# ---- Ctrl-C ----------------------------------------------------------------------------------------

INTERRUPT_SCRIPT = r"""
import sys, time
import statmech_nn.meanfield as mf
print("ready", flush=True)
t0 = time.time()
try:
    mf.simulate("tanh", 1.5, 0.05, 3000, 2000, seeds=[0, 1, 2], num_threads=int(sys.argv[1]))  # minutes of work
except KeyboardInterrupt:
    print(f"interrupted {time.time() - t0:.2f}", flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_interrupts_the_engine(threads):
    import os

    from _interrupt import interrupt_child

    if os.name != "posix":
        pytest.skip("needs POSIX signals")
    out = interrupt_child(INTERRUPT_SCRIPT, str(threads))
    assert "interrupted" in out
