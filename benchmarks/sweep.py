"""Benchmark statmech_nn.sweep against a plain Python loop, and the dask backend against threads.

    PYTHONPATH=python python benchmarks/sweep.py [--quick] [--workers 2] [--repeat 3]

Every timing is the minimum (and median) of ``--repeat`` interleaved runs in this one process.

1. A 10 000-point perceptron ODE sweep (eta x l0 = 100 x 100, erf, SGD, t <= 100 on 101 points):
   ``sweep`` (C++ grid fast path: one core call per chunk, OpenMP over points) against
   ``for eta: for l0: perceptron.ode(...)``. Issue target: >= 20x on 2 threads. The ratio is
   bounded by (loop time per point) / (C++ integration time per point) x threads: the loop's own
   Python overhead per point is printed, so that the bound can be read off (about 80% of the
   loop is the C++ integration itself -- the closed-form averages and asin -- so the bound is
   ~2.5x on two idle cores; on a loaded machine a second OpenMP thread may not help at all).
2. A committee ODE sweep over 64 learning rates, K = M = 3, t <= 500: sweep (fast path) against
   the Python loop -- the parallel efficiency (target >= 1.8x on 2 threads).
3. The perceptron sweep with 1 000 points on a dask LocalCluster (2 worker processes, one thread
   each) against the threads backend (2 threads): the overhead of the cluster (target <= +30%).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import statmech_nn as sn


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleaved(repeat, **fns):
    """{name: (min, median)} of `repeat` interleaved runs of each fn; also the last outputs."""
    times = {k: [] for k in fns}
    outs = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            dt, outs[k] = timed(fn)
            times[k].append(dt)
    return {k: (min(v), statistics.median(v)) for k, v in times.items()}, outs


def show(name, tm, ref=None):
    line = f"   {name:28s} min {tm[0]:8.3f} s  median {tm[1]:8.3f} s"
    if ref is not None:
        line += f"   -> {ref[0] / tm[0]:6.2f}x (min)  {ref[1] / tm[1]:6.2f}x (median)"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 x 30 points, 16 learning rates, 200 dask points")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    w = args.workers
    n_side = 30 if args.quick else 100
    t = np.linspace(0.0, 100.0, 101)
    etas = np.linspace(0.1, 3.0, n_side)
    l0s = np.linspace(0.2, 3.0, n_side)
    kw = dict(activation="erf", rule="sgd", t=t, progress=False)
    print(f"statmech_nn {sn.__version__}, {os.cpu_count()} CPUs, {w} workers, load average "
          f"{os.getloadavg()[0]:.1f} (timings on a loaded machine are noisy)")

    print(f"1. perceptron ODE sweep, {etas.size} x {l0s.size} = {etas.size * l0s.size} points, t <= 100")
    sn.sweep(sn.perceptron.ode, {"eta": etas[:2]}, l0=1.0, **kw)  # warm up (imports)

    def loop():
        return [[sn.perceptron.ode("erf", "sgd", e, l, t=t) for l in l0s] for e in etas]

    from statmech_nn import _core
    from statmech_nn.perceptron import _options

    E, L = (a.ravel() for a in np.meshgrid(etas, l0s, indexing="ij"))
    opts = _options("dopri5", 1e-8, 1e-10, 0.0, np.inf, 10_000_000, 1e4)
    core1 = lambda: _core.sweep.perceptron_ode("erf", 0.01, "sgd", E, L, 0 * E, 0 * E + 0.05, t, opts, -1.0, 1)
    tm, out = interleaved(
        args.repeat, loop=loop,
        fast=lambda: sn.sweep(sn.perceptron.ode, {"eta": etas, "l0": l0s}, num_workers=w, **kw),
        fast1=lambda: sn.sweep(sn.perceptron.ode, {"eta": etas, "l0": l0s}, num_workers=1, **kw),
        core1=core1,
        generic=lambda: sn.sweep(sn.perceptron.ode, {"eta": etas, "l0": l0s}, num_workers=w, fast_path=False,
                                 **kw))
    ds, res = out["fast"], out["loop"]
    same = all(np.array_equal(ds["eg"].values[i, j, :r.t.size], r.eg)
               and np.array_equal(ds["l"].values[i, j, :r.t.size], r.l)
               for i, row in enumerate(res) for j, r in enumerate(row))
    n = etas.size * l0s.size
    show("python loop", tm["loop"])
    show(f"sweep fast path ({w} threads)", tm["fast"], tm["loop"])
    show("sweep fast path (1 thread)", tm["fast1"], tm["loop"])
    show("core grid call alone (1 thr)", tm["core1"], tm["loop"])
    show(f"sweep generic ({w} threads)", tm["generic"], tm["loop"])
    print(f"   bitwise equal to the loop: {same}; per point: loop {tm['loop'][0] / n * 1e6:.0f} us, C++ integration "
          f"{tm['core1'][0] / n * 1e6:.0f} us -> Python share of the loop {1 - tm['core1'][0] / tm['loop'][0]:.0%}; "
          f"the best a {w}-thread grid could do is ~{w * tm['loop'][0] / tm['core1'][0]:.1f}x")

    n_eta = 16 if args.quick else 64
    print(f"2. committee ODE sweep, K = M = 3, {n_eta} learning rates, t <= 500")
    K = 3
    ckw = dict(Q0=0.2 * np.eye(K), R0=np.full((K, K), 0.01), T=np.eye(K), t=np.linspace(0.0, 500.0, 101))
    c_etas = np.linspace(0.1, 2.0, n_eta)
    tm, out = interleaved(
        args.repeat, loop=lambda: [sn.committee.ode(eta=e, **ckw) for e in c_etas],
        fast=lambda: sn.sweep(sn.committee.ode, {"eta": c_etas}, progress=False, num_workers=w, **ckw),
        generic=lambda: sn.sweep(sn.committee.ode, {"eta": c_etas}, progress=False, num_workers=w, fast_path=False,
                                 **ckw))
    cds, cres = out["fast"], out["loop"]
    same = all(np.array_equal(cds["Q"].values[i, :r.t.size], r.Q) for i, r in enumerate(cres))
    show("python loop", tm["loop"])
    show(f"sweep fast path ({w} threads)", tm["fast"], tm["loop"])
    show(f"sweep generic ({w} threads)", tm["generic"], tm["loop"])
    print(f"   target >= 1.8x on 2 threads; bitwise equal: {same}")

    n_small = 200 if args.quick else 1000
    print(f"3. dask LocalCluster (2 processes x 1 thread) vs threads ({w}), {n_small} points")
    small = {"eta": np.linspace(0.1, 3.0, n_small // 10), "l0": np.linspace(0.2, 3.0, 10)}
    from distributed import Client, LocalCluster
    import xarray as xr

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        # warm the workers (imports) once, as a long-lived cluster would be
        sn.sweep(sn.perceptron.ode, {"eta": [1.0, 2.0]}, l0=1.0, backend="dask", client=client, **kw)
        big = {"eta": etas, "l0": l0s}
        tm, out = interleaved(
            args.repeat + 2,
            threads=lambda: sn.sweep(sn.perceptron.ode, small, num_workers=w, **kw),
            dask=lambda: sn.sweep(sn.perceptron.ode, small, backend="dask", client=client, **kw),
            threads_big=lambda: sn.sweep(sn.perceptron.ode, big, num_workers=w, **kw),
            dask_big=lambda: sn.sweep(sn.perceptron.ode, big, backend="dask", client=client, **kw))
    xr.testing.assert_identical(out["threads"], out["dask"])
    xr.testing.assert_identical(out["threads_big"], out["dask_big"])
    show(f"threads ({w})", tm["threads"])
    show("dask (2 workers)", tm["dask"])
    print(f"   overhead {tm['dask'][0] / tm['threads'][0] - 1:+.0%} (min), {tm['dask'][1] / tm['threads'][1] - 1:+.0%} "
          "(median); target <= +30%; results identical")
    n_big = etas.size * l0s.size
    show(f"threads ({w}), {n_big} points", tm["threads_big"])
    show(f"dask (2 workers), {n_big} points", tm["dask_big"])
    print(f"   overhead {tm['dask_big'][0] / tm['threads_big'][0] - 1:+.0%} (min), "
          f"{tm['dask_big'][1] / tm['threads_big'][1] - 1:+.0%} (median): the cluster's cost is the task "
          "round trips and moving every result array between processes")


if __name__ == "__main__":
    main()
