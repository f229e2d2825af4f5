"""Glue between the simulators of the deep-network families and the one sampled-network engine
(``cpp/src/network_*.cpp``, ``_core.network.run``).

Every microscopic simulation of a deep network (:func:`statmech_nn.meanfield.simulate`,
:func:`statmech_nn.batchnorm.simulate`, :func:`statmech_nn.fisher.empirical`,
:func:`statmech_nn.ntk.empirical`) samples its networks here: Gaussian or Haar-orthogonal weights,
optional batch norm, float64 GEMMs, one seed = one network and one input batch, random numbers from
``Rng(seed, stream)`` with ``stream = layer * 2**32 + block`` (layer 0 the inputs, block 0 the biases,
block 1 + j the weight rows 128 j .. 128 j + 127), so results are bitwise independent of
``num_threads``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from . import _core
from ._memory import memory_limit
from ._result import status_words


#: Engine seed status codes -> words of statmech_nn.STATUSES.


def run(widths: Sequence[int], batch: int, activation: str, *, slope: float = 0.01, alpha: Optional[float] = None,
        sigma_w2: float, sigma_b2: float, seeds: Sequence[int], weights: str = "gaussian",
        parameterization: str = "standard", batchnorm: str = "none", linear_readout: bool = True,
        input: str = "gaussian", x: Any = None, cov_factor: Any = None, q_in: float = 1.0, c_in: float = 0.0,
        preactivation: bool = False, backward: str = "none", gram: bool = False, gram_bias: bool = True,
        outputs: bool = False, jacobian: bool = False, post_stats: bool = True, num_threads: int = 0,
        memory_cap: Optional[float] = None,
        width_name: str = "width", batch_name: str = "batch_size", depth_name: str = "depth") -> dict:
    """Sample the networks (arguments already validated by the caller) and return the engine's
    measurements as a dict of arrays (see ``cpp/include/statmech_nn/network.hpp``) plus
    ``seed_status`` (words). Runs whose estimated memory exceeds ``memory_cap`` (default
    :func:`statmech_nn.memory_limit`) are refused with a ValueError naming the parameter."""
    d = dict(_core.network.run(
        [int(w) for w in widths], int(batch), activation, float(slope), alpha is not None,
        1.0 if alpha is None else float(alpha), float(sigma_w2), float(sigma_b2), weights, parameterization,
        batchnorm, bool(linear_readout), input, None if x is None else np.ascontiguousarray(x, dtype=np.float64),
        None if cov_factor is None else np.ascontiguousarray(cov_factor, dtype=np.float64), float(q_in),
        float(c_in), bool(preactivation), backward, bool(gram), bool(gram_bias), bool(outputs), bool(jacobian),
        bool(post_stats) or bool(gram),
        [int(s) for s in seeds], int(num_threads), float(memory_limit() if memory_cap is None else memory_cap), width_name, batch_name, depth_name))
    d["seed_status"] = np.asarray(status_words(np.atleast_1d(d["status"])), dtype=object)
    return d


def seeds_array(seeds: Any) -> np.ndarray:
    """The seeds as an int64 array for result fields (uint64 seeds beyond 2**63 stay uint64)."""
    arr = np.asarray(seeds)
    return arr.astype(np.int64) if arr.size == 0 or arr.max() < 2 ** 63 else arr
