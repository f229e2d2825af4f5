"""Reproduce the batch-norm mean field of Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz, "A mean field theory of batch normalization" (ICLR 2019).

``python -m statmech_nn reproduce batchnorm --out DIR [--fast]`` writes into ``DIR/batchnorm``:

* ``gradient_explosion_rate.png`` / ``gradient_explosion_rate.csv``: lambda_G(B) (per-layer factor of
  |grad|^2 at the BSB1 fixed point) for linear, relu, tanh, erf, gelu, with the B -> inf limits
  E[phi'^2]/Var phi (dashed) and the growth measured in real deep BN networks (symbols, mean and
  spread over seeds; width 1000, sigma_w2 = 2, sigma_b2 = 0.1);
* ``bsb1_convergence.png`` / ``bsb1_convergence.csv``: distance of Sigma^l from the BSB1 fixed point
  against depth (mean-field map, lines: exact Laplace quadrature for relu, Monte Carlo for tanh off
  the BSB1 form; simulated networks, symbols, which stop at the O(sqrt(2/M)) finite-width noise)
  and the simulated q^l, c^l.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List

import numpy as np

from .. import batchnorm as bn
from ._report import provenance, save_figure
from ._csv import write_columns

SIGMA_W2, SIGMA_B2 = 2.0, 0.1


def rate_data(fast: bool) -> dict:
    acts = ["linear", "relu", "tanh", "erf", "gelu"]
    B_theory = np.unique(np.round(np.geomspace(4, 1000, 40)).astype(int))
    B_sim = [5, 8, 16] if fast else [4, 5, 6, 8, 12, 16, 32, 64]
    sim_acts = ["linear", "relu", "tanh"]
    width, depth = (400, 20) if fast else (1000, 50)
    seeds = [0, 1] if fast else [0, 1, 2, 3]
    out = {"B": B_theory, "acts": acts, "B_sim": np.array(B_sim), "sim_acts": sim_acts, "width": width,
           "depth": depth, "seeds": seeds}
    for a in acts:
        out[a] = bn.gradient_explosion_rate(a, B_theory)
        out[a + "_limit"] = bn.gradient_explosion_rate(a, math.inf)
    for a in sim_acts:
        rates = []
        for B in B_sim:
            sim = bn.simulate(a, B, depth, width, SIGMA_W2, SIGMA_B2, seeds=seeds)
            rates.append(sim.growth_rate(5, depth - 2))
        out[a + "_sim"] = np.array(rates)  # (len(B_sim), n_seeds)
    return out


def convergence_data(fast: bool) -> dict:
    B = 8
    depth = 20 if fast else 40
    width = 400 if fast else 2000
    seeds = [0, 1] if fast else [0, 1, 2, 3]
    S0 = np.diag(np.linspace(0.3, 3.0, B))
    S0[-1, -2] = S0[-2, -1] = 1.0
    n_samples = 50_000 if fast else 400_000
    out = {"B": B, "layers": np.arange(depth + 1), "width": width, "seeds": seeds, "n_samples": n_samples}
    for a in ("relu", "tanh"):
        fp = bn.fixed_point(a, B, SIGMA_W2, SIGMA_B2)
        traj = bn.covariance_trajectory(a, S0, depth, SIGMA_W2, SIGMA_B2, n_samples=n_samples)
        sim = bn.simulate(a, B, depth, width, SIGMA_W2, SIGMA_B2, seeds=seeds, Sigma0=S0)
        out[a] = dict(
            q_star=fp.q_star, c_star=fp.c_star,
            dist_theory=np.max(np.abs(traj - fp.Sigma), axis=(1, 2)) / fp.q_star,
            dist_sim=np.max(np.abs(sim.Sigma - fp.Sigma), axis=(2, 3)).mean(axis=0) / fp.q_star,
            q_sim=sim.q.mean(axis=0), c_sim=sim.c.mean(axis=0),
        )
    return out


def run(out_dir: Path, fast: bool) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    files: List[Path] = []

    d = rate_data(fast)
    cols = {"B": d["B"]}
    for a in d["acts"]:
        cols[f"lambda_G_{a}"] = d[a]
    for a in d["acts"]:  # the dashed B -> inf lines
        cols[f"lambda_G_{a}_B_inf"] = np.full(d["B"].shape, d[a + "_limit"])
    meta = provenance(sigma_w2=SIGMA_W2, sigma_b2=SIGMA_B2, width=d["width"], depth=d["depth"],
                      seeds=len(d["seeds"]))
    files.append(write_columns(out_dir / "gradient_explosion_rate.csv", cols, meta))
    sim_cols = {"B": np.repeat(d["B_sim"], d[d["sim_acts"][0] + "_sim"].shape[1])}
    for a in d["sim_acts"]:
        sim_cols[f"sim_{a}"] = d[a + "_sim"].ravel()
        sim_cols[f"theory_{a}"] = np.repeat(bn.gradient_explosion_rate(a, d["B_sim"][d["B_sim"] >= 4]),
                                            d[a + "_sim"].shape[1])
    files.append(write_columns(out_dir / "gradient_explosion_rate_simulation.csv", sim_cols, meta))

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = dict(zip(d["acts"], plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for a in d["acts"]:
        ax.plot(d["B"], d[a], color=colors[a], label=a)
        ax.axhline(d[a + "_limit"], color=colors[a], ls="--", lw=0.8)
    for a in d["sim_acts"]:
        r = d[a + "_sim"]
        ax.errorbar(d["B_sim"], r.mean(axis=1), yerr=r.std(axis=1), fmt="o", ms=4, color=colors[a], capsize=2)
    ax.set_xscale("log")
    ax.set_ylim(0.9, 3.5)
    ax.set_xlabel("batch size B")
    ax.set_ylabel(r"$\lambda_G$ (growth of $|\nabla|^2$ per layer)")
    ax.set_title("BN gradient explosion: theory (lines), B→∞ (dashed), networks (dots)\n"
                 f"$\\sigma_w^2$ = {SIGMA_W2:g}, $\\sigma_b^2$ = {SIGMA_B2:g}; networks: width {d['width']}, "
                 f"depth {d['depth']}, {len(d['seeds'])} seeds (mean ± sd)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = out_dir / "gradient_explosion_rate.png"
    save_figure(fig, p, dpi=120)
    files.append(p)

    c = convergence_data(fast)
    cols = {"layer": c["layers"]}
    for a in ("relu", "tanh"):
        for k in ("dist_theory", "dist_sim", "q_sim", "c_sim"):
            cols[f"{a}_{k}"] = c[a][k]
    files.append(write_columns(out_dir / "bsb1_convergence.csv", cols,
                               provenance(batch_size=8, sigma_w2=SIGMA_W2, sigma_b2=SIGMA_B2,
                                          n_samples=c["n_samples"])))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for a, col in (("relu", "C0"), ("tanh", "C1")):
        how = "Laplace quadrature" if a == "relu" else f"Monte Carlo, {c['n_samples']:,} samples"
        axes[0].semilogy(c["layers"], c[a]["dist_theory"], color=col, label=f"{a}: BN map ({how})")
        axes[0].semilogy(c["layers"], c[a]["dist_sim"], "o", ms=3, color=col, label=f"{a}: network")
        axes[1].plot(c["layers"], c[a]["q_sim"] / c[a]["q_star"], "o", ms=3, color=col, label=f"{a}: q/q*")
        axes[1].plot(c["layers"], c[a]["c_sim"] - c[a]["c_star"], "s", ms=3, mfc="none", color=col,
                     label=f"{a}: c - c*")
    axes[0].axhline(math.sqrt(2.0 / c["width"]), color="k", ls=":", lw=0.8, label=r"$\sqrt{2/M}$ (finite width)")
    axes[0].set_xlabel("layer l")
    axes[0].set_ylabel(r"$\max|\Sigma^l-\Sigma^*|/q^*$")
    axes[0].set_title("(a) convergence to the BSB1 fixed point", fontsize=10)
    axes[0].legend(fontsize=8)
    axes[1].axhline(1.0, color="k", lw=0.5)
    axes[1].axhline(0.0, color="k", lw=0.5)
    axes[1].set_xlabel("layer l")
    axes[1].set_title("(b) networks: q, c against the fixed point", fontsize=10)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Batch norm, B = {c['B']}, $\\sigma_w^2$ = {SIGMA_W2:g}, $\\sigma_b^2$ = {SIGMA_B2:g}; networks: "
                 f"width {c['width']}, {len(c['seeds'])} seeds (mean)", fontsize=10)
    fig.tight_layout()
    p = out_dir / "bsb1_convergence.png"
    save_figure(fig, p, dpi=120)
    files.append(p)
    return files
