"""statmech_nn.training: gradient descent on the engine's networks against a NumPy implementation
of the same updates (itself checked by finite differences), the shared convention with the Fisher
information, thread invariance, Ctrl-C, the result protocol and bad inputs."""

import os

import numpy as np
import pytest
from scipy.special import erf

import statmech_nn as sn
from statmech_nn import _core

PHI = {
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
    "tanh": (np.tanh, lambda x: 1.0 / np.cosh(x) ** 2),
    "erf": (lambda x: erf(x / np.sqrt(2.0)), lambda x: np.sqrt(2.0 / np.pi) * np.exp(-0.5 * x * x)),
}


# ---- a NumPy reference of the documented network, loss and update ----------------------------------

def ref_forward(Ws, bs, X, act, bn):
    """Outputs (B, C) and the cache of the backward pass; X is (B, d)."""
    phi, _ = PHI[act]
    a, cache = X, []
    L = len(Ws)
    for l in range(L):
        u = a @ Ws[l].T + bs[l]
        if l == L - 1:
            break
        if bn == "all":
            uc = u - u.mean(axis=0)
            nrm = np.sqrt((uc ** 2).sum(axis=0))
            x = np.sqrt(u.shape[0]) * uc / nrm
            cache.append((a, x, nrm))
            a = phi(x)
        else:
            cache.append((a, u, None))
            a = phi(u)
    cache.append((a, None, None))
    f = u - u.mean(axis=0) if bn == "last" else u
    return f, cache


def ref_loss(Ws, bs, X, Y, act, bn):
    f, _ = ref_forward(Ws, bs, X, act, bn)
    return 0.5 * np.sum((f - Y) ** 2) / X.shape[0]


def ref_grads(Ws, bs, X, Y, act, bn):
    """dLoss/dW^l, dLoss/db^l by hand-written backpropagation."""
    _, dphi = PHI[act]
    f, cache = ref_forward(Ws, bs, X, act, bn)
    B = X.shape[0]
    E = (f - Y) / B
    if bn == "last":
        E = E - E.mean(axis=0)
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        a_in = cache[l][0]
        gW[l] = E.T @ a_in
        gb[l] = E.sum(axis=0)
        if l == 0:
            break
        G = E @ Ws[l]
        _, z, nrm = cache[l - 1]
        if bn == "all":
            v = dphi(z) * G
            vc = v - v.mean(axis=0)
            proj = (z * vc).sum(axis=0) / B
            E = np.sqrt(B) / nrm * (vc - z * proj)
        else:
            E = G * dphi(z)
    return gW, gb


def ref_train(Ws, bs, X, Y, act, bn, param, sigma_w2, sigma_b2, eta, steps, batches=None):
    Ws, bs = [w.copy() for w in Ws], [b.copy() for b in bs]
    losses, norms, outs = [], [], []
    for k in range(steps + 1):
        f, _ = ref_forward(Ws, bs, X, act, bn)
        losses.append(0.5 * np.sum((f - Y) ** 2) / X.shape[0])
        outs.append(f)
        gW, gb = ref_grads(Ws, bs, X, Y, act, bn)
        sw = [sigma_w2 / w.shape[1] if param == "ntk" else 1.0 for w in Ws]
        sb = sigma_b2 if param == "ntk" else 1.0
        norms.append([np.sqrt(sw[l] * np.sum(gW[l] ** 2) + sb * np.sum(gb[l] ** 2)) for l in range(len(Ws))])
        if k == steps:
            break
        if batches is not None:
            idx = batches[k]
            gW, gb = ref_grads(Ws, bs, X[idx], Y[idx], act, bn)
        for l in range(len(Ws)):
            Ws[l] -= eta * sw[l] * gW[l]
            bs[l] -= eta * sb * gb[l]
    return np.array(losses), np.array(norms), np.array(outs)


def engine_params(widths, n, sigma_w2, sigma_b2, weights, seed):
    """The engine's initial network of `seed` (every layer, square or not, drawn by the engine) and
    its input batch."""
    X, Ws, bs = _core._testing.network_sample(widths, n, sigma_w2, sigma_b2, weights, seed)
    return X.T, Ws, bs


def test_reference_gradients_match_finite_differences():
    """The NumPy reference backpropagation (incl. batch norm) is the gradient of its loss."""
    rng = np.random.default_rng(5)
    widths = [4, 5, 5, 2]
    for act, bn in [("tanh", "none"), ("tanh", "all"), ("relu", "last"), ("erf", "all")]:
        Ws = [rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l]) for l in range(3)]
        bs = [0.3 * rng.normal(size=widths[l + 1]) for l in range(3)]
        X, Y = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
        gW, gb = ref_grads(Ws, bs, X, Y, act, bn)
        h = 1e-6
        for l in range(3):
            for (i, j) in [(0, 0), (1, 2), (widths[l + 1] - 1, widths[l] - 1)]:
                Wp = [w.copy() for w in Ws]
                Wm = [w.copy() for w in Ws]
                Wp[l][i, j] += h
                Wm[l][i, j] -= h
                fd = (ref_loss(Wp, bs, X, Y, act, bn) - ref_loss(Wm, bs, X, Y, act, bn)) / (2 * h)
                assert abs(fd - gW[l][i, j]) < 1e-7 * max(1.0, abs(fd)), (act, bn, l, i, j)
            bp = [b.copy() for b in bs]
            bm = [b.copy() for b in bs]
            bp[l][0] += h
            bm[l][0] -= h
            fd = (ref_loss(Ws, bp, X, Y, act, bn) - ref_loss(Ws, bm, X, Y, act, bn)) / (2 * h)
            assert abs(fd - gb[l][0]) < 1e-7 * max(1.0, abs(fd))


CASES = [
    # activation, parameterization, batchnorm, weights, batch_size, n_outputs
    ("tanh", "standard", "none", "gaussian", None, 1),
    ("relu", "standard", "none", "gaussian", None, 2),
    ("erf", "ntk", "none", "gaussian", None, 2),
    ("tanh", "standard", "none", "orthogonal", None, 1),
    ("tanh", "standard", "last", "gaussian", None, 2),
    ("relu", "ntk", "last", "gaussian", None, 1),
    ("tanh", "standard", "all", "gaussian", None, 1),
    ("relu", "ntk", "all", "orthogonal", None, 2),
    ("tanh", "standard", "none", "gaussian", 3, 1),
    ("relu", "ntk", "last", "gaussian", 4, 2),
    ("tanh", "standard", "all", "orthogonal", 4, 2),
]


@pytest.mark.parametrize("act,param,bn,weights,batch,C", CASES)
@pytest.mark.parametrize("targets", ["teacher", "noise"])
def test_train_equals_numpy_reference(act, param, bn, weights, batch, C, targets):
    width, depth, n, steps, seed = 6, 2, 9, 20, 3
    sigma_w2, sigma_b2 = 1.7, 0.2
    eta = 0.05 if param == "standard" else 0.3
    res = sn.training.train(act, depth, width, eta, sigma_w2=sigma_w2, sigma_b2=sigma_b2, n_outputs=C,
                            n_samples=n, steps=steps, batch_size=batch, parameterization=param, batchnorm=bn,
                            weights=weights, seeds=[seed], targets=targets, outputs_train=True, return_data=True)
    assert res.status == "ok"
    widths = [width] * (depth + 1) + [C]
    X0, Ws, bs = engine_params(widths, n, sigma_w2, sigma_b2, weights, seed)
    X, Y = res.x_train[0], res.y_train[0]
    np.testing.assert_array_equal(X, X0)   # the engine's input batch of the seed
    batches = None
    if batch is not None:
        batches = _core._testing.training_batches(seed, depth + 1, n, batch, steps)
        assert all(len(set(b)) == batch for b in batches)
    loss, norms, outs = ref_train(Ws, bs, X, Y, act, bn, param, sigma_w2, sigma_b2, eta, steps, batches)
    np.testing.assert_allclose(res.loss[0], loss, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(res.grad_norm[0], norms, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(res.outputs_train[0], outs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.t, np.arange(steps + 1) * eta)
    assert loss[-1] < loss[0]   # the reference itself trains


def test_teacher_targets_are_the_teacher_network_outputs():
    n, width, depth = 7, 5, 2
    res = sn.training.train("tanh", depth, width, 0.1, sigma_w2=1.5, sigma_b2=0.1, n_samples=n, steps=0, seeds=4,
                            return_data=True, n_test=3)
    X, Wt, bt = _core._testing.network_sample([width] * (depth + 1) + [1], n, 1.5, 0.1, "gaussian",
                                              4 ^ 0x9E3779B97F4A7C15)
    f, _ = ref_forward(Wt, bt, res.x_train[0], "tanh", "none")
    np.testing.assert_allclose(res.y_train[0], f, rtol=1e-12, atol=1e-14)
    ft, _ = ref_forward(Wt, bt, res.x_test[0], "tanh", "none")
    np.testing.assert_allclose(res.y_test[0], ft, rtol=1e-12, atol=1e-14)
    assert res.test_loss.shape == (1, 1) and np.isfinite(res.test_loss).all()


def test_given_data_test_split_and_eval_points():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    Xt, yt = rng.normal(size=(5, 3)), rng.normal(size=5)
    xe = rng.normal(size=(4, 3))
    r = sn.training.train("tanh", 1, 8, 0.2, sigma_w2=1.0, sigma_b2=0.0, data=(X, y, Xt, yt), steps=10, record=5,
                          x_eval=xe, seeds=[0, 1])
    np.testing.assert_array_equal(r.steps, [0, 5, 10])
    assert r.outputs.shape == (2, 3, 4, 1) and r.test_loss.shape == (2, 3) and r.data == "given"
    _, Ws, bs = engine_params([3, 8, 1], 12, 1.0, 0.0, "gaussian", 1)
    f, _ = ref_forward(Ws, bs, xe, "tanh", "none")
    np.testing.assert_allclose(r.outputs[1, 0], f, rtol=1e-12)
    f, _ = ref_forward(Ws, bs, Xt, "tanh", "none")
    np.testing.assert_allclose(r.test_loss[1, 0], 0.5 * np.sum((f[:, 0] - yt) ** 2) / 5, rtol=1e-12)


def test_one_convention_hessian_is_the_fisher_information():
    """Loss 1/(2n) sum (f-y)^2: one small GD step moves the outputs by -eta G (f - y) / n with G the
    Gram of fisher.empirical on the same network and data, so the residual evolves with
    (I - eta G / n) and the top mode, lambda_max(F) = lambda_max(G) / n, is stable iff
    eta < 2 / lambda_max (the linearised dynamics)."""
    w, n, seed = 40, 10, 2
    fe = sn.fisher.empirical("relu", 1, 2.0, 0.1, width=w, n_samples=n, seeds=seed, return_gram=True)
    r = sn.training.train("relu", 1, w, 1e-6, sigma_w2=2.0, sigma_b2=0.1, n_samples=n, steps=1, seeds=seed,
                          outputs_train=True, return_data=True, targets="noise")
    G = fe.gram[0]
    res0 = r.outputs_train[0, 0, :, 0] - r.y_train[0, :, 0]
    # First-order change of the outputs: f1 - f0 = -eta J J^T (f0 - y) / n = -eta G res0 / n.
    df = r.outputs_train[0, 1, :, 0] - r.outputs_train[0, 0, :, 0]
    np.testing.assert_allclose(df, -1e-6 * G @ res0 / n, rtol=1e-4, atol=1e-12)
    assert fe.lambda_max[0] == pytest.approx(np.linalg.eigvalsh(G)[-1] / n, rel=1e-12)


@pytest.mark.parametrize("fac", [0.7, 1.5])
def test_learning_rate_bound_top_mode(fac):
    """eta_c = 2 / lambda_max(F) of fisher.empirical on the same network and data is the stability
    bound of full-batch GD: the residual along the top eigenvector of the Gram is multiplied by
    about |1 - eta lambda_max| = |1 - 2 fac| per step (0.4: shrinks, 2: grows), and the loss
    decreases monotonically below the bound but grows over the first steps above it (every seed).
    (Above the bound a wide network is then typically caught by the catapult mechanism of
    Lewkowycz et al. 2020 rather than diverging; see the slow test.)"""
    seeds = [0, 1, 2]
    fe = sn.fisher.empirical("relu", 2, 2.0, 0.1, width=100, n_samples=40, seeds=seeds, return_gram=True)
    for i, s in enumerate(seeds):
        r = sn.training.train("relu", 2, 100, fac * 2 / fe.lambda_max[i], sigma_w2=2.0, sigma_b2=0.1,
                              n_samples=40, steps=5, seeds=s, outputs_train=True, return_data=True)
        v = np.linalg.eigh(fe.gram[i])[1][:, -1]
        top = np.abs((r.outputs_train[0, :, :, 0] - r.y_train[0, :, 0]) @ v)
        ratio = top[1] / top[0]
        if fac > 1:
            assert 1.5 < ratio < 2.2, (s, ratio)
            assert r.loss[0].max() > 2 * r.loss[0, 0], s
        else:
            assert 0.25 < ratio < 0.5, (s, ratio)
            assert np.all(np.diff(r.loss[0]) < 0), s


def test_thread_invariance_bitwise():
    kw = dict(sigma_w2=2.0, sigma_b2=0.1, n_samples=20, steps=5, n_test=4, batch_size=7)
    for seeds in ([0, 1, 2], [5]):   # seeds in parallel, and one seed split over row blocks
        a = sn.training.train("relu", 2, 700, 1e-3, seeds=seeds, num_threads=1, **kw)
        b = sn.training.train("relu", 2, 700, 1e-3, seeds=seeds, num_threads=2, **kw)
        np.testing.assert_array_equal(a.loss, b.loss)
        np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
        np.testing.assert_array_equal(a.test_loss, b.test_loss)
    a = sn.training.train("tanh", 2, 600, 0.05, seeds=[1], num_threads=1, batchnorm="all", **kw)
    b = sn.training.train("tanh", 2, 600, 0.05, seeds=[1], num_threads=2, batchnorm="all", **kw)
    np.testing.assert_array_equal(a.loss, b.loss)


def test_divergence_is_reported():
    r = sn.training.train("relu", 2, 50, 5.0, sigma_w2=2.0, sigma_b2=0.1, n_samples=20, steps=200, seeds=[0, 1])
    assert r.status == "diverged" and not r.ok and r.diverged.all()
    assert np.all(r.stop_step < 200)
    for s in range(2):
        k = int(np.searchsorted(r.steps, r.stop_step[s]))
        assert np.all(np.isnan(r.loss[s, k:])) and np.all(np.isfinite(r.loss[s, :k]))
    np.testing.assert_allclose(r.stop_time, r.stop_step * 5.0)


def test_result_roundtrip(tmp_path):
    r = sn.training.train("tanh", 1, 10, 0.1, sigma_w2=1.0, sigma_b2=0.0, n_samples=6, steps=4, seeds=[0, 1],
                          n_test=3, x_eval=np.ones((2, 10)))
    assert len(repr(r)) < 2000 and r.ok and r.status in sn.STATUSES
    back = sn.load(r.save(tmp_path / "train.npz"))
    assert type(back).__name__ == "TrainingResult" and back.status == r.status
    np.testing.assert_array_equal(back.loss, r.loss)
    np.testing.assert_array_equal(back.outputs, r.outputs)
    np.testing.assert_array_equal(back.seed_status, r.seed_status)


def test_digits():
    pytest.importorskip("sklearn")
    r = sn.training.train("relu", 1, 32, 0.05, sigma_w2=2.0, sigma_b2=0.0, n_outputs=10, n_samples=200, data="digits",
                          steps=30, record=10)
    assert r.widths[0] == 64 and r.test_loss.shape == (1, 4) and r.data == "digits"
    assert r.loss[0, -1] < r.loss[0, 0] and r.test_loss[0, -1] < r.test_loss[0, 0]
    X, Y, Xt, Yt = sn.training.load_digits(200, n_outputs=1)
    assert X.shape == (200, 64) and Xt.shape[0] == 1797 - 200 and set(np.unique(Y)) == {-1.0, 1.0}


BAD = [
    (dict(depth=0), ValueError, "depth"),
    (dict(width=0), ValueError, "width"),
    (dict(eta=-1.0), ValueError, "eta"),
    (dict(eta=float("nan")), ValueError, "eta"),
    (dict(sigma_w2=0.0), ValueError, "sigma_w2"),
    (dict(steps=-1), ValueError, "steps"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=11), ValueError, "batch_size"),
    (dict(batchnorm="some"), ValueError, "batchnorm"),
    (dict(batchnorm="all", batch_size=1), ValueError, "batch_size"),
    (dict(parameterization="mup"), ValueError, "parameterization"),
    (dict(weights="uniform"), ValueError, "weights"),
    (dict(record=[0, 99]), ValueError, "record"),
    (dict(record="all"), TypeError, "record"),
    (dict(data="mnist"), ValueError, "data"),
    (dict(data=3), TypeError, "data"),
    (dict(data=(np.ones((4, 3)), np.ones(5))), ValueError, "data"),
    (dict(seeds=-1), ValueError, "seeds"),
    (dict(num_threads=0), ValueError, "num_threads"),
    (dict(activation="nope"), ValueError, "activation"),
    (dict(x_eval=np.ones((2, 7))), ValueError, "x_eval"),
    (dict(outputs_train=1), TypeError, "outputs_train"),
    (dict(width=60000, n_samples=10), ValueError, "width"),       # 4 GiB of weights
    (dict(steps=10**12), ValueError, "steps"),                     # 1e15 flops
    (dict(n_samples=None), ValueError, "n_samples"),
    (dict(divergence_bound=0.5), ValueError, "divergence_bound"),
]


@pytest.mark.parametrize("kw,exc,name", BAD)
def test_bad_inputs_name_the_parameter(kw, exc, name):
    args = dict(activation="tanh", depth=1, width=5, eta=0.1, sigma_w2=1.0, sigma_b2=0.0, n_samples=10, steps=2)
    args.update(kw)
    with pytest.raises(exc, match=name):
        sn.training.train(args.pop("activation"), args.pop("depth"), args.pop("width"), args.pop("eta"), **args)


INTERRUPT_SCRIPT = r"""
import sys, time
import statmech_nn as sn
print("ready", flush=True)
try:
    sn.training.train("relu", 3, 400, 1e-4, sigma_w2=2.0, sigma_b2=0.1, n_samples=200, steps=10**5,
                      seeds=[0, 1, 2, 3], num_threads=2, record=1000)
except KeyboardInterrupt:
    print(f"interrupted {time.time():.6f}", flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_ctrl_c_stops_every_thread():
    import time

    from _interrupt import interrupt_child

    t_sent = time.time() + 1.0
    out = interrupt_child(INTERRUPT_SCRIPT, wait=1.0, timeout=30.0)
    assert "interrupted" in out
    latency = float(out.split()[-1]) - t_sent
    assert latency < 5.0, latency


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"statmech_nn\[data\]"):
        sn.training.train("relu", 1, 8, 0.1, sigma_w2=2.0, sigma_b2=0.0, n_samples=20, data="digits", steps=1)


@pytest.mark.parametrize("bn", ["none", "last"])
def test_lambda_max_of_the_training_data_is_fishers(bn):
    """reproduce.training.lambda_max (the Gram of ntk.empirical on train's data, centred for
    batchnorm "last") = fisher.empirical's lambda_max of the same seed (same network, same inputs)."""
    from statmech_nn.reproduce.training import lambda_max
    act, depth, width, n = "tanh", 2, 40, 12
    fe = sn.fisher.empirical(act, depth, 1.5, 0.05, width=width, n_samples=n, seeds=[3, 4], batchnorm=bn)
    for i, s in enumerate([3, 4]):
        X = sn.training.train(act, depth, width, 0.1, sigma_w2=1.5, sigma_b2=0.05, n_samples=n, steps=0, seeds=s,
                              return_data=True).x_train[0]
        assert lambda_max(act, depth, width, X, 1, 1.5, 0.05, bn, s) == pytest.approx(fe.lambda_max[i], rel=1e-10)


def test_orthogonal_input_and_read_out_layers_with_input_dim():
    """With weights="orthogonal" every layer is the engine's (semi-)orthogonal draw, the input layer
    (input_dim != width) and the read-out included: the initial outputs are those of the engine's network."""
    d, width, depth, n, C = 7, 5, 2, 6, 3
    r = sn.training.train("tanh", depth, width, 0.1, sigma_w2=1.3, sigma_b2=0.1, n_samples=n, n_outputs=C, steps=0,
                          seeds=2, weights="orthogonal", input_dim=d, outputs_train=True, return_data=True)
    X, Ws, bs = engine_params([d] + [width] * depth + [C], n, 1.3, 0.1, "orthogonal", 2)
    np.testing.assert_array_equal(r.x_train[0], X)
    np.testing.assert_allclose(Ws[0] @ Ws[0].T, 1.3 * np.eye(width), atol=1e-12)      # narrowing 7 -> 5: rows
    np.testing.assert_allclose(Ws[-1] @ Ws[-1].T, 1.3 * np.eye(C), atol=1e-12)        # read-out 5 -> 3
    f, _ = ref_forward(Ws, bs, X, "tanh", "none")
    np.testing.assert_allclose(r.outputs_train[0, 0], f, rtol=1e-12, atol=1e-13)
