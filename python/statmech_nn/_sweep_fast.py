"""Grid fast paths of :func:`statmech_nn.sweep`: whole chunks of points evaluated by one C++ call.

For :func:`statmech_nn.perceptron.ode` and :func:`statmech_nn.committee.ode` swept over scalar
parameters (and the broadcasting maps :func:`statmech_nn.meanfield.q_star` and
:func:`statmech_nn.meanfield.c_star` over ``sigma_w2``, ``sigma_b2``), a chunk of points is one call
into the core, which runs the points in parallel
(OpenMP, GIL released, Ctrl-C polled, progress reported) while each point is integrated serially
by the same single-point solver that a direct call uses: every point's result is bitwise the
direct call's, whatever the thread count. Each path validates the fixed arguments exactly as the
function does and returns ``None`` (so that :func:`sweep` falls back to one call per point) for
anything it does not handle -- another swept parameter, or a point the function would refuse (the
fallback then raises the function's own error, naming the point).
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._result import status_words

Points = Sequence[Tuple[int, Tuple[Any, ...]]]


class Runner:
    """A chunk of points in one core call: ``compute(points)`` (the core's arrays: small to pickle,
    so a dask worker sends these) then ``explode(points, raw)`` (the per-point fields of sweep's
    ``_to_fields``); calling the runner does both."""

    def __init__(self, compute: Callable[[Points], Dict[str, Any]],
                 explode: Callable[[Points, Dict[str, Any]], List[Tuple[int, Any]]],
                 columns: Optional[Callable[[Points, Dict[str, Any]], Optional[Dict[str, Any]]]] = None) -> None:
        self.compute = compute
        self.explode = explode
        # columns(points, raw): {field: (dims, values with a leading point axis, rows reached or
        # None)} in the order of explode's fields, or None when the points' fields differ
        self.columns = columns

    def __call__(self, points: Points, progress: Any = None) -> List[Tuple[int, Any]]:
        return self.explode(points, self.compute(points))


def _defaults(function: Callable[..., Any], fixed: Dict[str, Any]) -> Dict[str, Any]:
    kwargs = {n: p.default for n, p in inspect.signature(function).parameters.items()
              if p.default is not inspect.Parameter.empty}
    kwargs.update(fixed)
    return kwargs


def _numeric_axis(values: Sequence[Any]) -> Optional[np.ndarray]:
    """The axis values as float64 (bitwise what float() gives), or None for non-numeric ones."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":
        return None
    out = np.array([float(v) for v in arr.tolist()], dtype=np.float64)
    return out if np.all(np.isfinite(out)) else None


class _Grid:
    """The per-point columns of the swept parameters (float64), for the points of a chunk."""

    def __init__(self, names: Sequence[str], points: Points, fixed_values: Dict[str, float]) -> None:
        self.index = [i for i, _ in points]
        self.columns: Dict[str, np.ndarray] = {}
        for k, name in enumerate(names):
            col = _numeric_axis([v[k] for _, v in points])
            if col is None:
                raise _NotHandled(name)
            self.columns[name] = col
        for name, value in fixed_values.items():
            if name not in self.columns:
                self.columns[name] = np.full(len(points), value, dtype=np.float64)


class _NotHandled(Exception):
    pass


_T = ("t",)


def _word(w: str) -> np.ndarray:
    return np.array(w, dtype=object)


# ---- perceptron.ode ------------------------------------------------------------------------------
_PERCEPTRON_AXES = ("eta", "l0", "R0", "z0")


def _perceptron_ode(function: Callable[..., Any], fixed: Dict[str, Any], names: Sequence[str],
                    num_threads: int) -> Optional[Runner]:
    from . import perceptron as P
    from ._validation import check_ode_options

    if any(n not in _PERCEPTRON_AXES for n in names):
        return None
    kw = _defaults(function, fixed)
    if any(n not in kw and n not in names for n in ("activation", "rule", "eta", "l0")):
        return None
    activation, rule, slope = P._common(kw["activation"], kw["rule"], kw["slope"])
    times = P._times(kw["t"])
    method, rtol, atol, dt, max_step, max_steps, _ = check_ode_options(
        kw["method"], kw["rtol"], kw["atol"], kw["dt"], kw["max_step"], kw["max_steps"])
    divergence_bound = P._real(kw["divergence_bound"], "divergence_bound", positive=True)
    eg_threshold = kw["eg_threshold"]
    thr = -1.0 if eg_threshold is None else P._real(eg_threshold, "eg_threshold", positive=True)
    scalars = {}
    for n in _PERCEPTRON_AXES:
        if n not in names:
            scalars[n] = P._check_R0(kw[n]) if n == "R0" else P._real(kw[n], n, positive=True)
    if "l0" in scalars and scalars["l0"] > P.MAX_LENGTH:
        return None
    options = P._options(method, rtol, atol, dt, max_step, max_steps, divergence_bound)

    def compute(points: Points) -> Dict[str, Any]:
        g = _Grid(names, points, scalars).columns
        eta, l0, R0, z0 = g["eta"], g["l0"], g["R0"], g["z0"]
        if not (np.all(eta > 0) and np.all(l0 > 0) and np.all(l0 <= P.MAX_LENGTH) and np.all(np.abs(R0) <= 1.0)
                and np.all(z0 > 0)):
            raise _NotHandled("a point the function refuses")
        d = _core.sweep.perceptron_ode(activation, slope, rule, eta, l0, R0, z0, times, options, thr, num_threads)
        d["eta"] = eta
        return d

    def columns(points: Points, d: Dict[str, Any]) -> Dict[str, Any]:
        m = len(points)
        rows = d["n_rows"]
        words = np.asarray(status_words(d["status"]), dtype=object).reshape(m)
        eg = d["eg"]
        if eg.shape[1]:
            last = eg[np.arange(m), np.maximum(rows - 1, 0)]
            words[np.isin(words, ["ok", "event"]) & (rows > 0) & ~np.isfinite(last)] = "diverged"
        cols = {"t": (_T, d["t"], rows), "l": (_T, d["l"], rows), "R": (_T, d["R"], rows)}
        if d["z"] is not None:
            cols["z"] = (_T, d["z"], rows)
        cols["eg"] = (_T, eg, rows)
        cols["status"] = ((), words, None)
        cols["stop_time"] = ((), d["stop_time"], None)
        cols["rule"] = ((), np.full(m, rule, dtype=object), None)
        cols["activation"] = ((), np.full(m, activation, dtype=object), None)
        cols["eta"] = ((), d["eta"], None)
        cols["n_rhs"] = ((), d["n_rhs"].astype(np.int64), None)
        return cols

    def explode(points: Points, d: Dict[str, Any]) -> List[Tuple[int, Any]]:
        eta = d["eta"]
        words = status_words(d["status"])
        out = []
        t_, l_, R_, z_, eg_ = d["t"], d["l"], d["R"], d["z"], d["eg"]
        n_rows = d["n_rows"].tolist()
        stop, n_rhs, etas = d["stop_time"].tolist(), d["n_rhs"].tolist(), eta.tolist()
        rule_a, act_a = _word(rule), _word(activation)
        for k, (index, _) in enumerate(points):
            n = n_rows[k]
            status = str(words[k])
            eg = eg_[k, :n]
            if status in ("ok", "event") and n and not math.isfinite(eg[-1]):
                status = "diverged"
            # the fields of P.OdeResult as sweep's _to_fields gives them (tests: identical Datasets)
            f = {"t": (_T, t_[k, :n]), "l": (_T, l_[k, :n]), "R": (_T, R_[k, :n])}
            if z_ is not None:
                f["z"] = (_T, z_[k, :n])
            f["eg"] = (_T, eg)
            f["status"] = ((), _word(status))
            f["stop_time"] = ((), np.array(stop[k]))
            f["rule"] = ((), rule_a)
            f["activation"] = ((), act_a)
            f["eta"] = ((), np.array(etas[k]))
            f["n_rhs"] = ((), np.array(n_rhs[k], dtype=np.int64))
            out.append((index, f))
        return out

    return Runner(compute, explode, columns)


# ---- committee.ode -------------------------------------------------------------------------------
_COMMITTEE_AXES = ("eta", "eta_w", "sigma", "noise", "batch_size")


def _committee_ode(function: Callable[..., Any], fixed: Dict[str, Any], names: Sequence[str],
                   num_threads: int) -> Optional[Runner]:
    from . import committee as C

    if any(n not in _COMMITTEE_AXES for n in names):
        return None
    kw = _defaults(function, fixed)
    if any(n not in kw for n in ("Q0", "R0", "T")) or ("eta" not in kw and "eta" not in names):
        return None
    inputs = C._OdeInputs(kw["Q0"], kw["R0"], kw["T"], kw["w"], kw["v"], kw["batchnorm"], kw["g0"],
                          kw["activation"], kw["t"], kw["bn_gradient"], kw["method"], kw["rtol"], kw["atol"],
                          kw["dt"], kw["max_step"], kw["max_steps"], kw["divergence_bound"])
    norm = inputs.norm

    def compute(points: Points) -> Dict[str, Any]:
        models, etas_w = [], []
        for _, values in points:
            p = dict(kw)
            p.update({n: (v.item() if isinstance(v, np.generic) else v) for n, v in zip(names, values)})
            try:
                model, eta_w = inputs.model(p["eta"], p["eta_w"], p["sigma"], p["noise"], p["batch_size"])
            except (ValueError, TypeError) as exc:
                raise _NotHandled(str(exc)) from exc
            models.append(model)
            etas_w.append(eta_w)
        m = len(points)
        d = _core.sweep.committee_ode(models, [inputs.T] * m, [inputs.state] * m, inputs.times, inputs.options,
                                      num_threads)
        d["eta_w"] = etas_w
        return d

    def explode(points: Points, d: Dict[str, Any]) -> List[Tuple[int, Any]]:
        etas_w = d["eta_w"]
        out = []
        dims = C.OdeResult._dims
        for k, (index, _) in enumerate(points):
            n = int(d["n_rows"][k])
            r = {f: d[f][k, :n] for f in ("t", "Q", "R", "g", "w", "eg")}
            status = C._final_status(str(d["status"][k]), r)
            # the fields of C.OdeResult as sweep's _to_fields gives them (tests: identical Datasets)
            f = {"t": (dims["t"], r["t"]), "Q": (dims["Q"], r["Q"]), "R": (dims["R"], r["R"])}
            if norm != "none":
                f["g"] = (dims["g"], r["g"])
            if etas_w[k] > 0:
                f["w"] = (dims["w"], r["w"])
            f["eg"] = (dims["eg"], r["eg"])
            f["status"] = ((), _word(status))
            f["stop_time"] = ((), np.array(float(d["stop_time"][k])))
            f["n_rhs"] = ((), np.array(int(d["n_rhs"][k]), dtype=np.int64))
            out.append((index, f))
        return out

    return Runner(compute, explode)


# ---- broadcasting theory maps (meanfield.q_star, meanfield.c_star) --------------------------------
_BROADCAST_AXES = ("sigma_w2", "sigma_b2")


def _broadcasting(function: Callable[..., Any], fixed: Dict[str, Any], names: Sequence[str],
                  num_threads: int) -> Optional[Runner]:
    """Functions that broadcast over ``sigma_w2``/``sigma_b2`` with one independent core evaluation
    per element (no NumPy maths on the results): one call with the grid's flat columns, then
    element ``k`` is point ``k``'s result -- bitwise the scalar call's."""
    if any(n not in _BROADCAST_AXES for n in names):
        return None
    if any(n in fixed and np.ndim(fixed[n]) != 0 for n in _BROADCAST_AXES):
        return None
    params = inspect.signature(function).parameters
    result_name = getattr(function, "__name__", "value")

    def compute(points: Points) -> Dict[str, Any]:
        cols = _Grid(names, points, {}).columns
        kw = dict(fixed)
        kw.update(cols)
        if "num_threads" in params:
            kw["num_threads"] = num_threads
        try:
            return {"result": function(**kw)}
        except (ValueError, TypeError) as exc:  # a point the function refuses: the generic path names it
            raise _NotHandled(str(exc)) from exc

    def explode(points: Points, raw: Dict[str, Any]) -> List[Tuple[int, Any]]:
        from ._sweep import _status_of, _to_fields

        res = raw["result"]
        cls = type(res)
        names_ = res._field_names()
        columns = {f: getattr(res, f) for f in names_}
        out = []
        for k, (index, _) in enumerate(points):
            one = cls(**{f: (v[k] if isinstance(v, np.ndarray) and v.ndim == 1 else v) for f, v in columns.items()})
            fields = _to_fields(one, result_name)
            _status_of(one, fields)
            out.append((index, fields))
        return out

    return Runner(compute, explode)


# ---- registry ------------------------------------------------------------------------------------
def _registry() -> Dict[Any, Callable[..., Optional[Runner]]]:
    from . import committee, meanfield, perceptron

    return {perceptron.ode: _perceptron_ode, committee.ode: _committee_ode, meanfield.q_star: _broadcasting,
            meanfield.c_star: _broadcasting}


def fast_path(function: Callable[..., Any], fixed: Dict[str, Any], names: Sequence[str],
              num_threads: int) -> Optional[Runner]:
    """A runner evaluating chunks of points in one core call, or None (no fast path here).

    The runner returns ``[(index, fields), ...]`` for a chunk (``fields`` as sweep's
    ``_to_fields`` makes them from the function's result), or raises :class:`_NotHandled`
    (then the chunk goes the generic way)."""
    try:
        make = _registry().get(function)
    except TypeError:  # an unhashable callable
        return None
    if make is None:
        return None
    try:
        return make(function, dict(fixed), list(names), num_threads)
    except (ValueError, TypeError, AttributeError, KeyError):
        # A bad fixed argument (the generic path raises the function's own error) or a facade
        # that changed shape: no fast path.
        return None


NotHandled = _NotHandled
