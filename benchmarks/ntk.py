"""Infinite-width NNGP + NTK kernels: statmech_nn.ntk.kernels against Neural Tangents, NumPy and an
earlier build, timed side by side, plus the agreement of the values.

Configurations: n in {200, 1000, 2000, 4000} inputs of dimension d = 100, depth in {3, 10} hidden
layers, relu / erf / gelu, symmetric (x2 = None) and cross (n x n) kernels, sigma_w2 = 2,
sigma_b2 = 0.1, read-out only (both libraries return NNGP and NTK). Every implementation runs in
interleaved rounds (one call of each per round, in rotating order) so that all see the same machine
load; the table gives min and median seconds and the ratios peer / ours.

Peers:

* Neural Tangents (``stax.serial`` of Dense/activation layers, ``kernel_fn(x1, x2, ("nngp", "ntk"))``
  under ``jax.jit``, x64 enabled, one warm-up call per configuration excluded from the timings),
  in the same process when ``neural_tangents`` is importable. It is never a dependency of this
  project. A recipe for a separate virtual environment (it needs jax <= 0.4.25, tensorflow >= 2.15
  and tf2jax; Python 3.11)::

      python -m venv /path/ntvenv
      /path/ntvenv/bin/pip install "jax==0.4.25" "jaxlib==0.4.25" "numpy<2" \\
          "tensorflow==2.15.1" "tf2jax==0.3.6" "neural-tangents==0.6.5"
      PYTHONPATH=python /path/ntvenv/bin/python benchmarks/ntk.py

  (the package's compiled core works with that NumPy 1.26 too).
* NumPy: the closed-form recursion (arc-cosine kernels for relu, the arcsine kernel for erf)
  written directly on n x n arrays, as a user would.
* ``--baseline DIR``: an earlier build's ``statmech_nn`` package directory (with its compiled
  ``_core``). Two builds of one pybind11 extension cannot live in one process (their types clash),
  so the baseline runs in a worker process that is called in the same interleaved rounds.

Agreement: max relative difference ``|a - b| / max|b|`` of NNGP and NTK against Neural Tangents
(closed forms on both sides for relu and erf; NT evaluates gelu by its own closed form too).

Our kernels pick their instruction set at run time (SSE2, AVX2 or AVX-512, bitwise the same
values); ``--isa L`` caps it (0 = SSE2, 1 = AVX2, 2 = AVX-512) to time the narrower code. The
header line reports the level in use. On a machine shared with other work, pass ``--threads 1``
for timings that do not depend on when a second thread gets a core.

Run: ``PYTHONPATH=python python benchmarks/ntk.py [--quick] [--baseline DIR] [--baseline-max-n N]
[--repeat R] [--threads T] [--isa L] [--no-nt] [--sizes 200,1000] [--depths 3,10]
[--acts relu,erf,gelu]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

QUICK = "--quick" in sys.argv
SW2, SB2, D = 2.0, 0.1, 100


def _arg(name, default=None):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def _inputs(n, cross, seed=0):
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal((n, D))
    x2 = rng.standard_normal((n, D)) if cross else None
    return x1, x2


# ---- implementations ---------------------------------------------------------------------------

def ours(threads):
    from statmech_nn import ntk

    def run(x1, x2, act, depth):
        k = ntk.kernels(x1, x2, act, depth, SW2, SB2, num_threads=threads, return_layers=False)
        return k.nngp, k.ntk
    return run


def numpy_recursion(x1, x2, act, depth):
    """The closed-form recursion on arrays (relu and erf only)."""
    xb = x1 if x2 is None else x2
    S = SW2 * x1 @ xb.T / D + SB2
    qa = SW2 * np.einsum("ij,ij->i", x1, x1) / D + SB2
    qb = qa if x2 is None else SW2 * np.einsum("ij,ij->i", xb, xb) / D + SB2
    T = S.copy()
    for _ in range(depth):
        if act == "relu":
            s = np.sqrt(np.outer(qa, qb))
            c = np.clip(S / s, -1.0, 1.0)
            th = np.arccos(c)
            pp = s * (np.sqrt(1 - c * c) + (np.pi - th) * c) / (2 * np.pi)
            dd = (np.pi - th) / (2 * np.pi)
            qa, qb = SW2 * qa / 2 + SB2, SW2 * qb / 2 + SB2
        elif act == "erf":
            e = np.sqrt(np.outer(1 + qa, 1 + qb))
            pp = 2 / np.pi * np.arcsin(np.clip(S / e, -1, 1))
            dd = 2 / np.pi / np.sqrt(e * e - S * S)
            qa = SW2 * 2 / np.pi * np.arcsin(qa / (1 + qa)) + SB2
            qb = SW2 * 2 / np.pi * np.arcsin(qb / (1 + qb)) + SB2
        else:
            return None
        S, T = SW2 * pp + SB2, SW2 * pp + SB2 + SW2 * dd * T
    return S, T


def neural_tangents():
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import neural_tangents as nt  # noqa: F401
        from neural_tangents import stax
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        print(f"# Neural Tangents not importable ({type(exc).__name__}: {exc}); see the docstring's recipe")
        return None
    acts = {"relu": stax.Relu, "erf": lambda: stax.Erf(a=1.0, b=1 / np.sqrt(2.0), c=0.0),
            "gelu": lambda: stax.Gelu(approximate=False)}
    cache = {}

    def run(x1, x2, act, depth):
        key = (act, depth)
        if key not in cache:
            layers = []
            for _ in range(depth):
                layers += [stax.Dense(512, W_std=np.sqrt(SW2), b_std=np.sqrt(SB2)), acts[act]()]
            layers.append(stax.Dense(1, W_std=np.sqrt(SW2), b_std=np.sqrt(SB2)))
            _, _, kernel_fn = stax.serial(*layers)
            cache[key] = jax.jit(kernel_fn, static_argnames="get")
        k = cache[key](x1, x2, get=("nngp", "ntk"))
        return np.asarray(k.nngp.block_until_ready()), np.asarray(k.ntk.block_until_ready())
    return run


class Baseline:
    """An earlier build in a worker process (timed inside the worker)."""

    _WORKER = r"""
import json, sys, time
import numpy as np
from statmech_nn import ntk
for line in sys.stdin:
    n, cross, act, depth, threads = json.loads(line)
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal((n, %d))
    x2 = rng.standard_normal((n, %d)) if cross else None
    t0 = time.perf_counter()
    ntk.kernels(x1, x2, act, depth, %r, %r, num_threads=threads or None, store_layers=False)
    print(time.perf_counter() - t0, flush=True)
""" % (D, D, SW2, SB2)

    def __init__(self, package_dir):
        root = os.path.dirname(os.path.abspath(package_dir.rstrip("/")))
        env = dict(os.environ, PYTHONPATH=root)
        self.proc = subprocess.Popen([sys.executable, "-c", self._WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def time(self, n, cross, act, depth, threads):
        self.proc.stdin.write(json.dumps([n, cross, act, depth, threads]) + "\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())


# ---- the benchmark ------------------------------------------------------------------------------

def _timed(f, *args):
    t0 = time.perf_counter()
    out = f(*args)
    return time.perf_counter() - t0, out


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main():
    threads = int(_arg("--threads", "0")) or None
    repeat = int(_arg("--repeat", "3" if QUICK else "5"))
    our = ours(threads)
    nt = None if "--no-nt" in sys.argv else neural_tangents()
    base = Baseline(_arg("--baseline")) if _arg("--baseline") else None
    sizes = (200, 1000) if QUICK else (200, 1000, 2000, 4000)
    depths = (3,) if QUICK else (3, 10)
    if _arg("--sizes"):
        sizes = tuple(int(v) for v in _arg("--sizes").split(","))
    if _arg("--depths"):
        depths = tuple(int(v) for v in _arg("--depths").split(","))
    from statmech_nn import _core
    isa = _core._testing.closed_form_rows_isa(int(_arg("--isa", "2")))
    try:
        load = os.getloadavg()
        print(f"# {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
              f"threads={threads or 'default'}; instruction set {('SSE2', 'AVX2', 'AVX-512')[isa]}; "
              f"{repeat} interleaved rounds; seconds min (median)")
    except OSError:
        pass
    header = f"{'n':>5} {'depth':>5} {'act':>5} {'kind':>5} | {'ours':>17} |"
    for name, on in (("NT", nt), ("numpy", True), ("before", base)):
        if on:
            header += f" {name:>17} {name + '/ours':>12} |"
    print(header + (" agree NT" if nt else ""))
    for n in sizes:
        for depth in depths:
            for act in (_arg("--acts", "relu,erf,gelu").split(",")):
                for cross in (False, True):
                    if n == 4000 and cross and depth == 10 and QUICK:
                        continue
                    x1, x2 = _inputs(n, cross)
                    impls = {"ours": lambda: our(x1, x2, act, depth)}
                    if nt:
                        nt(x1, x2, act, depth)  # compile (jit warm-up)
                        impls["NT"] = lambda: nt(x1, x2, act, depth)
                    if act in ("relu", "erf") and n <= 2000:
                        impls["numpy"] = lambda: numpy_recursion(x1, x2, act, depth)
                    if base and n <= int(_arg("--baseline-max-n", "4000")):
                        base.time(min(n, 200), cross, act, depth, threads or 0)  # warm the worker
                        impls["before"] = None
                    times = {k: [] for k in impls}
                    outs = {}
                    names = list(impls)
                    for r in range(repeat):
                        for k in names[r % len(names):] + names[:r % len(names)]:
                            if k == "before":
                                times[k].append(base.time(n, cross, act, depth, threads or 0))
                            else:
                                t, outs[k] = _timed(impls[k])
                                times[k].append(t)
                    mn = {k: min(v) for k, v in times.items()}
                    md = {k: float(np.median(v)) for k, v in times.items()}
                    row = (f"{n:>5} {depth:>5} {act:>5} {'cross' if cross else 'sym':>5} | "
                           f"{mn['ours']:7.4f} ({md['ours']:7.4f}) |")
                    for name, on in (("NT", nt), ("numpy", True), ("before", base)):
                        if not on:
                            continue
                        if name in mn:
                            row += (f" {mn[name]:7.4f} ({md[name]:7.4f}) {mn[name] / mn['ours']:5.2f}"
                                    f" ({md[name] / md['ours']:4.1f}) |")
                        else:
                            row += f" {'-':>17} {'-':>12} |"
                    if nt:
                        a, b = outs["ours"], outs["NT"]
                        row += f" {max(_rel(a[0], b[0]), _rel(a[1], b[1])):.1e}"
                    print(row, flush=True)


if __name__ == "__main__":
    main()
