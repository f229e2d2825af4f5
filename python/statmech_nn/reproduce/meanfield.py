"""Figures of the mean-field theory of deep random networks (Poole et al. 2016; Schoenholz et al. 2017;
Pennington, Schoenholz & Ganguli 2017/2018).

``python -m statmech_nn reproduce meanfield --out DIR [--fast]`` writes:

* ``phase_diagram.png/.csv``: chi1 over (sigma_w2, sigma_b2) for tanh with the critical line
  chi1 = 1 and the depth scale xi_c;
* ``signal_propagation.png/.csv``: q^l and c^l through depth, theory vs sampled networks, in the
  ordered and the chaotic phase;
* ``gradients.png/.csv``: gradient norms through depth (theory chi1^{L-l} vs simulation);
* ``jacobian_spectra.png/.csv``: spectral densities of J J^T (Gaussian vs orthogonal weights,
  ReLU vs hard-tanh at criticality) with histograms of sampled networks.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
from ._csv import write_rows


def run(out_dir: Path, fast: bool) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import meanfield as mf

    out_dir = Path(out_dir)
    files: List[Path] = []

    # ---- phase diagram ---------------------------------------------------------------------
    n = 30 if fast else 120
    sw2 = np.linspace(0.5, 4.0, n)
    sb2 = np.linspace(0.0, 0.3, n)
    pd = mf.phase_diagram("tanh", sw2, sb2, with_correlation=not fast)
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    im = ax[0].pcolormesh(sb2, sw2, pd.chi1, shading="auto", cmap="RdBu_r", vmin=0.5, vmax=1.5)
    ax[0].plot(sb2, pd.critical_sigma_w2, "k-", lw=2, label=r"$\chi_1 = 1$")
    ax[0].set_xlabel(r"$\sigma_b^2$")
    ax[0].set_ylabel(r"$\sigma_w^2$")
    ax[0].set_title(r"tanh: $\chi_1$ (order below, chaos above)")
    ax[0].legend(loc="upper left")
    fig.colorbar(im, ax=ax[0])
    xi = pd.xi_c if not fast else -1 / np.log(np.where(pd.chi1 < 1, pd.chi1, np.nan))
    im2 = ax[1].pcolormesh(sb2, sw2, np.log10(np.clip(xi, 1e-1, 1e4)), shading="auto", cmap="viridis")
    ax[1].plot(sb2, pd.critical_sigma_w2, "w--", lw=1.5)
    ax[1].set_xlabel(r"$\sigma_b^2$")
    ax[1].set_title(r"$\log_{10} \xi_c$" + (" (ordered side)" if fast else ""))
    fig.colorbar(im2, ax=ax[1])
    fig.tight_layout()
    files.append(out_dir / "phase_diagram.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_rows(out_dir / "phase_diagram.csv", ["sigma_b2", "critical_sigma_w2", "critical_q_star"],
                            zip(sb2, pd.critical_sigma_w2, pd.critical_q_star)))

    # ---- signal propagation ------------------------------------------------------------------
    M = 300 if fast else 1500
    S = 2 if fast else 6
    L = 10 if fast else 25
    rows = []
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for (w, b, label, col) in [(1.0, 0.05, "ordered", "C0"), (2.5, 0.05, "chaotic", "C3")]:
        th = mf.forward("tanh", w, b, L, q_in=1.5, c_in=0.3)
        sim = mf.simulate("tanh", w, b, L, M, q_in=1.5, c_in=0.3, seeds=range(1, 1 + S), gradients=False)
        ax[0].plot(th.layer, th.q_a, "-", color=col, label=f"{label} theory")
        ax[0].errorbar(th.layer, sim.q_a.mean(0), sim.q_a.std(0), fmt="o", color=col, ms=3, label=f"{label} M={M}")
        ax[1].plot(th.layer, th.c, "-", color=col)
        ax[1].errorbar(th.layer, sim.c.mean(0), sim.c.std(0), fmt="o", color=col, ms=3)
        for i in range(L):
            rows.append([label, w, b, int(th.layer[i]), th.q_a[i], sim.q_a[:, i].mean(), th.c[i], sim.c[:, i].mean()])
    ax[0].set_xlabel("layer l")
    ax[0].set_ylabel(r"$q^l$")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("layer l")
    ax[1].set_ylabel(r"$c^l$")
    ax[1].set_title(r"tanh, $\sigma_b^2 = 0.05$")
    fig.tight_layout()
    files.append(out_dir / "signal_propagation.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_rows(out_dir / "signal_propagation.csv",
                            ["phase", "sigma_w2", "sigma_b2", "layer", "q_theory", "q_sim", "c_theory", "c_sim"], rows))

    # ---- gradients -------------------------------------------------------------------------
    rows = []
    fig, ax = plt.subplots(figsize=(5, 4))
    for (w, b, col) in [(0.8, 0.05, "C0"), (1.2, 0.05, "C2"), (2.5, 0.05, "C3")]:
        fp = mf.q_star("tanh", w, b)
        q_in = max((fp.q_star - b) / w, 1e-3)
        th = mf.backward("tanh", w, b, L, q_in=q_in)
        sim = mf.simulate("tanh", w, b, L, M, q_in=q_in, seeds=range(2, 2 + S))
        prof = sim.q_grad.mean(0) / sim.q_grad.mean(0)[-1]
        ax.semilogy(th.layer, th.q_grad, "-", color=col, label=rf"$\sigma_w^2$={w}, $\chi_1$={np.exp(th.rate):.3f}")
        ax.semilogy(th.layer, prof, "o", color=col, ms=3)
        for i in range(L):
            rows.append([w, b, int(th.layer[i]), th.q_grad[i], prof[i]])
    ax.set_xlabel("layer l")
    ax.set_ylabel(r"$\tilde q^l / \tilde q^L$")
    ax.set_title("gradient norms: theory (lines) vs networks (dots)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    files.append(out_dir / "gradients.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_rows(out_dir / "gradients.csv", ["sigma_w2", "sigma_b2", "layer", "q_grad_theory",
                                                        "q_grad_sim"], rows))

    # ---- Jacobian spectra ------------------------------------------------------------------
    Lj = 8 if fast else 32
    Mj = 150 if fast else 400
    rows = []
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    # ReLU at criticality (sigma_w2 = 2), and hard-tanh on its critical line at small q*
    sc, qc = mf.critical_line("hardtanh", [1e-3])
    cases = [("relu", 2.0, 0.0, None), ("hardtanh", float(sc[0]), 1e-3, float(qc[0]))]
    for k, (name, w, b, q) in enumerate(cases):
        for weights, col in (("gaussian", "C0"), ("orthogonal", "C3")):
            edge = mf.jacobian_spectrum(name, w, b, Lj, weights, x=[1.0], q=q).edge
            r = mf.jacobian_spectrum(name, w, b, Lj, weights, x=np.geomspace(1e-10 * edge, edge, 400), q=q)
            q_in = 1.0 if q is None else (q - b) / w
            sim = mf.simulate(name, w, b, Lj, Mj, q_in=q_in, weights=weights, seeds=range(3, 5), gradients=False,
                              jacobian=True)
            ev = sim.jacobian_eigenvalues.ravel()
            ev = ev[ev > 1e-12 * r.mean]
            # density of log10(lambda) for the non-zero eigenvalues: rho(x) x ln 10 / (1 - atom at 0)
            ax[k].hist(np.log10(ev), bins=50, density=True, alpha=0.35, color=col)
            ax[k].plot(np.log10(r.x), r.density * r.x * np.log(10) / (1 - r.atom_at_zero), "-", color=col,
                       label=f"{weights}: var {r.variance:.3g}, top atom {r.atom_at_edge_mass:.2f}")
            if r.atom_at_edge_mass > 0:
                ax[k].axvline(np.log10(r.atom_at_edge), color=col, ls=":")
            for xv, dv in zip(r.x, r.density):
                rows.append([name, weights, Lj, xv, dv])
        ax[k].set_ylim(0, 1.0)
        ax[k].set_xlabel(r"$\log_{10}$ eigenvalue of $JJ^T$")
        ax[k].set_title(f"{name}, L={Lj}, critical (M={Mj})")
        ax[k].legend(fontsize=7)
    fig.tight_layout()
    files.append(out_dir / "jacobian_spectra.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    files.append(write_rows(out_dir / "jacobian_spectra.csv", ["activation", "weights", "depth", "x", "density"], rows))
    return files
