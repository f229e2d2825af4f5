"""The result protocol shared by every function of the package.

Every public function returns a :class:`Result` (a dataclass deriving from it). A result has

* named fields holding NumPy arrays or scalars (paper symbols such as ``Q``, ``R``, ``q_star``
  are documented in each class's docstring),
* ``status``: one word of :data:`STATUSES` (an array of words for results over a grid, and a
  per-seed ``seed_status`` for simulators),
* ``.ok``: True when every status word means the numbers can be used as they are,
* a short ``repr`` (shapes and key scalars, never whole arrays) and an HTML table in notebooks,
* ``to_dict()``, ``save(path)`` / :func:`load` (a ``.npz`` file with the arrays plus JSON metadata:
  class, parameters, status and package version) and ``to_dataframe()`` (needs pandas).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import warnings
from typing import Any, ClassVar, Dict, Tuple, Union

import numpy as np

__all__ = ["STATUSES", "OK_STATUSES", "Result", "resultclass", "load", "combine_status", "status_words", "status_codes"]

#: The status vocabulary of every result, with what each word means, in order of severity (the
#: core's integer status codes index this order: cpp/include/statmech_nn/status.hpp).
STATUSES: Dict[str, str] = {
    "ok": "finished as asked; every number is finite and within the stated accuracy",
    "event": "an ODE run stopped at the event it was asked to watch for (e.g. eps_g reached a threshold)",
    "marginal": "a fixed point at criticality (slope 1): found, but approached only algebraically in depth",
    "not_reached": "finished without reaching the asked-for target (e.g. eps_g threshold by t_max); values up to there are valid",
    "inaccurate": "finished, but the accuracy target was not met (see the result's docstring for which value)",
    "degenerate": "the model itself is ill-defined here (e.g. a batch-norm batch with zero variance)",
    "max_steps": "the step budget (max_steps) was used up before the end",
    "step_too_small": "the adaptive step size fell below the rounding level of t (stiff or singular dynamics)",
    "diverged": "the state overflowed or left its domain; fields say where/when and hold the values before that",
}

#: Status words whose numbers can be used as they are (``Result.ok``).
OK_STATUSES: Tuple[str, ...] = ("ok", "event", "marginal", "not_reached")

_WORDS = tuple(STATUSES)
_SEVERITY = {name: i for i, name in enumerate(_WORDS)}


def status_words(codes: Any) -> Any:
    """The words of the core's integer status codes (a str for a scalar, else an array of str)."""
    names = np.asarray(_WORDS, dtype=object)[np.asarray(codes, dtype=np.int64)]
    return str(names) if np.ndim(names) == 0 else names.astype(str)


def status_codes(words: Any) -> np.ndarray:
    """The integer codes (severity order) of status words."""
    arr = np.asarray(words, dtype=object)
    return np.vectorize(lambda w: _SEVERITY[str(w)], otypes=[np.int64])(arr) if arr.size else arr.astype(np.int64)


def combine_status(statuses: Any) -> str:
    """The single status summarising several (the most severe word)."""
    words = np.asarray(statuses, dtype=object).ravel()
    if words.size == 0:
        return "ok"
    return max((str(w) for w in words), key=lambda w: _SEVERITY.get(w, len(_SEVERITY)))


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray)


def _summary(v: Any) -> str:
    """A one-token description of a field value for the short repr."""
    if v is None:
        return "None"
    if _is_array(v):
        if v.ndim == 0:
            return _summary(v.item())
        if v.size <= 4 and v.dtype.kind in "fiub":
            return np.array2string(v, precision=6, separator=", ")
        if v.dtype.kind in "US" or v.dtype == object:
            uniq = np.unique(v.astype(str))
            words = ", ".join(uniq[:4]) + (", ..." if uniq.size > 4 else "")
            return f"<{v.dtype.kind if v.dtype != object else 'str'} {v.shape}: {words}>"
        shape = "x".join(str(s) for s in v.shape)
        if v.dtype.kind == "f" and v.size:
            fin = v[np.isfinite(v)]
            rng = f" in [{fin.min():.4g}, {fin.max():.4g}]" if fin.size else " all non-finite"
            nonfinite = "" if fin.size == v.size or not fin.size else f" ({v.size - fin.size} non-finite)"
            return f"<{shape} float64{rng}{nonfinite}>"
        return f"<{shape} {v.dtype}>"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        if len(v) <= 4 and all(isinstance(x, (int, float, str, np.integer, np.floating)) for x in v):
            return repr(type(v)(v))
        return f"<{type(v).__name__} of {len(v)}>"
    if isinstance(v, Result):
        return f"<{type(v).__name__} {v.status if isinstance(v.status, str) else 'grid'}>"
    if isinstance(v, dict):
        return f"<dict of {len(v)}>"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class Result:
    """Base class of every result object (used with ``@dataclasses.dataclass``).

    Subclasses may set

    * ``_dims``: field name -> tuple of dimension names (e.g. ``{"Q": ("t", "K", "K")}``), used by
      :meth:`to_dataframe` and by sweeps;
    * ``_aliases``: old attribute name -> current name; reading the old one warns with
      ``DeprecationWarning``.
    """

    _dims: ClassVar[Dict[str, Tuple[str, ...]]] = {}
    _aliases: ClassVar[Dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[f"{cls.__module__}:{cls.__qualname__}"] = cls

    # -- status -----------------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True when every status word is one of :data:`OK_STATUSES`."""
        st = getattr(self, "status", "ok")
        words = np.asarray(st, dtype=object).ravel()
        return bool(all(str(w) in OK_STATUSES for w in words))

    # -- deprecated attribute names ---------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails.
        aliases = type(self).__dict__.get("_aliases") or getattr(type(self), "_aliases", {})
        if name in aliases:
            new = aliases[name]
            warnings.warn(f"{type(self).__name__}.{name} is deprecated; use .{new}", DeprecationWarning,
                          stacklevel=2)
            return getattr(self, new)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- fields -----------------------------------------------------------------------------------
    def _field_names(self) -> Tuple[str, ...]:
        if dataclasses.is_dataclass(self):
            return tuple(f.name for f in dataclasses.fields(self))
        return tuple(k for k in vars(self) if not k.startswith("_"))

    def to_dict(self) -> Dict[str, Any]:
        """The fields as a dict (arrays are not copied; nested results become dicts)."""
        out: Dict[str, Any] = {}
        for name in self._field_names():
            v = getattr(self, name)
            out[name] = v.to_dict() if isinstance(v, Result) else v
        return out

    # -- display ----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        parts = []
        for name in self._field_names():
            parts.append(f"{name}={_summary(getattr(self, name))}")
        text = f"{type(self).__name__}(" + ", ".join(parts) + ")"
        if len(text) > 1900:
            text = text[:1890] + " ...)"
        return text

    def _repr_html_(self) -> str:
        import html

        st = getattr(self, "status", None)
        rows = "".join(
            f"<tr><td style='text-align:left'><code>{html.escape(n)}</code></td>"
            f"<td style='text-align:left'>{html.escape(_summary(getattr(self, n)))}</td></tr>"
            for n in self._field_names())
        colour = "green" if self.ok else "#b00"
        head = f"<b>{html.escape(type(self).__name__)}</b>"
        if st is not None:
            head += f" &mdash; status <span style='color:{colour}'>{html.escape(combine_status(st))}</span>"
        return f"<div>{head}<table>{rows}</table></div>"

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: Union[str, os.PathLike]) -> str:
        """Write the result to ``path`` (``.npz``; the suffix is added if missing).

        Arrays are stored as NumPy arrays, everything else (scalars, strings, parameters, status,
        package version, class) as JSON metadata. :func:`statmech_nn.load` reads it back.
        Returns the path written.
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        arrays: Dict[str, np.ndarray] = {}
        meta: Dict[str, Any] = {}
        _flatten(self, "", arrays, meta)
        from ._version import __version__

        header = {"class": f"{type(self).__module__}:{type(self).__qualname__}", "version": __version__,
                  "fields": meta}
        arrays["__meta__"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    def to_dataframe(self) -> Any:
        """A pandas DataFrame in long form over the largest array's dimensions.

        Every array field with that shape becomes a column; dimension names come from ``_dims``
        (``dim_0``, ... otherwise) and become the index; scalar fields are stored in ``df.attrs``.
        Needs pandas (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install \"statmech_nn[dataframe]\" (or pandas)") from exc
        fields = {n: getattr(self, n) for n in self._field_names()}
        arrays = {n: v for n, v in fields.items() if _is_array(v) and v.ndim >= 1}
        if not arrays:
            df = pd.DataFrame({n: [v] for n, v in fields.items() if not isinstance(v, Result)})
            return df
        shape = max((v.shape for v in arrays.values()), key=lambda s: (len(s), int(np.prod(s))))
        cols = {n: v.reshape(-1) for n, v in arrays.items() if v.shape == shape}
        dims = self._dims.get(next(iter(cols)), tuple(f"dim_{i}" for i in range(len(shape))))
        if len(dims) != len(shape):
            dims = tuple(f"dim_{i}" for i in range(len(shape)))
        # 1-D coordinate fields (e.g. t, seeds) whose length matches a dimension label that axis.
        index_arrays = []
        for axis, (dim, n) in enumerate(zip(dims, shape)):
            coord = arrays.get(dim)
            if coord is not None and coord.shape == (n,) and dim not in cols:
                values = coord
            else:
                values = np.arange(n)
            index_arrays.append(np.broadcast_to(values.reshape((1,) * axis + (n,) + (1,) * (len(shape) - axis - 1)),
                                                shape).reshape(-1))
        index = pd.MultiIndex.from_arrays(index_arrays, names=list(dims)) if len(shape) > 1 else \
            pd.Index(index_arrays[0], name=dims[0])
        df = pd.DataFrame(cols, index=index)
        df.attrs.update({n: v for n, v in fields.items()
                         if not _is_array(v) and not isinstance(v, Result) and _jsonable(v)})
        return df


def resultclass(cls: Any = None, **kwargs: Any) -> Any:
    """``@resultclass``: a dataclass deriving from :class:`Result` that keeps the short repr
    (``repr=False``) and compares by identity (``eq=False``: fields are arrays)."""

    def wrap(c: type) -> type:
        if not issubclass(c, Result):
            raise TypeError(f"{c.__name__} must derive from Result")
        return dataclasses.dataclass(repr=False, eq=False, **kwargs)(c)

    return wrap if cls is None else wrap(cls)


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(_to_json(v))
        return True
    except (TypeError, ValueError):
        return False


def _to_json(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if np.isfinite(f) else {"__float__": repr(f)}
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _to_json(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, bool)):
        return v
    raise TypeError(f"cannot store {type(v).__name__} as metadata")


def _from_json(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"__float__"}:
            return float(v["__float__"])
        return {k: _from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    return v


def _flatten(res: Result, prefix: str, arrays: Dict[str, np.ndarray], meta: Dict[str, Any]) -> None:
    for name in res._field_names():
        v = getattr(res, name)
        key = prefix + name
        if isinstance(v, Result):
            sub: Dict[str, Any] = {}
            _flatten(v, key + "/", arrays, sub)
            meta[name] = {"__result__": f"{type(v).__module__}:{type(v).__qualname__}", "fields": sub}
        elif _is_array(v):
            if v.dtype == object:
                try:
                    arr = v.astype(str)
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"cannot save field {key!r}: object array") from exc
                arrays[key] = arr
                meta[name] = {"__array__": key, "object_str": True}
            else:
                arrays[key] = v
                meta[name] = {"__array__": key}
        else:
            try:
                meta[name] = _to_json(v)
            except TypeError as exc:
                raise TypeError(f"cannot save field {key!r} of type {type(v).__name__}") from exc


# Every Result subclass, by "module:qualname"; load() builds only these.
_REGISTRY: Dict[str, type] = {}


def _resolve(spec: str) -> type:
    if spec in _REGISTRY:
        return _REGISTRY[spec]
    module, _, qual = spec.partition(":")
    if not (module == "statmech_nn" or module.startswith("statmech_nn.")):
        raise ValueError(f"refusing to load a result of class {spec!r} (not a statmech_nn class)")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    if spec in _REGISTRY:
        return _REGISTRY[spec]
    if not (isinstance(obj, type) and issubclass(obj, Result)):
        raise ValueError(f"{spec!r} is not a statmech_nn result class")
    return obj


def _rebuild(cls: type, fields: Dict[str, Any], npz: Any) -> Result:
    values: Dict[str, Any] = {}
    for name, m in fields.items():
        if isinstance(m, dict) and "__array__" in m:
            arr = np.asarray(npz[m["__array__"]])
            values[name] = arr.astype(object) if m.get("object_str") else arr
        elif isinstance(m, dict) and "__result__" in m:
            values[name] = _rebuild(_resolve(m["__result__"]), m["fields"], npz)
        else:
            values[name] = _from_json(m)
    if dataclasses.is_dataclass(cls):
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        obj = cls(**{k: v for k, v in values.items() if k in names})
        for k, v in values.items():
            if k not in names:
                object.__setattr__(obj, k, v)
        return obj
    obj = cls.__new__(cls)
    obj.__dict__.update(values)
    return obj


def load(path: Union[str, os.PathLike]) -> Result:
    """Read a result written by ``Result.save`` (the same class, fields and status)."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    with np.load(path, allow_pickle=False) as npz:
        if "__meta__" not in npz.files:
            raise ValueError(f"{path}: not a statmech_nn result file (no metadata)")
        header = json.loads(bytes(npz["__meta__"]).decode("utf-8"))
        cls = _resolve(header["class"])
        return _rebuild(cls, header["fields"], npz)
