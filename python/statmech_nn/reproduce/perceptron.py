"""Reproduce Figs. 2, 3 and 4 of Y. Yoshida, R. Karakida, M. Okada and S. Amari, "Analysis of on-line
learning with weight normalization in single layer perceptron using statistical mechanical
approach" (JSAI annual conference): weight normalisation (Salimans & Kingma 2016) in on-line
perceptron learning.

``python -m statmech_nn reproduce perceptron --out DIR [--fast]`` writes into ``DIR/perceptron``:

* ``fig2_order_parameters.png`` / ``fig2_{sgd,wn}.csv``: l, R, z, eps_g from the ODE (lines) and
  the N = 10000 simulation (symbols), g(x) = x, eta = 0.1, l0 = 1, z0 = 0.05;
* ``fig3_time_to_error.png`` / ``fig3.csv``: time to eps_g < 0.01 against eta (l0 = 1 and 0.1) and
  against l0 (eta = 0.01), erf, SGD vs WN;
* ``fig4_time_to_error_maps.png`` / ``fig4.csv``: 2-D maps over (eta, l0), g(x) = x: SGD, WN, the
  ratio WN/SGD and eta/z^2 at the crossing.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from .. import perceptron as P
from . import _report
from ._report import save_figure

def _meta(**parameters):
    """The CSVs' "# key: value" provenance header (package version and the figure's parameters)."""
    from ._report import provenance

    return provenance(**parameters)
from ._csv import write_columns


def fig2_data(fast: bool) -> dict:
    N = 1000 if fast else 10_000
    T = 20.0 if fast else 40.0
    seeds = [0] if fast else [0, 1]
    t_sim = np.linspace(0, T, 21)
    out = {}
    for rule in ("sgd", "wn"):
        th = P.ode("linear", rule, 0.1, 1.0, 0.0, 0.05, t=np.linspace(0, T, 401))
        sim = P.simulate("linear", rule, 0.1, 1.0, N=N, t=t_sim, seeds=seeds, z0=0.05)
        out[rule] = (th, sim)
    return out


def fig3_data(fast: bool) -> dict:
    n = 25 if fast else 60
    eta = np.logspace(-2, 1, n)
    l0 = np.logspace(-1, 1, n)
    out = {"eta": eta, "l0": l0}
    for rule in ("sgd", "wn"):
        out[f"{rule}_a"] = P.time_to_error("erf", rule, eta, 1.0).time
        out[f"{rule}_b"] = P.time_to_error("erf", rule, eta, 0.1).time
        out[f"{rule}_c"] = P.time_to_error("erf", rule, 0.01, l0).time
    return out


def fig4_data(fast: bool) -> dict:
    n = 30 if fast else 100
    eta = np.logspace(-2, 1, n)
    l0 = np.logspace(-1, 1, n)
    sgd = P.time_to_error("linear", "sgd", eta[:, None], l0[None, :], progress=_report.bars())
    wn = P.time_to_error("linear", "wn", eta[:, None], l0[None, :], progress=_report.bars())
    return {"eta": eta, "l0": l0, "sgd": sgd, "wn": wn}


def run(out_dir: Path, fast: bool) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, TwoSlopeNorm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: List[Path] = []

    # ---- Fig. 2 ----
    d2 = fig2_data(fast)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, rule in zip(axes, ("sgd", "wn")):
        th, sim = d2[rule]
        ax.plot(th.t, th.l, "C0-", label="l (ODE)")
        ax.plot(th.t, th.R, "C1-", label="R (ODE)")
        ax.plot(th.t, th.eg, "C2-", label="eps_g (ODE)")
        n_seeds = len(sim.seeds)
        ax.plot(sim.t, sim.l_mean, "o", mfc="none", mec="C0",
                label=f"l (sim, N={sim.N}, {n_seeds} seed{'s' if n_seeds > 1 else ''})")
        ax.plot(sim.t, sim.R_mean, "o", color="C1", label="R (sim)")
        ax.plot(sim.t, sim.eg_mean, "x", color="C2", label="eps_g (sim)")
        cols = {"t": th.t, "l": th.l, "R": th.R, "eg": th.eg}
        if rule == "wn":
            ax.plot(th.t, th.z, "C3-", label="z (ODE)")
            ax.plot(sim.t, sim.z_mean, "D", mfc="none", mec="C3", label="z (sim)")
            cols["z"] = th.z
        ax.set_title(f"({'a' if rule == 'sgd' else 'b'}) {rule.upper()}, g(x) = x, eta = 0.1, l0 = 1, R0 = 0"
                     + (", z0 = 0.05" if rule == "wn" else ""), fontsize=10)
        ax.set_xlabel("t = steps / N")
        ax.set_ylabel("order parameter")
        ax.legend(fontsize=7)
        meta = _meta(figure="Fig. 2 (Yoshida, Karakida, Okada & Amari)", activation="linear", rule=rule,
                          eta=0.1, l0=1.0, R0=0.0, z0=0.05)
        files.append(write_columns(out_dir / f"fig2_{rule}_ode.csv", cols, meta))
        sc = {"t": sim.t, "l": sim.l_mean, "R": sim.R_mean, "eg": sim.eg_mean}
        if rule == "wn":
            sc["z"] = sim.z_mean
        files.append(write_columns(out_dir / f"fig2_{rule}_simulation.csv", sc,
                                   meta and dict(meta, N=sim.N, seeds=" ".join(map(str, sim.seeds)),
                                                 values="mean over seeds")))
    fig.suptitle("On-line learning of a perceptron: ODE (lines) vs simulation (symbols)", fontsize=10)
    fig.tight_layout()
    p = out_dir / "fig2_order_parameters.png"
    save_figure(fig, p, dpi=120)
    files.append(p)

    # ---- Fig. 3 ----
    d3 = fig3_data(fast)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, x, title in (
        (axes[0], "a", d3["eta"], "(a) l0 = 1"),
        (axes[1], "b", d3["eta"], "(b) l0 = 0.1"),
        (axes[2], "c", d3["l0"], "(c) eta = 0.01"),
    ):
        ax.loglog(x, d3[f"sgd_{key}"], color="0.6", lw=2, label="SGD")
        ax.loglog(x, d3[f"wn_{key}"], color="k", lw=1.5, label="WN")
        ax.set_xlabel("l0" if key == "c" else "eta")
        ax.set_ylabel("time to eps_g < 0.01")
        ax.set_title(title + ", g = erf(x/sqrt2)", fontsize=10)
        ax.legend()
    fig.suptitle("Time to eps_g < 0.01 from the ODE (R0 = 0; WN: z0 = 0.05; t_max = 1e5, "
                 "missing: never reached)", fontsize=10)
    fig.tight_layout()
    p = out_dir / "fig3_time_to_error.png"
    save_figure(fig, p, dpi=120)
    files.append(p)
    meta = _meta(figure="Fig. 3 (Yoshida, Karakida, Okada & Amari)", activation="erf", threshold=0.01,
                      R0=0.0, z0=0.05, t_max=1e5, values="time to eps_g <= threshold (inf: never reached)")
    files.append(write_columns(out_dir / "fig3_vs_eta.csv", {"eta": d3["eta"], "sgd_l0_1": d3["sgd_a"],
                                                           "wn_l0_1": d3["wn_a"], "sgd_l0_0.1": d3["sgd_b"],
                                                           "wn_l0_0.1": d3["wn_b"]}, meta))
    files.append(write_columns(out_dir / "fig3_vs_l0.csv", {"l0": d3["l0"], "sgd_eta_0.01": d3["sgd_c"],
                                                          "wn_eta_0.01": d3["wn_c"]}, meta))

    # ---- Fig. 4 ----
    d4 = fig4_data(fast)
    eta, l0, sgd, wn = d4["eta"], d4["l0"], d4["sgd"], d4["wn"]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    extent = dict(x=l0, y=eta)
    finite = np.concatenate([sgd.time[np.isfinite(sgd.time)], wn.time[np.isfinite(wn.time)]])
    tnorm = LogNorm(vmin=finite.min(), vmax=finite.max())
    for ax, data, title in ((axes[0], sgd.time, "(a) SGD"), (axes[1], wn.time, "(b) WN")):
        m = ax.pcolormesh(extent["x"], extent["y"], np.ma.masked_invalid(data), norm=tnorm, shading="auto")
        fig.colorbar(m, ax=ax, label="time to eps_g < 0.01")
        ax.set_title(title + ", g(x) = x")
    both = np.isfinite(wn.time) & np.isfinite(sgd.time)
    ratio = np.full(wn.time.shape, np.nan)
    ratio[both] = wn.time[both] / sgd.time[both]
    lr = np.log10(np.ma.masked_invalid(ratio))
    m = axes[2].pcolormesh(l0, eta, lr, cmap="RdBu_r", shading="auto",
                           norm=TwoSlopeNorm(vcenter=0.0, vmin=min(float(lr.min()), -1e-3), vmax=max(float(lr.max()), 1e-3)))
    fig.colorbar(m, ax=axes[2], label="log10(WN / SGD)  (masked: SGD never)")
    axes[2].set_title("(c) ratio WN / SGD")
    m = axes[3].pcolormesh(l0, eta, np.ma.masked_invalid(wn.eta_eff), norm=LogNorm(), shading="auto")
    fig.colorbar(m, ax=axes[3], label="eta / z^2 at eps_g = 0.01")
    axes[3].set_title("(d) WN effective learning rate (eta_c/2 = 1)")
    for k, ax in enumerate(axes):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("l0")
        ax.set_ylabel("eta")
        # the slices of Fig. 3: l0 = 1 and l0 = 0.1 (against eta), eta = 0.01 (against l0)
        for x in (1.0, 0.1):
            ax.axvline(x, color="w" if k < 2 else "k", ls="--", lw=1.0)
        ax.axhline(0.01, color="w" if k < 2 else "k", ls="--", lw=2.0, clip_on=False,  # the bottom edge
                   label="l0 = 1, 0.1; eta = 0.01 (the slices of Fig. 3)" if k == 0 else None)
    axes[0].legend(loc="upper right", fontsize=7, facecolor="0.85")
    fig.suptitle("Time to eps_g < 0.01 over (eta, l0), g(x) = x, R0 = 0, WN: z0 = 0.05, t_max = 1e5; "
                 "white: never reached (SGD diverges for eta > eta_c = 2)", fontsize=10)
    fig.tight_layout()
    p = out_dir / "fig4_time_to_error_maps.png"
    save_figure(fig, p, dpi=120)
    files.append(p)
    E, L = np.meshgrid(eta, l0, indexing="ij")
    files.append(write_columns(out_dir / "fig4.csv", {"eta": E, "l0": L, "time_sgd": sgd.time, "time_wn": wn.time,
                                                    "ratio_wn_sgd": ratio, "eta_eff_wn": wn.eta_eff},
                               _meta(figure="Fig. 4 (Yoshida, Karakida, Okada & Amari)", activation="linear",
                                          threshold=0.01, R0=0.0, z0=0.05, t_max=1e5,
                                          values="time to eps_g <= threshold (inf: never reached)")))
    return files
