"""Experiments on trained networks, each against its theory twin (statmech_nn.training).

``python -m statmech_nn reproduce training --out DIR [--fast]`` writes into ``DIR/training``. The
fast mode (small networks) takes about a minute; the full mode uses the sizes of the experiments
(widths up to 2048, depths up to 100) and takes hours on two cores, most of it in the learning-rate
boundary at widths 1024 and 2048 and in the trainability grid.

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
* ``bn_gradients.png`` / ``bn_gradients.csv`` / ``bn_trainability.csv``: deep batch-norm networks
  without skip connections (Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019): the gradient norm
  per layer on a batch of B inputs against the growth rate lambda(B) of
  :func:`statmech_nn.batchnorm.gradient_explosion_rate`, and the deepest network that SGD trains
  (test accuracy on the digits at least 0.3) over batch sizes against c / log lambda(B), c fitted
  at one batch size, for ReLU and for a leaky ReLU (closer to linear, lambda nearer 1).
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
BN_ACCURACY = 0.3   # trainable: test accuracy on the digits >= 3x chance after the fixed SGD steps


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


def bn_trainability_data(fast: bool, **settings) -> dict:
    """The deepest trainable batch-norm network against the prediction of Yang, Pennington, Rao,
    Sohl-Dickstein & Schoenholz 2019: gradients grow like lambda^depth, lambda =
    batchnorm.gradient_explosion_rate(B), so at a fixed learning rate the trainable depth is
    c / log lambda(B) (c depends on the learning rate, not on B). SGD with mini-batches of B on the
    digits (NTK parameterisation, so eta does not scale with width; ten outputs, MSE); trainable:
    the median test accuracy over seeds after `steps` steps is at least 0.3 (3x chance); the deepest
    trainable depth is where the accuracy crosses 0.3 (interpolated in log depth). c is fitted on
    ReLU at one batch size and predicts the other batch sizes and the leaky ReLU (closer to linear,
    lambda nearer 1). ``settings`` override batch_sizes, depths, width, seeds, steps, eta, n, n_test."""
    cfg = dict(batch_sizes=[8, 32], depths=[2, 4, 8, 16], width=32, seeds=[0], steps=60, eta=3.0, n=128,
               n_test=256) if fast else \
        dict(batch_sizes=[4, 8, 16, 32, 64, 128], depths=[3, 5, 8, 12, 18, 27, 40, 60, 100], width=128, seeds=[0, 1],
             steps=200, eta=3.0, n=512, n_test=1024)
    cfg.update(settings)
    batch_sizes, depths, width, seeds = cfg["batch_sizes"], cfg["depths"], cfg["width"], cfg["seeds"]
    steps, eta, n, n_test = cfg["steps"], cfg["eta"], cfg["n"], cfg["n_test"]
    X, Y, Xt, Yt = T.load_digits(n, n_test=n_test, n_outputs=10)
    labels = Yt.argmax(axis=1)
    out = {"batch_sizes": np.array(batch_sizes), "depths": np.array(depths), "width": width, "steps": steps,
           "eta": eta, "n_samples": n, "n_test": n_test, "n_seeds": len(seeds), "acts": {}}
    for label, slope in BN_ACTS.items():
        act = "relu" if slope == 0 else "leaky_relu"
        acc = np.zeros((len(batch_sizes), len(depths)))
        for b, B in enumerate(batch_sizes):
            for j, L in enumerate(depths):
                accs = []
                for s in seeds:
                    r = T.train(act, L, width, eta, sigma_w2=SW, sigma_b2=SB, data=(X, Y), batch_size=B, steps=steps,
                                seeds=s, batchnorm="all", record=[steps], slope=slope, parameterization="ntk",
                                x_eval=Xt)
                    accs.append(0.0 if r.status == "diverged" else float(np.mean(r.outputs[0, -1].argmax(axis=1) ==
                                                                                 labels)))
                acc[b, j] = np.median(accs)
        deepest = np.array([_crossing(depths, a, BN_ACCURACY) for a in acc])
        lam = np.asarray(BN.gradient_explosion_rate(act, np.array(batch_sizes, dtype=float), slope=slope))
        out["acts"][label] = dict(accuracy=acc, deepest=deepest, rate=lam)
    relu = out["acts"]["relu"]
    # the reference batch size: nearest the middle among those whose depth limit lies inside the grid
    inside = [b for b in range(len(batch_sizes)) if 0 < relu["deepest"][b] < depths[-1]]
    ref = min(inside, key=lambda b: abs(b - len(batch_sizes) // 2)) if inside else len(batch_sizes) // 2
    out["c"] = float(relu["deepest"][ref] * np.log(relu["rate"][ref]))
    out["reference_batch_size"] = batch_sizes[ref]
    for v in out["acts"].values():
        v["predicted"] = out["c"] / np.log(v["rate"])
    return out


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

    from matplotlib.ticker import ScalarFormatter

    bg = bn_gradient_data(fast)
    bt = bn_trainability_data(fast)
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
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
    ax = axes[2]
    for (label, v), marker in zip(bt["acts"].items(), ("o", "s")):
        capped = v["deepest"] >= bt["depths"][-1]
        line, = ax.plot(bt["batch_sizes"][~capped], v["deepest"][~capped], marker, ls="none",
                        label=f"{label}: deepest trainable (measured)")
        if capped.any():
            ax.plot(bt["batch_sizes"][capped], v["deepest"][capped], "^", color=line.get_color(), ms=9,
                    label=f"{label}: trainable at every depth up to {bt['depths'][-1]}")
        ax.plot(bt["batch_sizes"], v["predicted"], "--", color=line.get_color(),
                label=f"{label}: c / log lambda(B)")
    ax.axhline(bt["depths"][-1], color="0.7", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(bt["batch_sizes"])
    ax.set_xticklabels([str(B) for B in bt["batch_sizes"]])
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size B")
    ax.set_ylabel("depth")
    ax.set_title(f"SGD on digits ({bt['n_samples']} images), width {bt['width']}, {bt['steps']} steps, "
                 f"eta = {bt['eta']:g} (NTK param.);\ntrainable: test accuracy >= {BN_ACCURACY:g}; "
                 f"c = {bt['c']:.3g} fitted at B = {bt['reference_batch_size']} (ReLU)", fontsize=8)
    ax.legend(fontsize=7)
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
    rows = []
    for label, v in bt["acts"].items():
        for b, B in enumerate(bt["batch_sizes"]):
            for j, L in enumerate(bt["depths"]):
                rows.append([label, B, L, v["accuracy"][b, j], v["rate"][b], v["deepest"][b], v["predicted"][b]])
    files.append(write_rows(out / "bn_trainability.csv",
                            ["activation", "batch_size", "depth", "test_accuracy", "rate_theory", "deepest_trainable",
                             "predicted_depth"], rows,
                            meta={"width": bt["width"], "steps": bt["steps"], "eta": bt["eta"],
                                  "parameterization": "ntk", "n_samples": bt["n_samples"], "n_test": bt["n_test"],
                                  "seeds": bt["n_seeds"], "c": bt["c"],
                                  "reference_batch_size": bt["reference_batch_size"],
                                  "trainable": f"median test accuracy >= {BN_ACCURACY} (chance 0.1)"}))

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
