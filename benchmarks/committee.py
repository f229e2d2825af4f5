"""Benchmark of statmech_nn.committee against what a user would otherwise write.

1. ``ode`` (K = M = 2, erf, t in [0, 1000], rtol 1e-8) vs SciPy ``solve_ivp`` (RK45, same
   tolerances) on a vectorised NumPy right-hand side of the same equations.
2. Accuracy per right-hand-side evaluation: adaptive Dormand-Prince (rtol 1e-8) vs fixed-step
   Euler with dt = 0.01 (what public scripts use), both against a rtol 1e-12 reference.
3. K = M = 10: the right-hand side per evaluation and t in [0, 1000] (rtol 1e-6 and 1e-8), 1 thread.
4. Threads: t in [0, 50] at K = M = 2, 4, 10, 20 on 1 and 2 threads, first as the machine is, then
   with ``--load N`` (default 3) busy Python processes started beside it (2 threads must never be
   slower than 1; the right-hand side runs on one thread below a measured amount of work).
5. ``simulate`` N = 1e4, b = 100: samples per second vs a NumPy loop of the same mini-batch SGD,
   and the floor set by drawing the N b normals per step.
6. ``simulate`` with one sample per step (b = 1, what nn2pp-style scripts run), 1 thread, vs the
   NumPy loop, at N = 1e4 (K = M = 2, 10) and N = 1e5 (K = M = 10).
7. Stiffness and the Runge-Kutta-Chebyshev method (``method="rkc"``) at K = M = 10 (erf), 1 thread:
   the spectral radius of the Jacobian along the trajectory (finite differences) against the mean
   Dormand-Prince step, then dopri5 and rkc interleaved at t <= 1000 and t <= 1e4, rtol 1e-3 to 1e-8
   (steps, right-hand sides, wall min/median, error against a rtol 1e-12 reference). ``--rkc``
   runs this section alone.

8. ``--nn2pp DIR``: side by side with sgoldt/nn2pp (Goldt, Advani, Saxe, Krzakala & Zdeborová,
   "Dynamics of stochastic gradient descent for two-layer neural networks in the teacher-student
   setup", 2019), built outside the repository. (a) Its ODE integrator ``scmpp_ode.exe`` (Euler,
   dt = 0.01) against ``committee.ode`` from the same initial overlaps, K = M = 2 and 10, erf,
   t <= 1000: wall time, and the error of eps_g against a rtol 1e-12 reference at nn2pp's output
   times (nn2pp prints 6 significant digits, which floors its error near 1e-6 relative); ours at
   rtol 1e-6 and at the loosest rtol that is at least as accurate as nn2pp. (b) Its simulator
   ``nn2pp.exe`` (one sample per step) against ``committee.simulate(batch_size=1)``, 1 thread,
   N = 1e3, 1e4, 1e5, K = M = 2 and 10: time per step, nn2pp's from two run lengths (so its start-up
   cancels; the shorter run is at least t = 0.1, where nn2pp's output grid starts), interleaved
   repeats (``--quick``: N <= 1e4). Build recipe (Debian; the peer is never a dependency)::

       apt-get install libarmadillo-dev libopenblas0-pthread
       git clone https://github.com/sgoldt/nn2pp && cd nn2pp
       g++ -std=c++11 -O3 -fopenmp nn2pp.cpp -o nn2pp.exe -larmadillo
       g++ -std=c++11 -O3 -fopenmp scmpp_ode.cpp -o scmpp_ode.exe -larmadillo

   then ``PYTHONPATH=python python benchmarks/committee.py --nn2pp /path/to/nn2pp`` (this section
   alone; it takes a few minutes).

Run: ``PYTHONPATH=python python benchmarks/committee.py`` (add ``--quick`` for a short run).

``--baseline DIR`` (another build's ``python/statmech_nn``) first times before/after in one process:
the right-hand side at K = M = 10, t in [0, 1000] at K = M = 2 and 10 (1 thread), and t in [0, 50] at
K = M = 10 on 2 threads with busy processes beside it. Two builds of the extension share pybind11's
type registry unless their ABI tags differ, so build the baseline with its own tag, e.g.::

    git archive <commit> | tar -x -C /tmp/base && cd /tmp/base
    cmake -S . -B build -G Ninja -DSTATMECH_NN_INPLACE=ON '-DCMAKE_CXX_FLAGS=-DPYBIND11_BUILD_ABI=\\"_base\\"'
    cmake --build build
    PYTHONPATH=python python benchmarks/committee.py --baseline /tmp/base/python/statmech_nn
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
from scipy.integrate import solve_ivp

from statmech_nn import _core, committee
from statmech_nn import gaussian as G

QUICK = "--quick" in sys.argv
BASELINE = sys.argv[sys.argv.index("--baseline") + 1] if "--baseline" in sys.argv else None
LOAD = int(sys.argv[sys.argv.index("--load") + 1]) if "--load" in sys.argv else 3
NN2PP = sys.argv[sys.argv.index("--nn2pp") + 1] if "--nn2pp" in sys.argv else None


@contextmanager
def busy_processes(n):
    """n busy-looping Python processes beside the benchmark (killed on exit)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.3)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def rhs_seconds(mod, K, M, repeat=5, n=200):
    """Best-of wall and CPU seconds per right-hand side (erf, w = v = 1) through the core binding of
    ``mod`` (one thread: on a shared machine the CPU time is the steadier of the two)."""
    Cm = mod._core.committee
    Q0, R0, T = initial_overlaps(K, M)
    model = Cm.Model("erf", K, M, np.ones((M, 1)), 1.0, 0.0, 1.0, 0.0, 1, "none")
    state = Cm.State(Q0, R0, np.ones(K), np.ones((K, 1)))
    wall = cpu = np.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            Cm.derivatives(model, T, state, 1)
        wall = min(wall, (time.perf_counter() - t0) / n)
        cpu = min(cpu, (time.process_time() - c0) / n)
    return wall, cpu


# ---- NumPy implementation of the plain SCM ODEs (erf, w = v = 1, b = 1, sigma = 1) ---------------

def _erf_I3(C):
    lam3 = (1 + C[..., 0, 0]) * (1 + C[..., 2, 2]) - C[..., 0, 2] ** 2
    return 2 / np.pi / np.sqrt(lam3) * (C[..., 1, 2] * (1 + C[..., 0, 0]) - C[..., 0, 1] * C[..., 0, 2]) / (
        1 + C[..., 0, 0])


def _erf_I4(C):
    c = lambda a, b: C[..., a, b]  # noqa: E731
    lam4 = (1 + c(0, 0)) * (1 + c(1, 1)) - c(0, 1) ** 2
    lam0 = (lam4 * c(2, 3) - c(1, 2) * c(1, 3) * (1 + c(0, 0)) - c(0, 2) * c(0, 3) * (1 + c(1, 1))
            + c(0, 1) * c(0, 2) * c(1, 3) + c(0, 1) * c(0, 3) * c(1, 2))
    lam1 = lam4 * (1 + c(2, 2)) - c(1, 2) ** 2 * (1 + c(0, 0)) - c(0, 2) ** 2 * (1 + c(1, 1)) + 2 * c(0, 1) * c(0, 2) * c(1, 2)
    lam2 = lam4 * (1 + c(3, 3)) - c(1, 3) ** 2 * (1 + c(0, 0)) - c(0, 3) ** 2 * (1 + c(1, 1)) + 2 * c(0, 1) * c(0, 3) * c(1, 3)
    return 4 / np.pi**2 / np.sqrt(lam4) * np.arcsin(lam0 / np.sqrt(lam1 * lam2))


class NumpyRHS:
    """dy/dt for y = (Q upper triangle, R) with vectorised index arrays (built once)."""

    def __init__(self, K, M, eta, T):
        self.K, self.M, self.eta, self.T = K, M, eta, T
        L = K + M
        self.iu = np.triu_indices(K)
        self.A_sign = np.concatenate([-np.ones(K), np.ones(M)])  # D = E = 1 for w = v = 1
        i, b, p = np.meshgrid(np.arange(K), np.arange(L), np.arange(L), indexing="ij")
        self.i3 = np.stack([i, b, p], -1).reshape(-1, 3)
        i, j, p, q = np.meshgrid(np.arange(K), np.arange(K), np.arange(L), np.arange(L), indexing="ij")
        self.i4 = np.stack([i, j, p, q], -1).reshape(-1, 4)
        self.n = K * (K + 1) // 2 + K * M

    def __call__(self, t, y):
        K, M, L, eta = self.K, self.M, self.K + self.M, self.eta
        Q = np.zeros((K, K))
        Q[self.iu] = y[: K * (K + 1) // 2]
        Q = Q + np.triu(Q, 1).T
        R = y[K * (K + 1) // 2:].reshape(K, M)
        C = np.block([[Q, R], [R.T, self.T]])
        C3 = C[self.i3[:, :, None], self.i3[:, None, :]]
        S = (_erf_I3(C3).reshape(K, L, L) * self.A_sign[None, None, :]).sum(-1)
        C4 = C[self.i4[:, :, None], self.i4[:, None, :]]
        P = (_erf_I4(C4).reshape(K, K, L, L) * self.A_sign[None, None, :, None] * self.A_sign[None, None, None, :]).sum((-1, -2))
        dQ = eta * (S[:, :K] + S[:, :K].T) + eta**2 * P
        dR = eta * S[:, K:]
        return np.concatenate([dQ[self.iu], dR.ravel()])


def initial_overlaps(K, M, seed=0, N=10_000):
    rng = np.random.default_rng(seed)
    J = 0.5 * rng.standard_normal((K, N)) / np.sqrt(N)
    B = rng.standard_normal((M, N)) / np.sqrt(N)
    return J @ J.T, J @ B.T, B @ B.T


def best_of(fn, repeat):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_ode():
    print("== 1. ode vs SciPy solve_ivp (K = M = 2, erf, t in [0, 1000], rtol 1e-8, atol 1e-10)")
    K = M = 2
    Q0, R0, T = initial_overlaps(K, M)
    rhs = NumpyRHS(K, M, 1.0, T)
    # the NumPy right-hand side is the same equations as ours
    mine = committee.derivatives(Q0, R0, T, 1.0)
    y0 = np.concatenate([Q0[np.triu_indices(K)], R0.ravel()])
    ref_d = np.concatenate([mine["Q"][np.triu_indices(K)], mine["R"].ravel()])
    assert np.allclose(rhs(0, y0), ref_d, rtol=1e-10, atol=1e-12), "NumPy RHS disagrees with statmech_nn"
    C = np.random.default_rng(1).standard_normal((4, 4))
    C = C @ C.T
    assert np.isclose(_erf_I4(C), G.I4("erf", C))
    t_end = 1000.0
    t_eval = np.linspace(0, t_end, 1001)
    ours_s, ours = best_of(lambda: committee.ode(Q0, R0, T, 1.0, t=t_eval, rtol=1e-8, atol=1e-10), 10)
    scipy_s, sol = best_of(lambda: solve_ivp(rhs, (0, t_end), y0, t_eval=t_eval, rtol=1e-8, atol=1e-10), 1 if QUICK else 2)
    diff = np.max(np.abs(sol.y[K * (K + 1) // 2:].T.reshape(-1, K, M) - ours.R))
    print(f"  statmech_nn: {ours_s * 1e3:8.2f} ms  ({ours.n_rhs} RHS)")
    print(f"  SciPy+NumPy: {scipy_s * 1e3:8.2f} ms  ({sol.nfev} RHS)   max |R diff| = {diff:.1e}")
    print(f"  ratio: {scipy_s / ours_s:.0f}x faster")


def bench_euler():
    print("== 2. accuracy per RHS evaluation vs Euler dt = 0.01 (K = M = 2, t in [0, 1000])")
    Q0, R0, T = initial_overlaps(2, 2)
    t_eval = np.linspace(0, 1000.0, 1001)
    ref = committee.ode(Q0, R0, T, 1.0, t=t_eval, rtol=1e-12, atol=1e-14)
    for label, kw in [("dopri5 rtol 1e-8", dict(rtol=1e-8, atol=1e-10)),
                      ("dopri5 rtol 1e-6", dict(rtol=1e-6, atol=1e-8)),
                      ("euler  dt 0.01  ", dict(method="euler", dt=0.01)),
                      ("rk4    dt 0.1   ", dict(method="rk4", dt=0.1))]:
        secs, o = best_of(lambda: committee.ode(Q0, R0, T, 1.0, t=t_eval, **kw), 1)
        err_q = np.max(np.abs(o.Q - ref.Q))
        err_eg = np.max(np.abs(o.eg - ref.eg))
        print(f"  {label}: {o.n_rhs:7d} RHS, {secs * 1e3:8.1f} ms, max|dQ| = {err_q:.1e}, max|d eps_g| = {err_eg:.1e}")


def bench_large():
    print("== 3. K = M = 10 (erf), 1 thread")
    K = M = 10
    wall, cpu = rhs_seconds(sys.modules["statmech_nn"], K, M)
    print(f"  right-hand side: {wall * 1e3:.4f} ms per evaluation ({cpu * 1e3:.4f} ms CPU; best of 5 x 200, "
          "through the binding)")
    Q0, R0, T = initial_overlaps(K, M)
    t_end = 100.0 if QUICK else 1000.0
    for rtol in (1e-6, 1e-8):
        c0 = time.process_time()
        secs, o = best_of(lambda: committee.ode(Q0, R0, T, 1.0, t=[0, t_end], rtol=rtol, atol=rtol * 1e-2,
                                                num_threads=1), 3)
        cpu = (time.process_time() - c0) / 3
        print(f"  t in [0, {t_end:g}], rtol {rtol:g}: {secs * 1e3:8.1f} ms, {cpu * 1e3:8.1f} ms CPU on average "
              f"({o.n_rhs} RHS, {secs / o.n_rhs * 1e3:.3f} ms per RHS)")


def thread_table(Ks, t_end, repeat):
    for K in Ks:
        Q0, R0, T = initial_overlaps(K, K)
        times = {1: [], 2: []}
        for rep in range(repeat):
            for nt in ((1, 2) if rep % 2 == 0 else (2, 1)):
                t0 = time.perf_counter()
                committee.ode(Q0, R0, T, 1.0, t=[0, t_end], rtol=1e-6, atol=1e-8, num_threads=nt)
                times[nt].append(time.perf_counter() - t0)
        best = {nt: min(v) for nt, v in times.items()}
        med = {nt: sorted(v)[len(v) // 2] for nt, v in times.items()}
        print(f"  K = M = {K:2d}: 1 thread {best[1] * 1e3:8.1f} ms (median {med[1] * 1e3:8.1f})   2 threads "
              f"{best[2] * 1e3:8.1f} ms (median {med[2] * 1e3:8.1f})   1/2 {best[1] / best[2]:4.2f} "
              f"(medians {med[1] / med[2]:4.2f})")


def bench_threads():
    t_end = 20.0 if QUICK else 50.0
    Ks = (2, 4, 10) if QUICK else (2, 4, 10, 20)
    repeat = 3 if QUICK else 5
    print(f"== 4. threads: t in [0, {t_end:g}], erf, rtol 1e-6; load average {os.getloadavg()[0]:.1f}")
    thread_table(Ks, t_end, repeat)
    with busy_processes(LOAD):
        print(f"  with {LOAD} busy processes beside it (load average {os.getloadavg()[0]:.1f}):")
        thread_table(Ks, t_end, repeat)


def numpy_simulation(N, K, M, eta, b, steps, seed=0):
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((K, N)) / np.sqrt(N)
    B = rng.standard_normal((M, N)) / np.sqrt(N)
    sq2 = np.sqrt(2.0)
    from scipy.special import erf
    for _ in range(steps):
        xi = rng.standard_normal((b, N))
        X = xi @ J.T
        Y = xi @ B.T
        err = erf(Y / sq2).sum(1) - erf(X / sq2).sum(1)
        delta = np.sqrt(2 / np.pi) * np.exp(-0.5 * X * X) * err[:, None]
        J += (eta / (N * b)) * (delta.T @ xi)
    return J @ J.T


def bench_simulate():
    print("== 5. simulate N = 1e4, b = 100, K = M = 2 (erf): samples per second")
    N, b = 10_000, 100
    steps = 20 if QUICK else 50
    t = np.array([0.0, steps / N])
    samples = steps * b
    # best of 3: the timings of a shared machine are noisy
    np_s, _ = best_of(lambda: numpy_simulation(N, 2, 2, 1.0, b, steps), 1 if QUICK else 3)
    print(f"  NumPy loop:           {samples / np_s:12.3e} samples/s")
    for nt in (1, 2):
        s, _ = best_of(lambda: committee.simulate(N, 2, 2, 1.0, batch_size=b, t=t, seeds=[0], num_threads=nt), 3)
        print(f"  statmech_nn {nt} thr:    {samples / s:12.3e} samples/s   ratio {np_s / s:.1f}x")
    s4, _ = best_of(lambda: committee.simulate(N, 2, 2, 1.0, batch_size=b, t=t, seeds=[0, 1], num_threads=2), 1)
    print(f"  statmech_nn 2 seeds on 2 threads: {2 * samples / s4:12.3e} samples/s")
    steps_p = 20 * steps
    tp = np.array([0.0, steps_p / N])
    sp, _ = best_of(lambda: committee.simulate(N, 2, 2, 1.0, batch_size=b, t=tp, seeds=[0], num_threads=1,
                                               sampler="projected"), 2)
    print(f"  statmech_nn sampler='projected' (same process in law, 1 thr): {steps_p * b / sp:12.3e} samples/s"
          f"   ratio {np_s / sp * steps_p / steps:.0f}x")
    floor = min(_core.committee.normal_fill_seconds(samples * N) for _ in range(3))
    print(f"  floor (normals only, 1 thread): {samples / floor:12.3e} samples/s "
          f"({floor / (samples * N) * 1e9:.2f} ns per normal)")
    rng = np.random.default_rng(0)
    np_normals, _ = best_of(lambda: [rng.standard_normal((b, N)) for _ in range(steps)], 3)
    print(f"  NumPy normals only:   {samples / np_normals:12.3e} samples/s")


def bench_simulate_single():
    print("== 6. simulate b = 1 (one sample per step), 1 thread, erf: vs the NumPy loop of the same SGD")
    for N, K, steps in ((10_000, 2, 4000), (10_000, 10, 2000), (100_000, 10, 200)):
        if QUICK:
            steps //= 4
        t = np.array([0.0, steps / N])
        np_s, _ = best_of(lambda: numpy_simulation(N, K, K, 1.0, 1, steps), 1 if QUICK else 2)
        s, _ = best_of(lambda: committee.simulate(N, K, K, 1.0, t=t, seeds=[0], num_threads=1), 3)
        print(f"  N = {N:6d}, K = M = {K:2d}: NumPy {np_s / steps * 1e6:8.1f} us per step   statmech_nn "
              f"{s / steps * 1e6:8.1f} us per step   ratio {np_s / s:.1f}x")


def _committee_packing(K, M, T):
    """y = (upper triangle of Q, R) and the committee right-hand side on it (1 thread)."""
    iu = np.triu_indices(K)

    def pack(Q, R):
        return np.concatenate([Q[iu], R.ravel()])

    def unpack(y):
        Q = np.zeros((K, K))
        Q[iu] = y[:len(iu[0])]
        Q = Q + Q.T - np.diag(np.diag(Q))
        return Q, y[len(iu[0]):].reshape(K, M)

    def f(t, y):
        Q, R = unpack(y)
        d = committee.derivatives(Q, R, T, 1.0, num_threads=1)
        return pack(d.Q, d.R)

    return pack, f


def bench_rkc():
    from statmech_nn.integrate import solve_ode

    K = M = 10
    Q0, R0, T = initial_overlaps(K, M)
    pack, f = _committee_packing(K, M, T)
    print(f"== 7. stiffness and method='rkc', K = M = 10 (erf), 1 thread; load average {os.getloadavg()[0]:.1f}")
    edges = [0.0, 10.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0]
    ref = committee.ode(Q0, R0, T, 1.0, t=edges, rtol=1e-12, atol=1e-14, num_threads=1)
    print("  spectral radius rho of the Jacobian (finite differences) at t, and the mean dopri5 step on the "
          "interval that starts there (3.3 / rho: its real stability limit)")
    for i, ti in enumerate(edges[:-1]):
        y = pack(ref.Q[i], ref.R[i])
        f0 = f(ti, y)
        J = np.empty((y.size, y.size))
        for j in range(y.size):
            e = 1e-6 * max(1.0, abs(y[j]))
            yp = y.copy()
            yp[j] += e
            J[:, j] = (f(ti, yp) - f0) / e
        ev = np.linalg.eigvals(J)
        rho = np.max(np.abs(ev))
        dom = ev[np.argmax(np.abs(ev))]
        line = (f"  t = {ti:6g}: rho = {rho:7.3f} (dominant eigenvalue {dom.real:+.3f}{dom.imag:+.3f}i), "
                f"3.3/rho = {3.3 / rho:7.2f}")
        for rtol in (1e-6, 1e-8):
            sol = solve_ode(f, y, [ti, edges[i + 1]], rtol=rtol, atol=rtol * 1e-2)
            line += f"; rtol {rtol:g}: h = {(edges[i + 1] - ti) / sol.n_steps:6.2f} ({sol.n_rejected} rejected)"
        print(line)
    print("  method  t_max  rtol   steps    RHS   wall min / median (ms)   max rel. error Q, R   max |d eps_g|")
    for t_end in (1000.0, 1e4):
        t_eval = np.linspace(0.0, t_end, 21)
        r = committee.ode(Q0, R0, T, 1.0, t=t_eval, rtol=1e-12, atol=1e-14, num_threads=1)
        for rtol in (1e-3, 1e-4, 1e-6, 1e-8):
            kw = dict(t=t_eval, rtol=rtol, atol=rtol * 1e-2, num_threads=1)
            times = {"dopri5": [], "rkc": []}
            for _ in range(1 if QUICK else 3):  # interleaved
                for m in times:
                    t0 = time.perf_counter()
                    committee.ode(Q0, R0, T, 1.0, method=m, **kw)
                    times[m].append(time.perf_counter() - t0)
            for m in times:
                o = committee.ode(Q0, R0, T, 1.0, method=m, **kw)
                # The step count from the same integrator on the Python right-hand side (whose
                # validation may refuse a trial state of a loose tolerance: then "-").
                try:
                    steps = str(solve_ode(f, pack(Q0, R0), [0.0, t_end], method=m, rtol=rtol,
                                          atol=rtol * 1e-2).n_steps)
                except ValueError:
                    steps = "-"
                err = max(np.max(np.abs(getattr(o, k) - getattr(r, k)), axis=(1, 2)).max() /
                          np.max(np.abs(getattr(r, k))) for k in ("Q", "R"))
                print(f"  {m:6s} {t_end:6g} {rtol:6g} {steps:>6s} {o.n_rhs:6d}   {min(times[m]) * 1e3:8.1f} / "
                      f"{np.median(times[m]) * 1e3:8.1f}            {err:9.1e}          {np.max(np.abs(o.eg - r.eg)):9.1e}")


def bench_baseline(path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _baseline import compare, load_baseline

    old = load_baseline(path)
    new = sys.modules["statmech_nn"]
    t_end = 100.0 if QUICK else 1000.0
    print(f"== 0. before/after in one process (baseline {path}), erf; load average {os.getloadavg()[0]:.1f}")
    for _ in range(2):
        (w_old, c_old), (w_new, c_new) = rhs_seconds(old, 10, 10), rhs_seconds(new, 10, 10)
    print(f"  right-hand side K = M = 10: before {w_old * 1e3:.4f} ms ({c_old * 1e3:.4f} ms CPU)   after "
          f"{w_new * 1e3:.4f} ms ({c_new * 1e3:.4f} ms CPU) per evaluation   ratio {w_old / w_new:.1f} "
          f"(CPU {c_old / c_new:.1f})")
    Q0, R0, T = initial_overlaps(2, 2)
    t_eval = np.linspace(0, t_end, 1001)
    compare(f"K = M = 2 , t <= {t_end:g}, 1 thread ", lambda: committee.ode(Q0, R0, T, 1.0, t=t_eval, num_threads=1),
            lambda: old.committee.ode(Q0, R0, T, 1.0, t=t_eval, num_threads=1), 5)
    Q0, R0, T = initial_overlaps(10, 10)
    for rtol in (1e-6, 1e-8):
        kw = dict(t=[0, t_end], rtol=rtol, atol=rtol * 1e-2, num_threads=1)
        new_o = committee.ode(Q0, R0, T, 1.0, **kw)
        old_o = old.committee.ode(Q0, R0, T, 1.0, **kw)
        print(f"  rtol {rtol:g}: RHS evaluations before {old_o.n_rhs}, after {new_o.n_rhs}; "
              f"max |Q after - Q before| = {np.max(np.abs(new_o.Q - old_o.Q)):.1e}")
        compare(f"K = M = 10, t <= {t_end:g}, rtol {rtol:g}, 1 thread",
                lambda: committee.ode(Q0, R0, T, 1.0, **kw), lambda: old.committee.ode(Q0, R0, T, 1.0, **kw), 3, 1)
    for N, K, steps in ((10_000, 2, 2000), (100_000, 10, 100)):
        t = np.array([0.0, steps / N])
        compare(f"simulate b = 1, N = {N}, K = M = {K}, {steps} steps, 1 thread",
                lambda: committee.simulate(N, K, K, 1.0, t=t, seeds=[0], num_threads=1),
                lambda: old.committee.simulate(N, K, K, 1.0, t=t, seeds=[0], num_threads=1), 2, 2)
    with busy_processes(LOAD):
        kw = dict(t=[0, 50.0], rtol=1e-6, atol=1e-8)
        for nt in (1, 2):
            compare(f"K = M = 10, t <= 50, {nt} thread{'s' if nt > 1 else ' '}, {LOAD} busy processes",
                    lambda: committee.ode(Q0, R0, T, 1.0, num_threads=nt, **kw),
                    lambda: old.committee.ode(Q0, R0, T, 1.0, num_threads=nt, **kw), 2, 1)


def _peer_env():
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def _nn2pp_ode(exe, work, Q0, R0, T, eta, t_end, dt=0.01):
    """Wall seconds and the (t, eps_g) table of nn2pp's ODE integrator from the given overlaps."""
    import subprocess
    prefix = os.path.join(work, "ic")
    K, M = R0.shape
    for name, a in (("Q0", Q0), ("R0", R0), ("T0", T), ("A0", np.ones((M, 1))), ("v0", np.ones((K, 1)))):
        np.savetxt(f"{prefix}_{name}.dat", a, fmt="%.17g")
    t0 = time.perf_counter()
    subprocess.run([exe, "--g", "1", "--M", str(M), "--K", str(K), "--lr", repr(eta), "--dt", repr(dt), "--steps",
                    repr(t_end), "--prefix", prefix, "--quiet"], check=True, cwd=work, env=_peer_env(),
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    table = np.loadtxt(f"{prefix}_ode.dat", comments="#", delimiter=",")
    return wall, table[:, 0], table[:, 1]


def _nn2pp_sim(exe, work, N, K, t):
    import subprocess
    t0 = time.perf_counter()
    subprocess.run([exe, "--g1", "1", "--g2", "1", "--N", str(N), "--M", str(K), "--K", str(K), "--lr", "1",
                    "--steps", repr(t), "--quiet"], check=True, cwd=work, env=_peer_env(), stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bench_nn2pp(directory):
    import tempfile
    ode_exe, sim_exe = os.path.join(directory, "scmpp_ode.exe"), os.path.join(directory, "nn2pp.exe")
    work = tempfile.mkdtemp(prefix="nn2pp_bench_")
    print(f"== 8a. ODE: nn2pp's scmpp_ode.exe (Euler, dt = 0.01) vs committee.ode, erf, t <= 1000, 1 thread; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("  K = M   nn2pp wall (s)  max |d eps_g|    ours rtol   wall min / median (ms)   max |d eps_g|   "
          "nn2pp / ours")
    for K in (2, 10):
        Q0, R0, T = initial_overlaps(K, K)
        wall_p, tp, egp = _nn2pp_ode(ode_exe, work, Q0, R0, T, 1.0, 1000.0)
        ref = committee.ode(Q0, R0, T, 1.0, t=tp, rtol=1e-12, atol=1e-14, num_threads=1)
        err_p = np.max(np.abs(egp - ref.eg))
        rows = []
        for rtol in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
            o = committee.ode(Q0, R0, T, 1.0, t=tp, rtol=rtol, atol=rtol * 1e-2, num_threads=1)
            rows.append((rtol, np.max(np.abs(o.eg - ref.eg))))
        equal = next((r for r, e in rows if e <= err_p), 1e-6)
        for rtol in sorted({equal, 1e-6}, reverse=True):
            kw = dict(t=tp, rtol=rtol, atol=rtol * 1e-2, num_threads=1)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                o = committee.ode(Q0, R0, T, 1.0, **kw)
                times.append(time.perf_counter() - t0)
            print(f"  {K:5d}   {wall_p:12.2f}   {err_p:10.1e}      {rtol:8.0e}   {min(times) * 1e3:8.1f} / "
                  f"{np.median(times) * 1e3:8.1f}         {np.max(np.abs(o.eg - ref.eg)):9.1e}   "
                  f"{wall_p / min(times):8.0f}x")
    print("== 8b. simulate, one sample per step: nn2pp.exe vs committee.simulate(batch_size=1), erf, 1 thread "
          "(time per step; nn2pp's from two run lengths)")
    print("       N  K = M   nn2pp (us/step)   ours min / median (us/step)   nn2pp / ours (min, median)")
    # nn2pp's output grid starts at t = 0.1, and shorter runs do not scale with their length: the
    # shorter run is at least t = 0.1 (N = 1e5 takes ~4 min per K and repeat; left out with --quick)
    for N in (1_000, 10_000) if QUICK else (1_000, 10_000, 100_000):
        for K in (2, 10):
            t1 = {1_000: 20.0, 10_000: 2.0, 100_000: 0.1}[N] / (2 if QUICK else 1)
            repeat = 1 if N == 100_000 else 2 if QUICK else 3
            peer, ours = [], []
            for _ in range(repeat):  # interleaved
                a, b = _nn2pp_sim(sim_exe, work, N, K, t1), _nn2pp_sim(sim_exe, work, N, K, 2 * t1)
                peer.append((b - a) / (t1 * N))
                t0 = time.perf_counter()
                committee.simulate(N, K, K, 1.0, batch_size=1, t=[0.0, 2 * t1], seeds=[0], num_threads=1)
                ours.append((time.perf_counter() - t0) / (2 * t1 * N))
            p = np.median(peer)
            print(f"  {N:6d}  {K:5d}   {p * 1e6:12.2f}      {min(ours) * 1e6:9.2f} / {np.median(ours) * 1e6:9.2f}"
                  f"           {p / min(ours):5.1f}x / {p / np.median(ours):5.1f}x")


if __name__ == "__main__":
    if NN2PP:
        bench_nn2pp(NN2PP)
        sys.exit(0)
    if "--rkc" in sys.argv:
        bench_rkc()
        sys.exit(0)
    if BASELINE:
        bench_baseline(BASELINE)
    bench_ode()
    bench_euler()
    bench_large()
    bench_threads()
    bench_simulate()
    bench_simulate_single()
    bench_rkc()
