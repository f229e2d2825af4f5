"""Experiments on trained networks, each against its theory twin (statmech_nn.training).

``python -m statmech_nn reproduce training --out DIR [--fast]`` writes into ``DIR/training``. The
fast mode (small networks) takes about a minute; the full mode uses the sizes of the experiments
(widths up to 2048, depths up to 88) and takes hours on two cores, most of it in the learning-rate
boundary at widths 1024 and 2048 (the batch-norm trainability grid: about 10 minutes on one core).

* ``lr_boundary.png`` / ``lr_boundary.csv``: full-batch GD over the learning rate and width, ReLU
  (sigma_w2 = 2, sigma_b2 = 0.1) and tanh (sigma_w2 = 1.5, sigma_b2 = 0.05), depth 3, Gaussian data
  (teacher targets) and scikit-learn's digits (one-hot), without and with batch norm of the outputs
  ("last"): the loss after a fixed number of steps relative to the initial loss, eta_c = 2 /
  lambda_max of each network's empirical Fisher information on its training data (Karakida, Akaho &
  Amari 2019), the mean-field eta_c of :func:`statmech_nn.fisher.eigen_stats` (Gaussian data), and
  the measured boundary: the smallest eta / eta_c at which the loss rises at some step (bisection).
  With batch norm in the last layer the bound is that of the centred Fisher information and no longer
  shrinks like 1/width (Karakida, Akaho & Amari 2019, NeurIPS).
* ``ntk_regime.png`` / ``ntk_regime.csv``: the distance between full-batch GD of a network (NTK
  parameterisation) and :func:`statmech_nn.ntk.predict_gd_mse` with its initial NTK, relative to
  |y|, against width, and the fitted exponent (Lee et al. 2019 predict width^-1/2).
* ``bn_gradients.png`` / ``bn_gradients.csv``: deep batch-norm networks without skip connections (Yang,
  Pennington, Rao, Sohl-Dickstein & Schoenholz 2019): the gradient norm per layer on a batch of B inputs
  against the growth rate lambda(B) of :func:`statmech_nn.batchnorm.gradient_explosion_rate`.
* ``bn_trainability.png`` / ``bn_trainability.csv`` / ``bn_trainability_summary.csv``: the deepest
  network that SGD trains on the digits, per batch size B, with a learning-rate sweep at every depth
  (the best eta counts; test accuracy at least 0.3, or training loss at most half the constant
  predictor's), after several budgets of training examples (32000 / B steps at the full budget),
  against c / log lambda(B) with c fitted at one batch size, for ReLU and for a leaky ReLU (slope 0.5:
  closer to linear, lambda nearer 1); and the best learning rate against depth. The full mode of this
  experiment takes about 10 minutes on one core.
* ``isometry.png`` / ``isometry.csv``: deep tanh networks at chi_1 = 1, orthogonal against
  Gaussian weights: loss against steps, and the width of the Jacobian's squared singular value
  spectrum from :func:`statmech_nn.meanfield.jacobian_spectrum` (Pennington, Schoenholz & Ganguli 2017).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from .. import batchnorm as BN
from .. import fisher as F
from .. import meanfield as MF
from .. import ntk as K
from .. import training as T
from ._csv import write_columns, write_rows

ACT, SW, SB, DEPTH = "relu", 2.0, 0.1, 3


LR_ACTS = {"relu": (2.0, 0.1), "tanh": (1.5, 0.05)}   # activation: (sigma_w2, sigma_b2), ordered phase


def lambda_max(activation: str, depth: int, width: int, X: np.ndarray, n_outputs: int, sigma_w2: float,
               sigma_b2: float, batchnorm: str, seed: int) -> float:
    """Largest eigenvalue of the Fisher information F = J^T J / n of :func:`statmech_nn.training.train`'s
    initial network of ``seed`` on the inputs X (n, d), from the (n C x n C) Gram J J^T of
    :func:`statmech_nn.ntk.empirical` (standard parameterisation), centred over the batch with
    ``batchnorm="last"``. For Gaussian data it is ``fisher.empirical(...).lambda_max`` of the seed."""
    n = X.shape[0]
    e = K.empirical(X, None, activation, depth, sigma_w2, sigma_b2, "standard", width=width, n_outputs=n_outputs,
                    seeds=seed)
    G = e.ntk_full[0].reshape(n * n_outputs, n * n_outputs)
    if batchnorm == "last":
        P = np.kron(np.eye(n) - 1.0 / n, np.eye(n_outputs))
        G = P @ G @ P
    return float(np.linalg.eigvalsh(G)[-1] / n)


def _grows(act, depth, width, eta, data, steps, seed, bn, sw, sb, C):
    """Loss after `steps` full-batch GD steps / initial loss, and whether the loss rose at some step
    (loss_{k+1} > loss_k: below 2 / lambda_max every mode of the linearised network contracts and the
    loss falls at every step; above it the top mode grows); inf / True when the run diverged.
    data: ("gaussian", n_samples) (teacher targets) or ("digits", X, y)."""
    kw = dict(data="gaussian", n_samples=data[1]) if data[0] == "gaussian" else dict(data=data[1:])
    r = T.train(act, depth, width, eta, sigma_w2=sw, sigma_b2=sb, n_outputs=C, steps=steps, seeds=seed,
                batchnorm=bn, **kw)
    if r.status == "diverged":
        return np.inf, True
    loss = r.loss[0]
    return float(loss[-1] / loss[0]), bool(np.any(loss[1:] > loss[:-1] * (1 + 1e-12)))


def lr_boundary_data(fast: bool, **settings) -> dict:
    """The learning-rate boundary of full-batch GD against 2 / lambda_max, for ReLU and tanh, Gaussian
    data (teacher targets, one output) and the digits (one-hot, ten outputs), without and with batch
    norm of the outputs ("last"). Per network (seed): eta_c = 2 / lambda_max of its empirical Fisher
    information on its training data, the loss ratio after `steps` steps on a grid of eta / eta_c, and
    the measured boundary: the smallest eta / eta_c at which the loss rises at some step within
    `steps` steps (bisection in log eta between 1/4 and 4). ``settings`` override widths, factors,
    seeds, n, steps, depth, n_bisect."""
    cfg = dict(widths=[32, 64], factors=[0.25, 0.5, 1.0, 2.0, 4.0], seeds=[0, 1], n=32, steps=10, depth=3,
               n_bisect=4) if fast else \
        dict(widths=[128, 256, 512, 1024, 2048], factors=list(np.geomspace(0.25, 4.0, 7)), seeds=[0, 1], n=128,
             steps=20, depth=3, n_bisect=5)
    cfg.update(settings)
    widths, factors, seeds = cfg["widths"], np.asarray(cfg["factors"], dtype=float), cfg["seeds"]
    n, steps, depth, n_bisect = cfg["n"], cfg["steps"], cfg["depth"], cfg["n_bisect"]
    Xd, Yd, _, _ = T.load_digits(n, n_test=0, n_outputs=10)
    out = {"widths": np.array(widths), "factors": factors, "steps": steps, "n_samples": n, "depth": depth,
           "runs": {}}
    for act, (sw, sb) in LR_ACTS.items():
        for data in ("gaussian", "digits"):
            C = 1 if data == "gaussian" else 10
            for bn in ("none", "last"):
                ratio = np.zeros((len(widths), len(factors), len(seeds)))
                eta_c = np.zeros((len(widths), len(seeds)))
                bound = np.zeros((len(widths), len(seeds)))
                for i, w in enumerate(widths):
                    for k, s in enumerate(seeds):
                        if data == "gaussian":
                            X = T.train(act, depth, w, 1.0, sigma_w2=sw, sigma_b2=sb, n_samples=n, steps=0, seeds=s,
                                        return_data=True).x_train[0]
                            dat = ("gaussian", n)
                        else:
                            X, dat = Xd, ("digits", Xd, Yd)
                        eta_c[i, k] = 2.0 / lambda_max(act, depth, w, X, C, sw, sb, bn, s)
                        grew = []
                        for j, f in enumerate(factors):
                            ratio[i, j, k], g = _grows(act, depth, w, f * eta_c[i, k], dat, steps, s, bn, sw, sb, C)
                            grew.append(g)
                        if grew[0] or not grew[-1]:
                            bound[i, k] = factors[0] if grew[0] else np.inf
                            continue
                        jj = grew.index(True)   # bisection in log(eta / eta_c) inside the grid's bracket
                        lo, hi = np.log(factors[jj - 1]), np.log(factors[jj])
                        for _ in range(n_bisect):
                            mid = 0.5 * (lo + hi)
                            if _grows(act, depth, w, np.exp(mid) * eta_c[i, k], dat, steps, s, bn, sw, sb, C)[1]:
                                hi = mid
                            else:
                                lo = mid
                        bound[i, k] = np.exp(0.5 * (lo + hi))
                theory = None
                if data == "gaussian":
                    theory = np.asarray(F.eigen_stats(act, depth, sw, sb, width=np.array(widths, float), n_samples=n,
                                                      n_outputs=C, batchnorm=bn).eta_c, dtype=float)
                out["runs"][(act, data, bn)] = dict(ratio=ratio, eta_c=eta_c, boundary=bound, eta_c_theory=theory,
                                                    sigma_w2=sw, sigma_b2=sb, n_outputs=C)
    return out


def ntk_regime_data(fast: bool) -> dict:
    widths = [32, 64, 128] if fast else [64, 128, 256, 512, 1024, 2048]
    seeds = [0, 1] if fast else [0, 1, 2, 3]
    rng = np.random.default_rng(1)
    n, d = 16, 8
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    steps = 100 if fast else 1000
    dev = np.zeros((len(widths), len(seeds)))
    for i, w in enumerate(widths):
        for k, s in enumerate(seeds):
            Kt = K.empirical(X, None, ACT, 2, SW, SB, "ntk", width=w, seeds=s).ntk[0]
            eta = 0.02 * n / np.linalg.eigvalsh(Kt)[-1]   # small steps: GD close to gradient flow
            r = T.train(ACT, 2, w, eta, sigma_w2=SW, sigma_b2=SB, data=(X, y), steps=steps, record=steps // 10,
                        parameterization="ntk", seeds=s, outputs_train=True)
            p = K.predict_gd_mse(Kt, y, r.t, eta=1.0 / n, f0_train=r.outputs_train[0, 0, :, 0])
            dev[i, k] = np.max(np.linalg.norm(r.outputs_train[0, :, :, 0] - p.f_train, axis=1)) / np.linalg.norm(y)
    mean = dev.mean(axis=1)
    slope, icpt = np.polyfit(np.log(widths), np.log(mean), 1)
    return dict(widths=np.array(widths), dev=dev, mean=mean, exponent=slope, intercept=icpt, steps=steps, n=n, d=d,
                n_seeds=len(seeds))


def bn_gradient_data(fast: bool) -> dict:
    """Per-layer growth of the squared gradient norm |dLoss/dW^l|^2 towards the input in deep
    batch-norm networks (no skip connections) at initialisation, measured on a batch of exactly B
    inputs (the batch-norm batch: the rate depends on B), fitted over the layers 6 .. depth - 5
    (past the approach to the BSB1 fixed point), against batchnorm.gradient_explosion_rate."""
    depth = 20 if fast else 60
    batch_sizes = [8, 32] if fast else [4, 8, 16, 32, 64, 128]
    width = 64 if fast else 512
    seeds = [0, 1] if fast else [0, 1, 2, 3]
    out = {"depth": depth, "width": width, "batch_sizes": np.array(batch_sizes), "n_seeds": len(seeds),
           "rate_theory": np.asarray(BN.gradient_explosion_rate(ACT, np.array(batch_sizes, dtype=float))),
           "rate_measured": np.zeros(len(batch_sizes)), "rate_sd": np.zeros(len(batch_sizes)), "log_grad": []}
    for b, B in enumerate(batch_sizes):
        r = T.train(ACT, depth, width, 1e-2, sigma_w2=SW, sigma_b2=SB, n_samples=B, steps=0, seeds=seeds,
                    batchnorm="all", targets="noise")
        g = np.log(r.grad_norm[:, 0, :-1] ** 2)          # (seeds, weight layers 1..depth); read-out left out
        out["log_grad"].append(g.mean(axis=0))
        lay = np.arange(1, depth + 1)
        sel = (lay >= 6) & (lay <= depth - 5)
        rates = np.exp([-np.polyfit(lay[sel], gs[sel], 1)[0] for gs in g])
        out["rate_measured"][b] = np.exp(np.mean(np.log(rates)))
        out["rate_sd"][b] = np.std(rates) / np.sqrt(len(rates))
    return out


BN_ACTS = {"relu": 0.0, "leaky_relu 0.5": 0.5}   # name: leaky slope (towards the linear regime, lambda -> 1)
#: Accuracy criterion of bn_trainability_data: a depth is trainable when the median test accuracy on the
#: digits over seeds, at the best learning rate of the sweep, is at least 0.3 (3x chance).
BN_ACCURACY = 0.3
#: Loss criterion: ... when the median training loss at the best learning rate is at most half the loss
#: of the best constant predictor, 1/2 mean |y - mean(y)|^2 (0.45 for one-hot digits).
BN_LOSS = 0.5
#: The learning-rate sweep of the full mode (NTK parameterisation): 8 values over 2.5 decades. A pilot
#: (width 64, depths 4 and 24, B = 4, 32, 128, 2000 steps) found the best eta between 1 and 3.2 at every
#: batch size, eta = 10 failing or diverging and eta <= 0.03 far from converged.
BN_ETAS = tuple(float(e) for e in np.geomspace(10 ** -1.5, 10.0, 8))


def _crossing(depths, acc, level):
    """The depth at which acc (falling with depth) crosses `level`, interpolated linearly in log
    depth between the grid depths; 0 when even the shallowest is below, the deepest when none is."""
    below = np.nonzero(acc < level)[0]
    if below.size == 0:
        return float(depths[-1])
    j = int(below[0])
    if j == 0:
        return 0.0
    a0, a1 = acc[j - 1], acc[j]
    x0, x1 = np.log(depths[j - 1]), np.log(depths[j])
    return float(np.exp(x0 + (a0 - level) / (a0 - a1) * (x1 - x0)))


def _bn_config(fast: bool, settings: dict) -> dict:
    cfg = dict(acts=list(BN_ACTS), batch_sizes=[4, 32], depths=[2, 4, 8, 16], width=32, seeds=[0], steps=4800,
               budgets=[1600, 4800], etas=[0.1, 0.3, 1.0, 3.0], n=256, n_test=256, patience=2, num_threads=None,
               budget_unit="samples") \
        if fast else \
        dict(acts=list(BN_ACTS), batch_sizes=[4, 8, 32, 128], depths=[4, 5, 7, 9, 12, 16, 21, 28, 37, 50, 66, 88],
             width=64, seeds=[0], steps=32000, budgets=[4000, 8000, 16000, 32000], etas=list(BN_ETAS), n=1024,
             n_test=512, patience=2, num_threads=None, budget_unit="samples")
    unknown = set(settings) - set(cfg)
    if unknown:
        raise ValueError(f"settings: unknown keys {sorted(unknown)}; known: {sorted(cfg)}")
    cfg.update(settings)
    cfg["budgets"] = sorted(set(int(k) for k in cfg["budgets"]) | {int(cfg["steps"])})
    if cfg["budget_unit"] not in ("steps", "samples"):
        raise ValueError(f"settings: budget_unit must be 'steps' or 'samples'; got {cfg['budget_unit']!r}")
    # the SGD steps of each batch size's budgets (budgets in training examples seen: divided by B)
    bs = np.asarray(cfg["batch_sizes"], dtype=np.int64)[:, None]
    k = np.asarray(cfg["budgets"], dtype=np.int64)[None, :]
    cfg["budget_steps"] = k // bs if cfg["budget_unit"] == "samples" else np.repeat(k, bs.size, axis=0)
    if np.any(cfg["budget_steps"] < 1) or np.any(np.diff(cfg["budget_steps"], axis=1) < 1):
        raise ValueError(f"settings: budgets {cfg['budgets']} give fewer than one step or equal step counts at some "
                         f"batch size: {cfg['budget_steps'].tolist()}")
    return cfg


def _bn_sweep(label: str, cfg: dict, data: tuple) -> dict:
    """The learning-rate sweep of one activation over (batch size, depth): median over seeds of the
    test accuracy and of the training loss / constant-predictor loss after each budget, for every eta;
    depths beyond `patience` consecutive depths that fail both criteria at every eta are not run (NaN)."""
    slope = BN_ACTS[label]
    act = "relu" if slope == 0 else "leaky_relu"
    X, Y, Xt, Yt = data
    labels = Yt.argmax(axis=1)
    lconst = 0.5 * float(np.mean(np.sum((Y - Y.mean(axis=0)) ** 2, axis=1)))
    nb, nd, ne, nk = len(cfg["batch_sizes"]), len(cfg["depths"]), len(cfg["etas"]), len(cfg["budgets"])
    acc = np.full((nb, nd, ne, nk), np.nan)
    loss = np.full((nb, nd, ne, nk), np.nan)
    diverged = np.full((nb, nd, ne), np.nan)
    for b, B in enumerate(cfg["batch_sizes"]):
        failed = 0
        for j, L in enumerate(cfg["depths"]):
            if failed >= cfg["patience"]:
                break
            for e, eta in enumerate(cfg["etas"]):
                rec = cfg["budget_steps"][b]
                r = T.train(act, L, cfg["width"], eta, sigma_w2=SW, sigma_b2=SB, data=data, batch_size=B,
                            steps=int(rec[-1]), seeds=cfg["seeds"], batchnorm="all", record=rec,
                            slope=slope, parameterization="ntk", x_eval=Xt, num_threads=cfg["num_threads"])
                out = r.outputs                                   # (seeds, budgets, n_test, 10); NaN once diverged
                a = np.mean(out.argmax(axis=3) == labels, axis=2)
                a[~np.all(np.isfinite(out), axis=(2, 3))] = 0.0   # a diverged network classifies nothing
                lr = np.where(np.isfinite(r.loss), r.loss / lconst, np.inf)
                acc[b, j, e] = np.median(a, axis=0)
                loss[b, j, e] = np.median(lr, axis=0)
                diverged[b, j, e] = float(np.mean(r.diverged))
            ok = np.max(acc[b, j, :, -1]) >= BN_ACCURACY or np.min(loss[b, j, :, -1]) <= BN_LOSS
            failed = 0 if ok else failed + 1
    return dict(act=act, slope=slope, accuracy_eta=acc, loss_eta=loss, diverged=diverged, constant_loss=lconst)


def _bn_summary(out: dict) -> dict:
    """Best learning rate per (batch size, depth, budget), the deepest trainable depth under both
    criteria, c fitted on ReLU at one batch size, and the predictions c / log lambda(B)."""
    depths, budgets, etas = out["depths"], out["budgets"], np.asarray(out["etas"])
    nk = len(budgets)
    for v in out["acts"].values():
        acc, loss = v["accuracy_eta"], v["loss_eta"]
        ran = ~np.all(np.isnan(acc[..., -1]), axis=2)                      # (B, depth)
        a0 = np.where(np.isnan(acc), -1.0, acc)
        v["best_eta"] = etas[np.argmax(a0, axis=2)]                           # (B, depth, budget)
        v["accuracy_by_budget"] = np.where(ran[..., None], np.max(a0, axis=2), np.nan)
        v["accuracy"] = v["accuracy_by_budget"][..., -1]                    # (B, depth) at the full budget
        l0 = np.where(np.isnan(loss), np.inf, loss)
        v["loss_by_budget"] = np.where(ran[..., None], np.min(l0, axis=2), np.nan)
        v["loss"] = v["loss_by_budget"][..., -1]
        v["best_eta_loss"] = etas[np.argmin(l0, axis=2)]
        v["ran"] = ran
        # not run / diverged = untrainable
        v["deepest_by_budget"] = np.array([[_crossing(depths, np.nan_to_num(v["accuracy_by_budget"][b, :, k], nan=0.0),
                                                      BN_ACCURACY) for k in range(nk)] for b in range(len(acc))])
        score = -np.log(np.clip(np.nan_to_num(v["loss_by_budget"], nan=np.inf), 1e-3, 1e3))
        v["deepest_loss_by_budget"] = np.array([[_crossing(depths, score[b, :, k], -np.log(BN_LOSS))
                                                 for k in range(nk)] for b in range(len(acc))])
        v["deepest"] = v["deepest_by_budget"][:, -1]
        v["deepest_loss"] = v["deepest_loss_by_budget"][:, -1]
        lam = np.asarray(BN.gradient_explosion_rate(v["act"], np.asarray(out["batch_sizes"], dtype=float),
                                                    slope=v["slope"]))
        v["rate"] = lam
        # inside the grid: neither 0 (even the shallowest failed) nor the deepest depth (none failed)
        v["inside"] = (v["deepest_by_budget"] > 0) & (v["deepest_by_budget"] < depths[-1])
        v["product"] = np.where(v["inside"], v["deepest_by_budget"] * np.log(lam)[:, None], np.nan)
        # d log(best eta) / d depth on the falling branch: the trainable depths from the deepest one with
        # the largest best eta on (Yang et al.: the usable eta shrinks as the gradients explode; -log lambda
        # if it were set by the input layers' gradients growing like lambda^depth)
        slopes = np.full(len(acc), np.nan)
        for b in range(len(acc)):
            sel = ran[b] & (v["accuracy"][b] >= BN_ACCURACY)
            if sel.sum() < 2:
                continue
            eb = np.where(sel, v["best_eta"][b, :, -1], 0.0)
            top = np.nonzero(eb == eb.max())[0][-1]
            sel[:top] = False
            if sel.sum() >= 3:
                slopes[b] = np.polyfit(depths[sel], np.log(v["best_eta"][b, sel, -1]), 1)[0]
        v["eta_slope"] = slopes
    ref_label = "relu" if "relu" in out["acts"] else next(iter(out["acts"]))
    relu = out["acts"][ref_label]
    nb = len(out["batch_sizes"])
    inside = [b for b in range(nb) if relu["inside"][b, -1]]
    ref = min(inside, key=lambda b: abs(b - nb // 2)) if inside else nb // 2
    out["reference_batch_size"] = int(out["batch_sizes"][ref])
    out["reference_activation"] = ref_label
    out["c_by_budget"] = relu["deepest_by_budget"][ref] * np.log(relu["rate"][ref])
    out["c"] = float(out["c_by_budget"][-1])
    for v in out["acts"].values():
        v["predicted_by_budget"] = out["c_by_budget"][None, :] / np.log(v["rate"])[:, None]
        v["predicted"] = v["predicted_by_budget"][:, -1]
    prods = np.concatenate([v["product"][:, -1] for v in out["acts"].values()])
    prods = prods[np.isfinite(prods)]
    out["product_spread"] = float(prods.max() / prods.min()) if prods.size > 1 else np.nan
    return out


def bn_trainability_data(fast: bool, **settings) -> dict:
    """The deepest trainable batch-norm network against the prediction of Yang, Pennington, Rao,
    Sohl-Dickstein & Schoenholz 2019 ("A Mean Field Theory of Batch Normalization"): gradients grow like
    lambda^depth, lambda = batchnorm.gradient_explosion_rate(B), so the trainable depth is c / log lambda(B)
    with c independent of B (and of the activation).

    Protocol: deep networks with batch norm before every nonlinearity and no skip connections (NTK
    parameterisation, sigma_w2 = 2, sigma_b2 = 0.1), ten outputs (MSE on one-hot targets), trained by SGD
    with mini-batches of B (the batch-norm batch) on scikit-learn's digits. For each (activation, B, depth)
    a learning-rate sweep (``etas``, log grid), each run for a budget of ``steps`` and recorded after each
    of ``budgets``; per eta the median over ``seeds``. ``budget_unit="samples"`` (the default) counts the
    budget in training examples seen, so a batch size B runs ``steps // B`` SGD steps and the shallow
    networks of every B end equally converged (test accuracy 0.94-0.96 at depth 4 in the full mode);
    ``"steps"`` counts SGD steps (then the small batches see fewer examples and their shallow networks
    converge less: 0.84 at B = 4 against 0.98 at B = 32 after 2000 steps). A depth is trainable when the
    best eta reaches the accuracy criterion (test accuracy >= BN_ACCURACY, with batch-norm statistics over
    the test set); the loss criterion (training loss <= BN_LOSS x the constant predictor's loss) is
    reported alongside. The deepest trainable depth is where the best-eta accuracy crosses the criterion
    (interpolated in log depth, :func:`_crossing`; depths not run or diverged count as untrainable).
    Going deeper stops after ``patience`` consecutive depths failing both criteria at every eta. c is
    fitted on ReLU at one batch size (nearest the middle among those whose limit lies inside the depth
    grid) and predicts the other batch sizes and the leaky ReLU (slope 0.5, closer to linear: lambda
    nearer 1).

    ``settings`` override acts, batch_sizes, depths, width, seeds, steps, budgets, budget_unit, etas, n
    (training images), n_test, patience, num_threads. The full mode (the defaults with ``fast=False``:
    32000 examples, B = 4, 8, 32, 128, i.e. 8000 .. 250 steps) takes about 10 minutes on one core; the
    fixed-step variant (``budget_unit="steps", steps=2000, budgets=[250, 500, 1000, 2000]``) 35 minutes.

    Returns a dict: the configuration, ``acts`` (per activation: accuracy_eta / loss_eta (B, depth, eta,
    budget), accuracy / loss (B, depth) at the best eta and full budget, best_eta, deepest, deepest_loss,
    *_by_budget, rate lambda(B), product deepest x log lambda, predicted c / log lambda, eta_slope), c,
    c_by_budget, reference_batch_size, product_spread (max / min of deepest x log lambda over the (act, B)
    whose limit lies inside the grid: 1 when the theory holds)."""
    cfg = _bn_config(fast, settings)
    data = T.load_digits(cfg["n"], n_test=cfg["n_test"], n_outputs=10)
    out = {"batch_sizes": np.array(cfg["batch_sizes"]), "depths": np.array(cfg["depths"]), "width": cfg["width"],
           "steps": cfg["steps"], "budgets": np.array(cfg["budgets"]), "etas": np.array(cfg["etas"], dtype=float),
           "budget_unit": cfg["budget_unit"], "budget_steps": cfg["budget_steps"],
           "n_samples": cfg["n"], "n_test": cfg["n_test"], "n_seeds": len(cfg["seeds"]), "patience": cfg["patience"],
           "acts": {label: _bn_sweep(label, cfg, data) for label in cfg["acts"]}}
    return _bn_summary(out)


def isometry_data(fast: bool) -> dict:
    sb2 = 0.05
    sw2 = float(MF.critical_line("tanh", [sb2]).sigma_w2[0])
    depth = 8 if fast else 32
    width = 64 if fast else 256
    steps = 30 if fast else 200
    seeds = [0, 1] if fast else [0, 1, 2]
    n = 64
    out = {"sigma_w2": sw2, "sigma_b2": sb2, "depth": depth, "width": width, "n_seeds": len(seeds), "n": n}
    etas = [0.1, 0.3, 1.0] if fast else [0.03, 0.1, 0.3, 1.0, 3.0]
    for w in ("gaussian", "orthogonal"):
        best = None
        for eta in etas:   # the learning rate tuned for each initialisation, as in Pennington et al.
            losses = []
            for s in seeds:
                r = T.train("tanh", depth, width, eta, sigma_w2=sw2, sigma_b2=sb2, n_samples=n, steps=steps, seeds=s,
                            weights=w, record=max(1, steps // 20), parameterization="ntk")
                losses.append(r.loss[0] / r.loss[0, 0] if r.status != "diverged" else np.full(r.steps.size, np.inf))
            med = np.median(losses, axis=0)
            if best is None or med[-1] < best[1][-1]:
                best = (eta, med)
        out[w] = dict(steps=r.steps, loss=best[1], eta=best[0])
        js = MF.jacobian_spectrum("tanh", sw2, sb2, depth, weights=w, n_points=100)
        out[w]["spectrum_variance"] = float(js.variance)
        out[w]["spectrum_edge"] = float(js.edge)
    return out


def write_bn_trainability(bt: dict, out_dir: Path) -> List[Path]:
    """The figure ``bn_trainability.png`` and the tables ``bn_trainability.csv`` (every run: activation,
    batch size, depth, eta, budget) and ``bn_trainability_summary.csv`` (per activation, batch size and
    budget: the deepest trainable depth, deepest x log lambda and the prediction) of
    :func:`bn_trainability_data`'s result."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    out = Path(out_dir)
    depths, Bs, budgets, etas = bt["depths"], bt["batch_sizes"], bt["budgets"], bt["etas"]
    nb, nk = len(Bs), len(budgets)
    unit = bt.get("budget_unit", "steps")
    when = f"{bt['steps']} steps" if unit == "steps" else f"{bt['steps']} examples ({bt['steps']} / B steps)"
    acts = list(bt["acts"].items())
    fig, axes = plt.subplots(2, 2, figsize=(13, 10.5), layout="constrained")
    ye = np.sqrt(depths[1:] * depths[:-1])
    ye = np.concatenate([[depths[0] ** 2 / ye[0]], ye, [depths[-1] ** 2 / ye[-1]]])
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.75")
    handles = {}
    for ax, (label, v) in zip(axes[0], acts):
        mesh = ax.pcolormesh(np.arange(nb + 1) - 0.5, ye, np.ma.masked_invalid(v["accuracy"].T), cmap=cmap, vmin=0,
                             vmax=1)
        x = np.arange(nb)
        for k_name, key, marker in (("accuracy", "deepest", "o"), ("loss", "deepest_loss", "X")):
            d = v[key]
            inside = (d > 0) & (d < depths[-1])
            h = ax.plot(x[inside], d[inside], marker, color="w", mec="k", ms=9, ls="none")[0]
            handles[f"deepest trainable depth ({k_name} criterion)"] = h
            capped = d >= depths[-1]
            if capped.any():
                h = ax.plot(x[capped], np.full(capped.sum(), depths[-1]), "^", color="w", mec="k", ms=9, ls="none")[0]
                handles[f"trainable at every depth of the grid (up to {depths[-1]})"] = h
        ax.plot(x, v["predicted"], "--", color="w", lw=2, marker="_", ms=14)
        h = Line2D([], [], ls="--", color="0.4", lw=2, marker="_", ms=14)   # (white on the map)
        handles[f"c / log lambda(B), c = {bt['c']:.3g} fitted on ReLU at B = {bt['reference_batch_size']}"] = h
        ax.set_yscale("log")
        ax.set_ylim(ye[0], ye[-1])
        ax.set_yticks(depths)
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(x)
        ax.set_xticklabels([f"{B}\n($\\lambda$={lam:.3g})" for B, lam in zip(Bs, v["rate"])])
        ax.set_xlabel("batch size B (gradient_explosion_rate)")
        ax.set_ylabel("depth")
        ax.set_title(f"{label}: test accuracy at the best eta after {when}\n"
                     "(grey: not run, the two shallower depths failed)", fontsize=9)
    fig.colorbar(mesh, ax=axes[0].tolist(), label="test accuracy (median over seeds), best eta", shrink=0.9)

    ax = axes[1, 0]
    colors = matplotlib.colormaps["plasma"](np.linspace(0.0, 0.8, nk))
    xmax = 0.0
    for (label, v), marker in zip(acts, ("o", "s")):
        inv = 1.0 / np.log(v["rate"])
        xmax = max(xmax, inv.max())
        for k in range(nk):
            d = v["deepest_by_budget"][:, k]
            capped = d >= depths[-1]
            ax.plot(inv[~capped], d[~capped], marker, color=colors[k], ms=7, ls="none",
                    mfc="none" if marker == "s" else colors[k])
            ax.plot(inv[capped], d[capped], "^", color=colors[k], ms=8, ls="none", mfc="none")
        handles[f"{label} (marker {marker})"] = Line2D([], [], marker=marker, color="k", ls="none",
                                                       mfc="none" if marker == "s" else "k")
    xs = np.linspace(0.0, xmax * 1.05, 50)
    for k in range(nk):
        ax.plot(xs, bt["c_by_budget"][k] * xs, "-", color=colors[k], lw=1)
        what = "steps" if unit == "steps" else "examples"
        handles[f"budget {budgets[k]} {what}: c = {bt['c_by_budget'][k]:.3g}"] = Line2D([], [], color=colors[k],
                                                                                    marker="o", lw=1)
    ax.axhline(depths[-1], color="0.6", lw=0.8, ls=":")
    ax.set_ylim(0, depths[-1] * 1.15)
    ax.set_xlabel(r"1 / log $\lambda$(B)")
    ax.set_ylabel("deepest trainable depth (accuracy criterion)")
    ax.set_title(f"theory: all points on the line c(budget) / log $\\lambda$ (through the origin);\n"
                 f"max/min of depth x log $\\lambda$ over points inside the grid: {bt['product_spread']:.3g}",
                 fontsize=9)

    ax = axes[1, 1]
    for (label, v), ls in zip(acts, ("-", "--")):
        for b, B in enumerate(Bs):
            sel = v["ran"][b] & (v["accuracy"][b] >= BN_ACCURACY)
            ax.plot(depths[sel], v["best_eta"][b, sel, -1], ls, marker="o", color=f"C{b}", ms=4,
                    mfc="none" if ls == "--" else f"C{b}")
            handles[f"B = {B} (colour)"] = Line2D([], [], color=f"C{b}", lw=2)
            if label == "relu" and sel.any():   # the slope -log lambda(B) through the deepest trainable point
                j = np.nonzero(sel)[0][-1]
                dd = depths[:j + 1]
                ax.plot(dd, v["best_eta"][b, j, -1] * v["rate"][b] ** (depths[j] - dd), ":", color=f"C{b}", lw=1)
        handles[f"{label} (line {ls})"] = Line2D([], [], color="k", ls=ls)
    handles["lambda(B)^-depth through the deepest trainable ReLU point (dotted)"] = Line2D([], [], color="k", ls=":",
                                                                                         lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(depths)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(etas[0] / 1.5, etas[-1] * 1.5)
    ax.set_xlabel("depth")
    ax.set_ylabel("best learning rate (NTK parameterisation)")
    ax.set_title(f"best eta of the sweep ({etas[0]:.3g} .. {etas[-1]:.3g}, {len(etas)} values) at trainable depths",
                 fontsize=9)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(f"Deep batch-norm networks without skip connections (Yang, Pennington, Rao, Sohl-Dickstein & "
                 f"Schoenholz 2019): SGD on {bt['n_samples']} digits, MSE on one-hot targets,\nwidth {bt['width']}, "
                 f"$\\sigma_w^2$={SW}, $\\sigma_b^2$={SB}, NTK param., {bt['n_seeds']} seed(s); trainable: the best "
                 f"eta's test accuracy >= {BN_ACCURACY:g} (or training loss <= {BN_LOSS:g} x constant predictor's)",
                 fontsize=10)
    files = [out / "bn_trainability.png"]
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)

    rows = []
    bsteps = np.asarray(bt.get("budget_steps", np.broadcast_to(budgets, (nb, nk))))
    for label, v in acts:
        for b, B in enumerate(Bs):
            for j, L in enumerate(depths):
                if not v["ran"][b, j]:
                    continue
                for e, eta in enumerate(etas):
                    for k, S in enumerate(budgets):
                        rows.append([label, B, L, eta, S, bsteps[b, k], v["accuracy_eta"][b, j, e, k],
                                     v["loss_eta"][b, j, e, k], v["diverged"][b, j, e]])
    meta = {"width": bt["width"], "budget_unit": unit, "budget": bt["steps"], "parameterization": "ntk",
            "sigma_w2": SW, "sigma_b2": SB,
            "n_samples": bt["n_samples"], "n_test": bt["n_test"], "seeds": bt["n_seeds"],
            "accuracy": "median over seeds of the test accuracy (batch-norm statistics over the test set)",
            "loss_ratio": "median over seeds of the training loss / the constant predictor's",
            "trainable": f"best eta's accuracy >= {BN_ACCURACY} (or loss_ratio <= {BN_LOSS})"}
    files.append(write_rows(out / "bn_trainability.csv",
                            ["activation", "batch_size", "depth", "eta", "budget", "budget_steps", "test_accuracy",
                             "loss_ratio", "diverged_fraction"], rows, meta=meta))
    rows = []
    for label, v in acts:
        for b, B in enumerate(Bs):
            for k, S in enumerate(budgets):
                rows.append([label, B, S, bsteps[b, k], v["rate"][b], v["deepest_by_budget"][b, k],
                             v["deepest_loss_by_budget"][b, k],
                             v["deepest_by_budget"][b, k] * np.log(v["rate"][b]), v["predicted_by_budget"][b, k],
                             v["eta_slope"][b]])
    files.append(write_rows(out / "bn_trainability_summary.csv",
                            ["activation", "batch_size", "budget", "budget_steps", "rate_theory", "deepest_trainable",
                             "deepest_trainable_loss", "depth_times_log_rate", "predicted_depth",
                             "best_eta_log_slope"], rows,
                            meta={**meta, "c": bt["c"], "reference_batch_size": bt["reference_batch_size"],
                                  "depth_grid_max": int(depths[-1]),
                                  "deepest_trainable": "0: even the shallowest failed; depth_grid_max: none failed"}))
    return files


def run(out_dir: Path, fast: bool = False) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    files: List[Path] = []

    lr = lr_boundary_data(fast)
    keys = list(lr["runs"])
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(2, 4, figsize=(19, 9), sharey=True, layout="constrained")
    widths = lr["widths"]
    for ax, key in zip(axes.ravel(), keys):
        act, data, bn = key
        run_ = lr["runs"][key]
        etas = lr["factors"][None, :, None] * run_["eta_c"][:, None, :]
        # one row of points per seed, slightly apart
        Wg = widths[:, None, None] * np.exp(0.06 * np.arange(etas.shape[2]))[None, None, :] * np.ones_like(etas)
        sc = ax.scatter(etas.ravel(), Wg.ravel(),
                        c=np.log10(np.clip(run_["ratio"].ravel(), 1e-3, 1e3)), cmap="coolwarm", vmin=-3, vmax=3,
                        s=28)
        ax.plot(run_["eta_c"].mean(axis=1), widths, "k-", label=r"$2/\lambda_{max}$ (empirical FIM)")
        if run_["eta_c_theory"] is not None:
            ax.plot(run_["eta_c_theory"], widths, "k--", label=r"$2/\lambda_{max}$ (mean-field theory)")
        bnd = np.median(run_["boundary"] * run_["eta_c"], axis=1)   # inf: no rise up to 4 eta_c
        ax.plot(np.where(np.isfinite(bnd), bnd, np.nan), widths, "g^-",
                label="measured: the smallest eta at which the loss rises at some step (median over seeds)")
        ax.set_xscale("log")
        ax.set_yscale("log", base=2)
        ax.set_yticks(widths)
        ax.set_yticklabels([str(w) for w in widths])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(r"learning rate $\eta$")
        ax.set_title(f"{act}, {data} ({run_['n_outputs']} output{'s' if run_['n_outputs'] > 1 else ''}), "
                     f"batchnorm={bn!r}\n$\\sigma_w^2$={run_['sigma_w2']}, $\\sigma_b^2$={run_['sigma_b2']}",
                     fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("width")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9)
    fig.colorbar(sc, ax=axes, label=f"log10(loss after {lr['steps']} GD steps / initial loss)", shrink=0.8)
    fig.suptitle(f"Learning-rate boundary of full-batch GD: depth {lr['depth']}, {lr['n_samples']} training points, "
                 f"{lr['steps']} steps, {len(lr['runs'][keys[0]]['eta_c'][0])} seeds per width")
    files.append(out / "lr_boundary.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    rows = []
    for key in keys:
        run_ = lr["runs"][key]
        for i, w in enumerate(widths):
            for k in range(run_["eta_c"].shape[1]):
                th = np.nan if run_["eta_c_theory"] is None else run_["eta_c_theory"][i]
                for j, f in enumerate(lr["factors"]):
                    rows.append([*key, w, k, f, run_["eta_c"][i, k], th, run_["boundary"][i, k], run_["ratio"][i, j, k]])
    files.append(write_rows(out / "lr_boundary.csv",
                            ["activation", "data", "batchnorm", "width", "seed", "eta_over_eta_c", "eta_c_empirical",
                             "eta_c_theory", "boundary_over_eta_c", "loss_ratio"], rows,
                            meta={"depth": lr["depth"], "n_samples": lr["n_samples"], "steps": lr["steps"],
                                  "sigma_w2_sigma_b2": LR_ACTS,
                                  "boundary": "smallest eta/eta_c at which the loss rises at some step (loss_k+1 > loss_k)"}))

    nt = ntk_regime_data(fast)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(nt["widths"], nt["dev"], ".", color="0.6")
    ax.loglog(nt["widths"], nt["mean"], "o", label="GD vs predict_gd_mse (mean over seeds)")
    ax.loglog(nt["widths"], np.exp(nt["intercept"]) * nt["widths"] ** nt["exponent"], "-",
              label=f"fit: width^{nt['exponent']:.2f}")
    ax.set_xlabel("width")
    ax.set_title(f"ReLU, depth 2, $\\sigma_w^2$={SW}, $\\sigma_b^2$={SB}, NTK param., {nt['n']} points in "
                 f"d = {nt['d']},\n{nt['steps']} GD steps, {nt['n_seeds']} seeds (Lee et al. 2019: width$^{{-1/2}}$)",
                 fontsize=8)
    ax.set_xticks(nt["widths"])
    ax.set_xticklabels([str(w) for w in nt["widths"]])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(r"max$_t$ |f$_{GD}$ - f$_{NTK}$| / |y|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "ntk_regime.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_columns(out / "ntk_regime.csv", {"width": nt["widths"], "deviation": nt["mean"],
                                                         "fitted_exponent": np.full(len(nt["widths"]), nt["exponent"])}))

    bg = bn_gradient_data(fast)
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.5))
    ax = axes[0]
    lay = np.arange(1, bg["depth"] + 1)
    for b, B in enumerate(bg["batch_sizes"]):
        line, = ax.plot(lay, bg["log_grad"][b] - bg["log_grad"][b][-1], "-", label=f"B = {B}")
        ax.plot(lay, (bg["depth"] - lay) * np.log(bg["rate_theory"][b]), ":", color=line.get_color())
    ax.set_xlabel("layer l")
    ax.set_ylabel(r"log |dLoss/dW$^l$|$^2$ (relative to the last layer)")
    ax.set_title(f"ReLU + batch norm, width {bg['width']}, depth {bg['depth']}, {bg['n_seeds']} seeds\n"
                 f"(dotted: gradient_explosion_rate$^{{depth - l}}$)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(bg["batch_sizes"], bg["rate_theory"], "s-", label="gradient_explosion_rate (Yang et al. 2019)")
    ax.errorbar(bg["batch_sizes"], bg["rate_measured"], yerr=bg["rate_sd"], fmt="o",
                label=f"measured, layers 6..{bg['depth'] - 5}, batch of B")
    ax.set_xscale("log", base=2)
    ax.set_xticks(bg["batch_sizes"])
    ax.set_xticklabels([str(B) for B in bg["batch_sizes"]])
    ax.set_xlabel("batch size B")
    ax.set_ylabel(r"per-layer growth $\lambda$ of |grad|$^2$")
    ax.legend(fontsize=7)
    ax.set_title(f"ReLU ($\\sigma_w^2$={SW}, $\\sigma_b^2$={SB}), width {bg['width']}, depth {bg['depth']}, "
                 f"{bg['n_seeds']} seeds (mean $\\pm$ s.e.)", fontsize=9)
    fig.tight_layout()
    files.append(out / "bn_gradients.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_columns(out / "bn_gradients.csv", {"batch_size": bg["batch_sizes"],
                                                           "rate_theory": bg["rate_theory"],
                                                           "rate_measured": bg["rate_measured"],
                                                           "rate_measured_se": bg["rate_sd"]},
                               meta={"activation": ACT, "sigma_w2": SW, "sigma_b2": SB, "depth": bg["depth"],
                                     "width": bg["width"], "seeds": bg["n_seeds"],
                                     "fit": f"layers 6..{bg['depth'] - 5}, gradients on a batch of B"}))
    files += write_bn_trainability(bn_trainability_data(fast), out)

    iso = isometry_data(fast)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for w in ("gaussian", "orthogonal"):
        ax.semilogy(iso[w]["steps"], iso[w]["loss"],
                    label=f"{w}, best eta {iso[w]['eta']:g} (Jacobian spectrum variance {iso[w]['spectrum_variance']:.3g})")
    ax.set_xlabel("GD step")
    ax.set_ylabel("loss / initial loss")
    ax.set_title(f"tanh, depth {iso['depth']}, width {iso['width']}, $\\sigma_w^2$={iso['sigma_w2']:.4g}, "
                 f"$\\sigma_b^2$={iso['sigma_b2']} ($\\chi_1$ = 1), NTK param.,\n{iso['n']} Gaussian points, "
                 f"median of {iso['n_seeds']} seeds; spectrum variance: meanfield.jacobian_spectrum", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "isometry.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_columns(out / "isometry.csv", {"step": iso["gaussian"]["steps"],
                                                       "loss_gaussian": iso["gaussian"]["loss"],
                                                       "loss_orthogonal": iso["orthogonal"]["loss"]}))
    return files
