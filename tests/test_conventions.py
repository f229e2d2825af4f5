"""Conventions every public function follows (introspection): one vocabulary, the result protocol,
num_threads where parallel, seeds semantics, no internal document references in user-facing text."""

import inspect
import re
import types

import numpy as np
import pytest

import statmech_nn as sn
from statmech_nn._result import Result

MODULES = ["gaussian", "integrate", "perceptron", "committee", "meanfield", "batchnorm", "fisher", "ntk"]


def _public_functions():
    out = []
    for mod_name in MODULES:
        mod = getattr(sn, mod_name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                out.append((f"{mod_name}.{name}", obj))
    return out


FUNCTIONS = _public_functions()
# Old names that must not appear as (non-deprecated) parameters any more.
RETIRED = {"t_stop", "samples", "seed", "batchnorm_last", "stop_time_"}
DEEP = {"meanfield", "batchnorm", "fisher", "ntk"}
# A Monte-Carlo estimate has one random stream (``seed``), not several runs (``seeds``).
ONE_SEED = {("batchnorm.covariance_map", "seed")}


@pytest.mark.parametrize("qual, fn", FUNCTIONS, ids=[q for q, _ in FUNCTIONS])
def test_vocabulary(qual, fn):
    params = inspect.signature(fn).parameters
    doc = inspect.getdoc(fn) or ""
    for old in RETIRED & set(params):
        if (qual, old) in ONE_SEED:
            continue
        # Kept only as a documented, deprecated alias.
        assert re.search(rf"{old}\b.*deprecated|deprecated.*\b{old}\b", doc, re.S), \
            f"{qual} takes the retired name {old!r} without documenting it as deprecated"
    if qual.split(".")[0] in DEEP:
        for old in ("M", "T", "C", "B"):
            assert old not in params, f"{qual}: {old!r} is spelled width/n_samples/n_outputs/batch_size"
    if "seeds" in params:
        assert "num_threads" in params, f"{qual} runs several seeds but takes no num_threads"


@pytest.mark.parametrize("qual, fn", FUNCTIONS, ids=[q for q, _ in FUNCTIONS])
def test_docstrings_cite_papers_not_internal_documents(qual, fn):
    doc = inspect.getdoc(fn) or ""
    assert doc, f"{qual} has no docstring"
    assert not re.search(r"seed 00\d|SPEC\b|§|seed eq", doc), f"{qual} docstring cites an internal document"


@pytest.mark.parametrize("mod_name", MODULES)
def test_module_docstrings(mod_name):
    doc = getattr(sn, mod_name).__doc__ or ""
    assert doc
    assert not re.search(r"seed 00\d|SPEC\b|§|seed eq", doc)


def _result_classes():
    seen = []
    for mod_name in MODULES:
        mod = getattr(sn, mod_name)
        for name, obj in vars(mod).items():
            if isinstance(obj, type) and obj.__module__ == mod.__name__ and not name.startswith("_"):
                seen.append((f"{mod_name}.{name}", obj))
    return seen


@pytest.mark.parametrize("qual, cls", _result_classes(), ids=[q for q, _ in _result_classes()])
def test_every_public_class_is_a_result(qual, cls):
    assert issubclass(cls, Result), f"{qual} does not follow the result protocol"
    assert cls.__repr__ is Result.__repr__, f"{qual} overrides the short repr (use @resultclass)"
