"""The command-line reproduction of the training experiments (fast mode) writes its figures and data."""

import csv

import numpy as np

from statmech_nn.reproduce import training as reproduce_training


def _read(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_reproduce_training_fast(tmp_path):
    # (reproduce.run("training", ...) once "training" is registered in reproduce.TOPICS)
    (tmp_path / "training").mkdir()
    files = reproduce_training.run(tmp_path / "training", fast=True)
    names = {f.name for f in files}
    for stem in ("lr_boundary", "ntk_regime", "bn_gradients", "isometry"):
        assert f"{stem}.png" in names and f"{stem}.csv" in names
    for f in files:
        assert f.exists() and f.stat().st_size > 0
    lr = _read(tmp_path / "training" / "lr_boundary.csv")
    # Below eta_c the loss falls from the first step on; at 4 eta_c it first grows (every width).
    assert np.all(lr["early_growth"][lr["eta_over_eta_c"] < 1] < 1)
    assert np.all(lr["early_growth"][lr["eta_over_eta_c"] > 3] > 1)
    bg = _read(tmp_path / "training" / "bn_gradients.csv")
    assert np.all(bg["rate_measured"] > 1)   # gradients grow towards the input with batch norm
