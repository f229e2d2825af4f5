"""The command line: version and figure reproduction (fast mode)."""

import subprocess
import sys

import pytest

import statmech_nn
from statmech_nn import reproduce
from statmech_nn.__main__ import main


def test_version():
    out = subprocess.run([sys.executable, "-m", "statmech_nn", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert statmech_nn.__version__ in out.stdout


def test_unknown_topic_is_an_error():
    with pytest.raises(SystemExit):
        main(["reproduce", "nonsense"])


@pytest.mark.parametrize("topic", reproduce.available())
def test_reproduce_fast(topic, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert main(["reproduce", topic, "--fast", "--out", str(tmp_path)]) == 0
    files = list((tmp_path / topic).iterdir())
    assert any(f.suffix == ".png" for f in files)
    assert any(f.suffix == ".csv" for f in files)
    for f in files:
        assert f.stat().st_size > 0


def test_help_cites_papers_not_internal_documents(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = capsys.readouterr().out
    assert "Yang" in text and "Saad & Solla" in text and "Karakida" in text
    for internal in ("seed 00", "SPEC", "seed eq"):
        assert internal not in text


def test_interrupt_exits_cleanly(monkeypatch, capsys, tmp_path):
    def interrupted(topic, out, fast=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(reproduce, "run", interrupted)
    assert main(["reproduce", "meanfield", "--fast", "--out", str(tmp_path)]) == 130
    assert "interrupted" in capsys.readouterr().err
