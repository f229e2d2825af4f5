"""Command line of statmech_nn (also installed as the ``statmech-nn`` script).

``python -m statmech_nn --version`` and
``python -m statmech_nn reproduce {perceptron,committee,meanfield,batchnorm,fisher,training,all} --out DIR [--fast]
[--jobs N] [--quiet]``: one line per figure with its elapsed time, progress bars for the long
computations (with tqdm), a summary per topic; ``--quiet`` prints nothing but errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

#: What each reproduction topic shows, with the papers it comes from.
TOPIC_HELP = {
    "perceptron": "on-line perceptron learning with SGD and weight normalisation: ODE vs simulation, time to "
                  "eps_g < 0.01 over (eta, l0) (Yoshida, Karakida, Okada & Amari, JSAI; Salimans & Kingma 2016)",
    "committee": "soft committee machine with batch normalisation: order parameters and eps_g, ODE vs simulation "
                 "(Takagi, Yoshida & Okada, JSAI; Saad & Solla 1995)",
    "meanfield": "deep random networks: q*, chi1, phase diagram, depth scales, Jacobian spectra "
                 "(Poole et al. 2016; Schoenholz et al. 2017; Pennington, Schoenholz & Ganguli 2017, 2018)",
    "batchnorm": "batch-norm mean field: BSB1 fixed point and gradient explosion "
                 "(Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz, ICLR 2019)",
    "fisher": "Fisher information eigenvalue statistics and the NTK (Karakida, Akaho & Amari, AISTATS 2019 and "
              "NeurIPS 2019; Jacot, Gabriel & Hongler 2018)",
    "training": "networks trained by gradient descent against their theory twins: the learning-rate bound "
                "2/lambda_max, the NTK regime (Lee et al. 2019), batch-norm trainability (Yang et al. 2019), "
                "dynamical isometry (Pennington, Schoenholz & Ganguli 2017); hours at full size, so not in 'all'",
}


def _parser() -> argparse.ArgumentParser:
    from . import __version__, reproduce

    topics = "\n".join(f"  {name:11s} {TOPIC_HELP.get(name, '')}" for name in reproduce.TOPICS)
    topics += "\n  all         every topic above except " + ", ".join(reproduce.NOT_IN_ALL)
    parser = argparse.ArgumentParser(
        prog="python -m statmech_nn",
        description="statmech_nn: statistical mechanics of neural-network learning.",
        epilog="Topics of `reproduce`:\n" + topics,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"statmech_nn {__version__}")
    sub = parser.add_subparsers(dest="command")
    rep = sub.add_parser(
        "reproduce", help="reproduce the source papers' figures (PNG) and data (CSV)",
        description="Reproduce the figures of the papers behind statmech_nn as PNG and CSV files.",
        epilog="Topics:\n" + topics, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("topic", choices=list(reproduce.TOPICS) + ["all"], help="what to reproduce (see below)")
    rep.add_argument("--out", type=Path, default=Path("figures"), help="output folder (default: ./figures)")
    rep.add_argument("--fast", action="store_true", help="smaller sizes and shorter runs (smoke test, seconds)")
    rep.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                     help="threads for the computations (default: all cores, or OMP_NUM_THREADS)")
    rep.add_argument("--quiet", "-q", action="store_true",
                     help="print nothing but errors (no per-figure lines, no progress bars)")
    return parser


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs must be a positive integer; got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be a positive integer; got {n}")
    return n


def main(argv: Optional[List[str]] = None) -> int:
    """The ``statmech-nn`` command; Ctrl-C anywhere ends it with one line (exit status 130)."""
    start = time.perf_counter()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print(f"\ninterrupted after {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return 130


def _main(argv: Optional[List[str]] = None) -> int:
    from . import reproduce

    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "reproduce":
        from . import _core
        from .reproduce import _report

        topics = reproduce.available() if args.topic == "all" else [args.topic]
        import matplotlib

        matplotlib.use("Agg")
        _report.configure(args.quiet)
        threads = _core.max_threads()
        if args.jobs is not None:
            _core.set_max_threads(args.jobs)
        start = time.perf_counter()
        try:
            for k, topic in enumerate(topics, 1):
                t0 = time.perf_counter()
                count = f" [{k}/{len(topics)}]" if len(topics) > 1 else ""
                _report.say(f"{topic}{count}: running (threads: {args.jobs or threads}) ...")
                _report.start()
                files = reproduce.run(topic, args.out, fast=args.fast)
                _report.say(f"{topic}: {len(files)} files in {time.perf_counter() - t0:.1f} s -> {args.out / topic}")
            if len(topics) > 1:
                _report.say(f"all {len(topics)} topics in {time.perf_counter() - start:.1f} s")
        except KeyboardInterrupt:
            print(f"\ninterrupted after {time.perf_counter() - start:.1f} s", file=sys.stderr)
            return 130
        finally:
            _core.set_max_threads(threads)
            _report.configure(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
