"""NormalLanes: the eight interleaved generators behind the committee simulator's inputs.

Their values must be exactly standard normal (the ziggurat's fast path, wedges and tail all taken),
independent across lanes and blocks, and bitwise the same in the scalar, AVX2 and AVX-512 builds."""

import numpy as np
import pytest
from scipy import stats

from statmech_nn import _core

T = _core._testing
R_TAIL = 3.6541528853610088  # the ziggurat's base-strip abscissa: beyond it the tail method draws


def test_every_instruction_set_gives_the_same_bits():
    best = T.closed_form_rows_isa()
    if best == 0:
        pytest.skip("this processor has neither AVX2 nor AVX-512: only the scalar build runs")
    try:
        runs = []
        for level in range(best + 1):
            assert T.closed_form_rows_isa(level) == level
            # lengths with and without a tail after the last block of eight
            runs.append([np.asarray(T.normal_lanes(9, s, n, then=3)) for s, n in ((0, 200_003), (1, 8), (2, 5))])
    finally:
        T.closed_form_rows_isa()
    for r in runs[1:]:
        for a, b in zip(r, runs[0]):
            np.testing.assert_array_equal(a, b)


def test_values_are_standard_normal_including_the_tail():
    x = np.asarray(T.normal_lanes(2024, 3, 2_000_000))
    assert stats.kstest(x, "norm").pvalue > 1e-3
    n = x.size
    # mean, variance and fourth moment within 5 standard errors
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(np.mean(x ** 4) - 3) < 5 * np.sqrt(96 / n)
    # the tail beyond the base strip (drawn by the rejection code) has the normal's mass
    p = 2 * stats.norm.sf(R_TAIL)
    k = np.count_nonzero(np.abs(x) > R_TAIL)
    assert abs(k - n * p) < 5 * np.sqrt(n * p)
    # both signs in the tail
    assert np.count_nonzero(x > R_TAIL) > 0 and np.count_nonzero(x < -R_TAIL) > 0


def test_lanes_are_independent_and_distinct_streams_differ():
    x = np.asarray(T.normal_lanes(5, 0, 8 * 100_000)).reshape(-1, 8)
    c = np.corrcoef(x.T)
    off = c[~np.eye(8, dtype=bool)]
    assert np.max(np.abs(off)) < 5 / np.sqrt(x.shape[0])
    # no lag-one correlation within a lane
    lag = np.mean(x[1:] * x[:-1], axis=0)
    assert np.max(np.abs(lag)) < 5 / np.sqrt(x.shape[0])
    # each lane is marginally standard normal
    for L in range(8):
        assert stats.kstest(x[:, L], "norm").pvalue > 1e-4
    y = np.asarray(T.normal_lanes(5, 1, 64))
    assert not np.array_equal(x.ravel()[:64], y)
    np.testing.assert_array_equal(np.asarray(T.normal_lanes(5, 0, 64)), x.ravel()[:64])


@pytest.mark.parametrize("bad", [dict(n=-1), dict(n=4, then=-2)])
def test_hook_refuses_negative_counts(bad):
    kw = dict(n=4, then=0)
    kw.update(bad)
    with pytest.raises(ValueError):
        T.normal_lanes(0, 0, **kw)
