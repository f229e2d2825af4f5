"""Benchmark of statmech_nn.fisher / ntk against what a user would otherwise write.

1. Empirical FIM spectrum of a sampled relu network (2 hidden layers of width M, C outputs, T
   inputs): ``fisher.empirical`` (per-layer Gram trick, never forms the Jacobian) vs NumPy code
   that builds the (C T) x P Jacobian from the per-sample outer products delta h^T and then takes
   the spectrum of J J^T / T (the smart way), and, for small M, vs the eigenvalues of the P x P
   matrix F = J^T J / T (the naive way). Both alternatives reuse the same forward/backward pass,
   so the ratio measures the Gram trick alone; eigenvalues are checked to agree.
2. Infinite-width NTK (relu closed form, tanh quadrature) of n inputs, depth 3: time per kernel
   entry and layer, with every layer stored and with the read-out only (``store_layers=False``),
   for inputs of different norms (2-D quadrature of the Gaussian layer per pair) and of equal
   norms (the Gaussian layer's Mehler series, built once per layer). With ``--before PATH`` (a
   ``_core`` extension built from an earlier commit) the same kernels are timed with that core in
   the same process and the ratios printed.

Run: ``PYTHONPATH=python python benchmarks/fisher_ntk.py`` (``--quick`` for a short run,
``--kernels`` for part 2 only, ``--before PATH/_core*.so`` to compare with an older core).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from statmech_nn import _core, fisher, gaussian, ntk

QUICK = "--quick" in sys.argv


def best_of(f, repeat=3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _forward_backward(net, x, activation, slope):
    """hs = h^0..h^{L-1} (T, M_l); deltas = d f_k / d u^l (T, C, M_l), l = 1..L."""
    Ws, bs = net
    L = len(Ws)
    hs, us, h = [x], [], x
    for l in range(L - 1):
        u = h @ Ws[l].T + bs[l]
        us.append(u)
        h = gaussian.activation(activation, u, 0, slope)
        hs.append(h)
    T, C = x.shape[0], Ws[-1].shape[0]
    d = np.ascontiguousarray(np.broadcast_to(np.eye(C), (T, C, C)))
    deltas = [None] * L
    deltas[L - 1] = d
    for l in range(L - 2, -1, -1):
        d = (d.reshape(T * C, -1) @ Ws[l + 1]).reshape(T, C, -1) * gaussian.activation(activation, us[l], 1, slope)[:, None, :]
        deltas[l] = d
    return hs, us, deltas


def jacobian_spectrum(M, T, C, seed, full_F=False):
    """NumPy alternative: explicit Jacobian rows (weights and biases of every layer)."""
    x, Ws, bs = _core._testing.network_sample([M, M, M, C], T, 2.0, 0.1, "gaussian", seed)  # the engine's network
    x, net = x.T, (Ws, bs)
    hs, _, deltas = _forward_backward(net, x, "relu", 0.01)
    blocks = []
    for l in range(len(deltas)):
        d, h = deltas[l], hs[l]                               # (T, C, M_l), (T, M_{l-1})
        blocks.append(np.einsum("tki,tj->tkij", d, h).reshape(T * C, -1))
        blocks.append(d.reshape(T * C, -1))
    J = np.concatenate(blocks, axis=1)
    if full_F:
        F = J.T @ J / T
        return np.sort(np.linalg.eigvalsh(F))[::-1][: T * C]
    return np.sort(np.linalg.eigvalsh(J @ J.T / T))[::-1]


def main():
    if "--kernels" in sys.argv:
        return kernels_part()
    C = 2
    cases = [(30, 10, True), (200, 20, False), (500, 40, False)] if QUICK else \
        [(30, 10, True), (45, 10, True), (300, 40, False), (1000, 50, False)]
    print("1. empirical FIM spectrum, relu, 2 hidden layers, C = 2 (best of 3)")
    print(f"{'M':>6} {'T':>4} {'P':>10} {'gram [s]':>10} {'J J^T [s]':>10} {'ratio':>7} {'F PxP [s]':>10} {'ratio':>7}")
    for M, T, small in cases:
        tg, em = best_of(lambda: fisher.empirical("relu", 2, 2.0, 0.1, width=M, n_samples=T, n_outputs=C, seeds=[3]))
        tj, ev = best_of(lambda: jacobian_spectrum(M, T, C, 3))
        assert np.allclose(ev, em.eigenvalues[0], rtol=1e-8, atol=1e-10 * ev[0])
        line = f"{M:>6} {T:>4} {em.num_params:>10} {tg:>10.4f} {tj:>10.4f} {tj / tg:>7.1f}"
        if small:
            tf, evf = best_of(lambda: jacobian_spectrum(M, T, C, 3, full_F=True), repeat=1)
            assert np.allclose(evf, em.eigenvalues[0], rtol=1e-6, atol=1e-9 * ev[0])
            line += f" {tf:>10.3f} {tf / tg:>7.0f}"
        print(line, flush=True)

    kernels_part()


def kernels_part():
    print("\n2. infinite-width kernels, depth 3, n x n inputs (best of 3)")
    before = _load_before()
    rng = np.random.default_rng(0)
    for act, n, equal in (("relu", 100, False), ("relu", 400, False), ("tanh", 40 if QUICK else 100, False),
                          ("tanh", 100, True), ("gelu", 100, True)):
        x = rng.standard_normal((n, 10))
        if equal:
            # equal norms exactly: signed permutations of one vector on a 2^-10 grid (squares and
            # their sums are exact in float64, whatever the order)
            base = np.round(x[0] * 2 ** 10) / 2 ** 10
            x = np.stack([rng.permutation(base) * rng.choice([-1.0, 1.0], base.size) for _ in range(n)])
        t, _ = best_of(lambda: ntk.kernels(x, None, act, 3, 2.0, 0.1))
        t2, _ = best_of(lambda: ntk.kernels(x, None, act, 3, 2.0, 0.1, store_layers=False))
        per = t / (n * (n + 1) / 2 * 3) * 1e6
        line = (f"  {act:5s} n = {n:3d} {'equal norms' if equal else 'any norms  '}: {t:.4f} s "
                f"({per:.2f} us per entry and layer), read-out only {t2:.4f} s")
        if before is not None:
            tb, _ = best_of(lambda: before.ntk.kernels(x, None, act, 0.01, 3, 2.0, 0.1, False, 0.0, 0),
                            repeat=1 if act != "relu" else 3)
            line += f"; before {tb:.4f} s (ratio {tb / t:.1f})"
        print(line, flush=True)


def _load_before():
    """The ``_core`` extension given by ``--before PATH`` (old ntk.kernels signature), or None."""
    if "--before" not in sys.argv:
        return None
    import importlib.util

    path = sys.argv[sys.argv.index("--before") + 1]
    spec = importlib.util.spec_from_file_location("_core", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


if __name__ == "__main__":
    main()
