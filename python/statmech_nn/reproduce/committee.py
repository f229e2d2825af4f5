"""Soft committee machine with batch normalisation: S. Takagi, Y. Yoshida and M. Okada, "Statistical
mechanical formulation of learning dynamics of two-layered neural networks with batch
normalization" (JSAI annual conference), in the setting of Saad & Solla (1995).

* ``fig2_*``: Fig. 2 of Takagi et al., K = M = 2, O = 1, eta = 1, N = 100, b = 100, sigma = 1, w = v = 1,
  20000 SGD steps (t = 200): Q, R, g and eps_g from the simulation beside the ODEs started from the
  simulated initial overlaps.
* ``plateau_*``: the symmetric plateau of the plain soft committee machine and with batch norm,
  from the same small initial overlaps (ODEs, b = 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
from ._report import provenance, save_figure
from ._csv import write_rows


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fig2_runs(fast: bool = False, seed: int = 0):
    """Simulation and theory of Takagi et al.'s Fig. 2 (fast: 5000 steps instead of 20000)."""
    from statmech_nn import committee

    N, b = 100, 100
    steps = 5000 if fast else 20000
    t = np.linspace(0.0, steps / N, 201)
    sim = committee.simulate(N, 2, 2, 1.0, batch_size=b, batchnorm=True, sigma=1.0, t=t, seeds=[seed])
    theory = committee.ode(**sim.initial_state(0), eta=1.0, batch_size=b, batchnorm=True, sigma=1.0, t=sim.t,
                          rtol=1e-10, atol=1e-14)  # eps_g reaches 1e-8: resolve it
    return sim, theory


def plateau_runs(fast: bool = False, eta: float = 1.0):
    """Plain vs batch-norm ODEs from the same small, nearly symmetric initial overlaps."""
    from statmech_nn import committee

    t_end = 400.0 if fast else 1000.0
    rng = np.random.default_rng(3)
    N = 10_000  # initial overlaps of a random N-dimensional initialisation with |J_i|^2 = 0.25
    J = 0.5 * rng.standard_normal((2, N)) / np.sqrt(N)
    B = rng.standard_normal((2, N)) / np.sqrt(N)
    Q0, R0, T = J @ J.T, J @ B.T, B @ B.T
    t = np.linspace(0.0, t_end, 801)
    plain = committee.ode(Q0, R0, T, eta, t=t, rtol=1e-10, atol=1e-14)
    bn = committee.ode(Q0, R0, T, eta, batchnorm=True, t=t, rtol=1e-10, atol=1e-14)
    return plain, bn


def run(out_dir: Path, fast: bool) -> List[Path]:
    plt = _plt()
    out_dir = Path(out_dir)
    files: List[Path] = []

    sim, th = fig2_runs(fast)
    fig, ax = plt.subplots(4, 2, figsize=(9, 11), sharex=True)
    labels = ["Q", "R", "g", "eps_g"]
    for col, (src, name) in enumerate([(sim, "simulation"), (th, "theory")]):
        Q = src.Q[0] if src is sim else src.Q
        R = src.R[0] if src is sim else src.R
        g = src.g[0] if src is sim else src.g
        eg = src.eg[0] if src is sim else src.eg
        for i in range(2):
            for j in range(i, 2):
                ax[0, col].plot(sim.t, Q[:, i, j], label=f"Q{i + 1}{j + 1}")
            for n in range(2):
                ax[1, col].plot(sim.t, R[:, i, n], label=f"R{i + 1}{n + 1}")
            ax[2, col].plot(sim.t, g[:, i], label=f"g{i + 1}")
        ax[3, col].semilogy(sim.t, eg)
        ax[0, col].set_title(name + (f" (N = 100, seed {int(sim.seeds[0])})" if src is sim
                                     else " (ODE from the same initial overlaps)"))
        for r in range(4):
            ax[r, col].set_ylabel(labels[r])
        for r in range(3):
            ax[r, col].legend(fontsize=7)
        ax[3, col].set_xlabel("t = steps / N")
    fig.suptitle("Takagi, Yoshida & Okada, Fig. 2: soft committee machine with batch norm, erf units,\n"
                 "K = M = 2, eta = 1, batch b = 100, input sigma = 1, N = 100", fontsize=10)
    fig.tight_layout()
    p = out_dir / "fig2_batchnorm_theory_vs_simulation.png"
    save_figure(fig, p, dpi=110)
    files.append(p)
    rows = []
    for k in range(len(sim.t)):
        rows.append([sim.t[k], *sim.Q[0, k].ravel(), *sim.R[0, k].ravel(), *sim.g[0, k], sim.eg[0, k],
                     *th.Q[k].ravel(), *th.R[k].ravel(), *th.g[k], th.eg[k]])
    names = ["Q11", "Q12", "Q21", "Q22", "R11", "R12", "R21", "R22", "g1", "g2", "eg"]
    files.append(write_rows(out_dir / "fig2_batchnorm_theory_vs_simulation.csv",
                            ["t"] + [f"sim_{n}" for n in names] + [f"ode_{n}" for n in names], rows,
                            provenance(figure="Fig. 2 (Takagi, Yoshida & Okada)", activation="erf", K=2, M=2, eta=1.0,
                                       batch_size=100, sigma=1.0, N=100, seed=int(sim.seeds[0]),
                                       batchnorm=True)))

    plain, bn = plateau_runs(fast)
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].semilogy(plain.t, plain.eg, label="plain SCM")
    ax[0].semilogy(bn.t, bn.eg, label="batch norm")
    ax[0].set_ylim(1e-9, 2)  # below ~1e-9 eps_g is at the integration tolerance
    ax[0].set_xlabel("t = steps / N")
    ax[0].set_ylabel("eps_g")
    ax[0].legend()
    ax[0].set_title("(a) generalisation error", fontsize=10)
    ax[1].set_title("(b) student-teacher overlaps R (plain: solid, BN: dashed)", fontsize=10)
    fig.suptitle("Plateau of the soft committee machine, ODE: erf units, K = M = 2, eta = 1, b = 1, "
                 "Q_ii(0) ~ 0.25 (random init., N = 10 000)", fontsize=10)
    for i in range(2):
        for n in range(2):
            ax[1].plot(plain.t, plain.R[:, i, n], "-", lw=1, label=f"plain R{i + 1}{n + 1}")
            ax[1].plot(bn.t, bn.R[:, i, n], "--", lw=1, label=f"BN R{i + 1}{n + 1}")
    ax[1].set_xlabel("t = steps / N")
    ax[1].set_ylabel("R")
    ax[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    p = out_dir / "plateau_plain_vs_batchnorm.png"
    save_figure(fig, p, dpi=110)
    files.append(p)
    rcols = [f"R{i + 1}{n + 1}" for i in range(2) for n in range(2)]
    files.append(write_rows(
        out_dir / "plateau_plain_vs_batchnorm.csv",
        ["t", "eg_plain", "eg_batchnorm"] + [f"plain_{c}" for c in rcols] + [f"batchnorm_{c}" for c in rcols],
        ([t, a, b, *ra.ravel(), *rb.ravel()] for t, a, b, ra, rb in zip(plain.t, plain.eg, bn.eg, plain.R, bn.R)),
        provenance(figure="plateau, plain vs batch norm", activation="erf", K=2, M=2, eta=1.0, batch_size=1)))
    return files
