"""Batch-norm mean field: our C++ core against the NumPy code a user would otherwise write, in one
process. Run: python benchmarks/batchnorm.py [--threads 2] [--samples 1000000]

1. BSB1 fixed point (q*, c*) for tanh: our sphere quadrature (~1e-13) vs NumPy Monte Carlo over
   BN(z), z ~ N(0, I_B) (error ~ 1/sqrt(n)); time and achieved accuracy of each.
2. lambda_G for tanh: ours vs NumPy Monte Carlo of E tr[P D G D P] and the fixed point.
3. One covariance-map step for ReLU at a general Sigma: our Laplace quadrature vs NumPy Monte Carlo.
4. Deep BN network (forward covariances + exact backprop): ours vs a NumPy implementation of the
   same network (same sizes; NumPy's own generator).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import statmech_nn.batchnorm as bn


def timed(f, repeat=3):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def numpy_bn(h):
    """h: (..., B) -> sqrt(B) G h / |G h| along the last axis."""
    B = h.shape[-1]
    g = h - h.mean(axis=-1, keepdims=True)
    return math.sqrt(B) * g / np.linalg.norm(g, axis=-1, keepdims=True)


def numpy_fixed_point(B, sw2, sb2, n, rng, chunk=200_000):
    s2 = s12 = 0.0
    done = 0
    while done < n:
        m = min(chunk, n - done)
        f = np.tanh(numpy_bn(rng.normal(size=(m, B))))
        s2 += np.sum(f[:, 0] ** 2)
        s12 += np.sum(f[:, 0] * f[:, 1])
        done += m
    q = sw2 * s2 / n + sb2
    return q, (sw2 * s12 / n + sb2) / q


def numpy_lambda(B, n, rng, chunk=100_000):
    G = np.eye(B) - 1.0 / B
    tr = v = 0.0
    done = 0
    while done < n:
        m = min(chunk, n - done)
        x = numpy_bn(rng.normal(size=(m, B)))
        d = 1 - np.tanh(x) ** 2
        y = x / math.sqrt(B)
        P = G[None] - y[:, :, None] * y[:, None, :]
        # tr[P D G D P] = tr[G D P D] (P^2 = P)
        tr += np.einsum("jk,nk,nkj,nj->", G, d, P, d, optimize=True)
        f = np.tanh(x)
        v += np.sum(f[:, 0] ** 2 - f[:, 0] * f[:, 1])
        done += m
    mu = tr / n / (B - 1)
    return B * mu / ((B - 3) * v / n)


def numpy_relu_map(S, n, rng):
    L = np.linalg.cholesky(S)
    f = np.maximum(numpy_bn(rng.normal(size=(n, S.shape[0])) @ L.T), 0)
    return f.T @ f / n


def numpy_network(B, depth, M, sw2, sb2, rng):
    h = rng.normal(size=(M, B))
    Ws, xs, norms, Sig = [], [], [], [h.T @ h / M]
    for _ in range(depth):
        g = h - h.mean(axis=1, keepdims=True)
        nrm = np.linalg.norm(g, axis=1, keepdims=True)
        x = math.sqrt(B) * g / nrm
        W = rng.normal(scale=math.sqrt(sw2 / M), size=(M, M))
        h = W @ np.tanh(x) + rng.normal(scale=math.sqrt(sb2), size=(M, 1))
        Ws.append(W), xs.append(x), norms.append(nrm), Sig.append(h.T @ h / M)
    delta = rng.normal(size=(M, B))
    lg = [np.log(np.sum(delta**2))]
    for l in range(depth - 1, -1, -1):
        v = (1 - np.tanh(xs[l]) ** 2) * (Ws[l].T @ delta)
        v -= v.mean(axis=1, keepdims=True)
        x = xs[l]
        v -= x * np.sum(x * v, axis=1, keepdims=True) / B
        delta = math.sqrt(B) / norms[l] * v
        lg.append(np.log(np.sum(delta**2)))
    return np.array(Sig), np.array(lg[::-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--samples", type=int, default=1_000_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.samples

    print("1. BSB1 fixed point, tanh, sigma_w2 = 2, sigma_b2 = 0.1")
    for B in (8, 64):
        t_ours, fp = timed(lambda: bn.fixed_point("tanh", B, 2.0, 0.1))
        t_np, (q, c) = timed(lambda: numpy_fixed_point(B, 2.0, 0.1, n, rng), repeat=1)
        print(f"   B={B:3d}: ours {t_ours*1e3:8.2f} ms (error est. {fp.quadrature_error:.0e}); NumPy MC n={n}: "
              f"{t_np*1e3:8.1f} ms, |dq| = {abs(q - fp.q_star):.1e}, |dc| = {abs(c - fp.c_star):.1e}; "
              f"ratio {t_np / t_ours:.0f}x")

    print("2. lambda_G, tanh")
    for B in (8, 32):
        t_ours, lam = timed(lambda: bn.gradient_explosion_rate("tanh", B))
        m = min(n, 200_000)
        t_np, lam_np = timed(lambda: numpy_lambda(B, m, rng), repeat=1)
        print(f"   B={B:3d}: ours {t_ours*1e3:8.2f} ms -> {lam:.10f}; NumPy MC n={m}: {t_np*1e3:8.1f} ms -> "
              f"{lam_np:.5f} (diff {abs(lam_np - lam):.1e}); ratio {t_np / t_ours:.0f}x")

    print("3. covariance map, relu, general Sigma")
    for B in (8, 32):
        A = rng.normal(size=(B, B + 2))
        S = A @ A.T / (B + 2) + 0.1
        t_ours, V = timed(lambda: bn.covariance_map("relu", S))
        t_np, Vn = timed(lambda: numpy_relu_map(S, n, rng), repeat=1)
        print(f"   B={B:3d}: ours (Laplace, ~1e-12) {t_ours*1e3:8.2f} ms; NumPy MC n={n}: {t_np*1e3:8.1f} ms, "
              f"max|diff| = {np.max(np.abs(V - Vn)):.1e}; ratio {t_np / t_ours:.1f}x")

    print("4. deep BN network, tanh, B = 16, depth 30, forward covariances + backprop")
    for M, seeds in ((500, 4), (1000, 4)):
        t_ours, sim = timed(lambda: bn.simulate("tanh", 16, 30, M, 2.0, 0.1, seeds=list(range(seeds)),
                                                num_threads=args.threads), repeat=1)
        t_np, _ = timed(lambda: [numpy_network(16, 30, M, 2.0, 0.1, rng) for _ in range(seeds)], repeat=1)
        print(f"   M={M:5d}, {seeds} seeds: ours {t_ours:6.2f} s; NumPy {t_np:6.2f} s; ratio {t_np / t_ours:.1f}x "
              f"(growth {sim.growth_rate(5, 28).mean():.3f} vs lambda_G {bn.gradient_explosion_rate('tanh', 16):.3f})")


if __name__ == "__main__":
    main()
