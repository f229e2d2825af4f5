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
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the computation did not stop on SIGINT")
    assert proc.returncode == 0, out
    assert "interrupted" in out
