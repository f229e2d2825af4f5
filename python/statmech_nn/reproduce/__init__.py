"""Reproduction of the source papers' figures (``python -m statmech_nn reproduce TOPIC``).

Each topic module defines ``run(out_dir: pathlib.Path, fast: bool) -> list[pathlib.Path]`` that
writes PNG figures and CSV data into ``out_dir`` and returns the files written. Topics register
themselves in ``TOPICS`` (name -> module path).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Dict, List

TOPICS: Dict[str, str] = {
    "perceptron": "statmech_nn.reproduce.perceptron",
    "committee": "statmech_nn.reproduce.committee",
    "meanfield": "statmech_nn.reproduce.meanfield",
    "batchnorm": "statmech_nn.reproduce.batchnorm",
    "fisher": "statmech_nn.reproduce.fisher",
    "training": "statmech_nn.reproduce.training",
}


#: Topics that ``reproduce all`` leaves out: experiments on trained networks take hours at full
#: size (run them by name).
NOT_IN_ALL = ("training",)


def available() -> List[str]:
    """Topics whose reproduction module is present (those ``reproduce all`` runs: not NOT_IN_ALL)."""
    out = []
    for name, mod in TOPICS.items():
        if name in NOT_IN_ALL:
            continue
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError:
            continue
        out.append(name)
    return out


def run(topic: str, out_dir: Path, fast: bool = False) -> List[Path]:
    if topic not in TOPICS:
        raise ValueError(f"topic: unknown {topic!r}; choose one of {', '.join(TOPICS)} or 'all'")
    try:
        mod = importlib.import_module(TOPICS[topic])
    except ModuleNotFoundError as exc:
        raise ValueError(f"topic {topic!r} is not available in this version") from exc
    out_dir = Path(out_dir) / topic
    out_dir.mkdir(parents=True, exist_ok=True)
    return list(mod.run(out_dir, fast))
