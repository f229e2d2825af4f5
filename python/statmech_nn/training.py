"""Training twins: real gradient descent on the networks of the sampled-network engine.

:func:`train` runs full-batch gradient descent or mini-batch SGD on the mean-squared error of a
fully connected network in the C++ core (float64 Eigen GEMMs, several seeds in parallel, results
independent of ``num_threads``, GIL released, Ctrl-C honoured). It is the microscopic twin of the
learning-rate bound ``2 / lambda_max`` of :func:`statmech_nn.fisher.eigen_stats`, of the
kernel-regime prediction :func:`statmech_nn.ntk.predict_gd_mse`, and of batch norm's gradient
explosion (:mod:`statmech_nn.batchnorm`).

Network (``depth`` hidden layers of ``width`` units, linear read-out of ``n_outputs`` units)::

    u^l = W^l a^{l-1} + b^l,  a^l = phi(u^l)  (phi(BN(u^l)) with batchnorm="all"),  f = u^{depth+1}

with ``batchnorm="last"`` the outputs are mean-subtracted over the batch (Karakida, Akaho & Amari
2019), with ``"all"`` every hidden pre-activation is normalised over the batch,
``BN(h) = sqrt(B) G h / |G h|`` (Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz 2019), and the
gradient flows through the batch statistics. The initial network of seed ``s`` is the engine's
network of seed ``s`` (the one :func:`statmech_nn.fisher.empirical` and
:func:`statmech_nn.ntk.empirical` sample): W_ij ~ N(0, sigma_w2 / fan-in), or Haar orthogonal
weights in every layer: sqrt(sigma_w2) Q in a square layer; in a non-square one (the input and
read-out layers) a Haar semi-orthogonal matrix (orthonormal columns when the layer widens, with
W^T W = sigma_w2 (fan-out / fan-in) I; orthonormal rows when it narrows, with W W^T = sigma_w2 I), so
that the mean square entry is sigma_w2 / fan-in as for Gaussian weights (Pennington, Schoenholz &
Ganguli 2017); b_i ~ N(0, sigma_b2).

The one convention (loss and time)
----------------------------------
On a batch of B inputs (all ``n_samples`` for full-batch gradient descent) the loss is the
**mean** squared error with a factor one half, and one step is::

    Loss = 1/(2B) sum_t |f(x_t) - y_t|^2,      theta <- theta - eta dLoss/dtheta

where theta are the trained parameters: W and b ("standard" parameterisation), or omega and beta
with W = sigma_w / sqrt(fan-in) omega, b = sigma_b beta ("ntk"). Consequences:

* Near a minimum the Hessian of this loss is the Fisher information F = J^T J / n_samples of
  :mod:`statmech_nn.fisher` (standard parameterisation). Full-batch gradient descent is therefore
  stable for ``eta < eta_c = 2 / lambda_max(F)``, with ``lambda_max`` from
  ``fisher.empirical(...)`` on the same network and data (same seed, ``width``, ``n_samples``,
  ``n_outputs``, Gaussian data with ``input_dim = width``) and ``fisher.eigen_stats(...).eta_c``
  its mean-field value.
* :func:`statmech_nn.ntk.predict_gd_mse` uses the loss 1/2 sum (no 1/n): after ``k`` steps the
  network is at time ``t = k * eta`` (the field ``t`` of the result) of
  ``predict_gd_mse(Theta, y, t, eta=1 / n_samples)``, Theta the NTK of the same parameterisation.

Above ``eta_c`` the residual along the top eigenvector of F grows by ``|1 - eta lambda_max|`` per
step and the loss rises; a wide network is then usually caught by the catapult mechanism
(Lewkowycz, Bahri, Dyer, Sohl-Dickstein & Gur-Ari, "The large learning rate phase of deep learning:
the catapult mechanism", 2020), its curvature drops and it converges. It diverges (status
"diverged") only several times above ``eta_c`` (near 6 eta_c for ReLU, depth 3, width 400).

Data
----
``data="gaussian"``: inputs x ~ N(0, I_d) (d = ``input_dim``, default ``width``; the training
inputs are the engine's input batch of each seed), targets from a random teacher network (the
same architecture with Gaussian weights and no batch norm, seed ``s XOR 0x9E3779B97F4A7C15``) or
N(0, 1) noise (``targets="noise"``); ``n_test`` further points form a test split.
``data="digits"``: scikit-learn's bundled 8x8 digits (no download; ``pip install
"statmech_nn[data]"``), pixels standardised, a fixed shuffle; the first ``n_samples`` images train
and the next ``n_test`` (default: all the rest) test; 10 outputs one-hot, or 1 output
(+1 even digit, -1 odd). ``data=(X, y)`` or ``(X, y, X_test, y_test)``: your arrays.

Mini-batch SGD (``batch_size < n_samples``): each step takes the next ``batch_size`` indices of a
random permutation of the training set, redrawn when fewer are left.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _core
from ._memory import memory_limit
from ._network import seeds_array
from ._result import Result, combine_status, resultclass, status_words
from ._validation import (as_float_array, check_activation, check_choice, check_int, check_real, check_seeds,
                          check_threads)

__all__ = ["TrainingResult", "train"]   # and load_digits (needs scikit-learn)

#: Runs needing more floating-point operations than this are refused (ValueError naming ``steps``).
WORK_CAP = 1e15

#: Default divergence bound: a seed whose loss exceeds this many times its initial scale diverged.
DIVERGENCE_BOUND = 1e8


@resultclass
class TrainingResult(Result):
    """Gradient-descent training of sampled networks, one row per seed.

    Attributes
    ----------
    steps : (n_records,) the recorded steps k (parameters after k updates).
    t : (n_records,) ``steps * eta``: the time of :func:`statmech_nn.ntk.predict_gd_mse` with
        ``eta=1/n_samples`` (module docstring).
    loss : (n_seeds, n_records) training loss 1/(2n) sum |f - y|^2 on the whole training set.
    test_loss : (n_seeds, n_records) the same on the test split, or None.
    grad_norm : (n_seeds, n_records, depth + 1) norm of the full-batch loss gradient with respect
        to each weight layer's trained parameters (W^l and b^l together).
    outputs : (n_seeds, n_records, n_eval, n_outputs) outputs on ``x_eval``, or None.
    outputs_train : (n_seeds, n_records, n_samples, n_outputs) outputs on the training set, or None.
    x_train, y_train, x_test, y_test : each seed's data ((n_seeds, n, d), (n_seeds, n, n_outputs));
        None unless ``return_data=True``.
    eta, batch_size, n_samples, n_outputs, widths : the run's parameters (widths d, width..., n_outputs).
    activation, parameterization, batchnorm, weights, data : the options (data "gaussian", "digits"
        or "given").
    seeds, seed_status : the seeds and a word per seed: "ok", "degenerate" (a neuron with zero
        variance over a batch-norm batch) or "diverged" (the loss turned non-finite or exceeded
        ``divergence_bound`` times max(initial loss, mean |y|^2 / 2)).
    stop_step : (n_seeds,) the step at which a seed diverged (``steps`` of the run when it did not);
        records from there on are NaN.
    stop_time : (n_seeds,) ``stop_step * eta``.
    status : the worst seed word.
    """

    steps: np.ndarray
    t: np.ndarray
    loss: np.ndarray
    test_loss: Optional[np.ndarray]
    grad_norm: np.ndarray
    outputs: Optional[np.ndarray]
    outputs_train: Optional[np.ndarray]
    x_train: Optional[np.ndarray]
    y_train: Optional[np.ndarray]
    x_test: Optional[np.ndarray]
    y_test: Optional[np.ndarray]
    eta: float
    batch_size: int
    n_samples: int
    n_outputs: int
    widths: np.ndarray
    activation: str
    parameterization: str
    batchnorm: str
    weights: str
    data: str
    seeds: np.ndarray
    seed_status: np.ndarray
    stop_step: np.ndarray
    stop_time: np.ndarray
    status: str
    _dims = {"steps": ("record",), "t": ("record",), "loss": ("seed", "record"), "test_loss": ("seed", "record"),
             "grad_norm": ("seed", "record", "layer"), "outputs": ("seed", "record", "point", "output"),
             "outputs_train": ("seed", "record", "sample", "output"), "seeds": ("seed",),
             "seed_status": ("seed",), "stop_step": ("seed",), "stop_time": ("seed",)}

    @property
    def diverged(self) -> np.ndarray:
        """(n_seeds,) True where the seed diverged."""
        return np.asarray(self.seed_status) == "diverged"


def load_digits(n_samples: int, n_test: Optional[int] = None, n_outputs: int = 10):
    """scikit-learn's 8x8 digits as ``(X, y, X_test, y_test)`` for :func:`train`: pixels
    standardised (zero mean, unit variance over the whole set; constant pixels 0), a fixed shuffle,
    the first ``n_samples`` images for training and the next ``n_test`` (default all the rest) for
    testing; targets one-hot (``n_outputs=10``) or +1 / -1 for even / odd digits (``n_outputs=1``).
    Needs scikit-learn (``pip install "statmech_nn[data]"``)."""
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('data="digits" needs scikit-learn: pip install "statmech_nn[data]"') from exc
    n_outputs = check_int(n_outputs, "n_outputs", low=1)
    if n_outputs not in (1, 10):
        raise ValueError(f"n_outputs: the digits have 10 outputs (one-hot) or 1 (even/odd); got {n_outputs}")
    ds = _sk_digits()
    X = np.asarray(ds.data, dtype=np.float64)
    labels = np.asarray(ds.target)
    total = X.shape[0]
    n_samples = check_int(n_samples, "n_samples", low=1, high=total - 1)
    if n_test is None:
        n_test = total - n_samples
    n_test = check_int(n_test, "n_test", low=0, high=total - n_samples)
    sd = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    order = np.random.default_rng(20190101).permutation(total)
    X, labels = X[order], labels[order]
    if n_outputs == 10:
        Y = np.eye(10)[labels]
    else:
        Y = np.where(labels % 2 == 0, 1.0, -1.0)[:, None]
    te = slice(n_samples, n_samples + n_test)
    return X[:n_samples].copy(), Y[:n_samples].copy(), X[te].copy(), Y[te].copy()


#: Most records a run keeps.
MAX_RECORDS = 10**6


def _records(record: Any, steps: int) -> np.ndarray:
    if record is None:
        record = max(1, -(-steps // 1000))   # every step, or about 1000 records for long runs
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        every = check_int(record, "record", low=1)
        if steps // every + 2 > MAX_RECORDS:
            raise ValueError(f"record: recording every {every} of {steps} steps keeps more than {MAX_RECORDS} records")
        r = np.arange(0, steps + 1, every, dtype=np.int64)
        return r if r[-1] == steps else np.append(r, steps)
    if isinstance(record, str):
        raise TypeError("record must be None, an int (every k steps) or a 1-D sequence of step numbers")
    arr = np.asarray(record)
    if arr.size > MAX_RECORDS:
        raise ValueError(f"record: at most {MAX_RECORDS} records")
    if arr.ndim != 1 or arr.size < 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError("record must be None (every step), an int (every k steps) or a 1-D sequence of step numbers")
    if np.any(arr < 0) or np.any(arr > steps):
        raise ValueError(f"record: steps must lie in [0, steps={steps}]")
    return np.unique(arr.astype(np.int64))


def _points(value: Any, param: str, d: Optional[int]) -> np.ndarray:
    a = as_float_array(value, param)
    if a.ndim == 1 and d is not None and a.size == d:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{param} must be an (n, d) array of points; got shape {a.shape}")
    if d is not None and a.shape[1] != d:
        raise ValueError(f"{param} must have {d} columns (the input dimension); got {a.shape[1]}")
    return np.ascontiguousarray(a)


def _targets(value: Any, param: str, n: int) -> np.ndarray:
    y = as_float_array(value, param)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n or y.shape[1] < 1:
        raise ValueError(f"{param} must have shape ({n},) or ({n}, n_outputs); got {np.shape(value)}")
    return np.ascontiguousarray(y)


def train(activation: str, depth: int, width: int, eta: float, *, sigma_w2: float, sigma_b2: float,
          n_outputs: int = 1, n_samples: Optional[int] = None, steps: int, batch_size: Optional[int] = None,
          data: Any = "gaussian", parameterization: str = "standard", batchnorm: str = "none",
          weights: str = "gaussian", seeds: Any = 0, record: Any = None, num_threads: Optional[int] = None,
          input_dim: Optional[int] = None, targets: str = "teacher", n_test: Optional[int] = None,
          x_eval: Any = None, outputs_train: bool = False, return_data: bool = False, slope: float = 0.01,
          divergence_bound: float = DIVERGENCE_BOUND) -> TrainingResult:
    """Train sampled networks by full-batch gradient descent or mini-batch SGD on the MSE.

    Parameters
    ----------
    activation : str
        Any activation of :mod:`statmech_nn.gaussian` (``slope``: leaky_relu's negative slope).
    depth : int
        Number of hidden layers (>= 1), as in :mod:`statmech_nn.fisher` and :mod:`statmech_nn.ntk`.
    width : int
        Units per hidden layer.
    eta : float
        Learning rate (> 0), of the loss ``1/(2B) sum |f - y|^2`` (module docstring).
    sigma_w2, sigma_b2 : float
        Initial weight variance (times fan-in) and bias variance.
    n_outputs : int
        Read-out units (10 or 1 for the digits; the columns of y for given data).
    n_samples : int
        Training points (required for "gaussian" and "digits"; for given data the rows of X).
    steps : int
        Gradient steps (>= 0).
    batch_size : int, optional
        Mini-batch size; None (default) or ``n_samples``: full-batch gradient descent.
    data : "gaussian", "digits", (X, y) or (X, y, X_test, y_test)
        See the module docstring. X is (n, d), y (n,) or (n, n_outputs).
    parameterization : {"standard", "ntk"}
        What is trained (module docstring).
    batchnorm : {"none", "last", "all"}
        Batch norm of the outputs ("last") or of every hidden layer ("all"), over the batch.
    weights : {"gaussian", "orthogonal"}
        Initial weights: Gaussian, or Haar (semi-)orthogonal in every layer (module docstring).
    seeds : int or sequence of ints
        One network (and, for Gaussian data, one data set) per seed.
    record : None, int or sequence of ints
        Steps to record: k every k steps (and the last), or the given steps; None (default): every
        step up to 1000 steps, else every ceil(steps / 1000) steps. Each record costs a forward and
        backward pass over the whole training set (the gradient norms), plus the test and eval points:
        with mini-batches, record sparsely.
    num_threads : int, optional
        Threads (seeds in parallel); results do not depend on it.
    input_dim : int, optional
        Input dimension of Gaussian data (default ``width``, as :func:`statmech_nn.fisher.empirical`).
    targets : {"teacher", "noise"}
        Targets of Gaussian data.
    n_test : int, optional
        Test points: Gaussian data default 0, digits default all images not used for training.
    x_eval : (n_eval, d) array, optional
        Points whose outputs are recorded (``outputs``).
    outputs_train : bool
        Record the outputs on the training set (``outputs_train``).
    return_data : bool
        Return each seed's data (``x_train``, ``y_train``, ``x_test``, ``y_test``).
    divergence_bound : float
        A seed whose loss exceeds this many times max(initial loss, mean |y|^2 / 2), or turns
        non-finite, stops with status "diverged" (default 1e8).

    Returns
    -------
    TrainingResult

    Runs needing more than 4 GiB or more than 1e15 floating-point operations are refused with a
    ValueError naming the parameter.
    """
    check_activation(activation)
    depth = check_int(depth, "depth", low=1, high=10000)
    width = check_int(width, "width", low=1, high=10**7)
    eta = check_real(eta, "eta", positive=True)
    sigma_w2 = check_real(sigma_w2, "sigma_w2", positive=True)
    sigma_b2 = check_real(sigma_b2, "sigma_b2", nonnegative=True)
    n_outputs = check_int(n_outputs, "n_outputs", low=1, high=10**6)
    steps = check_int(steps, "steps", low=0, high=10**12)
    parameterization = check_choice(parameterization, ("standard", "ntk"), "parameterization")
    batchnorm = check_choice(batchnorm, ("none", "last", "all"), "batchnorm")
    weights = check_choice(weights, ("gaussian", "orthogonal"), "weights")
    targets = check_choice(targets, ("teacher", "noise"), "targets")
    seeds = check_seeds(seeds)
    rec = _records(record, steps)
    nt_threads = check_threads(num_threads)
    slope = check_real(slope, "slope")
    divergence_bound = check_real(divergence_bound, "divergence_bound", low=1.0 + 1e-12)
    for name, v in (("outputs_train", outputs_train), ("return_data", return_data)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool")

    x_tr = y_tr = x_te = y_te = None
    n_te = 0
    if isinstance(data, str):
        data = check_choice(data, ("gaussian", "digits"), "data")
        if n_samples is None:
            raise ValueError(f'n_samples: required with data="{data}"')
        n_samples = check_int(n_samples, "n_samples", low=1, high=10**8)
        if data == "gaussian":
            d = width if input_dim is None else check_int(input_dim, "input_dim", low=1, high=10**7)
            n_te = 0 if n_test is None else check_int(n_test, "n_test", low=0, high=10**8)
            gaussian = True
        else:
            if input_dim is not None:
                raise ValueError("input_dim: the digits have 64 inputs; leave input_dim unset")
            x_tr, y_tr, x_te, y_te = load_digits(n_samples, n_test, n_outputs)
            d, n_te, gaussian, targets = 64, x_te.shape[0], False, "given"
    elif isinstance(data, (tuple, list)) and len(data) in (2, 4):
        x_tr = _points(data[0], "data (X)", None)
        d = x_tr.shape[1]
        if input_dim is not None and input_dim != d:
            raise ValueError(f"input_dim: the given X has {d} columns; got input_dim={input_dim!r}")
        y_tr = _targets(data[1], "data (y)", x_tr.shape[0])
        if n_samples is not None and check_int(n_samples, "n_samples", low=1) != x_tr.shape[0]:
            raise ValueError(f"n_samples: the given X has {x_tr.shape[0]} rows; got n_samples={n_samples}")
        n_samples = x_tr.shape[0]
        if len(data) == 4:
            x_te = _points(data[2], "data (X_test)", d)
            y_te = _targets(data[3], "data (y_test)", x_te.shape[0])
        else:
            x_te, y_te = np.zeros((0, d)), np.zeros((0, y_tr.shape[1]))
        if y_tr.shape[1] != n_outputs:
            if n_outputs != 1:
                raise ValueError(f"n_outputs: y has {y_tr.shape[1]} columns; got n_outputs={n_outputs}")
            n_outputs = y_tr.shape[1]
        if y_te.shape[1] != n_outputs:
            raise ValueError(f"data (y_test) must have {n_outputs} columns; got {y_te.shape[1]}")
        if n_test is not None:
            raise ValueError("n_test: pass the test split inside data=(X, y, X_test, y_test)")
        n_te, gaussian, targets, data = x_te.shape[0], False, "given", "given"
    else:
        raise TypeError('data must be "gaussian", "digits", (X, y) or (X, y, X_test, y_test)')
    if batch_size is None:
        batch_size = n_samples
    batch_size = check_int(batch_size, "batch_size", low=1, high=n_samples)
    xe = None if x_eval is None else _points(x_eval, "x_eval", d)
    if batchnorm != "none":
        if batch_size < 2:
            raise ValueError("batch_size: batch norm needs a batch of at least 2")
        if n_te == 1:
            raise ValueError("n_test: batch norm needs at least 2 test points (statistics over the test batch)")
        if xe is not None and xe.shape[0] < 2:
            raise ValueError("x_eval: batch norm needs at least 2 points (statistics over the batch)")

    widths = [d] + [width] * depth + [n_outputs]
    out = _core.training.train(
        widths, activation, slope, sigma_w2, sigma_b2, weights, parameterization, batchnorm, n_samples, gaussian,
        targets, x_tr, y_tr, n_te, x_te, y_te, xe, bool(outputs_train), bool(return_data), eta, steps,
        batch_size, [int(k) for k in rec], divergence_bound, WORK_CAP, [int(s) for s in seeds], nt_threads,
        float(memory_limit()))
    seed_status = np.asarray(status_words(np.atleast_1d(out["status"])), dtype=object)
    stop_step = np.asarray(out["stop_step"], dtype=np.int64)
    return TrainingResult(
        steps=rec, t=rec * eta, loss=out["loss"], test_loss=out.get("test_loss"), grad_norm=out["grad_norm"],
        outputs=out.get("outputs"), outputs_train=out.get("outputs_train"), x_train=out.get("x_train"),
        y_train=out.get("y_train"), x_test=out.get("x_test"), y_test=out.get("y_test"), eta=eta,
        batch_size=batch_size, n_samples=n_samples, n_outputs=n_outputs, widths=np.asarray(widths, dtype=np.int64),
        activation=activation, parameterization=parameterization, batchnorm=batchnorm, weights=weights,
        data=data, seeds=seeds_array(seeds), seed_status=seed_status, stop_step=stop_step,
        stop_time=stop_step * eta, status=combine_status(seed_status))
