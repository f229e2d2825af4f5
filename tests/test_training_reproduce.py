"""The command-line reproduction of the training experiments (fast mode) writes its figures and data."""

import csv

import numpy as np

from statmech_nn.reproduce import training as reproduce_training


def _read(path):
    with open(path) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))

    def col(k):
        try:
            return np.array([float(r[k]) for r in rows])
        except ValueError:
            return np.array([r[k] for r in rows])
    return {k: col(k) for k in rows[0]}


def test_reproduce_training_fast(tmp_path):
    # (reproduce.run("training", ...) once "training" is registered in reproduce.TOPICS)
    (tmp_path / "training").mkdir()
    files = reproduce_training.run(tmp_path / "training", fast=True)
    names = {f.name for f in files}
    for stem in ("lr_boundary", "ntk_regime", "bn_gradients", "isometry"):
        assert f"{stem}.png" in names and f"{stem}.csv" in names
    assert "bn_trainability.csv" in names
    for f in files:
        assert f.exists() and f.stat().st_size > 0
    lr = _read(tmp_path / "training" / "lr_boundary.csv")
    assert set(lr["activation"]) == {"relu", "tanh"} and set(lr["data"]) == {"gaussian", "digits"}
    assert set(lr["batchnorm"]) == {"none", "last"}
    # Below eta_c / 2 the loss falls at every step (every network, the boundary is above 1/2); with
    # Gaussian data and no batch norm it rises at some step below 4 eta_c; at 1/4 eta_c it falls.
    assert np.all(lr["boundary_over_eta_c"] > 0.5), lr["boundary_over_eta_c"]
    gauss = lr["data"] == "gaussian"
    assert np.all(lr["boundary_over_eta_c"][gauss & (lr["batchnorm"] == "none")] <= 4)
    assert np.all(lr["loss_ratio"][lr["eta_over_eta_c"] < 0.3] < 1)
    assert np.all(np.isfinite(lr["eta_c_theory"][gauss])) and np.all(np.isnan(lr["eta_c_theory"][~gauss]))
    bg = _read(tmp_path / "training" / "bn_gradients.csv")
    assert np.all(bg["rate_measured"] > 1)   # gradients grow towards the input with batch norm
    # measured on a batch of B (depth 20, width 64, 2 seeds): within 10% of the theory's rate
    np.testing.assert_allclose(bg["rate_measured"], bg["rate_theory"], rtol=0.1)
    assert "bn_trainability.png" in names and "bn_trainability_summary.csv" in names
    bt = _read(tmp_path / "training" / "bn_trainability_summary.csv")
    relu, leaky = bt["activation"] == "relu", bt["activation"] == "leaky_relu 0.5"
    assert np.all(bt["rate_theory"][leaky] < bt["rate_theory"][relu])
    # every network of the grid is trainable at its best learning rate somewhere (depth limit > 0)
    assert np.all(bt["deepest_trainable"] > 0)
    grid = _read(tmp_path / "training" / "bn_trainability.csv")
    assert np.all((grid["test_accuracy"] >= 0) & (grid["test_accuracy"] <= 1))
