"""Fuzz every public callable with extreme and malformed arguments (hypothesis), each case isolated
in a worker subprocess with a time and a memory limit (tests/fuzz_harness.py).

No case may crash, hang, raise anything but ValueError/TypeError, return a status outside
statmech_nn.STATUSES or return non-finite numbers under a success status. The fast run (a few
hundred cases) is part of the normal suite; the slow run does >= 10 000.
"""

import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

import fuzz_harness as fh  # noqa: E402

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX rlimits and select on pipes")


def test_every_public_callable_has_a_baseline():
    missing = sorted(set(fh.public_callables()) - set(fh.BASELINES))
    assert not missing, f"add a small valid call to fuzz_harness.BASELINES for {missing}"


@pytest.mark.parametrize("function", sorted(fh.BASELINES))
def test_baselines_are_valid_calls(function):
    # The starting points themselves succeed (otherwise mutations never reach the computation).
    outcome, detail = fh.classify(function, dict(fh.BASELINES[function]))
    assert outcome == "ok", (function, outcome, detail)


def run_fuzz(n_cases: int, timeout: float, large: bool = False):
    records = []
    pool = fh.FuzzPool(timeout=timeout)
    cases = fh.strategies(large=large)

    # Reproducible case lists: derandomize (a fixed seed of its own) and no example database.
    @settings(max_examples=n_cases, derandomize=True, deadline=None, database=None,
              phases=[hypothesis.Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=cases())
    def run(case):
        function, kwargs = case
        outcome, detail, _ = pool.run(function, kwargs)
        records.append((function, outcome, detail, fh.describe(function, kwargs)))

    try:
        run()
    finally:
        pool.close()
    failures = [r for r in records if r[1] in fh.FAILURES]
    report = fh.table(records) + "\n\n" + "\n".join(
        f"{outcome}: {detail}\n    {call}" for _, outcome, detail, call in failures[:60])
    return records, failures, report


def test_fuzz_fast():
    records, failures, report = run_fuzz(800, timeout=10.0)
    print(report)
    assert len(records) >= 700
    # Findings in other modules, reported to their owners, are listed in fh.KNOWN_FINDINGS.
    new = [r for r in failures if (r[0], r[1]) not in fh.KNOWN_FINDINGS]
    assert not new, report


@pytest.mark.slow
def test_fuzz_slow():
    records, failures, report = run_fuzz(12_000, timeout=10.0, large=True)
    print(report)
    assert len(records) >= 10_000
    assert not failures, report
