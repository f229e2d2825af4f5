"""ntk.kernels with per-layer variances and bias-free layers: against a NumPy recursion written here
(the arc-cosine and arcsine kernels on arrays), against Monte Carlo networks sampled here in NumPy
with the same per-layer variances (the sampled-network engine behind ntk.empirical takes one
sigma_w2 / sigma_b2 for every layer, so it cannot be the twin of this case), and the validation."""

import numpy as np
import pytest

from statmech_nn import ntk


def _numpy_recursion(act, x1, x2, sw2, sb2, same=False):
    """NNGP and NTK ("ntk" parameterisation) for relu or erf(x/sqrt 2), layer by layer (same: x2 is
    x1, whose own pairs have correlation 1 exactly; S / s there is 1 only to an ulp, which would
    cost arccos 1e-8)."""
    d = x1.shape[1]
    S = sw2[0] * x1 @ x2.T / d + sb2[0]
    qa = sw2[0] * np.sum(x1 * x1, 1) / d + sb2[0]
    qb = sw2[0] * np.sum(x2 * x2, 1) / d + sb2[0]
    T = S.copy()
    for w, b in zip(sw2[1:], sb2[1:]):
        if act == "relu":
            s = np.sqrt(np.outer(qa, qb))
            c = np.clip(S / s, -1.0, 1.0)
            if same:
                np.fill_diagonal(c, 1.0)
            th = np.arccos(c)
            pp = s * (np.sqrt(1 - c * c) + (np.pi - th) * c) / (2 * np.pi)
            dd = (np.pi - th) / (2 * np.pi)
            pa, pb = qa / 2, qb / 2
        else:
            e = np.sqrt(np.outer(1 + qa, 1 + qb))
            pp = 2 / np.pi * np.arcsin(S / e)
            dd = 2 / np.pi / np.sqrt(e * e - S * S)
            pa, pb = 2 / np.pi * np.arcsin(qa / (1 + qa)), 2 / np.pi * np.arcsin(qb / (1 + qb))
        S, T = w * pp + b, w * pp + b + w * dd * T
        qa, qb = w * pa + b, w * pb + b
    return S, T


@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("sw2,sb2", [([2.0, 1.0, 3.0, 0.5], [0.1, 0.0, 0.3, 0.0]),
                                     ([0.5, 2.5, 1.5, 1.0], [0.0, 0.0, 0.0, 0.0]),
                                     ([1.0, 1.0, 1.0, 2.0], [0.5, 0.2, 0.0, 1.0])])
def test_per_layer_variances_match_a_numpy_recursion(act, sw2, sb2):
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((23, 5)), rng.standard_normal((9, 5))
    for a, b in ((x1, None), (x1, x2)):
        k = ntk.kernels(a, b, act, 3, sw2, sb2)
        S, T = _numpy_recursion(act, a, a if b is None else b, sw2, sb2, same=b is None)
        np.testing.assert_allclose(k.nngp, S, rtol=1e-12, atol=1e-14 * np.abs(S).max())
        np.testing.assert_allclose(k.ntk, T, rtol=1e-12, atol=1e-14 * np.abs(T).max())


@pytest.mark.parametrize("act", ["relu", "erf", "tanh", "gelu"])
def test_equal_per_layer_variances_are_the_scalar_call_bitwise(act):
    x = np.random.default_rng(4).standard_normal((11, 4))
    for param, width in (("ntk", None), ("standard", 100)):
        a = ntk.kernels(x, x[:3] + 0.5, act, 2, 1.7, 0.2, param, width, return_layers=True)
        b = ntk.kernels(x, x[:3] + 0.5, act, 2, [1.7] * 3, (0.2, 0.2, 0.2), param, width, return_layers=True)
        np.testing.assert_array_equal(a.ntk_layers, b.ntk_layers)
        np.testing.assert_array_equal(a.nngp_layers, b.nngp_layers)


def test_quadrature_activation_with_per_layer_variances():
    """tanh (no closed form: Mehler series / 2-D rule): changing one layer's variance changes the
    kernels from that layer on only, and the diagonal is the mean-field q recursion."""
    x = np.random.default_rng(6).standard_normal((6, 4))
    a = ntk.kernels(x, None, "tanh", 2, [1.5, 1.5, 1.5], [0.1, 0.1, 0.1], return_layers=True)
    b = ntk.kernels(x, None, "tanh", 2, [1.5, 1.5, 2.5], [0.1, 0.1, 0.0], return_layers=True)
    np.testing.assert_array_equal(a.nngp_layers[:2], b.nngp_layers[:2])
    np.testing.assert_array_equal(a.ntk_layers[:2], b.ntk_layers[:2])
    np.testing.assert_allclose(b.nngp_layers[2], (a.nngp_layers[2] - 0.1) / 1.5 * 2.5, rtol=1e-13)


def _sampled_ntk(act, x, sw2, sb2, width, seed):
    """Empirical NTK (one output, "ntk" parameterisation) of one network sampled here."""
    rng = np.random.default_rng(seed)
    phi = {"relu": lambda u: np.maximum(u, 0.0), "erf": None}[act]
    dphi = lambda u: (u > 0).astype(float)  # noqa: E731
    L = len(sw2)
    fan = [x.shape[1]] + [width] * (L - 1)
    outs = [width] * (L - 1) + [1]
    W = [rng.standard_normal((outs[l], fan[l])) for l in range(L)]
    B = [rng.standard_normal(outs[l]) for l in range(L)]
    hs, us = [x.T], []
    for l in range(L):
        u = np.sqrt(sw2[l] / fan[l]) * W[l] @ hs[-1] + np.sqrt(sb2[l]) * B[l][:, None]
        us.append(u)
        hs.append(phi(u))
    delta = np.ones((1, x.shape[0]))
    K = np.zeros((x.shape[0], x.shape[0]))
    for l in range(L - 1, -1, -1):
        dd = delta.T @ delta
        K += sw2[l] / fan[l] * dd * (hs[l].T @ hs[l]) + sb2[l] * dd
        if l > 0:
            delta = (np.sqrt(sw2[l] / fan[l]) * W[l]).T @ delta * dphi(us[l - 1])
    return K


def test_per_layer_variances_match_sampled_wide_networks():
    """Bias-free hidden layers and unequal weight variances in wide relu networks sampled here:
    the empirical NTK (fluctuations O(1/sqrt(width))) averages to the kernel."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6)) + 0.5
    sw2, sb2 = [2.0, 1.0, 3.0], [0.3, 0.0, 0.5]
    K = np.mean([_sampled_ntk("relu", x, sw2, sb2, 3000, s) for s in range(4)], axis=0)
    theory = ntk.kernels(x, None, "relu", 2, sw2, sb2).ntk
    assert np.abs(K - theory).max() / np.abs(theory).max() < 0.05
    # the scalar call's variances (1, 0.3 everywhere) are a different kernel, far outside that
    other = ntk.kernels(x, None, "relu", 2, 1.0, 0.3).ntk
    assert np.abs(K - other).max() / np.abs(theory).max() > 0.2
    # ... and so is the kernel with the bias of the middle layer put back (0.17 away)
    biased = ntk.kernels(x, None, "relu", 2, sw2, [0.3, 0.3, 0.5]).ntk
    assert np.abs(K - biased).max() / np.abs(theory).max() > 0.1


@pytest.mark.parametrize("kw,match", [({"sigma_w2": [1.0, 2.0]}, "sigma_w2"),
                                      ({"sigma_w2": [1.0, 0.0, 1.0]}, "sigma_w2"),
                                      ({"sigma_w2": [1.0, np.inf, 1.0]}, "sigma_w2"),
                                      ({"sigma_b2": [0.1, -0.1, 0.0]}, "sigma_b2"),
                                      ({"sigma_b2": [[0.1, 0.1, 0.1]]}, "sigma_b2"),
                                      ({"sigma_b2": [0.1] * 4}, "sigma_b2")])
def test_per_layer_variances_are_validated(kw, match):
    x = np.ones((2, 3))
    args = {"sigma_w2": 1.0, "sigma_b2": 0.1}
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        ntk.kernels(x, None, "relu", 2, **args)
