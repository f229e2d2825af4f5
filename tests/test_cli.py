"""The command line: version and figure reproduction (fast mode)."""

import subprocess
import sys

import numpy as np
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


def test_reproduce_prints_each_figure_with_its_time(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert main(["reproduce", "perceptron", "--fast", "--out", str(tmp_path), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "perceptron: running (threads: 1)" in out
    for name in ("fig2_order_parameters.png", "fig3_time_to_error.png", "fig4_time_to_error_maps.png"):
        line = [x for x in out.splitlines() if name in x][0]
        assert line.strip().endswith("s)")
    assert "files in" in out
    # CSVs carry every plotted series (and, for committee and meanfield, a "# key: value" header)
    with open(tmp_path / "perceptron" / "fig4.csv") as fh:  # "# key: value" provenance lines first
        data = np.genfromtxt([line for line in fh if not line.startswith("#")], delimiter=",", names=True)
    assert {"eta", "l0", "time_sgd", "time_wn", "ratio_wn_sgd", "eta_eff_wn"} <= set(data.dtype.names)
    assert data.size == 30 * 30


def test_reproduce_quiet_and_jobs(tmp_path, monkeypatch, capsys):
    from statmech_nn import _core

    monkeypatch.setenv("MPLBACKEND", "Agg")
    before = _core.max_threads()
    assert main(["reproduce", "committee", "--fast", "--quiet", "-j", "1", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert _core.max_threads() == before            # --jobs does not outlive the command
    assert any(f.suffix == ".png" for f in (tmp_path / "committee").iterdir())
    path = tmp_path / "committee" / "plateau_plain_vs_batchnorm.csv"
    text = path.read_text().splitlines()
    assert text[0] == f"# statmech_nn: {statmech_nn.__version__}"
    assert "# activation: erf" in text and "# eta: 1.0" in text
    import csv

    with open(path) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert {"t", "eg_plain", "eg_batchnorm", "plain_R11", "batchnorm_R22"} <= set(rows[0])
    assert all(np.isfinite(float(r["eg_plain"])) for r in rows)
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            main(["reproduce", "committee", "--jobs", bad])
        assert "--jobs must be a positive integer" in capsys.readouterr().err
