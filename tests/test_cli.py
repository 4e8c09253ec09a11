"""The searnn command: training writes metrics and an atomic checkpoint, --resume continues a
run exactly, evaluate reproduces the error, and a missing dataset is a clear error."""

import json

import pytest
import torch

from searnn_ext.cli import main

TINY = ["train", "--task=synthetic", "--limit=64", "--batch-size=16", "--hidden-size=12", "--quiet"]


def run(tmp_path, name, *options):
    output = tmp_path / name
    assert main([*TINY, f"--output={output}", *options]) == 0
    return output


def test_train_writes_metrics_and_a_checkpoint(tmp_path):
    output = run(tmp_path, "run", "--epochs=2", "--loss=sll", "--sampling=pol", "--tokens=3")
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert len(steps) == 2 * 4 and all(r["rollouts"] > 0 for r in steps)
    assert [r["epoch"] for r in records if "valid_error" in r] == [1, 2]
    state = torch.load(output / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 2 and state["step"] == 8
    assert not list(output.glob("*.partial"))


def test_resume_continues_exactly(tmp_path):
    options = ["--loss=ll", "--rollin=mixed", "--rollout=mixed", "--dropout=0.2"]
    straight = run(tmp_path, "straight", "--epochs=2", *options)
    run(tmp_path, "split", "--epochs=1", *options)
    resumed = run(tmp_path, "split", "--epochs=2", "--resume", *options)
    one = torch.load(straight / "checkpoint.pt", weights_only=False)["model"]
    two = torch.load(resumed / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(one[k], two[k]) for k in one)
    lines = (resumed / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len((straight / "metrics.jsonl").read_text().splitlines())


def test_evaluate_reproduces_the_test_error(tmp_path, capsys):
    output = run(tmp_path, "run", "--epochs=1", "--loss=mle")
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt"), "--split=test"]) == 0
    assert "synthetic test error:" in capsys.readouterr().out


def test_a_missing_dataset_is_reported(tmp_path, capsys):
    code = main(["train", "--task=ocr", f"--data={tmp_path}", "--quiet"])
    assert code == 2
    assert "letter.data" in capsys.readouterr().err


def test_training_draws_learning_curves(tmp_path):
    pytest.importorskip("matplotlib")
    output = run(tmp_path, "run", "--epochs=2", "--loss=mle")
    assert (output / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_beam_search_evaluation(tmp_path, capsys):
    output = run(tmp_path, "run", "--epochs=1", "--loss=mle")
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt"), "--beam=3"]) == 0
    assert "synthetic test error:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["evaluate", str(output / "checkpoint.pt"), "--beam=0"])
