"""Benchmarks of statmech_nn.meanfield against the NumPy code a user would otherwise write.

1. phase_diagram on a 200 x 200 (sigma_w2, sigma_b2) grid for tanh (target: < 2 s on 2 cores) vs a
   vectorised NumPy Gauss–Hermite implementation (fixed-point iteration of the length map with a
   64-node rule; the correlation map with a 32 x 32 tensor rule on a subgrid, reported per point).
2. The spectral density of J J^T at depth 100 on 400 points (target: < 1 s) vs NumPy polynomial
   roots of x psi = sigma_w2^L (1 + psi) (1/2 + psi)^L (ReLU, Gaussian weights).

Run: ``PYTHONPATH=python python benchmarks/meanfield.py [--threads 2] [--repeat 5]``. Timings are the best
and the median of ``--repeat`` runs (best-of is the machine's capability, the median what a shared
machine gives).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import statmech_nn.meanfield as mf


def numpy_q_star_chi1(sw2, sb2, n_nodes=64, iters=300):
    z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    W, B = np.meshgrid(sw2, sb2, indexing="ij")
    q = np.ones_like(W)
    for _ in range(iters):
        q = W * (np.tanh(np.sqrt(q)[..., None] * z) ** 2 @ w) + B
    chi1 = W * ((1 - np.tanh(np.sqrt(q)[..., None] * z) ** 2) ** 2 @ w)
    return q, chi1


def numpy_c_star(sw2, sb2, q, n_nodes=32, iters=200):
    z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    Z1, Z2 = np.meshgrid(z, z, indexing="ij")
    W2 = np.outer(w, w)
    W, B = np.meshgrid(sw2, sb2, indexing="ij")
    c = np.full_like(W, 0.5)
    s = np.sqrt(q)[..., None, None]
    for _ in range(iters):
        u1 = s * Z1
        u2 = s * (c[..., None, None] * Z1 + np.sqrt(1 - c[..., None, None] ** 2) * Z2)
        c = (W * np.sum(np.tanh(u1) * np.tanh(u2) * W2, axis=(-1, -2)) + B) / q
        c = np.clip(c, -1, 1)
    return c


def numpy_relu_density(x, L, sw2=2.0):
    """Density from the polynomial x psi = sw2^L (1 + psi) (1/2 + psi)^L (ReLU, Gaussian weights):
    all roots by numpy.roots, the physical one tracked by continuation from above the support
    (psi ~ mean / x there), which is what one writes without a dedicated solver."""
    from numpy.polynomial import polynomial as P

    base = P.polypow([0.5, 1.0], L)
    poly = sw2 ** L * P.polymul([1.0, 1.0], base)
    order = np.argsort(-x)
    out = np.empty(x.size)
    prev = None
    for i in order:
        p = poly.astype(complex)
        p[1] -= x[i] * (1 + 1e-9j)
        roots = np.roots(p[::-1])
        target = (sw2 / 2) ** L / x[i] if prev is None else prev
        psi = roots[np.argmin(np.abs(roots - target))]
        prev = psi
        out[i] = abs(((1 + psi) / x[i]).imag) / np.pi
    return out


def timed(f, repeat):
    """Best-of and median wall time of `repeat` calls (the machine may be shared), last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), out


def before_after(path, sw2, sb2, threads, rep):
    """The phase diagram with an earlier core (same grid, interleaved runs in this process)."""
    import importlib.util

    from statmech_nn import _core

    spec = importlib.util.spec_from_file_location("_core", path)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    for corr in (False, True):
        tb, ta = [], []
        for _ in range(rep):
            t = time.perf_counter()
            old.meanfield.phase_diagram("tanh", 0.01, sw2, sb2, 1.0, corr, threads)
            tb.append(time.perf_counter() - t)
            t = time.perf_counter()
            _core.meanfield.phase_diagram("tanh", 0.01, sw2, sb2, 1.0, corr, threads)
            ta.append(time.perf_counter() - t)
        print(f"   before/after (with_correlation={corr}): {min(tb):7.3f} s / {min(ta):7.3f} s  "
              f"ratio {min(tb) / min(ta):5.2f} (best), {np.median(tb) / np.median(ta):5.2f} (median)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions (best-of and median reported)")
    ap.add_argument("--before", default=None,
                    help="path of a _core extension built from an earlier commit: its phase diagram is timed "
                         "in the same process, interleaved with ours, and the ratio printed")
    args = ap.parse_args()
    n, rep = args.n, args.repeat
    sw2 = np.linspace(0.5, 4.0, n)
    sb2 = np.linspace(0.0, 0.3, n)

    print(f"== phase_diagram tanh {n}x{n}, {args.threads} threads (best / median of {rep}) ==")
    # q*-only and full runs interleaved, so that both see the same (possibly shared) machine
    tq_list, tf_list = [], []
    for _ in range(rep):
        t = time.perf_counter()
        pd0 = mf.phase_diagram("tanh", sw2, sb2, with_correlation=False, num_threads=args.threads)
        tq_list.append(time.perf_counter() - t)
        t = time.perf_counter()
        pd = mf.phase_diagram("tanh", sw2, sb2, with_correlation=True, num_threads=args.threads)
        tf_list.append(time.perf_counter() - t)
    t_q, t_q_med = min(tq_list), float(np.median(tq_list))
    t_full, t_full_med = min(tf_list), float(np.median(tf_list))
    # cost of the c*, chi_c, xi_c part: median over the pairs of (full - q* only)
    t_corr = max(float(np.median(np.array(tf_list) - np.array(tq_list))), 1e-3)
    chaotic = np.mean(pd.chi1 > 1)
    print(f"statmech_nn  q*, chi1, xi_q, critical line : {t_q:7.3f} s / {t_q_med:7.3f} s")
    if args.before:
        before_after(args.before, sw2, sb2, args.threads, rep)
    print(f"statmech_nn  + c*, chi_c, xi_c (full)      : {t_full:7.3f} s / {t_full_med:7.3f} s   "
          f"({chaotic:.0%} of points chaotic; target < 2 s: {'met' if t_full < 2 else 'NOT met'})")
    t = time.perf_counter()
    q_np, chi_np = numpy_q_star_chi1(sw2, sb2)
    t_np_q = time.perf_counter() - t
    print(f"numpy GH-64  q*, chi1 (300 iterations)     : {t_np_q:7.3f} s   ratio {t_np_q / t_q:6.1f}x (best)")
    err_q = np.nanmax(np.abs(q_np - pd0.q_star) / np.maximum(pd0.q_star, 1e-3))
    err_chi = np.nanmax(np.abs(chi_np - pd0.chi1))
    print(f"   numpy GH vs statmech_nn: max rel. err q* {err_q:.1e} (slow convergence near criticality and "
          f"GH error at large q), max abs. err chi1 {err_chi:.1e}")
    ns = 40
    sub_w, sub_b = sw2[:: n // ns], sb2[:: n // ns]
    qs = pd.q_star[:: n // ns, :: n // ns]
    t = time.perf_counter()
    c_np = numpy_c_star(sub_w, sub_b, np.maximum(qs, 1e-12))
    t_np_c = time.perf_counter() - t
    per_np = t_np_c / c_np.size
    per_ours = t_corr / pd.c_star.size
    print(f"numpy GH-32x32 c* (200 iterations), per point: {per_np * 1e3:7.3f} ms vs statmech_nn "
          f"{per_ours * 1e3:7.4f} ms   ratio {per_np / per_ours:6.0f}x")
    sub_c, sub_xi = pd.c_star[:: n // ns, :: n // ns], pd.xi_c[:: n // ns, :: n // ns]
    mask = (sub_c < 0.999) & (sub_xi < 20)  # where 200 iterations of the map have converged
    print(f"   max |c*_numpy - c*| in the chaotic phase (xi_c < 20): {np.max(np.abs(c_np - sub_c)[mask]):.1e}")
    print(f"   full phase diagram extrapolated for numpy (q* part + c* per point x {n * n}): "
          f"{t_np_q + per_np * n * n:7.1f} s   ratio {(t_np_q + per_np * n * n) / t_full:6.0f}x")

    print(f"== spectral density, depth 100, 400 points (best / median of {rep}; target < 1 s) ==")
    for name, w, b, weights in [("relu", 2.0, 0.0, "gaussian"), ("relu", 2.0, 0.0, "orthogonal"),
                                ("hardtanh", 1.05, 1e-3, "orthogonal"), ("tanh", 1.05, 1e-3, "orthogonal"),
                                ("tanh", 1.05, 1e-3, "gaussian"), ("tanh", 1.5, 0.05, "gaussian"),
                                ("erf", 1.2, 0.01, "orthogonal")]:
        best, med, r = timed(lambda: mf.jacobian_spectrum(name, w, b, 100, weights, n_points=400,
                                                          num_threads=args.threads), rep)
        print(f"statmech_nn  {name:8s} {weights:10s} ({w}, {b}): {best:7.3f} s / {med:7.3f} s  status {r.status}  "
              f"edge {r.edge:.4g}")
    dt, _, r2 = timed(lambda: mf.jacobian_spectrum("relu", 2.0, 0.0, 100, "gaussian", n_points=400,
                                                   num_threads=args.threads), rep)
    t = time.perf_counter()
    d_np = numpy_relu_density(r2.x, 100)
    t_np = time.perf_counter() - t
    rel = np.max(np.abs(d_np - r2.density) / np.maximum(r2.density, 1e-300))
    med = np.median(np.abs(d_np - r2.density) / np.maximum(r2.density, 1e-300))
    print(f"numpy roots  relu     gaussian  : {t_np:7.3f} s   ratio {t_np / dt:6.1f}x   rel. diff median {med:.1e}, "
          f"max {rel:.1e} (numpy roots of a degree-101 polynomial lose accuracy)")


if __name__ == "__main__":
    main()
