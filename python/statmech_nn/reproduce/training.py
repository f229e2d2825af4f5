"""Experiments on trained networks, each against its theory twin (statmech_nn.training).

``python -m statmech_nn reproduce training --out DIR [--fast]`` writes into ``DIR/training``:

* ``lr_boundary.png`` / ``lr_boundary.csv``: loss after a fixed number of full-batch GD steps
  (relative to the initial loss) over eta / eta_c and width (ReLU, depth 3, sigma_w2 = 2,
  sigma_b2 = 0.1, Gaussian data with teacher targets), eta_c = 2 / lambda_max of each network's
  empirical Fisher information (Karakida, Akaho & Amari 2019); the loss first grows above 1, and
  the mean-field eta_c of :func:`statmech_nn.fisher.eigen_stats` next to the empirical one. With
  batch norm in the last layer (mean-subtracted outputs) the bound is that of the centred Fisher
  information and no longer shrinks like 1/width (Karakida, Akaho & Amari 2019, NeurIPS).
* ``ntk_regime.png`` / ``ntk_regime.csv``: the distance between full-batch GD of a network (NTK
  parameterisation) and :func:`statmech_nn.ntk.predict_gd_mse` with its initial NTK, relative to
  |y|, against width, and the fitted exponent (Lee et al. 2019 predict width^-1/2).
* ``bn_gradients.png`` / ``bn_gradients.csv``: the gradient norm per layer of deep batch-norm
  networks (no skip connections) against the growth rate of
  :func:`statmech_nn.batchnorm.gradient_explosion_rate` (Yang, Pennington, Rao, Sohl-Dickstein &
  Schoenholz 2019), and the loss after SGD against depth.
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
from ._csv import write_columns

ACT, SW, SB, DEPTH = "relu", 2.0, 0.1, 3


def lr_boundary_data(fast: bool) -> dict:
    """Loss after `steps` GD steps over the grid (width, eta / eta_c), median over seeds."""
    widths = [32, 64] if fast else [128, 256, 512, 1024]
    factors = np.array([0.25, 0.7, 1.4, 4.0]) if fast else np.geomspace(0.25, 4.0, 9)
    seeds = [0, 1] if fast else [0, 1, 2]
    n, steps = (32, 10) if fast else (128, 20)
    out = {"widths": np.array(widths), "factors": factors, "steps": steps, "n_samples": n}
    for bn in ("none", "last"):
        ratio = np.zeros((len(widths), len(factors)))
        grows = np.zeros_like(ratio)
        eta_c = np.zeros(len(widths))
        for i, w in enumerate(widths):
            fe = F.empirical(ACT, DEPTH, SW, SB, width=w, n_samples=n, seeds=seeds, batchnorm=bn)
            eta_c[i] = np.mean(2.0 / fe.lambda_max)
            for j, f in enumerate(factors):
                r_s, g_s = [], []
                for k, s in enumerate(seeds):
                    r = T.train(ACT, DEPTH, w, f * 2.0 / fe.lambda_max[k], sigma_w2=SW, sigma_b2=SB, n_samples=n,
                                steps=steps, seeds=s, batchnorm=bn)
                    r_s.append(np.inf if r.status == "diverged" else r.loss[0, -1] / r.loss[0, 0])
                    g_s.append(r.loss[0, 1:4].max() / r.loss[0, 0] if np.all(np.isfinite(r.loss[0, :4])) else np.inf)
                ratio[i, j] = np.median(r_s)
                grows[i, j] = np.median(g_s)
        out[bn] = dict(ratio=ratio, early=grows, eta_c=eta_c,
                       eta_c_theory=np.asarray(F.eigen_stats(ACT, DEPTH, SW, SB, width=np.array(widths, float),
                                                             n_samples=n, batchnorm=bn).eta_c))
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
    return dict(widths=np.array(widths), dev=dev, mean=mean, exponent=slope, intercept=icpt)


def bn_gradient_data(fast: bool) -> dict:
    depths = [4, 8] if fast else [5, 10, 20, 50, 100]
    batch_sizes = [8] if fast else [4, 8, 32, 128]
    width = 64 if fast else 256
    seeds = [0] if fast else [0, 1]
    steps = 10 if fast else 50
    out = {"depths": np.array(depths), "batch_sizes": np.array(batch_sizes), "rate_measured": [],
           "rate_theory": np.asarray(BN.gradient_explosion_rate(ACT, np.array(batch_sizes, dtype=float))),
           "loss_ratio": np.zeros((len(batch_sizes), len(depths)))}
    for b, B in enumerate(batch_sizes):
        n = 4 * B
        slopes = []
        for j, L in enumerate(depths):
            ratios = []
            for s in seeds:
                r = T.train(ACT, L, width, 1e-2, sigma_w2=SW, sigma_b2=SB, n_samples=n, batch_size=B, steps=steps,
                            seeds=s, batchnorm="all", record=[0, steps])
                g = np.log(r.grad_norm[0, 0, :-1] ** 2)         # weight layers 1..L (read-out left out)
                if j == len(depths) - 1:
                    slopes.append(-np.polyfit(np.arange(g.size), g, 1)[0])
                ratios.append(np.inf if r.status == "diverged" else r.loss[0, -1] / r.loss[0, 0])
            out["loss_ratio"][b, j] = np.median(ratios)
        out["rate_measured"].append(np.exp(np.mean(slopes)))
    out["rate_measured"] = np.array(out["rate_measured"])
    return out


def isometry_data(fast: bool) -> dict:
    sb2 = 0.05
    sw2 = float(MF.critical_line("tanh", [sb2]).sigma_w2[0])
    depth = 8 if fast else 32
    width = 64 if fast else 256
    steps = 30 if fast else 200
    seeds = [0, 1] if fast else [0, 1, 2]
    n = 64
    out = {"sigma_w2": sw2, "sigma_b2": sb2, "depth": depth}
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
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, bn in zip(axes, ("none", "last")):
        for i, w in enumerate(lr["widths"]):
            ax.loglog(lr["factors"], np.minimum(lr[bn]["ratio"][i], 1e3), "o-", label=f"width {w}")
        ax.axvline(1.0, color="k", ls="--", lw=1, label=r"$\eta = 2/\lambda_{max}$")
        ax.set_xlabel(r"$\eta / \eta_c$ (empirical Fisher information of each network)")
        ax.set_ylabel(f"loss after {lr['steps']} steps / initial loss")
        ax.set_title(f"ReLU, depth {DEPTH}, batchnorm={bn!r}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "lr_boundary.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    W, Fa = np.meshgrid(lr["widths"], lr["factors"], indexing="ij")
    files.append(write_columns(out / "lr_boundary.csv", {
        "width": W, "eta_over_eta_c": Fa, "loss_ratio": lr["none"]["ratio"], "early_growth": lr["none"]["early"],
        "loss_ratio_bn_last": lr["last"]["ratio"], "early_growth_bn_last": lr["last"]["early"],
        "eta_c_empirical": np.repeat(lr["none"]["eta_c"][:, None], Fa.shape[1], axis=1),
        "eta_c_theory": np.repeat(lr["none"]["eta_c_theory"][:, None], Fa.shape[1], axis=1),
        "eta_c_bn_last_empirical": np.repeat(lr["last"]["eta_c"][:, None], Fa.shape[1], axis=1),
        "eta_c_bn_last_theory": np.repeat(lr["last"]["eta_c_theory"][:, None], Fa.shape[1], axis=1)}))

    nt = ntk_regime_data(fast)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(nt["widths"], nt["dev"], ".", color="0.6")
    ax.loglog(nt["widths"], nt["mean"], "o", label="GD vs predict_gd_mse (mean over seeds)")
    ax.loglog(nt["widths"], np.exp(nt["intercept"]) * nt["widths"] ** nt["exponent"], "-",
              label=f"fit: width^{nt['exponent']:.2f}")
    ax.set_xlabel("width")
    ax.set_ylabel(r"max$_t$ |f$_{GD}$ - f$_{NTK}$| / |y|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "ntk_regime.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_columns(out / "ntk_regime.csv", {"width": nt["widths"], "deviation": nt["mean"],
                                                         "fitted_exponent": np.full(len(nt["widths"]), nt["exponent"])}))

    bg = bn_gradient_data(fast)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(bg["batch_sizes"], bg["rate_theory"], "s-", label="gradient_explosion_rate (theory)")
    axes[0].plot(bg["batch_sizes"], bg["rate_measured"], "o", label="trained networks, layer 1 to depth")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("batch size")
    axes[0].set_ylabel("per-layer growth of |grad|^2")
    axes[0].legend(fontsize=8)
    for b, B in enumerate(bg["batch_sizes"]):
        axes[1].semilogy(bg["depths"], np.minimum(bg["loss_ratio"][b], 1e3), "o-", label=f"batch {B}")
    axes[1].set_xlabel("depth")
    axes[1].set_ylabel("loss after SGD / initial loss")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "bn_gradients.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_columns(out / "bn_gradients.csv", {"batch_size": bg["batch_sizes"],
                                                           "rate_theory": bg["rate_theory"],
                                                           "rate_measured": bg["rate_measured"]}))

    iso = isometry_data(fast)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for w in ("gaussian", "orthogonal"):
        ax.semilogy(iso[w]["steps"], iso[w]["loss"],
                    label=f"{w}, best eta {iso[w]['eta']:g} (Jacobian spectrum variance {iso[w]['spectrum_variance']:.3g})")
    ax.set_xlabel("GD step")
    ax.set_ylabel("loss / initial loss")
    ax.set_title(f"tanh, depth {iso['depth']}, chi_1 = 1")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "isometry.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_columns(out / "isometry.csv", {"step": iso["gaussian"]["steps"],
                                                       "loss_gaussian": iso["gaussian"]["loss"],
                                                       "loss_orthogonal": iso["orthogonal"]["loss"]}))
    return files
