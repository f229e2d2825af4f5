"""The kernels' row closed forms (Gaussian layer, PairClosedFormRows) against mpmath, and the
tiled kernel recursion against a layer-by-layer recursion on the scalar Gaussian layer.

The mpmath references are the standard results written independently here (arc-cosine kernels,
Cho & Saul 2009; the arcsine kernel, Williams 1997; erf_sigmoid and gelu through Phi(x) =
P(u < x) for an independent unit Gaussian u), evaluated at 60 digits from the same double
inputs (c11, c12, c22). The error allowed is that of a forward-stable evaluation: 8 ulp of |f|
plus how far f moves when each input moves by 8 ulp (the rounding of the inputs' combinations,
e.g. the correlation c12 / sqrt(c11 c22), is amplified by the kernels' own slopes, infinite at
correlation +-1 for J2).
gelu is also checked against an independent 1-D integration (tests/_gaussian_reference.py).
"""

import mpmath as mp
import numpy as np
import pytest

import statmech_nn.gaussian as G
from statmech_nn import _core, ntk

import _gaussian_reference as R

EPS = 2.0 ** -52
SLOPE = 0.01
CLOSED = ("linear", "relu", "leaky_relu", "erf", "erf_sigmoid", "gelu")
RHOS = [-1.0, -1 + 1e-12, -1 + 1e-6, -0.99, -0.7, -0.5, -0.3, 0.0, 0.2, 0.5, 0.5 + 1e-9, 0.9, 0.99,
        1 - 1e-6, 1 - 1e-12, 1.0] + list(np.random.default_rng(1).uniform(-1, 1, 12))
VARIANCES = [(1.0, 1.0), (0.25, 4.0), (0.02, 8.0), (8.0, 0.02), (1e-2, 1e2), (100.0, 100.0), (1e4, 3e3)]


def _mp_pair(name, c11, c12, c22):
    """(E phi phi, E phi' phi') in mpmath from mp numbers."""
    if name == "linear":
        return c12, mp.mpf(1)
    if name in ("relu", "leaky_relu"):
        b = mp.mpf(SLOPE) if name == "leaky_relu" else mp.mpf(0)
        s = mp.sqrt(c11 * c22)
        rho = max(min(c12 / s, mp.mpf(1)), mp.mpf(-1))

        def k0(c):
            return (mp.pi - mp.acos(c)) / (2 * mp.pi)

        def k1(c):
            th = mp.acos(c)
            return (mp.sin(th) + (mp.pi - th) * c) / (2 * mp.pi)
        return s * ((1 + b * b) * k1(rho) - 2 * b * k1(-rho)), (1 + b * b) * k0(rho) + 2 * b * k0(-rho)
    bound = mp.sqrt(c11 * c22)
    c12 = max(min(c12, bound), -bound)
    D = (1 + c11) * (1 + c22) - c12 ** 2
    r = c12 / mp.sqrt((1 + c11) * (1 + c22))
    if name == "erf":
        return 2 / mp.pi * mp.asin(r), 2 / (mp.pi * mp.sqrt(D))
    P = mp.mpf(1) / 4 + mp.asin(r) / (2 * mp.pi)   # P(x1 > u1, x2 > u2) (orthant of correlation r)
    if name == "erf_sigmoid":
        return P, 1 / (2 * mp.pi * mp.sqrt(D))
    # gelu, phi = x Phi(x): Stein's lemma on x1 and x2 (E x1 x2 1{..} and the Gaussian densities)
    e1, e2 = 1 + c11, 1 + c22
    pp = c12 * P + (c11 * c22 * e1 * e2 + c12 ** 2 * (1 - c11 * c22)) / (2 * mp.pi * e1 * e2 * mp.sqrt(D))
    dd = P + c12 / (2 * mp.pi * mp.sqrt(D)) * (1 / e1 + 1 / e2) + c12 / (2 * mp.pi * D ** mp.mpf(1.5))
    return pp, dd


def _gelu_terms(c11, c12, c22):
    """Sums of the absolute values of the terms of gelu's two closed forms."""
    bound = mp.sqrt(c11 * c22)
    c12 = max(min(c12, bound), -bound)
    D = (1 + c11) * (1 + c22) - c12 ** 2
    e1, e2 = 1 + c11, 1 + c22
    P = mp.mpf(1) / 4 + mp.asin(c12 / mp.sqrt(e1 * e2)) / (2 * mp.pi)
    sD = mp.sqrt(D)
    pp = abs(c12 * P) + (c11 * c22 * e1 * e2 + c12 ** 2 * abs(1 - c11 * c22)) / (2 * mp.pi * e1 * e2 * sD)
    dd = P + abs(c12) / (2 * mp.pi * sD) * (1 / e1 + 1 / e2) + abs(c12) / (2 * mp.pi * D * sD)
    return pp, dd


def _reference_and_tolerance(name, c11, c12, c22):
    """mpmath values and a forward-stable error bound: how much f moves when each input moves by
    8 ulp (relative), summed over the inputs, plus 8 ulp of |f| -- for gelu of the size of its terms,
    which cancel at large variances and negative correlation (the evaluation is good to a few ulp of
    the terms, not of their sum)."""
    return R.reference_and_tolerance(lambda *y: _mp_pair(name, *y), c11, c12, c22, dps=60, delta=8 * EPS,
                                     scale=_gelu_terms if name == "gelu" else None)


def _rows(name, c11, c12, c22):
    return _core._testing.pair_closed_form_rows(name, SLOPE, float(c11), np.asarray(c12, float),
                                                np.asarray(c22, float))


@pytest.mark.parametrize("name", CLOSED)
def test_row_closed_forms_match_mpmath_over_correlations_and_variances(name):
    bad = []
    for c11, c22 in VARIANCES:
        s = np.sqrt(c11 * c22)
        c12 = np.array([r * s for r in RHOS])
        pp, dd = _rows(name, c11, c12, np.full(c12.size, c22))
        for k in range(c12.size):
            (P, tp), (Dd, td) = _reference_and_tolerance(name, c11, c12[k], c22)
            for got, want, tol in ((pp[k], P, tp), (dd[k], Dd, td)):
                err = abs(got - float(want))
                if err > tol:
                    bad.append((c11, c22, RHOS[k], got, float(want), err / tol))
    assert not bad, bad[:5]


@pytest.mark.parametrize("name", CLOSED)
def test_row_closed_forms_agree_with_the_scalar_closed_forms(name):
    """The same quantity from the Gaussian layer's scalar pair moments (I2, J2)."""
    rng = np.random.default_rng(4)
    c11 = 2.3
    c22 = rng.uniform(0.05, 20.0, 40)
    c12 = rng.uniform(-1, 1, 40) * np.sqrt(c11 * c22)
    c12[:3] = [np.sqrt(c11 * c22[0]), -np.sqrt(c11 * c22[1]), 0.0]
    pp, dd = _rows(name, c11, c12, c22)
    C = np.array([[[c11, a], [a, b]] for a, b in zip(c12, c22)])
    I2 = np.array([G.I2(name, c, slope=SLOPE) for c in C])
    J2 = np.array([G.J2(name, c, slope=SLOPE) for c in C])
    np.testing.assert_allclose(pp, I2, rtol=1e-13, atol=1e-15 * np.abs(I2).max())
    np.testing.assert_allclose(dd, J2, rtol=1e-13)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "erf", "erf_sigmoid", "gelu"])
def test_zero_variance_inputs(name):
    """One input of variance 0 (an all-zero input without bias): the documented limits."""
    pp, dd = _rows(name, 0.0, np.zeros(3), np.array([0.0, 1.0, 50.0]))
    if name in ("relu", "leaky_relu"):
        b = SLOPE if name == "leaky_relu" else 0.0
        np.testing.assert_array_equal(pp, 0.0)
        np.testing.assert_allclose(dd, 0.25 * (1 + b) ** 2, rtol=1e-15)
    else:
        for k, c22 in enumerate((0.0, 1.0, 50.0)):
            with mp.workdps(30):
                P, D = _mp_pair(name, mp.mpf(0), mp.mpf(0), mp.mpf(c22))
            assert pp[k] == pytest.approx(float(P), rel=1e-15, abs=1e-300)
            assert dd[k] == pytest.approx(float(D), rel=1e-15)


@pytest.mark.parametrize("c11,c22,rho", [((0.02), 8.0, 0.99), (1e-2, 1e2, -0.5), (100.0, 100.0, -1.0),
                                          (1.0, 1.0, 0.3)])
def test_gelu_rows_against_independent_integration(c11, c22, rho):
    c12 = rho * np.sqrt(c11 * c22)
    pp, dd = _rows("gelu", c11, [c12], [c22])
    I, J = R.pair("gelu", c11, c12, c22, rho=rho)
    assert abs(pp[0] - float(I)) <= 1e-12 * abs(float(I)) + 1e-14
    assert abs(dd[0] - float(J)) <= 1e-12 * abs(float(J)) + 1e-14


def test_rows_refuse_activations_without_closed_form():
    with pytest.raises(ValueError, match="activation"):
        _rows("tanh", 1.0, [0.5], [1.0])


# ---- the tiled recursion ------------------------------------------------------------------------

def _scalar_recursion(name, x1, x2, depth, sw2, sb2):
    """Layer-by-layer recursion with the Gaussian layer's scalar I2 / J2 (one pair at a time)."""
    d = x1.shape[1]
    qa = sw2 * np.sum(x1 * x1, 1) / d + sb2
    qb = sw2 * np.sum(x2 * x2, 1) / d + sb2
    S = sw2 * x1 @ x2.T / d + sb2
    T = S.copy()
    for _ in range(depth):
        P = np.empty_like(S)
        J = np.empty_like(S)
        for i in range(S.shape[0]):
            for j in range(S.shape[1]):
                C = np.array([[qa[i], S[i, j]], [S[i, j], qb[j]]])
                P[i, j], J[i, j] = G.I2(name, C, slope=SLOPE), G.J2(name, C, slope=SLOPE)
        pa = np.array([G.I2(name, np.array([[q, q], [q, q]]), slope=SLOPE) for q in qa])
        pb = np.array([G.I2(name, np.array([[q, q], [q, q]]), slope=SLOPE) for q in qb])
        S, T = sw2 * P + sb2, sw2 * P + sb2 + sw2 * J * T
        qa, qb = sw2 * pa + sb2, sw2 * pb + sb2
    return S, T


@pytest.mark.parametrize("name", CLOSED)
def test_tiled_kernels_match_the_scalar_recursion(name):
    rng = np.random.default_rng(2)
    # 70 x 75 inputs: several 64 x 64 tiles, partial ones at the edges; generic directions
    # (nearly parallel pairs are ill-conditioned for J2 and tested in test_ntk.py)
    x1 = rng.standard_normal((70, 5)) * rng.uniform(0.3, 3.0, (70, 1))
    x2 = rng.standard_normal((75, 5))
    k = ntk.kernels(x1, x2, name, 2, 1.7, 0.2, slope=SLOPE)
    S, T = _scalar_recursion(name, x1, x2, 2, 1.7, 0.2)
    np.testing.assert_allclose(k.nngp, S, rtol=1e-12, atol=1e-14 * np.abs(S).max())
    np.testing.assert_allclose(k.ntk, T, rtol=1e-12, atol=1e-14 * np.abs(T).max())
    sym = ntk.kernels(x1, None, name, 2, 1.7, 0.2, slope=SLOPE)
    np.testing.assert_array_equal(sym.ntk, sym.ntk.T)
    S, T = _scalar_recursion(name, x1, x1, 2, 1.7, 0.2)
    off = ~np.eye(70, dtype=bool)
    np.testing.assert_allclose(sym.ntk[off], T[off], rtol=1e-12, atol=1e-14 * np.abs(T).max())


def test_tiled_kernels_do_not_depend_on_the_thread_count_and_mirror_exactly():
    x = np.random.default_rng(3).standard_normal((150, 7))
    x[100] = x[3]                                  # an identical pair across tiles
    for name in ("relu", "gelu", "erf"):
        a = ntk.kernels(x, None, name, 3, 1.5, 0.1, num_threads=1, return_layers=True)
        b = ntk.kernels(x, None, name, 3, 1.5, 0.1, num_threads=2, return_layers=True)
        np.testing.assert_array_equal(a.ntk_layers, b.ntk_layers)
        np.testing.assert_array_equal(a.nngp_layers, b.nngp_layers)
        np.testing.assert_array_equal(a.ntk, np.swapaxes(a.ntk, 0, 1))
        assert a.ntk[3, 100] == a.ntk[3, 3] and a.nngp[100, 3] == a.nngp[100, 100]
        c = ntk.kernels(x[:40], x[60:], name, 3, 1.5, 0.1)
        np.testing.assert_allclose(c.ntk, a.ntk[:40, 60:], rtol=1e-13)


def test_store_layers_is_a_deprecated_alias_of_return_layers():
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.warns(DeprecationWarning, match="return_layers"):
        k = ntk.kernels(x, None, "relu", 2, store_layers=True)
    assert k.ntk_layers.shape == (3, 4, 4)
    assert ntk.kernels(x, None, "relu", 2).ntk_layers is None


def test_memory_beyond_the_machine_is_refused():
    from statmech_nn._validation import available_memory

    n = int(np.sqrt(available_memory() / 16.0)) + 1000       # 2 n^2 doubles > available
    x = np.zeros((1, 2))
    with pytest.raises(ValueError, match="x1"):
        ntk.kernels(np.broadcast_to(x, (n, 2)), None, "relu", 1)
    m = int(np.sqrt(available_memory() / 16.0 / 200)) + 10    # fits, but not 200 layers of it
    with pytest.raises(ValueError, match="return_layers"):
        ntk.kernels(np.ones((m, 2)), None, "relu", 199, return_layers=True)


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_antiparallel_inputs_have_correlation_minus_one_exactly(name):
    """x and -x without bias: rho = -1 exactly, where J2 of the arc-cosine kernel has an infinite
    slope (one ulp off -1 would give J2 ~ 1e-9 instead of its limit)."""
    x = np.random.default_rng(5).standard_normal((3, 7))
    xs = np.concatenate([x, -x])
    b = SLOPE if name == "leaky_relu" else 0.0
    for k in (ntk.kernels(xs, None, name, 1, 2.0, 0.0, slope=SLOPE), ntk.kernels(x, -x, name, 1, 2.0, 0.0, slope=SLOPE)):
        block = k.ntk[:3, 3:] if k.ntk.shape == (6, 6) else k.ntk
        q = 2.0 * np.sum(x * x, 1) / 7
        # depth 1 at rho = -1: E phi phi = -b q, E phi' phi' = b, Theta^1 = -q, so
        # Sigma^2 = -2 b q and Theta^2 = Sigma^2 + 2 b Theta^1 = -4 b q (exactly 0 for relu)
        np.testing.assert_allclose(np.diag(block), -4 * b * q, rtol=1e-14, atol=0)


@pytest.fixture
def isa_levels():
    """The instruction-set levels of the row closed forms this processor runs (0 = SSE2, 1 = AVX2,
    2 = AVX-512); the default is restored afterwards."""
    best = _core._testing.closed_form_rows_isa()
    yield list(range(best + 1))
    _core._testing.closed_form_rows_isa()


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "erf", "erf_sigmoid", "gelu"])
def test_wide_rows_are_bitwise_the_two_lane_rows(name, isa_levels):
    """The AVX2 / AVX-512 rows run the same IEEE operations as the SSE2 code: bitwise equal values
    over every row length (partial vectors included), correlations +-1, zero and large variances."""
    if len(isa_levels) < 2:
        pytest.skip("this processor has neither AVX2 nor AVX-512")
    rng = np.random.default_rng(11)
    for trial in range(60):
        n = int(rng.integers(1, 37))
        c11 = 0.0 if trial % 7 == 0 else float(10.0 ** rng.uniform(-3, 4))
        c22 = 10.0 ** rng.uniform(-3, 4, n)
        c22[rng.random(n) < 0.1] = 0.0
        rho = rng.uniform(-1, 1, n)
        rho[rng.random(n) < 0.15] = 1.0
        rho[rng.random(n) < 0.15] = -1.0
        rho[rng.random(n) < 0.1] = -1 + 1e-9       # the k_1 series branch
        c12 = rho * np.sqrt(c11 * c22)
        outs = []
        for level in isa_levels:
            assert _core._testing.closed_form_rows_isa(level) == level
            outs.append(_rows(name, c11, c12, c22))
        for level in isa_levels[1:]:
            np.testing.assert_array_equal(outs[level][0], outs[0][0])
            np.testing.assert_array_equal(outs[level][1], outs[0][1])


@pytest.mark.parametrize("d", [9, 300])
def test_kernels_do_not_depend_on_the_instruction_set(isa_levels, d):
    """Row closed forms and the tiles' Gram blocks (d = 300: summed in two chunks)."""
    if len(isa_levels) < 2:
        pytest.skip("this processor has neither AVX2 nor AVX-512")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((83, d))
    x[3], x[5] = -x[2], x[4]
    y = rng.standard_normal((37, d))
    y[0] = x[0]
    for name in ("relu", "leaky_relu", "erf", "erf_sigmoid", "gelu"):
        for x2 in (None, y):
            runs = []
            for level in isa_levels:
                _core._testing.closed_form_rows_isa(level)
                k = ntk.kernels(x, x2, name, 3, 1.7, 0.2, slope=SLOPE, return_layers=True)
                runs.append((k.nngp_layers, k.ntk_layers))
            for level in isa_levels[1:]:
                np.testing.assert_array_equal(runs[level][0], runs[0][0])
                np.testing.assert_array_equal(runs[level][1], runs[0][1])


def test_long_inputs_are_summed_in_chunks_in_order():
    """d > 256: the tile Gram block is summed over chunks of the input dimension, continuing each
    entry's sum in input order (antiparallel inputs still give rho = -1 exactly; linear kernels
    equal the Gram matrix)."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((70, 600))
    x[1] = -x[0]
    y = rng.standard_normal((5, 600))
    for x2 in (None, y):
        k = ntk.kernels(x, x2, "linear", 2, 1.3, 0.0)
        xb = x if x2 is None else x2
        G = 1.3 * (x @ xb.T) / 600
        # linear: Sigma^{l+1} = 1.3 Sigma^l, Theta^{l+1} = Sigma^{l+1} + 1.3 Theta^l
        np.testing.assert_allclose(k.nngp, 1.3 ** 2 * G, rtol=1e-13, atol=1e-13 * np.abs(G).max())
        np.testing.assert_allclose(k.ntk, 3 * 1.3 ** 2 * G, rtol=1e-13, atol=1e-13 * np.abs(G).max())
    r = ntk.kernels(x, None, "relu", 1, 2.0, 0.0)
    assert r.ntk[0, 1] == 0.0 and r.nngp[0, 1] == 0.0     # relu at rho = -1: both exactly 0
