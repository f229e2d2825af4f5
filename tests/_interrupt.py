"""Shared helper of the Ctrl-C tests: run a script in a child process, send SIGINT once it printed
"ready", and return what it printed (the test fails if it does not stop in time)."""

import signal
import subprocess
import sys
import time

import pytest


def interrupt_child(script: str, *args: str, wait: float = 1.5, timeout: float = 30.0) -> str:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(wait)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the child ({' '.join(args) or 'script'}) did not stop on SIGINT")
    assert proc.returncode == 0, out
    return out
