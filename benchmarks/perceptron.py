"""Benchmark statmech_nn.perceptron against the NumPy/SciPy code a user would otherwise write.

    PYTHONPATH=python python benchmarks/perceptron.py [--quick]

1. ode: our C++ Dormand-Prince vs scipy.integrate.solve_ivp (RK45) with a NumPy right-hand side
   of the same equations (closed-form erf averages), same rtol/atol.       target >= 100x
2. time_to_error on a 100 x 100 (eta, l0) grid, both rules, g(x) = x.        target < 2 s (2 cores)
3. simulate at N = 10^4: input components (N x steps) per second per core, and the ratio
   against a NumPy per-step loop (several seeds on 2 threads).             target >= 2e8 /s/core, >= 5x

``--baseline DIR`` (another build's ``python/statmech_nn``) first times ``ode`` and
``time_to_error`` before/after in one process.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

import statmech_nn as sn

P = sn.perceptron


def best_of(fn, repeat):
    best = math.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ---- 1. ODE ----------------------------------------------------------------------------------------
def erf_averages_numpy(l, R):
    Q = l * l
    r = l * R
    s1 = np.sqrt(2 * (1 + Q) - r * r)
    s2 = np.sqrt(1 + 2 * Q)
    pref = 2 / (np.pi * (1 + Q))
    A1 = pref * (r / s1 - Q / s2)
    A3 = pref * ((1 + Q - r * r) / s1 - r / s2)
    d = 1 + 2 * Q - r * r
    e = 1 + 3 * Q
    A2 = 2 / (np.pi**2 * s2) * (np.arcsin((1 + 2 * Q - 2 * r * r) / (2 * d))
                                - 2 * np.arcsin(r / np.sqrt(2 * e * d)) + np.arcsin(Q / e))
    return A1, A2, A3


def scipy_wn(eta, l0, R0, z0, t, rtol, atol):
    def rhs(_, y):
        l, p, q = y
        z = np.sqrt(q)
        R = np.clip(p / z, -1, 1)
        A1, A2, A3 = erf_averages_numpy(l, R)
        return np.array([eta * A1 / l, eta * (l * A3 - R * A1) / z, 2 * eta**2 * l * l * A2 / q])

    return solve_ivp(rhs, (t[0], t[-1]), [l0, z0 * R0, z0 * z0], t_eval=t, rtol=rtol, atol=atol, method="RK45")


def scipy_sgd(eta, l0, R0, t, rtol, atol):
    def rhs(_, y):
        Q, r = y
        l = np.sqrt(Q)
        A1, A2, A3 = erf_averages_numpy(l, np.clip(r / l, -1, 1))
        return np.array([2 * eta * A1 + 2 * eta**2 * A2, eta * A3])

    return solve_ivp(rhs, (t[0], t[-1]), [l0 * l0, l0 * R0], t_eval=t, rtol=rtol, atol=atol, method="RK45")


def bench_ode(repeat):
    print("1. ode (erf, eta = 0.5, l0 = 1, R0 = 0, z0 = 0.05, t = 0..100, 201 outputs)")
    t = np.linspace(0, 100, 201)
    for rtol, atol in ((1e-6, 1e-9), (1e-8, 1e-10)):
        for rule in ("sgd", "wn"):
            ours_t, ours = best_of(lambda: P.ode("erf", rule, 0.5, 1.0, 0.0, 0.05, t=t, rtol=rtol, atol=atol), repeat)
            if rule == "wn":
                sp_t, sp = best_of(lambda: scipy_wn(0.5, 1.0, 0.0, 0.05, t, rtol, atol), max(1, repeat // 3))
                err = np.max(np.abs(sp.y[0] - ours.l))
            else:
                sp_t, sp = best_of(lambda: scipy_sgd(0.5, 1.0, 0.0, t, rtol, atol), max(1, repeat // 3))
                err = np.max(np.abs(np.sqrt(sp.y[0]) - ours.l))
            print(f"   {rule:3s} rtol={rtol:g}: ours {ours_t * 1e3:8.3f} ms   scipy {sp_t * 1e3:8.2f} ms   "
                  f"ratio {sp_t / ours_t:7.1f}x   max|dl| {err:.1e}")


# ---- 2. time_to_error ----------------------------------------------------------------------------------
def bench_time_to_error(n, threads):
    print(f"2. time_to_error, g(x) = x, {n} x {n} grid (eta in [1e-2, 10], l0 in [0.1, 10]), {threads} threads")
    eta = np.logspace(-2, 1, n)
    l0 = np.logspace(-1, 1, n)
    total = 0.0
    for rule in ("sgd", "wn"):
        dt, res = best_of(lambda: P.time_to_error("linear", rule, eta[:, None], l0[None, :], num_threads=threads), 1)
        total += dt
        print(f"   {rule:3s}: {dt:6.3f} s  ({np.isfinite(res.time).sum()} reached, {np.isinf(res.time).sum()} inf)")
    print(f"   both rules: {total:.3f} s  (target < 2 s on 2 cores)")


# ---- 3. simulate -----------------------------------------------------------------------------------------
def numpy_loop(N, steps, eta, seed):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal(N)
    B *= math.sqrt(N) / np.linalg.norm(B)
    J = rng.standard_normal(N)
    J *= math.sqrt(N) / np.linalg.norm(J)
    inv = 1 / math.sqrt(N)
    for _ in range(steps):
        x = rng.standard_normal(N) * inv
        h = J @ x
        v = B @ x
        J += eta * (math.erf(v / math.sqrt(2)) - math.erf(h / math.sqrt(2))) * math.sqrt(2 / math.pi) \
            * math.exp(-h * h / 2) * x
    return J


def bench_simulate(T, threads):
    N = 10_000
    steps = int(T * N)
    print(f"3. simulate, erf SGD and WN, N = {N}, {steps} steps per seed")
    # Per core: one seed, one thread. CPU time is printed too (the machine may be shared).
    for rule in ("sgd", "wn"):
        c0 = time.process_time()
        dt, _ = best_of(lambda: P.simulate("erf", rule, 0.5, 1.0, N=N, t=[0.0, T], seeds=[0], num_threads=1), 1)
        cpu = time.process_time() - c0
        print(f"   {rule:3s} 1 seed, 1 thread : {N * steps / dt:.3g} components/s (wall), {N * steps / cpu:.3g} per CPU-s")
    nseeds = 2 * threads
    c0 = time.process_time()
    dt, _ = best_of(lambda: P.simulate("erf", "sgd", 0.5, 1.0, N=N, t=[0.0, T], seeds=list(range(nseeds)),
                                       num_threads=threads), 1)
    cpu = time.process_time() - c0
    ours = nseeds * N * steps / dt
    ours_cpu = nseeds * N * steps / cpu
    print(f"   sgd {nseeds} seeds, {threads} threads: {ours:.3g} components/s wall ({ours / threads:.3g} per core); "
          f"{ours_cpu:.3g} per CPU-s")
    np_steps = max(1000, steps // 5)
    c0 = time.process_time()
    dt_np, _ = best_of(lambda: numpy_loop(N, np_steps, 0.5, 0), 1)
    cpu_np = time.process_time() - c0
    numpy_rate = N * np_steps / dt_np
    numpy_cpu = N * np_steps / cpu_np
    print(f"   numpy per-step loop (1 seed): {numpy_rate:.3g} components/s wall, {numpy_cpu:.3g} per CPU-s")
    print(f"   ratio ours ({threads} threads, {nseeds} seeds) / numpy, wall: {ours / numpy_rate:.1f}x  (target >= 5x)")
    print(f"   same ratio if both had their CPUs to themselves ({threads} x per-CPU-s vs numpy per-CPU-s): "
          f"{threads * ours_cpu / numpy_cpu:.1f}x")


def bench_baseline(path, repeat, threads):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _baseline import compare, load_baseline

    old = load_baseline(path).perceptron
    print(f"0. before/after in one process (baseline {path})")
    t = np.linspace(0, 100, 201)
    for act in ("erf", "tanh"):
        for rule in ("sgd", "wn"):
            compare(f"ode {act:4s} {rule:3s}", lambda: P.ode(act, rule, 0.5, 1.0, 0.0, 0.05, t=t),
                    lambda: old.ode(act, rule, 0.5, 1.0, 0.0, 0.05, t=t), repeat if act == "erf" else 2,
                    10 if act == "erf" else 1)
    eta = np.logspace(-2, 1, 40)
    l0 = np.logspace(-1, 1, 40)
    for rule in ("sgd", "wn"):
        compare(f"time_to_error 40x40 {rule}",
                lambda: P.time_to_error("linear", rule, eta[:, None], l0[None, :], num_threads=threads),
                lambda: old.time_to_error("linear", rule, eta[:, None], l0[None, :], num_threads=threads), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline", help="another build's python/statmech_nn directory, timed before/after")
    args = ap.parse_args()
    print(f"statmech_nn {sn.__version__}, OpenMP max threads {sn.max_threads()}")
    if args.baseline:
        bench_baseline(args.baseline, 3 if args.quick else 10, args.threads)
    bench_ode(3 if args.quick else 10)
    bench_time_to_error(40 if args.quick else 100, args.threads)
    bench_simulate(1.0 if args.quick else 5.0, args.threads)


if __name__ == "__main__":
    main()
