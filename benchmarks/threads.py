"""Every public call with ``num_threads``: 2 threads against 1, on an idle and on a busy machine.

    PYTHONPATH=python python benchmarks/threads.py [--busy 2] [--repeat 7] [--only NAME]

The project's rule: 2 threads are never slower than 1 -- also when other processes share the
cores. ``--busy K`` starts K processes that spin on the CPU for the whole run (a machine shared with
other work); without it the machine's own load is whatever it is (printed). Each call is sized to
take roughly 0.05-0.5 s on one thread. Timings are interleaved (1 thread, 2 threads, 1, 2, ...) in
this one process; the table gives min and median of each and the ratio t(1)/t(2) (above 1: two
threads are faster). A call is flagged ``SLOWER`` when its median with 2 threads exceeds the median
with 1 by more than 10%. Results are also checked to be identical between the thread counts.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

import numpy as np

import statmech_nn as sn


def _spin(stop) -> None:  # pragma: no cover - a busy process
    x = 0.0
    while not stop.is_set():
        for _ in range(100_000):
            x = x * 1.0000001 + 1.0


def calls():
    """name -> function(num_threads) returning something comparable across thread counts."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 50))
    K = 10
    q = np.linspace(0.1, 4.0, 4000)
    rho = np.linspace(-0.99, 0.99, 4000)
    C2 = np.empty((4000, 2, 2))
    C2[:, 0, 0], C2[:, 1, 1], C2[:, 0, 1] = q, 1.0 + q[::-1], rho * np.sqrt(q * (1.0 + q[::-1]))
    C2[:, 1, 0] = C2[:, 0, 1]
    C4 = np.tile(0.8 * np.eye(4) + 0.2, (4000, 1, 1)) * q[:, None, None]
    out = {
        "gaussian.I2 (gelu, 200 by quadrature)": lambda nt: sn.gaussian.I2("gelu", C2[::20], num_threads=nt,
                                                                           quadrature=True),
        "gaussian.I4 (erf, 4000)": lambda nt: sn.gaussian.I4("erf", C4, num_threads=nt),
        "meanfield.q_map (gelu)": lambda nt: sn.meanfield.q_map("gelu", 1.5, 0.1, q, num_threads=nt),
        "meanfield.c_map (tanh, 400)": lambda nt: sn.meanfield.c_map("tanh", 1.5, 0.1, rho[::10], num_threads=nt),
        "meanfield.phase_diagram 40x40": lambda nt: sn.meanfield.phase_diagram(
            "tanh", np.linspace(0.5, 4, 40), np.linspace(0, 0.3, 40), num_threads=nt),
        "meanfield.jacobian_spectrum": lambda nt: sn.meanfield.jacobian_spectrum(
            "tanh", 1.2, 0.05, 16, n_points=200, num_threads=nt),
        "meanfield.simulate (w 400, 4 seeds)": lambda nt: sn.meanfield.simulate(
            "tanh", 1.5, 0.05, 20, 400, seeds=range(4), num_threads=nt),
        "batchnorm.simulate (B 16, w 256)": lambda nt: sn.batchnorm.simulate(
            "relu", 16, 20, 256, seeds=[0, 1, 2, 3], num_threads=nt),
        "fisher.empirical (w 128, 4 seeds)": lambda nt: sn.fisher.empirical(
            "relu", 2, 2.0, 0.1, width=128, n_samples=32, seeds=range(4), num_threads=nt),
        "ntk.kernels (n 300, depth 3)": lambda nt: sn.ntk.kernels(X, None, "erf", 3, 1.5, 0.1, num_threads=nt),
        "ntk.empirical (n 64, w 256)": lambda nt: sn.ntk.empirical(
            X[:64], None, "relu", 2, 2.0, 0.1, "ntk", width=256, seeds=[0, 1], num_threads=nt),
        "perceptron.time_to_error 200": lambda nt: sn.perceptron.time_to_error(
            "erf", "sgd", np.linspace(0.2, 2.0, 200), 1.0, 0.05, t_max=50.0, num_threads=nt),
        "perceptron.simulate (N 2000, 4 seeds)": lambda nt: sn.perceptron.simulate(
            "erf", "sgd", 1.0, 1.0, 2000, t=2.0, seeds=range(4), num_threads=nt),
        "training.train (w 256, 4 seeds)": lambda nt: sn.training.train(
            "relu", 3, 256, 0.01, sigma_w2=2.0, sigma_b2=0.1, n_samples=128, steps=10, seeds=range(4),
            num_threads=nt),
    }
    for k in (2, 4, 10, 20):
        ckw = dict(Q0=0.2 * np.eye(k), R0=np.full((k, k), 0.01), T=np.eye(k))
        t_end = 200.0 if k <= 10 else 20.0
        out[f"committee.ode K = M = {k}"] = (
            lambda nt, ckw=ckw, t_end=t_end: sn.committee.ode(eta=0.5, t=np.linspace(0, t_end, 11),
                                                              num_threads=nt, **ckw))
    out["committee.simulate (N 2000, K 4, 4 seeds)"] = lambda nt: sn.committee.simulate(
        2000, 4, 4, 0.5, t=np.linspace(0, 5, 6), seeds=range(4), num_threads=nt)
    return out


def _numbers(res):
    """The numeric arrays of a result (or the array itself), for the identity check."""
    if isinstance(res, sn.Result):
        return [np.asarray(v) for v in res.to_dict().values()
                if isinstance(v, (np.ndarray, float, int)) and np.asarray(v).dtype.kind in "iuf"]
    return [np.asarray(res)]


def same(a, b) -> bool:
    x, y = _numbers(a), _numbers(b)
    return len(x) == len(y) and all(u.shape == v.shape and np.array_equal(u, v, equal_nan=True) for u, v in zip(x, y))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=0, help="spinning processes to start (a shared machine)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", default=None, help="run only calls whose name contains this")
    args = ap.parse_args()
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.5 if spinners else 0.0)
        print(f"statmech_nn {sn.__version__}, {os.cpu_count()} CPUs, {args.busy} spinning processes, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'call':44s} {'1 thread min/med (s)':>22s} {'2 threads min/med (s)':>22s}  t1/t2 min  med")
        slower = []
        for name, fn in calls().items():
            if args.only and args.only not in name:
                continue
            ref = {nt: fn(nt) for nt in (1, 2)}  # warm-up, and the identity check
            identical = same(ref[1], ref[2])
            times = {1: [], 2: []}
            for _ in range(args.repeat):
                for nt in (1, 2):
                    t0 = time.perf_counter()
                    fn(nt)
                    times[nt].append(time.perf_counter() - t0)
            m = {nt: (min(v), statistics.median(v)) for nt, v in times.items()}
            r_min, r_med = m[1][0] / m[2][0], m[1][1] / m[2][1]
            flag = "" if r_med >= 1 / 1.1 else "  SLOWER"
            if flag:
                slower.append(name)
            print(f"{name:44s} {m[1][0]:9.4f} / {m[1][1]:9.4f}  {m[2][0]:9.4f} / {m[2][1]:9.4f}  "
                  f"{r_min:5.2f} {r_med:5.2f}{flag}{'' if identical else '  RESULTS DIFFER'}", flush=True)
        print("2 threads slower than 1 (median, >10%):", ", ".join(slower) if slower else "none")
    finally:
        stop.set()
        for p in spinners:
            p.join(timeout=2)


if __name__ == "__main__":
    main()
