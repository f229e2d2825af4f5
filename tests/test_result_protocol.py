"""The shared result protocol: status vocabulary, short repr, dict/npz round trip, DataFrame."""

from typing import Optional

import numpy as np
import pytest

import statmech_nn as sn
from statmech_nn._result import Result, combine_status, resultclass


@resultclass
class _Demo(Result):
    t: np.ndarray
    Q: np.ndarray
    eg: np.ndarray
    status: str
    stop_time: float
    activation: str
    extra: Optional[np.ndarray] = None
    _dims = {"Q": ("t", "i", "j"), "eg": ("t",)}
    _aliases = {"t_stop": "stop_time"}


def _demo(n=2000):
    t = np.linspace(0, 1, n)
    return _Demo(t=t, Q=np.ones((n, 2, 2)) * t[:, None, None], eg=np.exp(-t), status="ok", stop_time=1.0,
                 activation="erf")


def test_status_vocabulary_is_documented():
    assert set(sn.STATUSES) >= {"ok", "diverged", "event", "marginal", "max_steps", "step_too_small"}
    assert all(isinstance(v, str) and len(v) > 10 for v in sn.STATUSES.values())
    assert set(sn.OK_STATUSES) <= set(sn.STATUSES)


def test_ok_and_combine():
    r = _demo(10)
    assert r.ok
    r.status = "diverged"
    assert not r.ok
    assert combine_status(["ok", "marginal", "diverged", "ok"]) == "diverged"
    assert combine_status(np.array([["ok", "event"]])) == "event"


def test_repr_is_short_and_does_not_dump_arrays():
    r = _demo(100000)
    text = repr(r)
    assert len(text) < 2000
    assert "100000" in text and "status='ok'" not in text or "status=" in text
    assert "0.5" not in text.split("t=")[1][:20]  # no array values printed
    html = r._repr_html_()
    assert "<table>" in html and "_Demo" in html


def test_save_load_round_trip(tmp_path):
    r = _demo(50)
    r.extra = np.array(["ok", "diverged"], dtype=object)
    path = r.save(tmp_path / "run")
    assert path.endswith(".npz")
    back = sn.load(path)
    assert type(back) is _Demo
    np.testing.assert_array_equal(back.Q, r.Q)
    assert back.status == "ok" and back.stop_time == 1.0 and back.activation == "erf"
    assert list(back.extra) == ["ok", "diverged"]


def test_nonfinite_scalars_round_trip(tmp_path):
    r = _demo(3)
    r.stop_time = float("inf")
    back = sn.load(r.save(tmp_path / "x.npz"))
    assert back.stop_time == float("inf")


def test_load_refuses_foreign_classes(tmp_path):
    import json
    path = tmp_path / "evil.npz"
    meta = json.dumps({"class": "os:system", "version": "0", "fields": {}}).encode()
    np.savez(path, __meta__=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(ValueError, match="refusing"):
        sn.load(path)


def test_deprecated_attribute_alias_warns():
    r = _demo(3)
    with pytest.warns(DeprecationWarning, match="stop_time"):
        assert r.t_stop == 1.0
    with pytest.raises(AttributeError):
        r.no_such_field


def test_to_dataframe():
    pd = pytest.importorskip("pandas")
    r = _demo(5)
    df = r.to_dataframe()
    assert list(df.index.names) == ["t", "i", "j"]
    assert len(df) == 5 * 2 * 2
    assert df.attrs["activation"] == "erf"
    np.testing.assert_allclose(df["Q"].to_numpy(), r.Q.reshape(-1))


def test_core_status_codes_are_the_python_vocabulary():
    from statmech_nn import _core
    from statmech_nn._result import status_codes, status_words

    assert tuple(_core.status_names()) == tuple(sn.STATUSES)
    assert status_words(8) == "diverged" and list(status_words([0, 2])) == ["ok", "marginal"]
    assert list(status_codes(["ok", "diverged"])) == [0, 8]
