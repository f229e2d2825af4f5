"""Benchmark of statmech_nn.training.train against the same gradient-descent loop in NumPy and, if
it is importable, in PyTorch (CPU, float64; never a dependency of the package).

Full-batch gradient descent of a ReLU network, width 1024, depth 4 (input dimension 1024, one
output), 512 Gaussian samples, ``--steps`` steps (100 in the issue), 4 seeds one after another
(NumPy, PyTorch) or in parallel (ours), on 1 and 2 threads (NumPy's BLAS and PyTorch limited to the
same count). The three run interleaved, ``--repeat`` times each; the best and median seconds and the
ratios are printed. The loops compute the same thing: forward pass, loss 1/(2n) |f - y|^2, backward
pass, update of every weight and bias.

Each line also gives the achieved GFLOP/s (the work of the three loops is the same: forward,
weight gradients, and the errors of every layer but the first) and its share of the machine's
GEMM peak, measured as one 2048^3 dgemm of NumPy's BLAS on the same threads. All three loops are
GEMM-bound: our step runs at about the dgemm peak, so against a NumPy loop whose BLAS also runs at
peak the ratio cannot exceed about 1.2 (measured 1.19 on 1 thread). Ratios on 2 threads depend on
the load: ours runs seeds in parallel with single-threaded products, NumPy and PyTorch split each
product over the threads and slow down badly when the cores are shared with other work.

Run: ``PYTHONPATH=python python benchmarks/training.py [--steps 100] [--repeat 3] [--width 1024]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import statmech_nn as sn


def numpy_loop(Ws, bs, X, Y, eta, steps):
    Ws, bs = [w.copy() for w in Ws], [b.copy() for b in bs]
    n = X.shape[0]
    for _ in range(steps):
        acts, pre = [X], []
        a = X
        for l in range(len(Ws)):
            u = a @ Ws[l].T
            u += bs[l]
            if l < len(Ws) - 1:
                pre.append(u)
                a = np.maximum(u, 0.0)
                acts.append(a)
        E = (u - Y) / n
        for l in range(len(Ws) - 1, -1, -1):
            gW = E.T @ acts[l]
            gb = E.sum(axis=0)
            if l:
                E = (E @ Ws[l]) * (pre[l - 1] > 0)
            Ws[l] -= eta * gW
            bs[l] -= eta * gb
    return Ws


def torch_loop(torch, Ws, bs, X, Y, eta, steps):
    Ws = [torch.tensor(w, requires_grad=True) for w in Ws]
    bs = [torch.tensor(b, requires_grad=True) for b in bs]
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)
    n = X.shape[0]
    for _ in range(steps):
        a = X
        for l in range(len(Ws)):
            u = torch.addmm(bs[l], a, Ws[l].T)
            a = torch.relu(u) if l < len(Ws) - 1 else u
        loss = 0.5 * ((a - Y) ** 2).sum() / n
        grads = torch.autograd.grad(loss, Ws + bs)
        with torch.no_grad():
            for p, g in zip(Ws + bs, grads):
                p.sub_(eta * g)
    return Ws


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--n-samples", type=int, default=512)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    try:
        import torch
        torch.set_default_dtype(torch.float64)
    except ImportError:
        torch = None
    from threadpoolctl import threadpool_limits

    from statmech_nn import _core

    W, L, n, seeds, steps = args.width, args.depth, args.n_samples, [0, 1, 2, 3], args.steps
    widths = [W] * (L + 1) + [1]
    eta = 1e-4
    nets = []
    for s in seeds:   # the same networks and data as train(): the engine's draw of each seed
        X, Ws, bs = _core._testing.network_sample(widths, n, 2.0, 0.1, "gaussian", s)
        r = sn.training.train("relu", L, W, eta, sigma_w2=2.0, sigma_b2=0.1, n_samples=n, steps=0, seeds=s,
                              return_data=True)
        nets.append((Ws, bs, r.x_train[0], r.y_train[0]))
    print(f"full-batch GD, relu, width {W}, depth {L}, {n} samples, {steps} steps, {len(seeds)} seeds, float64")
    # Floating-point work of one step (the same in the three loops): forward W a (2 P n), weight
    # gradients D a^T (2 P n), errors of the layers below W^T D (2 (P - P_1) n; none below layer 1).
    P = [widths[l] * widths[l - 1] for l in range(1, len(widths))]
    flops = len(seeds) * steps * (2 * sum(P) * n * 2 + 2 * (sum(P) - P[0]) * n)
    print(f"work: {flops / 1e12:.3f} TFLOP in all ({flops / len(seeds) / steps / 1e9:.2f} GFLOP per step)")
    for nt in args.threads:
        impl = {
            "statmech_nn": lambda: sn.training.train("relu", L, W, eta, sigma_w2=2.0, sigma_b2=0.1, n_samples=n,
                                                     steps=steps, seeds=seeds, record=[0, steps], num_threads=nt),
            "numpy": lambda: [numpy_loop(Ws, bs, X, Y, eta, steps) for Ws, bs, X, Y in nets],
        }
        if torch is not None:
            impl["torch"] = lambda: [torch_loop(torch, Ws, bs, X, Y, eta, steps) for Ws, bs, X, Y in nets]
        times = {k: [] for k in impl}
        with threadpool_limits(limits=nt):
            if torch is not None:
                torch.set_num_threads(nt)
            for _ in range(args.repeat):
                for k, f in impl.items():
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
            # the machine's GEMM peak: one big dgemm (OpenBLAS through NumPy), best of 3
            a, b = np.random.default_rng(0).normal(size=(2, 2048, 2048))
            a @ b
            peak = []
            for _ in range(3):
                t0 = time.perf_counter()
                a @ b
                peak.append(time.perf_counter() - t0)
            peak = 2 * 2048 ** 3 / min(peak) / 1e9
        best = {k: min(v) for k, v in times.items()}
        med = {k: float(np.median(v)) for k, v in times.items()}
        print(f"{nt} thread(s): dgemm 2048^3 peak {peak:.1f} GFLOP/s")
        for k in impl:
            print(f"  {k:12s} best {best[k]:8.2f} s   median {med[k]:8.2f} s   "
                  f"{flops / best[k] / 1e9:6.1f} GFLOP/s ({100 * flops / best[k] / 1e9 / peak:3.0f}% of peak)   "
                  f"ratio to statmech_nn (best / median): {best[k] / best['statmech_nn']:5.2f} / "
                  f"{med[k] / med['statmech_nn']:5.2f}")


if __name__ == "__main__":
    main()
