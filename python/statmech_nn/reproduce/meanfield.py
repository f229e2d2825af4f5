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
from . import _report
from ._report import provenance, save_figure
from ._csv import write_columns, write_rows


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
    pd = mf.phase_diagram("tanh", sw2, sb2, with_correlation=not fast, progress=_report.bars())
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    im = ax[0].pcolormesh(sb2, sw2, pd.chi1, shading="auto", cmap="RdBu_r", vmin=0.5, vmax=1.5)
    ax[0].plot(sb2, pd.critical_sigma_w2, "k-", lw=2, label=r"$\chi_1 = 1$")
    ax[0].set_xlabel(r"$\sigma_b^2$")
    ax[0].set_ylabel(r"$\sigma_w^2$")
    ax[0].set_title(r"(a) $\chi_1$: order below the line, chaos above")
    ax[0].legend(loc="upper left")
    fig.colorbar(im, ax=ax[0], label=r"$\chi_1$ at the fixed point $q^*$")
    xi = pd.xi_c if not fast else -1 / np.log(np.where(pd.chi1 < 1, pd.chi1, np.nan))
    xi_label = r"$\xi_c$" if not fast else r"$-1/\ln\chi_1$ (= $\xi_c$ on the ordered side)"
    im2 = ax[1].pcolormesh(sb2, sw2, np.log10(np.clip(xi, 1e-1, 1e4)), shading="auto", cmap="viridis")
    ax[1].plot(sb2, pd.critical_sigma_w2, "w--", lw=1.5, label=r"$\chi_1 = 1$")
    ax[1].set_xlabel(r"$\sigma_b^2$")
    ax[1].set_ylabel(r"$\sigma_w^2$")
    ax[1].set_title("(b) correlation depth scale" + (" (ordered side)" if fast else ""))
    ax[1].legend(loc="upper left")
    fig.colorbar(im2, ax=ax[1], label=r"$\log_{10}$ " + xi_label + " (layers)")
    fig.suptitle(f"tanh deep network, mean-field theory, {n} x {n} grid of ($\\sigma_w^2$, $\\sigma_b^2$)")
    fig.tight_layout()
    files.append(out_dir / "phase_diagram.png")
    save_figure(fig, files[-1], dpi=110)
    meta = provenance(activation="tanh", figure="phase diagram (Poole et al. 2016; Schoenholz et al. 2017)")
    files.append(write_rows(out_dir / "phase_diagram.csv", ["sigma_b2", "critical_sigma_w2", "critical_q_star"],
                            zip(sb2, pd.critical_sigma_w2, pd.critical_q_star), meta))
    W, Bm = np.meshgrid(sw2, sb2, indexing="ij")
    files.append(write_columns(out_dir / "phase_diagram_grid.csv",
                               {"sigma_w2": W, "sigma_b2": Bm, "chi1": pd.chi1, "xi": xi},
                               dict(meta, xi="xi_c" if not fast else "-1/ln(chi1) where chi1 < 1")))

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
        ax[0].errorbar(th.layer, sim.q_a.mean(0), sim.q_a.std(0), fmt="o", color=col, ms=3,
                       label=f"{label} networks (width {M})")
        ax[1].plot(th.layer, th.c, "-", color=col, label=rf"{label}: $\sigma_w^2$ = {w}")
        ax[1].errorbar(th.layer, sim.c.mean(0), sim.c.std(0), fmt="o", color=col, ms=3)
        for i in range(L):
            rows.append([label, w, b, int(th.layer[i]), th.q_a[i], sim.q_a[:, i].mean(), sim.q_a[:, i].std(),
                         th.c[i], sim.c[:, i].mean(), sim.c[:, i].std()])
    ax[0].set_xlabel("layer l")
    ax[0].set_ylabel(r"$q^l$")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("layer l")
    ax[1].set_ylabel(r"$c^l$")
    ax[1].legend(fontsize=7)
    ax[0].set_title("(a) length $q^l$: theory (lines), networks (dots, mean ± sd)", fontsize=9)
    ax[1].set_title("(b) correlation $c^l$", fontsize=9)
    fig.suptitle(rf"tanh, $\sigma_b^2$ = 0.05, $q^0$ = 1.5, $c^0$ = 0.3, depth {L}, width {M}, {S} seeds")
    fig.tight_layout()
    files.append(out_dir / "signal_propagation.png")
    save_figure(fig, files[-1], dpi=110)
    files.append(write_rows(out_dir / "signal_propagation.csv",
                            ["phase", "sigma_w2", "sigma_b2", "layer", "q_theory", "q_sim", "q_sim_sd", "c_theory",
                             "c_sim", "c_sim_sd"], rows,
                            provenance(activation="tanh", q_in=1.5, c_in=0.3, depth=L, width=M, seeds=S)))

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
    ax.set_title(f"gradient norms, tanh, $\\sigma_b^2$ = 0.05, depth {L}, width {M}:\n"
                 "theory (lines) vs networks (dots)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    files.append(out_dir / "gradients.png")
    save_figure(fig, files[-1], dpi=110)
    files.append(write_rows(out_dir / "gradients.csv", ["sigma_w2", "sigma_b2", "layer", "q_grad_theory",
                                                        "q_grad_sim"], rows,
                            provenance(activation="tanh", depth=L, width=M, seeds=S,
                                       q_grad="normalised by the last layer")))

    # ---- Jacobian spectra ------------------------------------------------------------------
    Lj = 8 if fast else 32
    Mj = 150 if fast else 400
    rows = []
    sampled = []
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
            # density of log10(lambda) for the non-zero eigenvalues: rho(x) x ln 10 / (1 - atom at 0); the
            # eigenvalues in the atom at the top edge (a point mass) are counted apart, not histogrammed
            atom = np.zeros(ev.size, dtype=bool)
            if r.atom_at_edge_mass > 0:
                atom = np.abs(ev / r.atom_at_edge - 1.0) < 1e-6
            lx = np.log10(ev)
            bins = np.linspace(min(lx.min(), np.log10(r.x[0])), max(lx.max(), np.log10(r.x[-1])), 51)
            if (~atom).any():
                ax[k].hist(lx[~atom], bins=bins, weights=np.full((~atom).sum(), 1.0 / (ev.size * (bins[1] - bins[0]))),
                           alpha=0.35, color=col)
            # the theory's value at the atom's own abscissa is the point mass (the dotted line), not density
            cont = ~(np.abs(r.x / r.atom_at_edge - 1.0) < 1e-6) if r.atom_at_edge_mass > 0 else np.ones(r.x.size, bool)
            ax[k].plot(np.log10(r.x[cont]), (r.density * r.x * np.log(10) / (1 - r.atom_at_zero))[cont], "-", color=col,
                       label=f"{weights}: var {r.variance:.3g}, top atom {r.atom_at_edge_mass:.2f} "
                             f"(networks {atom.mean():.2f})")
            if r.atom_at_edge_mass > 0:
                ax[k].axvline(np.log10(r.atom_at_edge), color=col, ls=":")
            plotted = r.density * r.x * np.log(10) / (1 - r.atom_at_zero)
            for xv, dv, pv in zip(r.x, r.density, plotted):
                rows.append([name, weights, w, b, Lj, xv, dv, pv])
            sampled.extend([name, weights, w, b, Lj, Mj, e] for e in ev)
        ax[k].set_ylim(bottom=0)  # autoscaled above: nothing is cut
        ax[k].set_xlabel(r"$\log_{10}$ eigenvalue $\lambda$ of $JJ^T$")
        ax[k].set_ylabel(r"density of $\log_{10}\lambda$ (non-zero eigenvalues)")
        ax[k].set_title(rf"{name}, critical: $\sigma_w^2$ = {w:.4g}, $\sigma_b^2$ = {b:g}, depth {Lj}, width {Mj}",
                        fontsize=9)
        ax[k].legend(fontsize=7)
    fig.suptitle("Jacobian spectra: free-probability theory (lines), sampled networks (histograms), "
                 "dotted: atom at the top edge", fontsize=9)
    fig.tight_layout()
    files.append(out_dir / "jacobian_spectra.png")
    save_figure(fig, files[-1], dpi=110)
    meta = provenance(figure="Jacobian spectra (Pennington, Schoenholz & Ganguli 2017, 2018)", depth=Lj, width=Mj)
    files.append(write_rows(out_dir / "jacobian_spectra.csv",
                            ["activation", "weights", "sigma_w2", "sigma_b2", "depth", "x", "density",
                             "plotted_density_log10"], rows, meta))
    files.append(write_rows(out_dir / "jacobian_spectra_sampled.csv",
                            ["activation", "weights", "sigma_w2", "sigma_b2", "depth", "width", "eigenvalue"],
                            sampled, meta))
    return files
