"""searnn demo on a small budget: both contenders train on the same data with the same model
and optimiser, and what it prints are their errors, wall times and the gap between them."""

import re

import pytest

from searnn_ext import checkpoint, demo
from searnn_ext.cli import main


def test_the_demo_compares_mle_and_searnn_under_one_budget(tmp_path):
    lines = []
    results = demo.run(epochs=1, limit=64, output=tmp_path, progress=False, report=lines.append)
    mle, searnn = results.values()
    runs = [checkpoint.load(tmp_path / loss / "checkpoint.pt")["run"] for loss in ("mle", "ll")]
    assert runs[0]["task"] == runs[1]["task"] == "denoise"
    assert runs[0]["model"] == runs[1]["model"] and runs[0]["optimizer"] == runs[1]["optimizer"]
    assert runs[0]["searnn"]["loss"] == "mle"
    assert (runs[1]["searnn"]["rollin"], runs[1]["searnn"]["rollout"]) == ("learned", "mixed")
    text = "\n".join(lines)
    for name, result in results.items():
        row = re.search(rf"{re.escape(name)} +test error +(\d+\.\d\d)% +(\d+) s", text)
        assert float(row.group(1)) == round(result["test_error"], 2)
        assert int(row.group(2)) == round(result["seconds"])
    gap = mle["test_error"] - searnn["test_error"]
    assert f"{abs(gap):.2f} points {'below' if gap > 0 else 'above'} MLE's" in text
    assert demo.WHY in lines


def test_the_demo_command_draws_the_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--epochs=1", "--limit=64", f"--output={tmp_path}", "--quiet"]) == 0
    assert "MLE" in capsys.readouterr().out
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_demo_ends_by_naming_the_picture_it_drew(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    command = ["demo", "--limit=200", "--epochs=2", f"--output={tmp_path}", "--quiet"]
    assert main(command) == 0
    png = tmp_path / "curves.png"
    assert capsys.readouterr().out.splitlines()[-1] == f"validation curves of both: {png}"
    assert png.read_bytes()[:4] == b"\x89PNG"
