"""The searnn command: training writes metrics and an atomic checkpoint, --resume continues a
run exactly, evaluate reproduces the error, and a missing dataset is a clear error."""

import json
import os
import subprocess
import sys
import time

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


def test_a_killed_run_resumes_to_the_same_model(tmp_path):
    """A process killed mid-epoch (SIGKILL, no clean-up) resumes from its last checkpoint and
    ends where an uninterrupted run ends, with the same log."""
    options = ["--epochs=6", "--loss=ll", "--rollin=mixed", "--rollout=mixed"]
    straight = run(tmp_path, "straight", *options)
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "searnn_ext.cli", *TINY, *options, f"--output={killed}"]
    threads = {"OMP_NUM_THREADS": str(torch.get_num_threads())}  # the same arithmetic as here
    process = subprocess.Popen(command, env={**os.environ, **threads})
    try:
        deadline = time.monotonic() + 300
        while not (killed / "checkpoint.pt").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be killed"
    finally:
        process.kill()
        process.wait()
    interrupted = torch.load(killed / "checkpoint.pt", weights_only=False)["epoch"]
    assert 1 <= interrupted < 6
    run(tmp_path, "killed", *options, "--resume")
    one = torch.load(straight / "checkpoint.pt", weights_only=False)["model"]
    two = torch.load(killed / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert (killed / "metrics.jsonl").read_text().count("\n") == (
        (straight / "metrics.jsonl").read_text().count("\n")
    )


def test_train_help_gives_defaults_and_each_tasks_model(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "roll-in policy (default: learned)" in out
    words = " ".join(out.split())  # argparse wraps to the terminal's width
    assert "or the optimal completion for the task's cost, found without decoding" in words
    assert "the two are the same) (default: copy)" in words
    for task in ("ocr", "conll", "spelling", "synthetic"):
        assert f"\n  {task}: " in out
