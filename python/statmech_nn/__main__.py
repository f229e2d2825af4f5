"""Command line: ``python -m statmech_nn --version`` and
``python -m statmech_nn reproduce {perceptron,committee,meanfield,all} --out DIR [--fast]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    from . import __version__, reproduce

    parser = argparse.ArgumentParser(prog="python -m statmech_nn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"statmech_nn {__version__}")
    sub = parser.add_subparsers(dest="command")
    rep = sub.add_parser("reproduce", help="reproduce the source papers' figures (PNG) and data (CSV)")
    rep.add_argument("topic", choices=list(reproduce.TOPICS) + ["all"])
    rep.add_argument("--out", type=Path, default=Path("figures"), help="output folder (default: ./figures)")
    rep.add_argument("--fast", action="store_true", help="smaller sizes and shorter runs (smoke test)")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "reproduce":
        topics = reproduce.available() if args.topic == "all" else [args.topic]
        import matplotlib

        matplotlib.use("Agg")
        for topic in topics:
            t0 = time.perf_counter()
            files = reproduce.run(topic, args.out, fast=args.fast)
            print(f"{topic}: {len(files)} files in {time.perf_counter() - t0:.1f} s -> {args.out / topic}")
            for f in files:
                print(f"  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
