"""Ctrl-C stops a long C++ computation with KeyboardInterrupt (the GIL is released)."""

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = r"""
import sys, time, numpy as np
import statmech_nn.gaussian as G
C = np.tile(np.eye(4) * 9.0, (20000, 1, 1))  # minutes of 4-D quadrature
print("ready", flush=True)
t0 = time.time()
try:
    G.I4("tanh", C, num_threads=1)
except KeyboardInterrupt:
    print(f"interrupted {time.time() - t0:.2f}", flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_ctrl_c_interrupts_long_loop():
    from _interrupt import interrupt_child

    assert "interrupted" in interrupt_child(SCRIPT, wait=1.0)


# ---- every thread stops: num_threads=2, several seeds / grid points -----------------------------
# The child starts the call, the parent sends SIGINT after 1 s and measures the time until the child
# reports KeyboardInterrupt (both read the same wall clock). Before the shared stop flag, only the
# master thread polled and the other thread finished its whole run (tens of seconds to minutes).
LATENCY_SCRIPT = r"""
import sys, time, numpy as np
import statmech_nn as sn
NT = int(sys.argv[2]) if len(sys.argv) > 2 else 2
call = {
    "perceptron.simulate": lambda: sn.perceptron.simulate("erf", "sgd", 0.5, 1.0, 1000, t=1e6,
                                                          seeds=[0, 1, 2, 3], num_threads=NT),
    "committee.simulate": lambda: sn.committee.simulate(1000, 2, 2, 1.0, t=1e5, seeds=[0, 1, 2, 3],
                                                        num_threads=NT),
    "perceptron.time_to_error": lambda: sn.perceptron.time_to_error(
        "erf", "sgd", [1e-6, 2e-6, 3e-6, 4e-6], 1.0, threshold=1e-300, t_max=1e9, method="euler", dt=1e-3,
        max_steps=10**15, num_threads=NT),
    "meanfield.phase_diagram": lambda: sn.meanfield.phase_diagram(
        "tanh", np.linspace(0.5, 4.0, 20000), np.linspace(0.01, 1.0, 200), num_threads=NT),
    "meanfield.simulate": lambda: sn.meanfield.simulate("tanh", 1.5, 0.05, depth=2000, width=2000,
                                                        seeds=[0, 1, 2, 3], num_threads=NT),
    "batchnorm.simulate": lambda: sn.batchnorm.simulate("relu", 8, 2000, 2000, seeds=[0, 1, 2, 3], num_threads=NT),
    "fisher.empirical": lambda: sn.fisher.empirical("relu", 3, 2.0, 0.1, width=4000, n_samples=128, seeds=[0, 1, 2, 3],
                                                    num_threads=NT),
    "ntk.empirical": lambda: sn.ntk.empirical(np.ones((128, 20)) / 20**0.5, depth=3, width=6000, seeds=[0, 1, 2, 3],
                                              num_threads=NT),
    "training.train": lambda: sn.training.train("relu", 3, 512, 1e-3, sigma_w2=2.0, sigma_b2=0.1, n_samples=256,
                                                steps=10**5, seeds=[0, 1, 2, 3], num_threads=NT),
    "ntk.kernels (n = 8000)": lambda: sn.ntk.kernels(np.random.default_rng(0).normal(size=(8000, 50)), depth=10,
                                                     activation="erf", num_threads=NT),
    # Single long evaluations (one quadrature, no loop over points): they poll inside.
    "gaussian.I4 (one matrix)": lambda: sn.gaussian.I4("tanh", np.eye(4) * 9.0, num_threads=NT),
    "perceptron.ode (|l| = 1e8)": lambda: sn.perceptron.ode("tanh", "sgd", 1.0, 1e8, t=50.0),
    "committee.ode (long t)": lambda: sn.committee.ode(0.25 * np.eye(10), np.full((10, 10), 1e-3), np.eye(10), 1.0,
                                                          t=np.linspace(0, 1e4, 11), method="euler", dt=1e-3,
                                                          max_steps=10**12, num_threads=NT),
    "committee.ode (relu, K = M = 20)": lambda: sn.committee.ode(0.25 * np.eye(20), np.full((20, 20), 1e-3), np.eye(20),
                                                                   1.0, activation="relu", t=np.linspace(0, 1e6, 11),
                                                                   num_threads=NT),
    "batchnorm.covariance_trajectory": lambda: sn.batchnorm.covariance_trajectory("tanh", np.eye(8) + 0.5, 100000),
}[sys.argv[1]]
print("ready", flush=True)
try:
    call()
except KeyboardInterrupt:
    print(f"interrupted {time.time():.6f}", flush=True)
    sys.exit(0)
sys.exit(3)
"""

LONG_CALLS = ["perceptron.simulate", "committee.simulate", "perceptron.time_to_error", "meanfield.phase_diagram",
              "meanfield.simulate", "batchnorm.simulate", "fisher.empirical", "ntk.empirical", "training.train",
              "ntk.kernels (n = 8000)",
              "gaussian.I4 (one matrix)", "perceptron.ode (|l| = 1e8)", "committee.ode (long t)",
              "committee.ode (relu, K = M = 20)", "batchnorm.covariance_trajectory"]


def interrupt_latency(name: str, wait: float = 1.0, num_threads: int = 2) -> float:
    """Seconds from SIGINT to the KeyboardInterrupt of ``name`` (run in a child process)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(num_threads))
    proc = subprocess.Popen([sys.executable, "-c", LATENCY_SCRIPT, name, str(num_threads)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(wait)
        assert proc.poll() is None, f"{name} finished before the signal (make the call longer)"
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not stop within 60 s of SIGINT")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (name, proc.returncode, out)
    line = [x for x in out.splitlines() if x.startswith("interrupted")][0]
    return float(line.split()[1]) - sent


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
@pytest.mark.parametrize("name", LONG_CALLS)
def test_ctrl_c_stops_every_thread(name):
    latency = interrupt_latency(name)
    # Target 0.5 s (measured ~0.01-0.05 s on an idle machine); 1 s keeps a loaded CI machine green.
    assert latency <= 1.0, f"{name}: {latency:.2f} s from SIGINT to KeyboardInterrupt"


def test_cli_ctrl_c_anywhere_is_one_line(monkeypatch, capsys):
    import statmech_nn.__main__ as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_parser", interrupted)  # Ctrl-C before any command runs
    assert cli.main(["reproduce", "perceptron"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("interrupted after") and "Traceback" not in err


AFTER_SCRIPT = r"""
import signal, sys, threading, numpy as np
import statmech_nn as sn
Q0, R0, T = 0.25 * np.eye(10), np.full((10, 10), 1e-3), np.eye(10)
threading.Timer(1.0, lambda: signal.raise_signal(signal.SIGINT)).start()
try:
    sn.committee.ode(Q0, R0, T, 1.0, t=np.linspace(0, 1e4, 11), method="euler", dt=1e-3, max_steps=10**12,
                     num_threads=2)
    sys.exit(3)
except KeyboardInterrupt:
    pass
# The next calls start afresh: no stale stop request in the thread pool.
r = sn.committee.ode(Q0, R0, T, 1.0, t=2.0, num_threads=2)
s = sn.perceptron.simulate("erf", "sgd", 0.5, 1.0, 200, t=1.0, seeds=[0, 1, 2], num_threads=2)
print(r.status, s.status)
"""


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_calls_after_an_interrupt_run_normally():
    out = subprocess.run([sys.executable, "-c", AFTER_SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok", "ok"], out.stdout
