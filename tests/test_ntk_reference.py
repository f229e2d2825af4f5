"""NNGP / NTK kernels against an independent 25-digit reference, and one recursion for three modules.

The reference runs the kernel recursion layer by layer in mpmath (mp.dps = 25) from the exact input
Gram matrix, each Gaussian average a nested 2-D integral: (u1, u2) = (s1 z1, s2 (rho z1 +
sqrt(1 - rho^2) z2)) with z1, z2 ~ N(0, 1), each 1-D integral by the trapezoidal rule with step 0.1
on |z| <= 10. For integrands analytic in a strip |Im z| < d the trapezoidal rule's error is
~exp(-2 pi d / h): with the variances used here (q <= 3, tanh's poles at Im x = pi/2 give
d >= 0.9) that is < 1e-24, and the truncation at |z| = 10 costs exp(-50) ~ 2e-22 (checked once
against mpmath's tanh-sinh quad: agreement to 1e-24).
"""

import mpmath as mp
import numpy as np
import pytest

from statmech_nn import fisher, meanfield, ntk

mp.mp.dps = 25
_H = mp.mpf(1) / 10
_Z = [k * _H for k in range(-100, 101)]
_W = [_H * mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi) for z in _Z]
_SQ2 = mp.sqrt(2)


def _phi(name):
    """phi and phi' together (mpmath)."""
    if name == "tanh":
        def f(x):
            t = mp.tanh(x)
            return t, 1 - t * t
    elif name == "erf":
        def f(x):
            return mp.erf(x / _SQ2), 2 / mp.sqrt(2 * mp.pi) * mp.exp(-x * x / 2)
    elif name == "sigmoid":
        def f(x):
            s = 1 / (1 + mp.exp(-x))
            return s, s * (1 - s)
    elif name == "gelu":
        def f(x):
            cdf = mp.erfc(-x / _SQ2) / 2
            return x * cdf, cdf + x * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)
    elif name == "swish":
        def f(x):
            s = 1 / (1 + mp.exp(-x))
            return x * s, s * (1 + x * (1 - s))
    else:
        raise ValueError(name)
    return f


def _diag(f, q):
    s = mp.sqrt(q)
    a = b = mp.mpf(0)
    for z, w in zip(_Z, _W):
        v, d = f(s * z)
        a += w * v * v
        b += w * d * d
    return a, b


def _pair(f, q11, q12, q22):
    s1, s2 = mp.sqrt(q11), mp.sqrt(q22)
    rho = q12 / (s1 * s2)
    a, b = rho * s2, s2 * mp.sqrt(max(1 - rho * rho, mp.mpf(0)))
    P = D = mp.mpf(0)
    for z1, w1 in zip(_Z, _W):
        v1, d1 = f(s1 * z1)
        if b == 0:
            sv, sd = f(a * z1)
        else:
            sv = sd = mp.mpf(0)
            for z2, w2 in zip(_Z, _W):
                v2, d2 = f(a * z1 + b * z2)
                sv += w2 * v2
                sd += w2 * d2
        P += w1 * v1 * sv
        D += w1 * d1 * sd
    return P, D


def _reference(name, xa, xb, depth, sw2, sb2):
    """[Sigma^l(a, b), Theta^l(a, b)] for l = 1..depth+1 (ntk parameterisation), in mpmath."""
    f = _phi(name)
    d = len(xa)
    xa = [mp.mpf(float(v)) for v in xa]
    xb = [mp.mpf(float(v)) for v in xb]
    w, b = mp.mpf(sw2), mp.mpf(sb2)
    qa = w * mp.fsum(v * v for v in xa) / d + b
    qb = w * mp.fsum(v * v for v in xb) / d + b
    qab = w * mp.fsum(u * v for u, v in zip(xa, xb)) / d + b
    ta, tb, tab = qa, qb, qab
    out = [(qab, tab)]
    for _ in range(depth):
        pa, da = _diag(f, qa)
        pb, db = _diag(f, qb)
        pab, dab = _pair(f, qa, qab, qb)
        qa, qb, qab = w * pa + b, w * pb + b, w * pab + b
        ta, tb, tab = qa + w * da * ta, qb + w * db * tb, qab + w * dab * tab
        out.append((qab, tab))
    return out


def _pairs(d=6, seed=3):
    rng = np.random.default_rng(seed)
    xa = rng.standard_normal(d)
    generic = rng.standard_normal(d) * 0.8
    nearly_parallel = 1.3 * xa + 1e-5 * rng.standard_normal(d)      # correlation 1 - O(1e-11)
    antiparallel = -xa
    nearly_antiparallel = -0.9 * xa + 1e-4 * rng.standard_normal(d)
    return xa, np.stack([generic, nearly_parallel, antiparallel, nearly_antiparallel])


def _check(name, which):
    xa, xs = _pairs()
    xs = xs[which]
    depth, sw2, sb2 = 3, 1.6, 0.1
    k = ntk.kernels(xa[None, :], xs, name, depth, sw2, sb2, return_layers=True)
    assert k.status == "ok"
    worst = 0.0
    for j, xb in enumerate(xs):
        ref = _reference(name, xa, xb, depth, sw2, sb2)
        for layer, (S, T) in enumerate(ref):
            for got, want in ((k.nngp_layers[layer, 0, j], S), (k.ntk_layers[layer, 0, j], T)):
                err = abs(mp.mpf(float(got)) - want) / abs(want)
                worst = max(worst, float(err))
                assert err <= 1e-10, (name, j, layer, float(got), float(want))
    return worst


def _check_equal_norms(name, pairs=((0, 1), (0, 2), (1, 2))):
    """Inputs of exactly equal norm take the Mehler-series path of the Gaussian layer."""
    xa, _ = _pairs()
    signs = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0])
    x = np.stack([xa, xa * signs, -xa])       # same squares in the same order: equal norms exactly
    depth, sw2, sb2 = 3, 1.6, 0.1
    k = ntk.kernels(x, None, name, depth, sw2, sb2, return_layers=True)
    for i, j in pairs:
        ref = _reference(name, x[i], x[j], depth, sw2, sb2)
        for layer, (S, T) in enumerate(ref):
            for got, want in ((k.nngp_layers[layer, i, j], S), (k.ntk_layers[layer, i, j], T)):
                assert abs(mp.mpf(float(got)) - want) <= 1e-10 * abs(want), (name, i, j, layer)


def _check_series(name, which=(1, 2, 3, 4)):
    """Enough inputs that every layer builds one Mehler series per input variance (9 variances, 45
    pairs >= 4 x 9): pairs of unequal variance sum a_k(q1) a_k(q2) c^k (evaluate_cross)."""
    xa, xs = _pairs()
    extra = np.random.default_rng(11).standard_normal((4, xa.size)) * np.array([[0.5], [0.9], [1.4], [2.0]])
    x = np.vstack([xa[None, :], xs, extra])
    depth, sw2, sb2 = 3, 1.6, 0.1
    k = ntk.kernels(x, None, name, depth, sw2, sb2, return_layers=True)
    for j in which:
        ref = _reference(name, x[0], x[j], depth, sw2, sb2)
        for layer, (S, T) in enumerate(ref):
            for got, want in ((k.nngp_layers[layer, 0, j], S), (k.ntk_layers[layer, 0, j], T)):
                assert abs(mp.mpf(float(got)) - want) <= 1e-10 * abs(want), (name, j, layer, float(got), float(want))


def test_tanh_kernels_of_many_inputs_match_25_digit_reference():
    # generic, nearly parallel, antiparallel and nearly antiparallel partners among 9 inputs
    _check_series("tanh", (1, 2, 3, 4, 7))


def test_tanh_kernels_match_25_digit_reference():
    # generic pair, nearly parallel (c = 1 - 1e-11) and exactly antiparallel inputs
    _check("tanh", [0, 1, 2])


def test_tanh_kernels_of_equal_norm_inputs_match_25_digit_reference():
    _check_equal_norms("tanh", pairs=((0, 1),))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "erf", "gelu", "sigmoid", "swish"])
def test_smooth_activation_kernels_match_25_digit_reference(name):
    _check(name, [0, 1, 2, 3])
    _check_equal_norms(name)
    _check_series(name)


def test_reference_agrees_with_closed_form_erf():
    # the mpmath reference itself against the arcsine kernel (Williams 1997) at one layer
    f = _phi("erf")
    q11, q12, q22 = mp.mpf("1.7"), mp.mpf("-0.9"), mp.mpf("1.1")
    P, D = _pair(f, q11, q12, q22)
    assert abs(P - 2 / mp.pi * mp.asin(q12 / mp.sqrt((1 + q11) * (1 + q22)))) < mp.mpf("1e-20")
    assert abs(D - 2 / mp.pi / mp.sqrt((1 + q11) * (1 + q22) - q12 ** 2)) < mp.mpf("1e-20")


@pytest.mark.parametrize("name", ["tanh", "relu", "erf", "gelu", "linear"])
def test_meanfield_fisher_and_kernels_share_one_recursion(name):
    """q^l of meanfield.forward (q_in = 1, c_in = 0) = fisher's q, q_st = the NNGP of two orthogonal
    inputs with |x|^2/d = 1 at the hidden layers, and fisher's qhat^l = (q^{l+1} - sigma_b2)/sigma_w2."""
    depth, sw2, sb2 = 6, 1.4, 0.2
    fw = meanfield.forward(name, sw2, sb2, depth, q_in=1.0, c_in=0.0)
    op = fisher.order_parameters(name, depth, sw2, sb2)
    d = 8
    xa = np.ones(d)
    xb = np.array([1.0, -1.0] * (d // 2))      # orthogonal, same norm
    k = ntk.kernels(np.stack([xa, xb]), None, name, depth, sw2, sb2, return_layers=True)
    assert fw.ok and op.ok and k.ok
    np.testing.assert_allclose(op.q, fw.q_a, rtol=1e-13, atol=0)
    np.testing.assert_allclose(op.q_st, fw.q_ab, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(k.nngp_layers[:depth, 0, 0], fw.q_a, rtol=1e-13, atol=0)
    np.testing.assert_allclose(k.nngp_layers[:depth, 1, 1], fw.q_b, rtol=1e-13, atol=0)
    np.testing.assert_allclose(k.nngp_layers[:depth, 0, 1], fw.q_ab, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(op.q_hat[1:], (np.append(fw.q_a[1:], k.nngp[0, 0]) - sb2) / sw2, rtol=1e-13)
    bw = meanfield.backward(name, sw2, sb2, depth, q_in=1.0)
    # fisher's qtilde^l = prod_{k=l}^{depth} chi^k (from the read-out's qtilde^{depth+1} = 1), the
    # meanfield chain q_grad^l = prod_{k=l+1}^{depth} chi^k (from q_grad^depth = 1): one factor chi^l
    np.testing.assert_allclose(op.q_tilde[:depth], bw.q_grad * bw.chi1, rtol=1e-13)
