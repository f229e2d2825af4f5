"""Figures of the Fisher information and the NTK of deep random networks (Karakida, Akaho & Amari 2019;
Jacot, Gabriel & Hongler 2018).

``python -m statmech_nn reproduce fisher --out DIR [--fast]`` writes into ``DIR/fisher`` (the directory passed to ``run``):

* ``fim_eigen_stats.png`` / ``fim_eigen_stats.csv``: m_lambda, s_lambda and lambda_max against the
  width M (relu, sigma_w2 = 2, sigma_b2 = 0.1, 3 hidden layers, T = 30, C = 1): mean-field theory
  (lines) and empirical FIM spectra of sampled networks (symbols, mean +- sd over seeds);
* ``fim_lambda_max_scaling.png`` / ``fim_lambda_max_scaling.csv``: lambda_max with T = M/4
  inputs, plain vs batch norm (mean subtraction) in the last layer: Theta(M) vs O(1);
* ``ntk_kernel_vs_empirical.png`` / ``ntk_kernel_vs_empirical.csv``: the infinite-width NTK
  (relu, depth 3, NTK parameterisation) on the unit circle x(gamma) = (cos gamma, sin gamma)
  against x(0), with empirical NTKs of sampled networks of widths 64 and 1024 (Jacot et al. Fig. 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from .. import fisher as F
from .. import ntk as K
from ._report import provenance, save_figure
from ._csv import write_columns


ACT, SW, SB, DEPTH = "relu", 2.0, 0.1, 3


def eigen_stats_data(fast: bool) -> dict:
    Ms = np.array([100, 200, 400] if fast else [100, 200, 400, 800, 1600])
    T = 30
    seeds = [0, 1] if fast else [0, 1, 2, 3]
    M_line = np.geomspace(80, Ms[-1] * 1.25, 60)
    th = F.eigen_stats(ACT, DEPTH, SW, SB, width=M_line, n_samples=T)
    sim = {k: [] for k in ("m_lambda", "s_lambda", "lambda_max")}
    sd = {k: [] for k in sim}
    for M in Ms:
        e = F.empirical(ACT, DEPTH, SW, SB, width=int(M), n_samples=T, seeds=seeds)
        for k in sim:
            v = getattr(e, k)
            sim[k].append(v.mean())
            sd[k].append(v.std())
    th_pts = F.eigen_stats(ACT, DEPTH, SW, SB, width=Ms.astype(float), n_samples=T)
    return dict(M_line=M_line, th=th, Ms=Ms, sim=sim, sd=sd, th_pts=th_pts, T=T, n_seeds=len(seeds))


def scaling_data(fast: bool) -> dict:
    Ms = np.array([64, 128, 256] if fast else [64, 128, 256, 512, 1024])
    seeds = [0, 1] if fast else [0, 1, 2]
    out = {"M": Ms, "plain_sim": [], "bn_sim": [], "seeds": seeds}
    for M in Ms:
        T = int(M) // 4
        out["plain_sim"].append(F.empirical(ACT, DEPTH, SW, SB, width=int(M), n_samples=T, seeds=seeds).lambda_max.mean())
        out["bn_sim"].append(F.empirical(ACT, DEPTH, SW, SB, width=int(M), n_samples=T, seeds=seeds,
                                         batchnorm="last").lambda_max.mean())
    out["plain_th"] = F.eigen_stats(ACT, DEPTH, SW, SB, width=Ms.astype(float), n_samples=Ms / 4).lambda_max
    out["bn_th"] = F.eigen_stats(ACT, DEPTH, SW, SB, width=Ms.astype(float), n_samples=Ms / 4,
                                 batchnorm="last").lambda_max
    return out


def ntk_data(fast: bool) -> dict:
    gamma = np.linspace(-np.pi, np.pi, 41 if fast else 121)
    x = np.stack([np.cos(gamma), np.sin(gamma)], axis=1)
    x0 = np.array([[1.0, 0.0]])
    th = K.kernels(x0, x, ACT, DEPTH, SW, SB).ntk[0]
    widths = [64, 1024]
    seeds = range(4 if fast else 10)
    emp = {w: K.empirical(x0, x, ACT, DEPTH, SW, SB, width=w, seeds=seeds).ntk[:, 0, :] for w in widths}
    return dict(gamma=gamma, th=th, emp=emp, n_seeds=len(seeds))


def run(out_dir: Path, fast: bool = False) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: List[Path] = []

    d = eigen_stats_data(fast)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, key, lab in zip(axes, ("m_lambda", "s_lambda", "lambda_max"),
                            (r"$m_\lambda$", r"$s_\lambda$", r"$\lambda_{max}$")):
        ax.loglog(d["M_line"], getattr(d["th"], key), "-", label="theory")
        ax.errorbar(d["Ms"], d["sim"][key], yerr=d["sd"][key], fmt="o", mfc="none", label="empirical FIM")
        ax.set_xlabel("width M")
        ax.set_title(lab)
    axes[0].legend()
    fig.suptitle(f"FIM eigenvalue statistics, {ACT}, depth {DEPTH}, $\\sigma_w^2$ = {SW:g}, $\\sigma_b^2$ = {SB:g}, "
                 f"T = {d['T']} inputs, C = 1; empirical: mean ± sd over {d['n_seeds']} seeds")
    fig.tight_layout()
    files.append(out / "fim_eigen_stats.png")
    save_figure(fig, files[-1], dpi=110)
    files.append(write_columns(out / "fim_eigen_stats.csv", {
        "M": d["Ms"], "mean_theory": d["th_pts"].m_lambda, "mean_sim": d["sim"]["m_lambda"],
        "second_moment_theory": d["th_pts"].s_lambda, "second_moment_sim": d["sim"]["s_lambda"],
        "lambda_max_theory": d["th_pts"].lambda_max, "lambda_max_sim": d["sim"]["lambda_max"],
        "lambda_max_sim_sd": d["sd"]["lambda_max"]},
        provenance(activation=ACT, depth=DEPTH, sigma_w2=SW, sigma_b2=SB, n_samples=d["T"], n_outputs=1,
                   seeds=d["n_seeds"])))

    s = scaling_data(fast)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(s["M"], s["plain_th"], "-", color="C0", label="plain: theory")
    ax.loglog(s["M"], s["plain_sim"], "o", color="C0", mfc="none", label="plain: empirical")
    ax.loglog(s["M"], s["bn_th"], "--", color="C1", label="BN last layer: lower bound (leading order)")
    ax.loglog(s["M"], s["bn_sim"], "s", color="C1", mfc="none", label="BN last layer: empirical")
    ax.set_xlabel("width M (T = M/4 inputs)")
    ax.set_ylabel(r"$\lambda_{max}$ of the FIM")
    ax.set_title(f"{ACT}, depth {DEPTH}, $\\sigma_w^2$ = {SW:g}, $\\sigma_b^2$ = {SB:g}, C = 1; "
                 f"{len(s['seeds'])} seeds", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "fim_lambda_max_scaling.png")
    save_figure(fig, files[-1], dpi=110)
    files.append(write_columns(out / "fim_lambda_max_scaling.csv", {
        "M": s["M"], "T": s["M"] // 4, "plain_theory": s["plain_th"], "plain_sim": s["plain_sim"],
        "bn_theory": s["bn_th"], "bn_sim": s["bn_sim"]},
        provenance(activation=ACT, depth=DEPTH, sigma_w2=SW, sigma_b2=SB, n_outputs=1, seeds=len(s["seeds"]))))

    n = ntk_data(fast)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(n["gamma"], n["th"], "k-", lw=2, label="infinite width")
    cols = {}
    for c, (w, e) in zip(("C0", "C3"), n["emp"].items()):
        for i, row in enumerate(e):
            ax.plot(n["gamma"], row, color=c, alpha=0.35, lw=0.8, label=f"width {w}" if i == 0 else None)
        cols[f"width{w}_mean"] = e.mean(0)
        cols[f"width{w}_sd"] = e.std(0)
    ax.set_xlabel(r"$\gamma$")
    ax.set_ylabel(r"$\Theta(x(0), x(\gamma))$")
    ax.set_title(f"NTK on the unit circle, {ACT}, depth {DEPTH}, $\\sigma_w^2$ = {SW:g}, $\\sigma_b^2$ = {SB:g}; "
                 f"{n['n_seeds']} sampled networks per width", fontsize=9)
    ax.legend()
    fig.tight_layout()
    files.append(out / "ntk_kernel_vs_empirical.png")
    save_figure(fig, files[-1], dpi=110)
    files.append(write_columns(out / "ntk_kernel_vs_empirical.csv", {"gamma": n["gamma"], "theory": n["th"], **cols},
                               provenance(activation=ACT, depth=DEPTH, sigma_w2=SW, sigma_b2=SB,
                                          seeds=n["n_seeds"])))
    return files
