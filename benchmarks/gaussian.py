"""Throughput of the vectorised I4 (erf, ReLU) against NumPy implementations of the same closed
forms, in one process. Run: python benchmarks/gaussian.py [--n 200000] [--threads 2]

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
    args = ap.parse_args()
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
