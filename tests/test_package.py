"""Package surface: stubs in sync with the compiled module, py.typed, threads, version."""

import inspect
import types
from pathlib import Path

import statmech_nn
from statmech_nn import _core

PKG = Path(statmech_nn.__file__).resolve().parent


def test_core_stub_lists_every_binding():
    stub = (PKG / "_core.pyi").read_text()
    for name, sub in inspect.getmembers(_core, lambda o: isinstance(o, types.ModuleType)):
        assert f"class {name}:" in stub, f"_core.pyi lacks submodule {name}; run tools/generate_core_stub.py"
        for fname, fn in inspect.getmembers(sub, callable):
            if not fname.startswith("__"):
                assert f"def {fname}(" in stub, f"_core.pyi lacks {name}.{fname}; run tools/generate_core_stub.py"


def test_py_typed_marker():
    assert (PKG / "py.typed").exists()


def test_public_submodules():
    for name in ("gaussian", "integrate", "perceptron", "committee", "meanfield", "batchnorm", "fisher", "ntk"):
        assert isinstance(getattr(statmech_nn, name), types.ModuleType)
    assert _core.has_openmp in (True, False)
