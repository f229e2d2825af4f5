"""statmech_nn.sweep: labelled grids, backends, resumable stores, progress (needs the "sweep" extra)."""

import sys

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("zarr")
pytest.importorskip("tqdm")

import statmech_nn as sn  # noqa: E402
from statmech_nn import perceptron, meanfield  # noqa: E402

T = np.linspace(0.0, 20.0, 11)
ETAS = [0.5, 1.0, 2.0]
L0S = [0.5, 1.5]


def _ode_sweep(**kw):
    return sn.sweep(perceptron.ode, {"eta": ETAS, "l0": L0S}, activation="erf", rule="sgd", t=T,
                    progress=False, **kw)


def test_ode_sweep_dims_coords_attrs_and_direct_calls():
    ds = _ode_sweep()
    assert isinstance(ds, xr.Dataset)
    assert ds["l"].dims == ("eta", "l0", "t")
    assert ds["eg"].shape == (3, 2, T.size)
    np.testing.assert_array_equal(ds["eta"].values, ETAS)
    np.testing.assert_array_equal(ds["l0"].values, L0S)
    np.testing.assert_array_equal(ds["t"].values, T)   # identical at every point -> a coordinate
    assert ds["status"].dims == ("eta", "l0")
    assert set(np.unique(ds["status"].values)) <= set(sn.STATUSES)
    assert ds["stop_time"].dims == ("eta", "l0")
    assert ds.attrs["activation"] == "erf" and ds.attrs["rule"] == "sgd"
    assert ds.attrs["t"] == T.tolist()
    assert ds.attrs["statmech_nn_version"] == sn.__version__
    assert ds.attrs["function"] == "statmech_nn.perceptron.ode"
    assert "learning rate" in ds["eta"].attrs["long_name"].lower()
    assert "long_name" in ds["R"].attrs
    assert "z" not in ds  # None for SGD
    for i, eta in enumerate(ETAS):
        for j, l0 in enumerate(L0S):
            direct = perceptron.ode("erf", "sgd", eta, l0, t=T)
            n = direct.t.size
            for f in ("l", "R", "eg"):
                # bitwise equal to a direct call
                assert np.array_equal(ds[f].values[i, j, :n], getattr(direct, f)), (f, eta, l0)
            assert ds["status"].values[i, j] == direct.status
            assert ds["stop_time"].values[i, j] == direct.stop_time


def test_diverged_points_are_padded():
    # Linear perceptron, SGD: eta = 5 diverges, so its rows stop early and are padded with NaN.
    ds = sn.sweep(perceptron.ode, {"eta": [0.5, 5.0]}, activation="linear", rule="sgd", t=T, l0=1.0,
                  progress=False)
    direct = [perceptron.ode("linear", "sgd", e, 1.0, t=T) for e in (0.5, 5.0)]
    assert direct[0].status == "ok" and direct[1].status == "diverged" and direct[1].t.size < T.size
    np.testing.assert_array_equal(ds["t"].values, T)
    for k, d in enumerate(direct):
        n = d.t.size
        assert np.array_equal(ds["l"].values[k, :n], d.l)
        assert np.all(np.isnan(ds["l"].values[k, n:]))
        assert ds["status"].values[k] == d.status


def test_simulator_sweep_has_seed_dimension():
    ds = sn.sweep(perceptron.simulate, {"eta": [0.5, 1.0]}, activation="erf", rule="sgd", l0=1.0, N=50,
                  t=np.array([0.0, 1.0, 2.0]), seeds=[3, 4, 5], progress=False)
    assert ds["l"].dims == ("eta", "seed", "t")
    assert ds["l_mean"].dims == ("eta", "t")
    np.testing.assert_array_equal(ds["seed"].values, [3, 4, 5])
    assert ds["seed_status"].dims == ("eta", "seed")
    direct = perceptron.simulate("erf", "sgd", 1.0, 1.0, 50, t=np.array([0.0, 1.0, 2.0]), seeds=[3, 4, 5])
    assert np.array_equal(ds["l"].values[1], direct.l)
    assert np.array_equal(ds["eg"].values[1], direct.eg)


def test_sweep_seed_derives_seeds_from_point_index():
    kw = dict(activation="erf", rule="sgd", l0=1.0, N=40, t=np.array([0.0, 1.0]), progress=False)
    a = sn.sweep(perceptron.simulate, {"eta": [0.5, 1.0, 1.5]}, seed=7, **kw)
    b = sn.sweep(perceptron.simulate, {"eta": [0.5, 1.0, 1.5]}, seed=7, num_workers=1, chunk_size=1, **kw)
    xr.testing.assert_identical(a, b)
    assert a["seeds"].dims == ("eta", "seed")  # different per point -> a variable
    expected = np.random.SeedSequence([7, 2]).generate_state(4, dtype=np.uint32)
    np.testing.assert_array_equal(a["seeds"].values[2], expected)
    direct = perceptron.simulate("erf", "sgd", 1.5, 1.0, 40, t=np.array([0.0, 1.0]), seeds=expected.tolist())
    assert np.array_equal(a["l"].values[2], direct.l)
    with pytest.raises(ValueError, match="seeds"):
        sn.sweep(perceptron.simulate, {"eta": [0.5]}, seed=7, seeds=[1], **kw)
    with pytest.raises(ValueError, match="seeds"):
        sn.sweep(perceptron.ode, {"eta": [0.5]}, seed=7, activation="erf", rule="sgd", l0=1.0, progress=False)


def test_committee_matrix_dims():
    ds = sn.sweep(sn.committee.ode, {"eta": [0.5, 1.0]}, Q0=0.1 * np.eye(2), R0=np.zeros((2, 2)), T=np.eye(2),
                  t=np.linspace(0.0, 2.0, 3), progress=False)
    assert ds["Q"].dims == ("eta", "t", "K", "K2")   # a square (K, K) field: second axis K2
    assert ds["R"].dims == ("eta", "t", "K", "M")
    direct = sn.committee.ode(0.1 * np.eye(2), np.zeros((2, 2)), np.eye(2), 1.0, t=np.linspace(0.0, 2.0, 3))
    assert np.array_equal(ds["Q"].values[1], direct.Q)


def test_plain_array_function():
    q = np.array([0.5, 1.0, 2.0])
    ds = sn.sweep(meanfield.q_map, {"sigma_w2": [1.0, 2.0], "sigma_b2": [0.0, 0.1]}, activation="tanh", q=q,
                  progress=False)
    assert ds["q_map"].dims == ("sigma_w2", "sigma_b2", "q_map_dim_0")
    for i, w in enumerate([1.0, 2.0]):
        for j, b in enumerate([0.0, 0.1]):
            assert np.array_equal(ds["q_map"].values[i, j], meanfield.q_map("tanh", w, b, q))
    assert (ds["status"].values == "ok").all()


def test_backends_identical():
    distributed = pytest.importorskip("distributed")
    kw = dict(activation="erf", rule="wn", t=T)
    axes = {"eta": [0.5, 1.0, 2.0], "l0": [0.5, 1.0]}
    threads = sn.sweep(perceptron.ode, axes, progress=False, **kw)
    procs = sn.sweep(perceptron.ode, axes, progress=False, backend="processes", num_workers=2, **kw)
    xr.testing.assert_identical(threads, procs)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        dask = sn.sweep(perceptron.ode, axes, progress=False, backend="dask", client=client, **kw)
        # a scheduler address works too (a client is opened and closed inside)
        by_address = sn.sweep(perceptron.ode, axes, progress=False, backend="dask", client=cluster.scheduler_address,
                              chunk_size=1, **kw)
    xr.testing.assert_identical(threads, dask)
    xr.testing.assert_identical(threads, by_address)
    for v in threads.data_vars:
        assert np.array_equal(threads[v].values, dask[v].values, equal_nan=threads[v].dtype.kind == "f")


def test_dask_mixed_lengths_identical():
    """A dask chunk whose points stop at different times (one diverges): the time grids differ
    between rows and travel whole; the chunk of equal rows travels compacted. Both as threads."""
    distributed = pytest.importorskip("distributed")
    kw = dict(activation="erf", rule="sgd", t=T)
    axes = {"eta": [1.0, 1e3, 2.0, 3.0], "l0": [1.0]}
    threads = sn.sweep(perceptron.ode, axes, progress=False, **kw)
    assert list(threads["status"].values.ravel()) == ["ok", "diverged", "ok", "ok"]
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        dask = sn.sweep(perceptron.ode, axes, progress=False, backend="dask", client=client, chunk_size=2, **kw)
    xr.testing.assert_identical(threads, dask)


def test_compact_rows_round_trip():
    from statmech_nn._sweep import _compact, _expand

    same = np.tile(np.linspace(0.0, 1.0, 5), (3, 1))
    ragged = same.copy()
    ragged[1, 3:] = np.nan
    raw = {"t": same, "x": ragged, "n": np.arange(3), "z": None}
    packed = _compact(raw)
    assert not isinstance(packed["t"], np.ndarray) and packed["x"] is ragged
    back = _expand(packed)
    assert np.array_equal(back["t"], same) and back["t"].flags.writeable
    assert back["x"] is ragged and back["z"] is None


_CALLS = {"n": 0, "limit": None}


def interrupted_ode(activation, rule, eta, l0, t=10.0):
    """perceptron.ode that raises KeyboardInterrupt (as Ctrl-C would) after _CALLS['limit'] points."""
    if _CALLS["limit"] is not None and _CALLS["n"] >= _CALLS["limit"]:
        raise KeyboardInterrupt
    _CALLS["n"] += 1
    return perceptron.ode(activation, rule, eta, l0, t=t)


def test_resume_after_interruption(tmp_path):
    zarr = pytest.importorskip("zarr")
    axes = {"eta": [0.5, 1.0, 1.5, 2.0], "l0": [0.5, 1.0, 2.0]}
    kw = dict(activation="erf", rule="sgd", t=T, progress=False)
    _CALLS.update(n=0, limit=None)
    full = sn.sweep(interrupted_ode, axes, **kw)
    store = tmp_path / "run.zarr"
    _CALLS.update(n=0, limit=5)
    with pytest.raises(KeyboardInterrupt):
        sn.sweep(interrupted_ode, axes, store=store, num_workers=1, chunk_size=2, **kw)
    # Two whole chunks (4 points) were written; the fifth point's chunk was not.
    group = zarr.open_group(str(store), mode="r")
    done = [k for k in group["chunks"].group_keys() if group["chunks"][k].attrs.get("done")]
    assert len(done) == 2
    _CALLS.update(n=0, limit=None)
    resumed = sn.sweep(interrupted_ode, axes, store=store, **kw)
    assert _CALLS["n"] == 12 - 4  # only the missing points ran
    xr.testing.assert_identical(full, resumed)
    # Running it again computes nothing and gives the same Dataset.
    _CALLS.update(n=0, limit=0)
    again = sn.sweep(interrupted_ode, axes, store=store, **kw)
    xr.testing.assert_identical(full, again)


def test_store_refuses_changed_arguments(tmp_path):
    store = tmp_path / "s.zarr"
    axes = {"eta": [0.5, 1.0]}
    kw = dict(activation="erf", rule="sgd", l0=1.0, t=T, progress=False)
    sn.sweep(perceptron.ode, axes, store=store, **kw)
    with pytest.raises(ValueError, match="fixed argument 'rtol'"):
        sn.sweep(perceptron.ode, axes, store=store, rtol=1e-6, **kw)
    with pytest.raises(ValueError, match="fixed argument 'l0'"):
        sn.sweep(perceptron.ode, axes, store=store, **{**kw, "l0": 2.0})
    with pytest.raises(ValueError, match="axis 'eta'"):
        sn.sweep(perceptron.ode, {"eta": [0.5, 1.0, 2.0]}, store=store, **kw)
    with pytest.raises(ValueError, match="fixed argument 't'"):
        sn.sweep(perceptron.ode, axes, store=store, **{**kw, "t": T * 2})
    with pytest.raises(ValueError, match="function"):
        sn.sweep(perceptron.simulate, axes, store=store, N=10, **kw)


def test_progress_output(capfd):
    sn.sweep(perceptron.ode, {"eta": [0.5, 1.0, 1.5]}, activation="erf", rule="sgd", l0=1.0, t=T)
    err = capfd.readouterr().err
    assert "sweep ode" in err and "3/3" in err and "pt/s" in err
    sn.sweep(perceptron.ode, {"eta": [0.5, 1.0, 1.5]}, activation="erf", rule="sgd", l0=1.0, t=T, progress=False)
    assert capfd.readouterr().err == ""


def test_validation():
    kw = dict(activation="erf", rule="sgd", l0=1.0, progress=False)
    with pytest.raises(ValueError, match="no parameter 'etta'"):
        sn.sweep(perceptron.ode, {"etta": [1.0]}, **kw)
    with pytest.raises(ValueError, match="no parameter 'foo'"):
        sn.sweep(perceptron.ode, {"eta": [1.0]}, foo=1, **kw)
    with pytest.raises(ValueError, match="axis 'eta'"):
        sn.sweep(perceptron.ode, {"eta": 1.0}, **kw)
    with pytest.raises(ValueError, match="axis 'eta'"):
        sn.sweep(perceptron.ode, {"eta": [[1.0, 2.0]]}, **kw)
    with pytest.raises(ValueError, match="axis 'eta'"):
        sn.sweep(perceptron.ode, {"eta": []}, **kw)
    with pytest.raises(ValueError, match="axis 'eta'"):
        sn.sweep(perceptron.ode, {"eta": [1.0, np.nan]}, **kw)
    with pytest.raises(ValueError, match="both swept"):
        sn.sweep(perceptron.ode, {"l0": [1.0]}, eta=1.0, **kw)
    with pytest.raises(ValueError, match="'eta'"):
        sn.sweep(perceptron.ode, {"l0": [1.0]}, activation="erf", rule="sgd", progress=False)
    with pytest.raises(ValueError, match="backend"):
        sn.sweep(perceptron.ode, {"eta": [1.0]}, backend="mpi", **kw)
    with pytest.raises(ValueError, match="num_workers"):
        sn.sweep(perceptron.ode, {"eta": [1.0]}, num_workers=0, **kw)
    with pytest.raises(TypeError, match="axes"):
        sn.sweep(perceptron.ode, [("eta", [1.0])], **kw)
    # An error at a point names the point.
    with pytest.raises(ValueError, match=r"eta=-1\.0"):
        sn.sweep(perceptron.ode, {"eta": [1.0, -1.0]}, **kw)


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r'pip install "statmech_nn\[sweep\]"'):
        sn.sweep(perceptron.ode, {"eta": [1.0]}, activation="erf", rule="sgd", l0=1.0)


def test_error_at_a_point_keeps_finished_chunks(tmp_path):
    store = tmp_path / "err.zarr"
    kw = dict(activation="erf", rule="sgd", l0=1.0, t=T, progress=False, num_workers=1, chunk_size=1)
    with pytest.raises(ValueError, match="eta"):
        sn.sweep(perceptron.ode, {"eta": [0.5, 1.0, -1.0]}, store=store, **kw)
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(store), mode="r")
    assert sum(bool(group["chunks"][k].attrs.get("done")) for k in group["chunks"].group_keys()) == 2
    # a store that is not a sweep is refused, so is a client without the dask backend
    other = zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    other.create_group("x")
    with pytest.raises(ValueError, match="holds no statmech_nn sweep"):
        sn.sweep(perceptron.ode, {"eta": [0.5]}, store=tmp_path / "other.zarr", **kw)
    with pytest.raises(ValueError, match="client"):
        sn.sweep(perceptron.ode, {"eta": [0.5]}, client="tcp://127.0.0.1:1", **kw)


# ---- C++ grid fast paths -------------------------------------------------------------------------
@pytest.mark.parametrize("rule, activation, extra", [
    ("sgd", "erf", {}),
    ("wn", "erf", {}),
    ("sgd", "tanh", {"eg_threshold": 0.05}),         # quadrature averages, event rows
    ("sgd", "linear", {}),                            # eta = 5 diverges: padded rows
])
def test_perceptron_fast_path_is_bitwise_the_direct_calls(rule, activation, extra):
    axes = {"eta": [0.5, 1.0, 5.0], "l0": [0.5, 1.5]}
    kw = dict(activation=activation, rule=rule, t=T, progress=False, **extra)
    fast = sn.sweep(perceptron.ode, axes, num_workers=2, **kw)
    slow = sn.sweep(perceptron.ode, axes, fast_path=False, **kw)
    xr.testing.assert_identical(fast, slow)
    one = sn.sweep(perceptron.ode, axes, num_workers=1, chunk_size=1, **kw)   # thread count, chunking
    xr.testing.assert_identical(fast, one)
    for i, eta in enumerate(axes["eta"]):
        for j, l0 in enumerate(axes["l0"]):
            direct = perceptron.ode(activation, rule, eta, l0, t=T, **extra)
            n = direct.t.size
            assert np.array_equal(fast["eg"].values[i, j, :n], direct.eg)
            assert np.array_equal(fast["l"].values[i, j, :n], direct.l)
            assert fast["status"].values[i, j] == direct.status
            assert fast["stop_time"].values[i, j] == direct.stop_time


def test_perceptron_fast_path_is_used(monkeypatch):
    from statmech_nn import _core, _sweep_fast

    calls = {"grid": 0}
    real = _core.sweep.perceptron_ode

    def counting(*a, **k):
        calls["grid"] += 1
        return real(*a, **k)

    monkeypatch.setattr(_core.sweep, "perceptron_ode", counting)
    ds = sn.sweep(perceptron.ode, {"eta": [0.5, 1.0], "R0": [0.0, 0.5], "z0": [0.05, 0.1]}, activation="erf",
                  rule="wn", l0=1.0, t=T, progress=False)
    assert calls["grid"] == 1   # 8 points, one core call
    direct = perceptron.ode("erf", "wn", 1.0, 1.0, 0.5, 0.1, t=T)
    assert np.array_equal(ds["z"].values[1, 1, 1], direct.z)
    # a parameter without a fast path (a string axis) goes one call per point
    assert _sweep_fast.fast_path(perceptron.ode, {"rule": "sgd", "eta": 1.0, "l0": 1.0}, ["activation"], 1) is None
    ds = sn.sweep(perceptron.ode, {"activation": ["erf", "linear"]}, rule="sgd", eta=1.0, l0=1.0, t=T,
                  progress=False)
    assert calls["grid"] == 1
    assert np.array_equal(ds["eg"].values[1], perceptron.ode("linear", "sgd", 1.0, 1.0, t=T).eg)


def test_committee_fast_path_is_bitwise_the_direct_calls():
    kw = dict(Q0=0.2 * np.eye(2), R0=np.full((2, 2), 0.01), T=np.eye(2), t=np.linspace(0.0, 20.0, 6),
              progress=False)
    axes = {"eta": [0.5, 1.0, 40.0]}   # eta = 40 diverges
    fast = sn.sweep(sn.committee.ode, axes, num_workers=2, **kw)
    slow = sn.sweep(sn.committee.ode, axes, fast_path=False, **kw)
    xr.testing.assert_identical(fast, slow)
    assert set(fast["status"].values) >= {"ok"}
    bn = dict(kw, batchnorm=True, eta_w=0.1)
    fast = sn.sweep(sn.committee.ode, {"eta": [0.5, 1.0], "sigma": [1.0, 2.0]}, **bn)
    slow = sn.sweep(sn.committee.ode, {"eta": [0.5, 1.0], "sigma": [1.0, 2.0]}, fast_path=False, **bn)
    xr.testing.assert_identical(fast, slow)
    direct = sn.committee.ode(0.2 * np.eye(2), np.full((2, 2), 0.01), np.eye(2), 1.0, sigma=2.0, batchnorm=True,
                              eta_w=0.1, t=np.linspace(0.0, 20.0, 6))
    n = direct.t.size
    assert np.array_equal(fast["Q"].values[1, 1, :n], direct.Q)
    assert np.array_equal(fast["g"].values[1, 1, :n], direct.g)
    with pytest.raises(ValueError, match=r"eta=-1\.0"):
        sn.sweep(sn.committee.ode, {"eta": [1.0, -1.0]}, **kw)


def test_core_progress_callback_reports_points_done():
    from statmech_nn import _core

    seen = []
    previous = _core.set_progress_callback(lambda done, total: seen.append((done, total)))
    try:
        perceptron.time_to_error("erf", "sgd", np.linspace(0.2, 2.0, 40), 1.0, 0.05, t_max=50.0, num_threads=2)
    finally:
        _core.set_progress_callback(previous)
    assert seen and seen[-1] == (40, 40)
    assert all(0 <= d <= t == 40 for d, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(TypeError, match="callable"):
        _core.set_progress_callback(3)
    # nothing installed: nothing is called
    seen.clear()
    perceptron.time_to_error("erf", "sgd", [0.5, 1.0], 1.0, 0.05, t_max=10.0)
    assert seen == []


def test_fast_path_progress_output(capfd):
    sn.sweep(perceptron.ode, {"eta": np.linspace(0.5, 2.0, 50)}, activation="erf", rule="sgd", l0=1.0, t=T)
    err = capfd.readouterr().err
    assert "sweep ode" in err and "50/50" in err


def test_long_calls_take_progress(capfd):
    eta = np.linspace(0.2, 2.0, 30)
    a = perceptron.time_to_error("erf", "sgd", eta, 1.0, 0.05, t_max=50.0, progress=True)
    err = capfd.readouterr().err
    assert "time_to_error" in err and "30/30" in err
    b = perceptron.time_to_error("erf", "sgd", eta, 1.0, 0.05, t_max=50.0)
    assert capfd.readouterr().err == ""
    assert np.array_equal(a.time, b.time)
    sim = perceptron.simulate("erf", "sgd", 1.0, 1.0, 50, t=1.0, seeds=[1, 2, 3], progress=True)
    err = capfd.readouterr().err
    assert "simulate" in err and "3/3" in err
    assert np.array_equal(sim.l, perceptron.simulate("erf", "sgd", 1.0, 1.0, 50, t=1.0, seeds=[1, 2, 3]).l)
    meanfield.phase_diagram("tanh", np.linspace(0.5, 3.0, 4), np.array([0.0, 0.05, 0.1]), progress=True)
    err = capfd.readouterr().err
    assert "phase_diagram" in err and "3/3" in err
    sn.fisher.empirical("relu", depth=1, width=20, n_samples=4, seeds=[0, 1], progress=True)
    err = capfd.readouterr().err
    assert "fisher.empirical" in err and "2/2" in err
    mf = meanfield.simulate("tanh", 1.5, 0.05, 3, 20, seeds=[0, 1, 2], progress=True)
    err = capfd.readouterr().err
    assert "meanfield.simulate" in err and "3/3" in err
    assert np.array_equal(mf.q_a, meanfield.simulate("tanh", 1.5, 0.05, 3, 20, seeds=[0, 1, 2]).q_a)
    sn.batchnorm.simulate("relu", 4, 3, 16, seeds=[0, 1], progress=True)
    err = capfd.readouterr().err
    assert "batchnorm.simulate" in err and "2/2" in err
    with pytest.raises(TypeError, match="progress"):
        perceptron.time_to_error("erf", "sgd", eta, 1.0, 0.05, progress="yes")


FAST_INTERRUPT = r"""
import sys, time, numpy as np
import statmech_nn as sn
print("ready", flush=True)
try:
    # minutes of Euler steps per point, one core call per chunk, progress bar driven from C++
    sn.sweep(sn.perceptron.ode, {"eta": np.linspace(0.1, 0.2, 8)}, activation="erf", rule="sgd", l0=1.0,
             t=np.array([0.0, 1e6]), method="euler", dt=1e-4, max_steps=10**13, num_workers=2, progress=True)
except KeyboardInterrupt:
    print(f"interrupted {time.time():.6f}", flush=True)
    sys.exit(0)
sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_ctrl_c_stops_the_fast_path_quickly():
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([sys.executable, "-c", FAST_INTERRUPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(2.0)
        assert proc.poll() is None
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, err)
    latency = float([x for x in out.splitlines() if x.startswith("interrupted")][0].split()[1]) - sent
    assert latency <= 1.0, latency   # target 0.5 s; 1 s keeps a loaded machine green
    assert "sweep ode" in err        # the bar was on


@pytest.mark.parametrize("function", [meanfield.q_star, meanfield.c_star])
def test_broadcasting_maps_fast_path_is_bitwise_the_direct_calls(function, monkeypatch):
    axes = {"sigma_w2": [0.5, 1.0, 1.5, 2.5], "sigma_b2": [0.0, 0.05, 0.3]}
    fast = sn.sweep(function, axes, activation="tanh", progress=False)
    slow = sn.sweep(function, axes, activation="tanh", progress=False, fast_path=False)
    xr.testing.assert_identical(fast, slow)
    relu = sn.sweep(function, {"sigma_w2": [1.0, 2.0, 3.0]}, activation="relu", sigma_b2=0.1, progress=False)
    assert set(relu["status"].values) >= {"diverged"}   # relu beyond sigma_w2 = 2: q* = inf
    for i, w in enumerate(axes["sigma_w2"]):
        for j, b in enumerate(axes["sigma_b2"]):
            direct = function("tanh", w, b)
            assert fast["q_star"].values[i, j] == direct.q_star
            assert fast["status"].values[i, j] == direct.status
    # one call for the whole grid
    calls = {"n": 0}
    real = function

    def counting(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    from statmech_nn import _sweep_fast

    monkeypatch.setattr(_sweep_fast, "_registry", lambda: {counting: _sweep_fast._broadcasting})
    sn.sweep(counting, axes, activation="tanh", progress=False)
    assert calls["n"] == 1
    with pytest.raises(ValueError, match=r"sigma_w2=-1\.0"):
        sn.sweep(function, {"sigma_w2": [1.0, -1.0]}, activation="tanh", sigma_b2=0.1, progress=False)
