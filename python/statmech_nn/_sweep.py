"""Parameter sweeps: any function of the package over a labelled grid, as an ``xarray.Dataset``.

:func:`sweep` evaluates a theory or simulator function at every point of the Cartesian product of
some of its parameters (every other argument held fixed), in parallel (threads, processes or a
dask cluster), with a progress bar and an optional resumable Zarr store, and returns the results
as one labelled ``xarray.Dataset``. It needs the ``sweep`` extra::

    pip install "statmech_nn[sweep]"

Reproducibility
---------------
Every point is an independent call ``function(**fixed, **point)``; its result does not depend on
the backend, the number of workers, the chunking or the order in which points finish, so the
Dataset is bitwise the same for every backend and equal to direct calls. Random seeds are never
taken from worker order: a simulator's ``seeds`` is either what you pass (or its default), the
same at every point (common random numbers), or, with ``sweep(..., seed=S)``, derived for point
``i`` (its flat C-order index in the grid) as
``numpy.random.SeedSequence([S, i]).generate_state(n_seeds)``.

Parallelism
-----------
A point runs with ``num_threads=1`` when the function accepts ``num_threads`` and you did not fix
it, so that points, not threads inside a point, run in parallel (the package's results do not
depend on the thread count). The C++ core releases the GIL, so ``backend="threads"`` is usually
the fastest on one machine; ``"processes"`` suits pure-Python functions; ``"dask"`` sends chunks
of points to a ``distributed`` cluster.

Fast paths: :func:`statmech_nn.perceptron.ode` (swept over ``eta``, ``l0``, ``R0``, ``z0``) and
:func:`statmech_nn.committee.ode` (over ``eta``, ``eta_w``, ``sigma``, ``noise``, ``batch_size``)
evaluate each chunk of points in one C++ call, parallel over the points (OpenMP, GIL released,
Ctrl-C and progress polled in C++), each point by the same single-point solver as a direct call
-- bitwise the same numbers, without one Python call per point; :func:`statmech_nn.meanfield.q_star`
and :func:`statmech_nn.meanfield.c_star` over ``sigma_w2``, ``sigma_b2`` are one vectorised call.
They are used with the ``"threads"`` and ``"dask"`` backends (``fast_path=False`` turns them off); any other
function or parameter goes one call per point.
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import json
import math
import numbers
import os
import pickle
import re
import threading
import warnings
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._result import Result
from ._version import __version__

__all__ = ["sweep"]

BACKENDS = ("threads", "processes", "dask")
_EXTRA_HINT = 'statmech_nn.sweep needs the "sweep" extra: pip install "statmech_nn[sweep]"'
_STORE_FORMAT = 1


def _require(module: str) -> Any:
    try:
        with warnings.catch_warnings():
            # tqdm.auto without ipywidgets falls back to the text bar; its warning is noise.
            warnings.filterwarnings("ignore", message=".*IProgress not found.*")
            return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(f"{_EXTRA_HINT} (could not import {module}: {exc})") from exc


# ---- validation ----------------------------------------------------------------------------------
def _parameters(function: Callable[..., Any]) -> Tuple[Dict[str, inspect.Parameter], bool, Dict[str, str]]:
    """The named parameters of ``function``, whether it takes ``**kwargs``, deprecated names."""
    try:
        sig = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"sweep: cannot read the signature of {function!r}") from exc
    params: Dict[str, inspect.Parameter] = {}
    var_kw = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind is not p.VAR_POSITIONAL:
            params[p.name] = p
    deprecated = dict(getattr(function, "__deprecated_arguments__", {}) or {})
    return params, var_kw, deprecated


def _check_axes(function: Callable[..., Any], axes: Any, fixed: Dict[str, Any]) -> Dict[str, np.ndarray]:
    if not isinstance(axes, Mapping):
        raise TypeError(f"sweep: axes must be a dict of parameter name -> 1-D values; got {type(axes).__name__}")
    if not axes:
        raise ValueError("sweep: axes is empty; give at least one parameter to sweep")
    params, var_kw, deprecated = _parameters(function)
    known = set(params) | set(deprecated)
    name = getattr(function, "__qualname__", repr(function))
    for p in list(axes) + list(fixed):
        if not isinstance(p, str):
            raise TypeError(f"sweep: parameter names must be strings; got {p!r}")
        if p not in known and not var_kw:
            raise ValueError(f"sweep: {name}() has no parameter {p!r} (parameters: {', '.join(params)})")
        if p in params and params[p].kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ValueError(f"sweep: parameter {p!r} of {name}() is positional-only and cannot be swept or fixed")
    both = sorted(set(axes) & set(fixed))
    if both:
        raise ValueError(f"sweep: parameter {both[0]!r} is both swept (in axes) and fixed")
    out: Dict[str, np.ndarray] = {}
    for p, values in axes.items():
        if isinstance(values, (str, bytes)) or np.ndim(values) == 0 and not isinstance(values, (list, tuple)):
            raise ValueError(f"sweep: axis {p!r} must be a 1-D sequence of values; got {values!r}")
        try:
            arr = np.asarray(values)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"sweep: axis {p!r} must be a 1-D sequence of scalars ({exc})") from exc
        if arr.dtype == object and any(isinstance(v, (list, tuple, np.ndarray)) for v in values):
            raise ValueError(f"sweep: axis {p!r} must be 1-D (one scalar value per point)")
        if arr.ndim != 1:
            raise ValueError(f"sweep: axis {p!r} must be 1-D; got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"sweep: axis {p!r} is empty")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError(f"sweep: axis {p!r} contains a non-finite value")
        if arr.dtype.kind not in "biufUS" and arr.dtype != object:
            raise TypeError(f"sweep: axis {p!r} has unsupported dtype {arr.dtype}")
        if len(set(arr.tolist())) != arr.size:
            raise ValueError(f"sweep: axis {p!r} has repeated values")
        out[p] = arr
    missing = [n for n, p in params.items()
               if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.POSITIONAL_ONLY
               and n not in out and n not in fixed]
    if missing:
        raise ValueError(f"sweep: {name}() needs {missing[0]!r}: sweep it in axes or pass it as a fixed argument")
    return out


# ---- one point -----------------------------------------------------------------------------------
def _plain(v: Any) -> Any:
    """numpy scalars -> Python scalars (so that calls equal direct calls with Python values)."""
    return v.item() if isinstance(v, np.generic) else v


def _derived_seeds(seed: int, index: int, n: int) -> List[int]:
    return [int(s) for s in np.random.SeedSequence([int(seed), int(index)]).generate_state(n, dtype=np.uint32)]


def _class_dims(res: Any) -> Dict[str, Tuple[str, ...]]:
    dims = dict(getattr(type(res), "_dims", {}) or {})
    inst = getattr(res, "__dict__", {}).get("_dims")
    if isinstance(inst, dict):
        dims.update(inst)
    return dims


_LAYOUT: Dict[type, Tuple[Tuple[str, Optional[Tuple[str, ...]]], ...]] = {}


def _to_fields(res: Any, name: str, prefix: str = "") -> Dict[str, Tuple[Tuple[str, ...], Any]]:
    """A result -> {field: (dims, value)}; value is an ndarray (numeric, bool or object str)."""
    out: Dict[str, Tuple[Tuple[str, ...], Any]] = {}
    if isinstance(res, Result):
        cls = type(res)
        layout = _LAYOUT.get(cls)
        if layout is None:
            dims = dict(getattr(cls, "_dims", {}) or {})
            layout = _LAYOUT[cls] = tuple((f, dims.get(f)) for f in res._field_names())
        inst = res.__dict__.get("_dims")
        if isinstance(inst, dict):  # dimensions set on the instance (grid results)
            dims = _class_dims(res)
            layout = tuple((f, dims.get(f)) for f, _ in layout)
        for f, d in layout:
            v = getattr(res, f)
            if not prefix and d is not None and type(v) is np.ndarray and v.dtype.kind in "biuf" \
                    and v.ndim == len(d):
                out[f] = (tuple(d), v)  # the common case, without the checks of _add
            else:
                _add(out, prefix + f, v, d, prefix)
        return out
    if isinstance(res, Mapping):
        for k, v in res.items():
            _add(out, prefix + str(k), v, None, prefix)
        return out
    if isinstance(res, tuple):
        for i, v in enumerate(res):
            _add(out, f"{prefix}{name}_{i}", v, None, prefix)
        return out
    _add(out, prefix + name, res, None, prefix)
    return out


def _add(out: Dict[str, Any], key: str, v: Any, dims: Optional[Tuple[str, ...]], prefix: str) -> None:
    if v is None:
        return
    if isinstance(v, Result):
        out.update(_to_fields(v, key, key + "_"))
        return
    if isinstance(v, (str, np.str_)):
        out[key] = ((), np.array(str(v), dtype=object))
        return
    if isinstance(v, (numbers.Number, np.generic, np.ndarray, list)) and not isinstance(v, complex):
        arr = np.asarray(v)
        if arr.dtype.kind in "US" or arr.dtype == object:
            try:
                arr = arr.astype(str).astype(object)
            except (TypeError, ValueError):
                return
        elif arr.dtype.kind not in "biuf":
            return
        d = tuple(dims) if dims is not None and len(dims) == arr.ndim else \
            tuple(f"{key}_dim_{i}" for i in range(arr.ndim))
        if prefix:
            d = tuple(x if x in ("t", "seed", "layer") else f"{prefix}{x}" for x in d)
        out[key] = (d, arr)


def _status_of(res: Any, fields: Dict[str, Tuple[Tuple[str, ...], Any]]) -> None:
    """Plain-array returns get a status: "ok", or "diverged" if a value is not finite."""
    if "status" in fields:
        return
    finite = all(np.all(np.isfinite(v)) for _, v in fields.values() if v.dtype.kind == "f")
    fields["status"] = ((), np.array("ok" if finite else "diverged", dtype=object))


def _run_points(function: Callable[..., Any], fixed: Dict[str, Any], names: Sequence[str],
                points: Sequence[Tuple[int, Tuple[Any, ...]]], seed_info: Optional[Tuple[int, str, int]],
                result_name: str, stop: Optional[threading.Event] = None,
                tick: Optional[Callable[[], None]] = None) -> List[Tuple[int, Dict[str, Any]]]:
    """Evaluate a chunk of points (runs in a worker: thread, process or dask task)."""
    out = []
    for index, values in points:
        if stop is not None and stop.is_set():
            break
        kwargs = dict(fixed)
        kwargs.update({n: _plain(v) for n, v in zip(names, values)})
        if seed_info is not None:
            seed, param, n = seed_info
            kwargs[param] = _derived_seeds(seed, index, n)
        try:
            res = function(**kwargs)
        except (ValueError, TypeError, ArithmeticError) as exc:
            point = ", ".join(f"{n}={_plain(v)!r}" for n, v in zip(names, values))
            try:
                new = type(exc)(f"sweep point {index} ({point}): {exc}")
            except Exception:  # an exception type with another constructor: keep it as it is
                raise exc
            raise new from exc
        fields = _to_fields(res, result_name)
        _status_of(res, fields)
        out.append((index, fields))
        if tick is not None:
            tick()
    return out


def _compact(raw: Dict[str, Any]) -> Dict[str, Any]:
    """A fast path's stacked arrays for the trip back from a dask worker: a 2-D column whose rows
    are all equal (the time grid ``t`` when every point reached the end) travels as one row."""
    out: Dict[str, Any] = {}
    for k, v in raw.items():
        if isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[0] > 1 and bool(np.all(v == v[:1])):
            out[k] = _SameRows(v[0], v.shape[0])
        else:
            out[k] = v
    return out


class _SameRows:
    """One row standing for ``n`` equal rows (see :func:`_compact`)."""

    def __init__(self, row: np.ndarray, n: int) -> None:
        self.row, self.n = row, n

    def expand(self) -> np.ndarray:
        return np.repeat(self.row[None, :], self.n, axis=0)


def _expand(raw: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v.expand() if isinstance(v, _SameRows) else v for k, v in raw.items()}


def _run_points_packed(function: Callable[..., Any], fixed: Dict[str, Any], names: Sequence[str],
                       points: Any, seed_info: Optional[Tuple[int, str, int]],
                       result_name: str, fast: bool = False) -> bytes:
    """:func:`_run_points` (or the C++ grid fast path, when ``fast`` and there is one) with its
    input and output pickled in one piece: a chunk holds thousands of small tuples and arrays,
    which dask would otherwise walk and serialise one by one (several times slower). ``points``
    is the pickled list of ``(index, values)``. Runs on a dask worker."""
    points = pickle.loads(points)
    if fast:
        from . import _sweep_fast

        runner = _sweep_fast.fast_path(function, fixed, names, 1)
        if runner is not None:
            try:
                # the core's stacked arrays (compact); the client makes the per-point fields
                return pickle.dumps(("raw", _compact(runner.compute(points))), protocol=pickle.HIGHEST_PROTOCOL)
            except _sweep_fast.NotHandled:
                pass
    out = _run_points(function, fixed, names, points, seed_info, result_name)
    return pickle.dumps(("fields", out), protocol=pickle.HIGHEST_PROTOCOL)


def _run_points_fast(function: Callable[..., Any], fixed: Dict[str, Any], names: Sequence[str],
                     points: Sequence[Tuple[int, Tuple[Any, ...]]], result_name: str,
                     num_threads: int) -> Optional[List[Tuple[int, Dict[str, Any]]]]:
    """A chunk through the C++ grid fast path (one core call), or None where there is none."""
    from . import _sweep_fast

    runner = _sweep_fast.fast_path(function, fixed, names, num_threads)
    if runner is None:
        return None
    try:
        return runner(points, None)
    except _sweep_fast.NotHandled:
        return None


# ---- fingerprints, attributes ----------------------------------------------------------------------
def _json_value(v: Any) -> Any:
    """A JSON description of an argument (arrays by value; anything else by repr)."""
    v = _plain(v)
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "biuf":
            return {"array": [_json_value(x) for x in v.ravel().tolist()], "shape": list(v.shape),
                    "dtype": str(v.dtype)}
        return {"array": [str(x) for x in v.ravel().tolist()], "shape": list(v.shape)}
    if isinstance(v, (list, tuple)):
        try:
            arr = np.asarray(v)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.ndim >= 1 and arr.dtype.kind in "biuf":
            return _json_value(arr)
        return [_json_value(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _json_value(x) for k, x in v.items()}
    if callable(v):
        return f"{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', repr(v))}"
    return repr(v)


def _result_doc(function: Callable[..., Any]) -> Optional[str]:
    """The docstring of the Result class ``function`` is annotated to return, if any."""
    try:
        ann = inspect.signature(function).return_annotation
    except (TypeError, ValueError):
        return None
    if isinstance(ann, str):
        ann = getattr(inspect.unwrap(function), "__globals__", {}).get(ann)
    if isinstance(ann, type) and issubclass(ann, Result):
        return ann.__doc__
    return None


def _function_name(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"


def _attr_value(v: Any) -> Any:
    """Fixed arguments as Dataset attributes: scalars, strings and short 1-D numeric lists."""
    v = _plain(v)
    if isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        arr = np.asarray(v)
        if arr.ndim == 1 and arr.size <= 64 and arr.dtype.kind in "biuf":
            return arr.tolist()
    return None


_DOC_ITEM = re.compile(r"^(\s*)([A-Za-z_][\w, ]*?)\s*:\s*(.*)$")


def _doc_descriptions(doc: Optional[str]) -> Dict[str, str]:
    """name -> first sentence of its description, from NumPy-style Parameters/Attributes sections."""
    out: Dict[str, str] = {}
    if not doc:
        return out
    lines = inspect.cleandoc(doc).splitlines()
    i = 0
    while i < len(lines):
        m = _DOC_ITEM.match(lines[i])
        if m and not m.group(1) and i + 1 < len(lines) and lines[i + 1].startswith("    "):
            desc = []
            j = i + 1
            while j < len(lines) and lines[j].startswith("    "):
                desc.append(lines[j].strip())
                j += 1
            text = " ".join(desc)
            sentence = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0].rstrip(".;").replace("``", "")
            sentence = re.sub(r"\s*\((?:[<>]=?|in |!=)[^)]*\)", "", sentence).strip()
            for n in m.group(2).split(","):
                n = n.strip()
                if n and n not in out:
                    out[n] = sentence
            i = j
        else:
            i += 1
    return out


# ---- assembling the Dataset --------------------------------------------------------------------------
def _fill(kind: str) -> Any:
    return "" if kind == "O" else np.nan


def _stack(values: List[Optional[np.ndarray]], grid_shape: Tuple[int, ...]) -> np.ndarray:
    """Stack per-point arrays (None where a point lacks the field) into grid_shape + max shape,
    padding shorter ones (NaN, or "" for words; integers become floats when padding is needed)."""
    present = [v for v in values if v is not None]
    ndim = present[0].ndim
    shapes = {v.shape for v in present}
    dtypes = {v.dtype for v in present}
    if len(present) == len(values) and len(shapes) == 1 and len(dtypes) == 1:
        # the common case: every point has this field with one shape and dtype
        if present[0].dtype == object:
            if ndim == 0:
                out = np.empty(len(values), dtype=object)
                out[:] = [v[()] for v in present]
                return out.reshape(grid_shape)
        else:
            return np.stack(present).reshape(grid_shape + present[0].shape)
    maxshape = tuple(max(s[k] for s in shapes) for k in range(ndim))
    padded = len(shapes) > 1 or len(present) < len(values)
    kinds = {v.dtype.kind for v in present}
    if kinds & {"O", "U", "S"}:
        dtype: Any = object
    elif padded:
        dtype = np.result_type(*[v.dtype for v in present], np.float64)
    else:
        dtype = np.result_type(*[v.dtype for v in present])
    out = np.empty((len(values),) + maxshape, dtype=dtype)
    if dtype is object or padded:
        out[...] = _fill("O" if dtype is object else "f")
    for p, v in enumerate(values):
        if v is None:
            continue
        if v.ndim == 0:
            out[p] = v[()]
        else:
            out[(p,) + tuple(slice(0, s) for s in v.shape)] = v
    return out.reshape(grid_shape + maxshape)


def _is_prefix(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ndim == 1 and a.size <= b.size and a.dtype.kind == b.dtype.kind and np.array_equal(a, b[: a.size])


def _assemble(function: Callable[..., Any], axes: Dict[str, np.ndarray], fixed: Dict[str, Any],
              points: Dict[int, Dict[str, Tuple[Tuple[str, ...], np.ndarray]]], attrs: Dict[str, Any]) -> Any:
    xr = _require("xarray")
    names = list(axes)
    grid_shape = tuple(a.size for a in axes.values())
    n = int(np.prod(grid_shape))
    order: List[str] = []
    field_dims: Dict[str, Tuple[str, ...]] = {}
    for i in range(n):
        for f, (d, _) in points[i].items():
            if f not in field_dims:
                field_dims[f] = d
                order.append(f)
    # A 1-D field without declared dimensions that is named after a dimension of other fields
    # ("layer" for ("layer",), "seeds" for ("seed",)) runs along that dimension.
    declared = {x for f, d in field_dims.items() for x in d if not x.startswith(f"{f}_dim_")}
    for f in order:
        if field_dims[f] == (f"{f}_dim_0",):
            for cand in (f, f[:-1] if f.endswith("s") else None):
                if cand and cand in declared and cand not in names:
                    field_dims[f] = (cand,)
                    break
    # 1-D fields that label their own dimension (t for ("t",), seeds for ("seed",)) and are the same
    # at every point (up to the rows a point reached) become coordinates.
    coord_values: Dict[str, np.ndarray] = {}
    for f in order:
        d = field_dims[f]
        if not _coordinate_candidate(f, d, names):
            continue
        vals = [points[i][f][1] for i in range(n) if f in points[i]]
        longest = max(vals, key=lambda v: v.size)
        if longest.dtype.kind not in "biuf":
            continue
        if len({v.shape for v in vals}) == 1 and len({v.dtype for v in vals}) == 1:
            same = bool(np.all(np.stack(vals) == longest)) or all(_is_prefix(v, longest) for v in vals)
        else:
            same = all(_is_prefix(v, longest) for v in vals)
        if same:
            coord_values[f] = longest
    stacked = {f: _stack([points[i][f][1] if f in points[i] else None for i in range(n)], grid_shape)
               for f in order if f not in coord_values}
    return _build(function, axes, order, field_dims, coord_values, stacked, attrs)


def _coordinate_candidate(f: str, d: Tuple[str, ...], names: Sequence[str]) -> bool:
    """1-D fields that label their own dimension (t for ("t",), seeds for ("seed",)); they become
    coordinates when the same at every point (up to the rows a point reached)."""
    return len(d) == 1 and d[0] not in names and (f == d[0] or f == d[0] + "s")


def _assemble_columns(function: Callable[..., Any], axes: Dict[str, np.ndarray],
                      blocks: List[Tuple[List[int], Dict[str, Tuple[Tuple[str, ...], np.ndarray, Any]]]],
                      attrs: Dict[str, Any]) -> Any:
    """:func:`_assemble` from the fast path's column blocks (no per-point dicts): each block is
    ``(flat indices, {field: (dims, values with a leading point axis, rows reached or None)})``,
    ragged fields NaN-padded past each point's rows. The same Dataset as the per-point way."""
    names = list(axes)
    grid_shape = tuple(a.size for a in axes.values())
    n = int(np.prod(grid_shape))
    order = list(blocks[0][1])
    field_dims = {f: tuple(blocks[0][1][f][0]) for f in order}
    coord_values: Dict[str, np.ndarray] = {}
    stacked: Dict[str, np.ndarray] = {}
    for f in order:
        parts = [(idx, cols[f][1], cols[f][2]) for idx, cols in blocks]
        ragged = parts[0][2] is not None
        tail = parts[0][1].shape[1:]
        if ragged:
            rows = max(int(np.max(r)) if len(r) else 0 for _, _, r in parts)
            tail = (rows,) + tuple(tail[1:])
        dtype = np.result_type(*[a.dtype for _, a, _ in parts])
        out = np.empty((n,) + tuple(tail), dtype=dtype)
        lengths = np.zeros(n, dtype=np.int64) if ragged else None
        for idx, a, r in parts:
            if ragged:
                k = min(a.shape[1], tail[0])
                out[idx, :k] = a[:, :k]
                out[idx, k:] = np.nan
                lengths[idx] = r
            else:
                out[idx] = a
        if ragged and int(lengths.min()) == tail[0] and _coordinate_candidate(f, field_dims[f], names):
            # every point reached every row: a coordinate when the rows are the same everywhere
            if out.dtype.kind in "biuf" and bool(np.all(out == out[0])):
                coord_values[f] = out[0].copy()
                continue
        elif ragged and _coordinate_candidate(f, field_dims[f], names):
            longest = out[int(np.argmax(lengths))]
            valid = np.arange(tail[0])[None, :] < lengths[:, None]
            if bool(np.all((out == longest)[valid])):
                coord_values[f] = longest[: int(lengths.max())].copy()
                continue
        stacked[f] = out.reshape(grid_shape + tuple(tail))
    return _build(function, axes, order, field_dims, coord_values, stacked, attrs)


def _build(function: Callable[..., Any], axes: Dict[str, np.ndarray], order: List[str],
           field_dims: Dict[str, Tuple[str, ...]], coord_values: Dict[str, np.ndarray],
           stacked: Dict[str, np.ndarray], attrs: Dict[str, Any]) -> Any:
    """The Dataset from every field stacked over the grid (and the 1-D fields that are coordinates)."""
    xr = _require("xarray")
    names = list(axes)
    grid_shape = tuple(a.size for a in axes.values())
    coords: Dict[str, Any] = {p: (p, axes[p]) for p in names}
    coord_fields: Dict[str, str] = {}
    for f in order:
        if f in coord_values:
            d = field_dims[f]
            coords[d[0]] = (d[0], coord_values[f])
            coord_fields[f] = d[0]
    doc = _doc_descriptions(getattr(function, "__doc__", None))
    data_vars: Dict[str, Any] = {}
    dim_sizes: Dict[str, int] = {d: c[1].size for d, c in coords.items()}
    all_dims = set(names) | {x for d in field_dims.values() for x in d}
    for f in order:
        if f in coord_fields:
            continue
        d = field_dims[f]
        arr = stacked[f]
        var = f
        if f in names:
            # A field echoing a swept parameter (e.g. OdeResult.eta) is dropped when it equals it.
            mesh = np.meshgrid(*axes.values(), indexing="ij")[names.index(f)]
            if arr.dtype == object or mesh.dtype.kind in "US":
                same = arr.shape == mesh.shape and bool(np.all(arr.astype(str) == mesh.astype(str)))
            else:
                same = arr.shape == mesh.shape and np.array_equal(arr, mesh)
            if same:
                continue
        if f in all_dims:
            var = f"{f}_value"
        dims = []
        for k, dim in enumerate(d):
            size = arr.shape[len(grid_shape) + k]
            if dim in dims:  # a square matrix (K, K): the second axis is K2
                dim = f"{dim}2"
            if dim in names or dim in dims or (dim in dim_sizes and dim_sizes[dim] != size):
                dim = f"{f}_{dim}"
            dim_sizes.setdefault(dim, size)
            dims.append(dim)
        # Words and constants: a string that is the same everywhere is an attribute, not a variable.
        if arr.dtype == object and arr.ndim == len(grid_shape) and f != "status" and np.all(arr == arr.flat[0]):
            attrs.setdefault(f, str(arr.flat[0]))
            continue
        if arr.dtype == object:
            arr = arr.astype(str)
        data_vars[var] = (tuple(names) + tuple(dims), arr)
    ds = xr.Dataset(data_vars, coords={k: v for k, v in coords.items()})
    # Long names from the docstrings of the function (parameters) and of its result class.
    for p in names:
        if p in doc:
            ds[p].attrs["long_name"] = doc[p]
    cls_doc = attrs.pop("_result_doc", None)
    res_doc = _doc_descriptions(cls_doc)
    for v in list(ds.variables):
        key = v if v in res_doc else next((f for f, dd in coord_fields.items() if dd == v), v)
        if key in res_doc and "long_name" not in ds[v].attrs:
            ds[v].attrs["long_name"] = res_doc[key]
    if "status" in ds:
        ds["status"].attrs["long_name"] = "status word of each point (statmech_nn.STATUSES)"
    ds.attrs.update({k: v for k, v in attrs.items() if v is not None})
    return ds


# ---- stores --------------------------------------------------------------------------------------
class _Store:
    """A Zarr group holding finished chunks of a sweep: ``chunks/<id>`` with the flat point indices,
    every field stacked (padded) with each point's true shape, words as codes; a chunk counts once
    its ``done`` attribute is written (last), so an interrupted write is simply redone."""

    def __init__(self, path: Any, fingerprint: Dict[str, Any]) -> None:
        self.zarr = _require("zarr")
        self.path = os.fspath(path)
        self.group = self.zarr.open_group(self.path, mode="a")
        old = self.group.attrs.get("statmech_nn_sweep")
        if old is None:
            if len(list(self.group.group_keys())) or len(list(self.group.array_keys())):
                raise ValueError(f"store {self.path!r} is not empty and holds no statmech_nn sweep; "
                                 "pass a new path")
            self.group.attrs["statmech_nn_sweep"] = fingerprint
        elif old != json.loads(json.dumps(fingerprint)):
            raise ValueError(f"store {self.path!r} holds a different sweep ({_difference(old, fingerprint)}); "
                             "refusing to mix results: pass a new store path or delete the old one")
        self.chunks = self.group.require_group("chunks")

    def load(self) -> Dict[int, Dict[str, Tuple[Tuple[str, ...], np.ndarray]]]:
        out: Dict[int, Dict[str, Any]] = {}
        for key in sorted(self.chunks.group_keys()):
            g = self.chunks[key]
            meta = g.attrs.asdict() if hasattr(g.attrs, "asdict") else dict(g.attrs)
            if not meta.get("done"):
                continue
            index = np.asarray(g["index"][...])
            pts: List[Dict[str, Any]] = [{} for _ in index]
            for f, info in meta["fields"].items():
                data = np.asarray(g[info["key"]][...])
                shapes = np.asarray(g[info["key"] + ".shape"][...])
                vocab = info.get("vocab")
                for j in range(index.size):
                    if shapes[j, 0] < 0:
                        continue
                    shp = tuple(int(s) for s in shapes[j, 1:])
                    v = data[(j,) + tuple(slice(0, s) for s in shp)]
                    if vocab is not None:
                        v = np.asarray(vocab, dtype=object)[v] if v.ndim else np.array(vocab[int(v)], dtype=object)
                    pts[j][f] = (tuple(info["dims"]), np.array(v, copy=True))
            for i, p in zip(index.tolist(), pts):
                out[int(i)] = p
        return out

    def write(self, chunk: List[Tuple[int, Dict[str, Any]]]) -> None:
        if not chunk:
            return
        index = np.array([i for i, _ in chunk], dtype=np.int64)
        key = f"c{index[0]:012d}_{index.size}"
        if key in self.chunks:
            del self.chunks[key]
        g = self.chunks.create_group(key)
        _create(g, "index", index)
        fields: Dict[str, Any] = {}
        names: List[str] = []
        for _, p in chunk:
            for f in p:
                if f not in names:
                    names.append(f)
        for k, f in enumerate(names):
            vals = [p.get(f) for _, p in chunk]
            present = [v for v in vals if v is not None]
            dims, first = present[0]
            ndim = first.ndim
            shapes = np.full((len(vals), ndim + 1), -1, dtype=np.int64)
            info: Dict[str, Any] = {"key": f"f{k}", "dims": list(dims)}
            arrays = []
            for j, v in enumerate(vals):
                if v is not None:
                    shapes[j, 0] = 0
                    shapes[j, 1:] = v[1].shape
            if first.dtype == object:
                vocab = sorted({str(x) for _, a in present for x in np.asarray(a, dtype=object).ravel()})
                code = {w: c for c, w in enumerate(vocab)}
                info["vocab"] = vocab
                for v in vals:
                    arrays.append(None if v is None else
                                  np.vectorize(lambda w: code[str(w)], otypes=[np.int32])(v[1])
                                  if v[1].ndim else np.array(code[str(v[1].item())], dtype=np.int32))
                dtype: Any = np.int32
            else:
                arrays = [None if v is None else v[1] for v in vals]
                dtype = np.result_type(*[a for a in arrays if a is not None])
            maxshape = tuple(int(shapes[shapes[:, 0] >= 0, 1 + d].max()) for d in range(ndim))
            data = np.zeros((len(vals),) + maxshape, dtype=dtype)
            for j, a in enumerate(arrays):
                if a is not None:
                    data[(j,) + tuple(slice(0, s) for s in a.shape)] = a
            _create(g, info["key"], data)
            _create(g, info["key"] + ".shape", shapes)
            fields[f] = info
        g.attrs["fields"] = fields
        g.attrs["done"] = True


def _create(group: Any, name: str, data: np.ndarray) -> None:
    """Write an array into a Zarr group (zarr 3: create_array; zarr 2: create_dataset)."""
    if hasattr(group, "create_array"):
        group.create_array(name, data=data)
    else:  # pragma: no cover - zarr 2
        group.create_dataset(name, data=data)


def _difference(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    new = json.loads(json.dumps(new))
    for section in ("function", "axes", "fixed", "seed", "version", "format"):
        a, b = old.get(section), new.get(section)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if a.get(k, "<missing>") != b.get(k, "<missing>"):
                    what = {"axes": "axis", "fixed": "fixed argument"}[section]
                    return f"{what} {k!r} was {_short(a.get(k, '<not given>'))}, now {_short(b.get(k, '<not given>'))}"
        return f"{section} was {_short(a)}, now {_short(b)}"
    return "different arguments"


def _short(v: Any) -> str:
    text = json.dumps(v)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- the sweep -------------------------------------------------------------------------------------
def _chunks(todo: List[int], size: int) -> Iterable[List[int]]:
    for k in range(0, len(todo), size):
        yield todo[k:k + size]


def sweep(function: Callable[..., Any], axes: Mapping[str, Any], /, *, progress: bool = True,
          backend: str = "threads", client: Any = None, store: Any = None, num_workers: Optional[int] = None,
          chunk_size: Optional[int] = None, seed: Optional[int] = None, fast_path: bool = True,
          **fixed: Any) -> Any:
    """Evaluate ``function`` over the Cartesian product of ``axes`` and return an ``xarray.Dataset``.

    Parameters
    ----------
    function : callable
        Any public theory or simulator function (e.g. :func:`statmech_nn.perceptron.ode`,
        :func:`statmech_nn.perceptron.simulate`, :func:`statmech_nn.meanfield.q_map`), or any
        callable taking keyword arguments (module-level for ``"processes"``/``"dask"``).
    axes : dict
        Parameter name -> 1-D sequence of values (distinct, finite). The grid is their Cartesian
        product in the given order; point ``i`` is the flat C-order index.
    progress : bool
        Show a ``tqdm`` progress bar (points done, rate, ETA; notebook-aware) on stderr.
    backend : {"threads", "processes", "dask"}
        Where the points run: a thread pool (the C++ core releases the GIL), a process pool, or a
        dask ``distributed`` cluster (``client``).
    client : distributed.Client or str, optional
        The dask client, or a scheduler address (a client is then opened and closed here).
        Default: ``distributed.get_client()`` (the current client).
    store : str or path, optional
        A Zarr store (directory, e.g. ``"runs/eta_l0.zarr"``). Each finished chunk is written as it
        completes; running the same sweep again skips the points already there (so an interrupted
        sweep resumes), and a sweep with a different function, axis, fixed argument or ``seed`` is
        refused with ``ValueError`` rather than mixing results.
    num_workers : int, optional
        Threads/processes (default: the number of CPUs); ignored by ``"dask"``.
    chunk_size : int, optional
        Points per task (default: about 8 tasks per worker, at most 256 points).
    seed : int, optional
        If given, and ``function`` takes ``seeds`` that you did not fix or sweep, point ``i`` runs
        with ``seeds = SeedSequence([seed, i]).generate_state(n)`` (``n`` = the number of seeds of
        the function's default); otherwise every point uses the same, fixed seeds.
    fast_path : bool
        Use the C++ grid fast path where there is one (module docstring); ``False`` makes one
        Python call per point (the same numbers, slower).
    **fixed
        Every other argument of ``function``, the same at every point (arrays such as a time grid
        ``t`` included).

    Returns
    -------
    xarray.Dataset
        Dimensions: the swept parameters, then each result field's own dimensions (the result
        class's ``_dims``, e.g. ``("t",)``, ``("seed", "t")``; ``<field>_dim_<k>`` otherwise).
        Coordinates: the swept values, and 1-D fields such as ``t`` or ``seeds`` that are the same
        at every point. Points whose arrays are shorter (e.g. an ODE stopped by divergence) are
        padded with NaN. ``status`` holds each point's status word (plain-array returns: ``"ok"``,
        or ``"diverged"`` if a value is not finite). Attributes: the JSON-able fixed arguments,
        string fields that are the same everywhere, ``function``, ``statmech_nn_version``.

    Raises
    ------
    ImportError
        Without the ``sweep`` extra (``pip install "statmech_nn[sweep]"``).
    ValueError, TypeError
        For a bad axis, an unknown parameter name, a missing required argument, or a store
        holding a different sweep; an error at a point names the point.
    """
    _require("xarray")
    if not callable(function):
        raise TypeError(f"sweep: function must be callable; got {type(function).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"sweep: backend must be one of {BACKENDS}; got {backend!r}")
    if client is not None and backend != "dask":
        raise ValueError('sweep: client is only used with backend="dask"')
    if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral)
                                    or num_workers < 1):
        raise ValueError(f"sweep: num_workers must be a positive int; got {num_workers!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral)
                                   or chunk_size < 1):
        raise ValueError(f"sweep: chunk_size must be a positive int; got {chunk_size!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"sweep: seed must be a non-negative int; got {seed!r}")
    if not isinstance(fast_path, (bool, np.bool_)):
        raise TypeError(f"sweep: fast_path must be True or False; got {type(fast_path).__name__}")
    grid = _check_axes(function, axes, fixed)
    params, _, _ = _parameters(function)
    names = list(grid)
    shape = tuple(a.size for a in grid.values())
    n = int(np.prod(shape))
    fixed = dict(fixed)
    call_fixed = dict(fixed)
    if "num_threads" in params and "num_threads" not in fixed and "num_threads" not in grid:
        call_fixed["num_threads"] = 1
    seed_info = None
    if seed is not None:
        if "seeds" not in params:
            raise ValueError(f"sweep: seed is given but {getattr(function, '__qualname__', function)}() takes no seeds")
        if "seeds" in fixed or "seeds" in grid:
            raise ValueError("sweep: give either seed (seeds derived per point) or seeds (the same at every point)")
        default = params["seeds"].default
        count = 1 if default is inspect.Parameter.empty or np.ndim(default) == 0 else len(default)
        seed_info = (int(seed), "seeds", count)
    result_name = getattr(function, "__name__", "value")
    fingerprint = {"format": _STORE_FORMAT, "function": _function_name(function),
                   "axes": {p: _json_value(a) for p, a in grid.items()},
                   "fixed": {k: _json_value(v) for k, v in fixed.items()}, "seed": seed, "version": __version__}

    st = _Store(store, fingerprint) if store is not None else None
    results: Dict[int, Dict[str, Any]] = st.load() if st is not None else {}
    todo = [i for i in range(n) if i not in results]
    # point i's values (flat C-order index), built column-wise: one unravel for the whole grid
    columns = [list(grid[p][k]) for p, k in zip(names, np.unravel_index(np.arange(n), shape))]
    values = list(zip(*columns))

    bar = None
    if progress:
        tqdm = _require("tqdm.auto").tqdm
        bar = tqdm(total=n, initial=n - len(todo), desc=f"sweep {result_name}", unit="pt", dynamic_ncols=True)
    try:
        blocks: List[Any] = []
        if todo:
            _execute(function, call_fixed, names, values, todo, seed_info, result_name, backend, client,
                     num_workers, chunk_size, st, results, bar, bool(fast_path) and seed_info is None, blocks)
    finally:
        if bar is not None:
            bar.close()

    attrs: Dict[str, Any] = {"function": _function_name(function), "statmech_nn_version": __version__}
    for k, v in fixed.items():
        a = _attr_value(v)
        if a is not None:
            attrs[k] = a
    if seed is not None:
        attrs["sweep_seed"] = int(seed)
    attrs["_result_doc"] = _result_doc(function)
    if blocks:
        columns = [(idx, runner.columns(points, raw)) for idx, points, raw, runner in blocks] \
            if not results and all(b[3].columns is not None for b in blocks) else None
        if columns is not None and all(c is not None for _, c in columns):
            return _assemble_columns(function, grid, columns, attrs)
        for _, points, raw, runner in blocks:  # some points went the generic way: per-point fields
            results.update(runner.explode(points, raw))
    return _assemble(function, grid, fixed, results, attrs)


def _execute(function: Callable[..., Any], fixed: Dict[str, Any], names: List[str], values: List[Tuple[Any, ...]],
             todo: List[int], seed_info: Any, result_name: str, backend: str, client: Any,
             num_workers: Optional[int], chunk_size: Optional[int], st: Optional[_Store],
             results: Dict[int, Dict[str, Any]], bar: Any, fast: bool = False,
             blocks: Optional[List[Any]] = None) -> None:
    workers = num_workers or os.cpu_count() or 1
    if fast and backend == "threads":
        todo = _execute_fast(function, fixed, names, values, todo, result_name, workers, chunk_size, st,
                             results, bar, blocks)
        if not todo:
            return
    per_worker = 8
    if backend == "dask":
        client, own = _dask_client(client)
        # Tasks cost about a millisecond each on a cluster: fewer, larger chunks (4 per worker thread).
        workers = max(1, sum(client.nthreads().values()))
        per_worker = 2 if fast else 4
    size = chunk_size or max(1, min(4096 if fast else 256, -(-len(todo) // (per_worker * workers))))
    chunks = [[(i, values[i]) for i in c] for c in _chunks(todo, size)]

    def finish(out: List[Tuple[int, Dict[str, Any]]]) -> None:
        if st is not None:
            st.write(out)
        for i, p in out:
            results[i] = p
        if bar is not None and backend != "threads":
            bar.update(len(out))

    if backend == "dask":
        try:
            keep = None
            if st is None and blocks is not None:
                def keep(points: Any, raw: Any, runner: Any) -> None:  # noqa: E306 - whole chunks, no store
                    blocks.append(([i for i, _ in points], points, raw, runner))
                    if bar is not None:
                        bar.update(len(points))
            _run_dask(function, fixed, names, chunks, seed_info, result_name, client, finish, fast, keep)
        finally:
            if own:
                client.close()
        return
    stop = threading.Event()
    if backend == "threads":
        lock = threading.Lock()

        def tick() -> None:
            if bar is not None:
                with lock:
                    bar.update(1)

        pool: cf.Executor = cf.ThreadPoolExecutor(max_workers=workers)
        submit = lambda c: pool.submit(_run_points, function, fixed, names, c, seed_info, result_name, stop, tick)
    else:
        import multiprocessing

        pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        submit = lambda c: pool.submit(_run_points, function, fixed, names, c, seed_info, result_name)
    futures: List[Any] = []
    try:
        futures = [submit(c) for c in chunks]
        for fut in cf.as_completed(futures):
            finish(fut.result())
    except BaseException:
        # Ctrl-C or an error: stop handing out points, keep what finished (whole chunks only).
        stop.set()
        for fut in futures:
            fut.cancel()
        for fut in futures:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                out = fut.result()
                if out and out[0][0] not in results:
                    try:
                        finish(out)  # a second Ctrl-C here stops at once; the store stays consistent
                    except Exception:
                        pass
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: Most points of one fast-path core call (bounds the memory of its padded arrays).
_FAST_CHUNK_MAX = 16384


def _fast_chunks(todo: List[int], workers: int, chunk_size: Optional[int], stored: bool) -> List[List[int]]:
    # As few core calls as possible: each one starts an OpenMP team, and on a loaded machine waking
    # the team costs ~10 ms per call (measured: 16 calls of 62 points took 2x one call of 1000).
    # The progress bar advances from inside the call; with a store, ~16 chunks so that an
    # interrupted sweep keeps most of its work.
    if chunk_size:
        size = chunk_size
    elif stored:
        size = max(256 * workers, -(-len(todo) // 16))
    else:
        size = len(todo)
    return list(_chunks(todo, max(1, min(size, _FAST_CHUNK_MAX))))


def _execute_fast(function: Callable[..., Any], fixed: Dict[str, Any], names: List[str],
                  values: List[Tuple[Any, ...]], todo: List[int], result_name: str, workers: int,
                  chunk_size: Optional[int], st: Optional[_Store], results: Dict[int, Dict[str, Any]],
                  bar: Any, blocks: Optional[List[Any]] = None) -> List[int]:
    """The C++ grid fast path (``_sweep_fast``); returns the points it left to the generic path.
    Without a store, chunks with column output are kept whole in ``blocks`` (``(indices, points,
    raw, runner)``) for :func:`_assemble_columns`; the others go into ``results`` per point."""
    from . import _core, _sweep_fast

    runner = _sweep_fast.fast_path(function, fixed, names, workers)
    if runner is None:
        return todo
    chunks = _fast_chunks(todo, workers, chunk_size, st is not None)
    for k, chunk in enumerate(chunks):
        points = [(i, values[i]) for i in chunk]
        start = bar.n if bar is not None else 0

        def shown(done: int, total: int, start: int = start) -> None:
            bar.update(start + done - bar.n)

        previous = _core.set_progress_callback(shown if bar is not None else None)
        try:
            if st is None and blocks is not None and runner.columns is not None:
                try:
                    blocks.append((chunk, points, runner.compute(points), runner))
                except _sweep_fast.NotHandled:  # a point the function refuses: the generic path says so
                    return [i for c in chunks[k:] for i in c]
                if bar is not None:
                    bar.update(start + len(chunk) - bar.n)
                continue
            packed = _run_points_fast(function, fixed, names, points, result_name, workers)
        finally:
            _core.set_progress_callback(previous)
        if packed is None:  # a point the function refuses: the generic path raises its error
            return [i for c in chunks[k:] for i in c]
        if st is not None:
            st.write(packed)
        for i, p in packed:
            results[i] = p
        if bar is not None:
            bar.update(start + len(chunk) - bar.n)
    return []


def _run_dask(function: Callable[..., Any], fixed: Dict[str, Any], names: List[str], chunks: List[Any],
              seed_info: Any, result_name: str, client: Any, finish: Callable[[Any], None],
              fast: bool = False, keep: Optional[Callable[[Any, Any, Any], None]] = None) -> None:
    distributed = _require("distributed")
    futures: List[Any] = []
    done: set = set()
    runner = None
    if fast:
        from . import _sweep_fast

        runner = _sweep_fast.fast_path(function, fixed, names, 1)
    chunk_of: Dict[Any, Any] = {}

    def unpack(fut: Any) -> List[Tuple[int, Dict[str, Any]]]:
        kind, payload = pickle.loads(fut.result())
        if kind == "raw":
            payload = _expand(payload)
            if runner is None:  # pragma: no cover - the worker found a fast path the client did not
                raise RuntimeError("sweep: a dask worker used a fast path this process does not have")
            if keep is not None and runner.columns is not None:
                keep(chunk_of[fut.key], payload, runner)  # assembled column-wise at the end
                return []
            return runner.explode(chunk_of[fut.key], payload)
        return payload

    try:
        for c in chunks:
            packed = pickle.dumps(c, protocol=pickle.HIGHEST_PROTOCOL)  # opaque to dask: not walked
            fut = client.submit(_run_points_packed, function, fixed, names, packed, seed_info, result_name,
                                fast and runner is not None, pure=False)
            chunk_of[fut.key] = c
            futures.append(fut)
        for fut in distributed.as_completed(futures):
            finish(unpack(fut))
            done.add(fut.key)
    except BaseException:
        for fut in futures:
            if fut.key not in done and fut.done() and fut.status == "finished":
                try:
                    finish(unpack(fut))
                except Exception:
                    pass
        client.cancel([f for f in futures if not f.done()])
        raise


def _dask_client(client: Any) -> Tuple[Any, bool]:
    """The distributed.Client to use, and whether it was opened here (then closed after)."""
    distributed = _require("distributed")
    if client is None:
        try:
            return distributed.get_client(), False
        except ValueError as exc:
            raise ValueError('sweep: backend="dask" needs a client (a distributed.Client or a scheduler '
                             "address) or a current client") from exc
    if isinstance(client, str):
        return distributed.Client(client), True
    if not hasattr(client, "submit"):
        raise TypeError(f"sweep: client must be a distributed.Client or a scheduler address; got {type(client).__name__}")
    return client, False
