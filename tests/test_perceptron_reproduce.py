"""The command-line reproduction of seed 001 (fast mode) writes its figures and data."""

import csv

import numpy as np

from statmech_nn import reproduce


def test_reproduce_perceptron_fast(tmp_path):
    files = reproduce.run("perceptron", tmp_path, fast=True)
    names = {f.name for f in files}
    for expected in ("fig2_order_parameters.png", "fig3_time_to_error.png", "fig4_time_to_error_maps.png",
                     "fig4.csv", "fig3_vs_eta.csv", "fig2_wn_simulation.csv"):
        assert expected in names
    for f in files:
        assert f.exists() and f.stat().st_size > 0
    with open(tmp_path / "perceptron" / "fig4.csv") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    sgd = np.array([float(r["time_sgd"]) for r in rows])
    eta = np.array([float(r["eta"]) for r in rows])
    # g(x) = x: SGD never reaches eps_g < 0.01 above eta_c = 2, and always does below it.
    assert np.all(np.isinf(sgd[eta > 2.0])) and np.all(np.isfinite(sgd[eta < 1.9]))
