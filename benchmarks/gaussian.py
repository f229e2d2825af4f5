"""Throughput of the Gaussian layer against NumPy implementations of the same closed forms, in one
process, with interleaved repeats (min and median reported):

* I2 / J2 (pair moments) over a stack of 2x2 covariances: relu, leaky_relu (arc-cosine kernels),
  erf_sigmoid, gelu (closed forms), and tanh (conditioned 2-D rule, against SciPy's dblquad on a
  few matrices for accuracy and time per pair);
* I4 (erf, ReLU).

Run: python benchmarks/gaussian.py [--n 200000] [--threads 2] [--repeat 5]

The NumPy ReLU I4 is the same Stein/Plackett reduction as the C++ core (elementary terms plus the
4-D orthant probability as a 1-D Gauss–Legendre integral over s = 1 - u^2), vectorised over the
stack; it uses a fixed 48-node rule rather than the graded panels, so it does less work than ours.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import statmech_nn.gaussian as G


def random_stack(n, rng):
    A = rng.normal(size=(n, 4, 6))
    return np.einsum("nij,nkj->nik", A, A) / 6


def numpy_erf_I4(C):
    c = lambda i, j: C[:, i, j]  # noqa: E731
    lam4 = (1 + c(0, 0)) * (1 + c(1, 1)) - c(0, 1) ** 2
    lam0 = (lam4 * c(2, 3) - c(1, 2) * c(1, 3) * (1 + c(0, 0)) - c(0, 2) * c(0, 3) * (1 + c(1, 1))
            + c(0, 1) * c(0, 2) * c(1, 3) + c(0, 1) * c(0, 3) * c(1, 2))
    lam1 = (lam4 * (1 + c(2, 2)) - c(1, 2) ** 2 * (1 + c(0, 0)) - c(0, 2) ** 2 * (1 + c(1, 1))
            + 2 * c(0, 1) * c(0, 2) * c(1, 2))
    lam2 = (lam4 * (1 + c(3, 3)) - c(1, 3) ** 2 * (1 + c(0, 0)) - c(0, 3) ** 2 * (1 + c(1, 1))
            + 2 * c(0, 1) * c(0, 3) * c(1, 3))
    return 4 / np.pi**2 / np.sqrt(lam4) * np.arcsin(np.clip(lam0 / np.sqrt(lam1 * lam2), -1, 1))


def _orth2(vx, vy, cxy):
    return 0.25 + np.arcsin(np.clip(cxy / np.sqrt(vx * vy), -1, 1)) / (2 * np.pi)


def _cond(C, g, keep):
    # Covariance of `keep` given x_g = 0 for a stack C (n, d, d).
    Ck = C[:, keep][:, :, keep]
    v = C[:, keep, g]
    return Ck - v[:, :, None] * v[:, None, :] / C[:, g, g][:, None, None]


def _theta_theta_relu(S):
    tot = 0.0
    for v, keep in ((0, [1, 2]), (1, [0, 2]), (2, [0, 1])):
        T = _cond(S, v, keep)
        tot = tot + S[:, v, 2] / np.sqrt(2 * np.pi * S[:, v, v]) * _orth2(T[:, 0, 0], T[:, 1, 1], T[:, 0, 1])
    return tot


def numpy_orthant4(C, nodes=48):
    d = np.sqrt(np.einsum("nii->ni", C))
    R = C / (d[:, :, None] * d[:, None, :])
    x, w = np.polynomial.legendre.leggauss(nodes)
    u = 0.5 * (x + 1)
    w = 0.5 * w
    total = np.zeros(C.shape[0])
    pairs = [(0, 1, 2, 3), (0, 2, 1, 3), (0, 3, 1, 2), (1, 2, 0, 3), (1, 3, 0, 2), (2, 3, 0, 1)]
    for uq, wq in zip(u, w):
        s = 1 - uq * uq
        for i, j, k, l in pairs:
            r = s * R[:, i, j]
            det = 1 - r * r
            rki, rkj, rli, rlj, rkl = (s * R[:, k, i], s * R[:, k, j], s * R[:, l, i], s * R[:, l, j], s * R[:, k, l])
            proj = lambda ai, aj, bi, bj: (ai * bi + aj * bj - r * (ai * bj + aj * bi)) / det  # noqa: E731
            vk = 1 - proj(rki, rkj, rki, rkj)
            vl = 1 - proj(rli, rlj, rli, rlj)
            ckl = rkl - proj(rki, rkj, rli, rlj)
            total += wq * 2 * uq * R[:, i, j] / (2 * np.pi * np.sqrt(det)) * _orth2(vk, vl, ckl)
    return 1 / 16 + total


def numpy_relu_I4(C):
    tot = 0.0
    for x, others in ((0, [1, 2, 3]), (1, [0, 2, 3]), (2, [0, 1, 3])):
        S = _cond(C, x, others)
        tot = tot + C[:, x, 2] / np.sqrt(2 * np.pi * C[:, x, x]) * _theta_theta_relu(S)
    return tot + C[:, 2, 3] * numpy_orthant4(C)


def random_pairs(n, rng):
    A = rng.normal(size=(n, 2, 3))
    return np.einsum("nij,nkj->nik", A, A) / 3


def _pair_parts(C):
    c11, c12, c22 = C[:, 0, 0], C[:, 0, 1], C[:, 1, 1]
    s = np.sqrt(c11 * c22)
    return c11, c12, c22, s, np.clip(c12 / s, -1, 1)


def numpy_I2(name, C, slope=0.01):
    c11, c12, c22, s, rho = _pair_parts(C)
    k1 = lambda r: (np.sqrt(1 - r * r) + np.arccos(-r) * r) / (2 * np.pi)  # noqa: E731
    if name == "relu":
        return s * k1(rho)
    if name == "leaky_relu":
        return s * ((1 + slope**2) * k1(rho) - 2 * slope * k1(-rho))
    D = (1 + c11) * (1 + c22) - c12**2
    r = np.clip(c12 / np.sqrt((1 + c11) * (1 + c22)), -1, 1)
    P = np.arccos(-r) / (2 * np.pi)
    if name == "erf_sigmoid":
        return P
    if name == "gelu":
        e1, e2 = 1 + c11, 1 + c22
        return c12 * P + (c11 * c22 * e1 * e2 + c12**2 * (1 - c11 * c22)) / (2 * np.pi * e1 * e2 * np.sqrt(D))
    raise ValueError(name)


def interleaved(fns, repeat):
    """Run each callable `repeat` times, interleaved; return {key: (min, median)} and the outputs."""
    times = {k: [] for k in fns}
    outs = {}
    for _ in range(repeat):
        for k, f in fns.items():
            t0 = time.perf_counter()
            outs[k] = f()
            times[k].append(time.perf_counter() - t0)
    return {k: (min(v), float(np.median(v))) for k, v in times.items()}, outs


def bench_pairs(n, threads, repeat):
    rng = np.random.default_rng(1)
    C = random_pairs(n, rng)
    print(f"I2 over a stack of {n} random 2x2 covariances ({threads} threads for ours); "
          "min / median of interleaved repeats")
    for name in ("relu", "leaky_relu", "erf_sigmoid", "gelu"):
        t, out = interleaved({"ours": lambda: G.I2(name, C, num_threads=threads),
                              "ours1": lambda: G.I2(name, C, num_threads=1),
                              "numpy": lambda: numpy_I2(name, C)}, repeat)
        err = np.max(np.abs(out["ours"] - out["numpy"]))
        print(f"  {name:11s} ours {t['ours'][0] * 1e3:8.2f} / {t['ours'][1] * 1e3:8.2f} ms "
              f"(1 thread {t['ours1'][0] * 1e3:8.2f} ms)  numpy {t['numpy'][0] * 1e3:8.2f} / {t['numpy'][1] * 1e3:8.2f} ms"
              f"  max |diff| {err:.1e}")
    # tanh: no closed form. Time per pair of the conditioned 2-D rule, and SciPy's dblquad.
    from scipy import integrate

    Ct = C[:20]
    t, out = interleaved({"ours": lambda: G.I2("tanh", Ct, num_threads=1)}, repeat)

    def scipy_I2(c):
        L = np.linalg.cholesky(c + 1e-300 * np.eye(2))
        f = lambda w, v: (np.tanh(L[0, 0] * v) * np.tanh(L[1, 0] * v + L[1, 1] * w)  # noqa: E731
                          * np.exp(-(v * v + w * w) / 2) / (2 * np.pi))
        return integrate.dblquad(f, -10, 10, -10, 10, epsabs=1e-13, epsrel=1e-12)[0]

    t0 = time.perf_counter()
    ref = np.array([scipy_I2(c) for c in Ct[:5]])
    t_sp = (time.perf_counter() - t0) / 5
    err = np.max(np.abs(out["ours"][:5] - ref))
    print(f"  tanh        ours {t['ours'][0] / 20 * 1e3:8.3f} ms/pair  scipy dblquad {t_sp * 1e3:8.1f} ms/pair"
          f"  max |diff| {err:.1e}")


def best_of(f, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bench_pairs(args.n, args.threads, args.repeat)
    rng = np.random.default_rng(0)
    C = random_stack(args.n, rng)
    print(f"I4 over a stack of {args.n} random 4x4 covariances, {args.threads} threads for ours")
    for name, ref in (("erf", numpy_erf_I4), ("relu", numpy_relu_I4)):
        t_ours, ours = best_of(lambda: G.I4(name, C, num_threads=args.threads))
        t_one, _ = best_of(lambda: G.I4(name, C, num_threads=1))
        t_np, theirs = best_of(lambda: ref(C))
        err = np.max(np.abs(ours - theirs))
        print(f"{name:5s} ours {args.n / t_ours:12.3e}/s ({args.n / t_one:10.3e}/s on 1 thread)  "
              f"numpy {args.n / t_np:12.3e}/s  ratio {t_np / t_ours:6.1f}x  (max |diff| {err:.1e})")


if __name__ == "__main__":
    main()
