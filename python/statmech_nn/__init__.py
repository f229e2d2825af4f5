"""statmech_nn: statistical mechanics of neural-network learning.

Theory curves (order-parameter ODEs of on-line learning, mean-field recursions of deep random
networks) together with microscopic simulations of the same models, from a C++ core.

Conventions (used everywhere in the package):

* ``"erf"`` is ``erf(x / sqrt(2))`` (Saad & Solla), so g'(0) = sqrt(2/pi).
* Gaussian averages are full expectations: I2 = <g(a) g(b)>, I3 = <g'(a) b g(c)>,
  I4 = <g'(a) g'(b) g(c) g(d)>; the generalisation error is eps_g = 1/2 <(t - s)^2>.
* On-line learning time is t = (SGD steps) / N; a mini-batch step of b samples counts as one step.
* Everything is float64; parallel calls take ``num_threads=None`` (OpenMP default, honours
  ``OMP_NUM_THREADS``) and give identical results for any thread count.
"""

from __future__ import annotations

from . import _core
from ._version import __version__
from ._result import STATUSES, OK_STATUSES, Result, load
from ._memory import memory_limit, set_memory_limit
from . import gaussian, integrate
from . import perceptron, committee, meanfield, batchnorm, fisher, ntk, training
from ._sweep import sweep

__all__ = ["__version__", "STATUSES", "OK_STATUSES", "Result", "load", "memory_limit", "set_memory_limit", "gaussian", "integrate", "perceptron", "committee", "meanfield", "batchnorm", "fisher", "ntk", "training",
           "max_threads", "sweep"]


def max_threads() -> int:
    """Number of threads a parallel call uses by default (OpenMP, honours OMP_NUM_THREADS)."""
    return int(_core.max_threads())
