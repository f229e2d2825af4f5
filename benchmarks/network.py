"""Benchmark of the sampled-network engine against the per-family simulators it replaced.

Times, in ONE process, every microscopic deep-network simulator of the current package
(meanfield.simulate, batchnorm.simulate, fisher.empirical, ntk.empirical: all on the engine) and of
a reference build of the package from before the engine (three engines: C++ meanfield, C++
batchnorm, NumPy fisher/ntk), imported under the name ``statmech_nn_base``. Prints the best of
``--repeat`` runs and the ratio old / new (> 1: the engine is faster).

Make the reference build once (from a checkout of the commit before the engine)::

    cmake -S . -B build/base -G Ninja -DSTATMECH_NN_INPLACE=ON && cmake --build build/base
    mkdir -p build/base_pkg && cp -r python/statmech_nn build/base_pkg/

Run: ``PYTHONPATH=python python benchmarks/network.py [--base build/base_pkg/statmech_nn]
[--threads N] [--repeat 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import warnings

import numpy as np


def load_base(path: str):
    """Import the reference package at `path` as `statmech_nn_base` (a symlinked name)."""
    tmp = tempfile.mkdtemp(prefix="statmech_nn_base_")
    os.symlink(os.path.abspath(path), os.path.join(tmp, "statmech_nn_base"))
    sys.path.insert(0, tmp)
    return importlib.import_module("statmech_nn_base")


def best_of(f, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def cases(new, old, nt, quick):
    import importlib as il

    mf_n, mf_o = il.import_module(new.__name__ + ".meanfield"), il.import_module(old.__name__ + ".meanfield")
    bn_n, bn_o = il.import_module(new.__name__ + ".batchnorm"), il.import_module(old.__name__ + ".batchnorm")
    fi_n, fi_o = il.import_module(new.__name__ + ".fisher"), il.import_module(old.__name__ + ".fisher")
    nk_n, nk_o = il.import_module(new.__name__ + ".ntk"), il.import_module(old.__name__ + ".ntk")
    M = 500 if quick else 1000
    x = np.random.default_rng(0).normal(size=(40, 20))
    return [
        (f"meanfield.simulate tanh, width {M}, depth 20, 4 seeds, gradients",
         lambda: mf_o.simulate("tanh", 1.5, 0.05, 20, M, samples=4, seed=0, num_threads=nt),
         lambda: mf_n.simulate("tanh", 1.5, 0.05, 20, M, seeds=range(4), num_threads=nt)),
        ("meanfield.simulate tanh, width 300, depth 5, 2 seeds, Jacobian spectrum",
         lambda: mf_o.simulate("tanh", 1.5, 0.05, 5, 300, samples=2, seed=0, jacobian=True, num_threads=nt),
         lambda: mf_n.simulate("tanh", 1.5, 0.05, 5, 300, seeds=range(2), jacobian=True, num_threads=nt)),
        ("meanfield.simulate relu, width 300, depth 5, 2 seeds, orthogonal",
         lambda: mf_o.simulate("relu", 2.0, 0.0, 5, 300, samples=2, seed=0, weights="orthogonal", num_threads=nt),
         lambda: mf_n.simulate("relu", 2.0, 0.0, 5, 300, seeds=range(2), weights="orthogonal", num_threads=nt)),
        (f"batchnorm.simulate tanh, B 16, width {M}, depth 30, 2 seeds",
         lambda: bn_o.simulate("tanh", 16, 30, M, 2.0, 0.1, seeds=[0, 1], num_threads=nt),
         lambda: bn_n.simulate("tanh", 16, 30, M, 2.0, 0.1, seeds=[0, 1], num_threads=nt)),
        (f"fisher.empirical relu, width {M}, T 50, C 2, 2 seeds",
         lambda: fi_o.empirical("relu", 2, 2.0, 0.1, M=M, T=50, C=2, seeds=[0, 1]),
         lambda: fi_n.empirical("relu", 2, 2.0, 0.1, width=M, n_samples=50, n_outputs=2, seeds=[0, 1],
                                num_threads=nt)),
        (f"ntk.empirical relu, 40 inputs, width {M}, depth 2, 2 seeds",
         lambda: nk_o.empirical(x, None, "relu", 2, 2.0, 0.1, width=M, seeds=[0, 1]),
         lambda: nk_n.empirical(x, None, "relu", 2, 2.0, 0.1, "ntk", M, seeds=[0, 1], num_threads=nt)),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="build/base_pkg/statmech_nn", help="the reference package directory")
    ap.add_argument("--threads", type=int, default=None, help="num_threads (default: OpenMP's)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    import statmech_nn as new

    old = load_base(args.base)
    print(f"new: {new.__file__}\nold: {old.__file__}\nthreads: {args.threads or new._core.max_threads()}")
    print(f"{'case':<72} {'old [s]':>8} {'new [s]':>8} {'old/new':>8}")
    for name, f_old, f_new in cases(new, old, args.threads, args.quick):
        f_old(), f_new()  # warm up (first-touch allocations, thread pools)
        # interleave the two so that machine-load drifts hit both alike
        t_old = t_new = np.inf
        for _ in range(args.repeat):
            t_old = min(t_old, best_of(f_old, 1))
            t_new = min(t_new, best_of(f_new, 1))
        print(f"{name:<72} {t_old:8.3f} {t_new:8.3f} {t_old / t_new:8.2f}")


if __name__ == "__main__":
    main()
