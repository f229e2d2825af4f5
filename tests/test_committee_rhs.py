"""The committee ODE's fast right-hand side against references.

* The term-by-term evaluation (`_core._testing.committee_derivatives_reference`: every I3 and I4
  on its own block of the field covariance by the Gaussian layer) over random states, every
  activation family of the fast path (erf, linear, relu) and one quadrature activation (tanh), batch
  norm, output noise, a trained second layer, several outputs, unequal K and M. The two differ
  only by rounding: 1e-12 relative to the largest entry of each field.
* An independent NumPy evaluation of the erf equations (Saad & Solla 1995), all K L^2 and
  K^2 L^2 averages written out from the closed forms.
* Thread-count independence, bitwise, at sizes where the threaded path is taken.
"""

import numpy as np
import pytest

from statmech_nn import _core
from statmech_nn import committee

C_ = _core.committee


def _state(K, M, O, seed, scale=1.0, gains=False):
    rng = np.random.default_rng(seed)
    N = 3 * (K + M)
    J = scale * rng.standard_normal((K, N)) / np.sqrt(N) * rng.uniform(0.5, 1.5, (K, 1))
    B = rng.standard_normal((M, N)) / np.sqrt(N)
    J[0] += 0.5 * B[0]
    g = rng.uniform(0.5, 2.0, K) if gains else np.ones(K)
    w = rng.uniform(0.3, 1.5, (K, O)) * rng.choice([-1.0, 1.0], (K, O))
    v = rng.uniform(0.3, 1.5, (M, O))
    return J @ J.T, J @ B.T, B @ B.T, g, w, v


CASES = [
    # activation, K, M, O, eta, eta_w, sigma, noise, b, normalization
    ("erf", 1, 1, 1, 1.0, 0.0, 1.0, 0.0, 1, "none"),
    ("erf", 3, 2, 1, 0.7, 0.0, 1.3, 0.0, 4, "none"),
    ("erf", 6, 7, 2, 1.2, 0.5, 0.8, 0.3, 2, "none"),
    ("erf", 4, 3, 1, 0.9, 0.0, 1.5, 0.0, 1, "batchnorm"),
    ("erf", 4, 3, 2, 0.9, 0.3, 0.7, 0.2, 3, "batchnorm_full"),
    ("linear", 3, 4, 2, 0.5, 0.4, 1.1, 0.5, 2, "none"),
    ("relu", 3, 2, 1, 0.8, 0.0, 0.9, 0.0, 1, "none"),
    ("relu", 2, 3, 2, 0.8, 0.2, 1.2, 0.4, 5, "batchnorm_full"),
    ("tanh", 2, 2, 1, 1.0, 0.0, 1.0, 0.0, 1, "none"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-K{c[1]}M{c[2]}O{c[3]}-{c[9]}")
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_rhs_equals_term_by_term(case, seed):
    act, K, M, O, eta, eta_w, sigma, noise, b, norm = case
    Q, R, T, g, w, v = _state(K, M, O, seed, scale=1.7 if seed else 0.6, gains=norm != "none")
    model = C_.Model(act, K, M, v, eta, eta_w, sigma, noise, b, norm)
    state = C_.State(Q, R, g, w)
    fast = C_.derivatives(model, T, state, 1)
    ref = _core._testing.committee_derivatives_reference(model, T, state)
    for key in ("S", "P", "Q", "R", "g", "w", "c"):
        a, r = np.asarray(fast[key]), np.asarray(ref[key])
        scale = max(np.max(np.abs(r)), 1e-300)
        assert np.max(np.abs(a - r)) <= 1e-12 * scale, (key, np.max(np.abs(a - r)) / scale)
        assert np.any(r != 0.0) or key == "w" or key == "g"  # the comparison is not vacuous
    assert fast["eg"] == pytest.approx(ref["eg"], rel=1e-13)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "erf"], ids=lambda c: f"K{c[1]}M{c[2]}-{c[9]}")
def test_simd_asin_rhs_equals_term_by_term(case):
    # the optional AVX2 array asin (where the processor has it) against the term-by-term reference
    act, K, M, O, eta, eta_w, sigma, noise, b, norm = case
    if not _core._testing.committee_set_simd_asin(True):
        pytest.skip("no AVX2/FMA")
    try:
        for seed in (0, 1):
            Q, R, T, g, w, v = _state(K, M, O, seed, scale=1.7 if seed else 0.6, gains=norm != "none")
            model = C_.Model(act, K, M, v, eta, eta_w, sigma, noise, b, norm)
            fast = C_.derivatives(model, T, C_.State(Q, R, g, w), 1)
            ref = _core._testing.committee_derivatives_reference(model, T, C_.State(Q, R, g, w))
            for key in ("S", "P", "Q", "R", "g"):
                a, r = np.asarray(fast[key]), np.asarray(ref[key])
                assert np.max(np.abs(a - r)) <= 1e-12 * max(np.max(np.abs(r)), 1e-300), key
    finally:
        _core._testing.committee_set_simd_asin(False)


def _numpy_erf_rhs(Q, R, T, w, v, eta, b):
    """dQ, dR of the plain erf committee (sigma = 1, no normalisation): every I3, I4 by its closed form."""
    K, M = R.shape
    L = K + M
    C = np.block([[Q, R], [R.T, T]])
    A = np.hstack([-(w @ w.T), w @ v.T])
    d = 1.0 + np.diag(C)
    S = np.zeros((K, L))
    for i in range(K):
        for bb in range(L):
            for p in range(L):
                lam3 = d[i] * d[p] - C[i, p] ** 2
                S[i, bb] += A[i, p] * 2 / np.pi / np.sqrt(lam3) * (C[bb, p] * d[i] - C[i, bb] * C[i, p]) / d[i]
    P = np.zeros((K, K))
    for i in range(K):
        for j in range(K):
            lam4 = d[i] * d[j] - C[i, j] ** 2
            for p in range(L):
                for q in range(L):
                    lam0 = (lam4 * C[p, q] - C[j, p] * C[j, q] * d[i] - C[i, p] * C[i, q] * d[j]
                            + C[i, j] * C[i, p] * C[j, q] + C[i, j] * C[i, q] * C[j, p])
                    lam1 = lam4 * d[p] - C[j, p] ** 2 * d[i] - C[i, p] ** 2 * d[j] + 2 * C[i, j] * C[i, p] * C[j, p]
                    lam2 = lam4 * d[q] - C[j, q] ** 2 * d[i] - C[i, q] ** 2 * d[j] + 2 * C[i, j] * C[i, q] * C[j, q]
                    P[i, j] += A[i, p] * A[j, q] * 4 / np.pi**2 / np.sqrt(lam4) * np.arcsin(lam0 / np.sqrt(lam1 * lam2))
    dQ = eta * (S[:, :K] + S[:, :K].T) + eta**2 * P / b
    dR = eta * S[:, K:]
    return dQ, dR


@pytest.mark.parametrize("K,M", [(2, 2), (4, 3)])
def test_fast_rhs_equals_numpy_erf(K, M):
    Q, R, T, _, w, v = _state(K, M, 1, 7, scale=1.2)
    d = committee.derivatives(Q, R, T, 0.8, w=w[:, 0], v=v[:, 0], batch_size=3)
    dQ, dR = _numpy_erf_rhs(Q, R, T, w, v, 0.8, 3)
    np.testing.assert_allclose(d["Q"], dQ, rtol=0, atol=1e-12 * np.max(np.abs(dQ)))
    np.testing.assert_allclose(d["R"], dR, rtol=0, atol=1e-12 * np.max(np.abs(dR)))


@pytest.fixture
def threads_always():
    """Threads for every right-hand side, however small (the threshold restored afterwards)."""
    old = _core._testing.committee_set_rhs_thread_work(0.0)
    yield
    _core._testing.committee_set_rhs_thread_work(old)


def test_rhs_thread_choice():
    small = C_.Model("erf", 4, 4, np.ones((4, 1)), 1.0, 0.0, 1.0, 0.0, 1, "none")
    large = C_.Model("erf", 20, 20, np.ones((20, 1)), 1.0, 0.0, 1.0, 0.0, 1, "none")
    assert _core._testing.committee_rhs_threads(small, 2) == 1
    assert _core._testing.committee_rhs_threads(large, 2) == 2
    assert _core._testing.committee_rhs_threads(large, 1) == 1


@pytest.mark.parametrize("K", [2, 5, 12])
def test_ode_thread_count_bitwise(K, threads_always):
    Q, R, T, g, w, v = _state(K, K + 1, 1, 4)
    runs = [committee.ode(Q, R, T, 0.8, w=w[:, 0], v=v[:, 0], t=np.linspace(0, 3, 4), num_threads=nt)
            for nt in (1, 2, 3)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.Q, runs[0].Q)
        np.testing.assert_array_equal(other.R, runs[0].R)
        assert other.n_rhs == runs[0].n_rhs


def test_threaded_quadrature_rhs(threads_always):
    # a quadrature activation (long items) on the threaded path: the same results as on one thread
    Q, R, T, g, w, v = _state(2, 2, 1, 5)
    model = C_.Model("tanh", 2, 2, v, 1.0, 0.0, 1.0, 0.0, 1, "none")
    one = C_.derivatives(model, T, C_.State(Q, R, g, w), 1)
    two = C_.derivatives(model, T, C_.State(Q, R, g, w), 2)
    np.testing.assert_array_equal(np.asarray(two["P"]), np.asarray(one["P"]))


@pytest.mark.parametrize("K", [4, 10, 20])
def test_fast_rhs_thread_count_bitwise(K, threads_always):
    Q, R, T, g, w, v = _state(K, K, 1, 3)
    model = C_.Model("erf", K, K, v, 1.0, 0.0, 1.0, 0.1, 1, "none")
    state = C_.State(Q, R, g, w)
    one = C_.derivatives(model, T, state, 1)
    for nt in (2, 3):
        other = C_.derivatives(model, T, state, nt)
        for key in ("S", "P", "Q", "R"):
            np.testing.assert_array_equal(np.asarray(other[key]), np.asarray(one[key]))
