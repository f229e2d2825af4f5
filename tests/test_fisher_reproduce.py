"""The command-line reproduction of seed 003 (fast mode) writes its figures and data."""

import csv

import numpy as np

from statmech_nn import reproduce


def _read(path):
    with open(path) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_reproduce_fisher_fast(tmp_path):
    files = reproduce.run("fisher", tmp_path, fast=True)
    names = {f.name for f in files}
    for expected in ("fim_eigen_stats.png", "fim_eigen_stats.csv", "fim_lambda_max_scaling.png",
                     "fim_lambda_max_scaling.csv", "ntk_kernel_vs_empirical.png", "ntk_kernel_vs_empirical.csv"):
        assert expected in names
    for f in files:
        assert f.exists() and f.stat().st_size > 0
    s = _read(tmp_path / "fisher" / "fim_eigen_stats.csv")
    # Theory and simulation agree on the mean eigenvalue (2 seeds, M >= 100: ~10 %).
    np.testing.assert_allclose(s["mean_sim"], s["mean_theory"], rtol=0.12)
    sc = _read(tmp_path / "fisher" / "fim_lambda_max_scaling.csv")
    # T = M/4: plain lambda_max grows ~ M, with BN in the last layer it does not.
    assert sc["plain_sim"][-1] / sc["plain_sim"][0] > 2.5
    assert sc["bn_sim"][-1] / sc["bn_sim"][0] < 1.6
