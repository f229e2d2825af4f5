"""`python -m statmech_nn reproduce batchnorm --fast` writes its figures and consistent data."""

import csv

import numpy as np

from statmech_nn.reproduce import batchnorm as rep


def read_csv(path):
    with open(path) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_reproduce_fast(tmp_path):
    files = rep.run(tmp_path, fast=True)
    names = {p.name for p in files}
    assert {"gradient_explosion_rate.png", "gradient_explosion_rate.csv", "gradient_explosion_rate_simulation.csv",
            "bsb1_convergence.png", "bsb1_convergence.csv"} <= names
    for p in files:
        assert p.exists() and p.stat().st_size > 0
    sim = read_csv(tmp_path / "gradient_explosion_rate_simulation.csv")
    # fast mode: width 400, depth 20, per-seed growth within ~10% of lambda_G (spread ~3% per seed)
    for a in ("linear", "relu", "tanh"):
        assert np.all(np.abs(sim[f"sim_{a}"] / sim[f"theory_{a}"] - 1) < 0.12)
    th = read_csv(tmp_path / "gradient_explosion_rate.csv")
    assert np.all(np.diff(th["lambda_G_relu"]) < 0)  # decreasing in B towards pi/(pi-1)
    conv = read_csv(tmp_path / "bsb1_convergence.csv")
    assert conv["relu_dist_theory"][-1] < 1e-2 * conv["relu_dist_theory"][0]
