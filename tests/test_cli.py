"""The searnn command: training writes metrics and an atomic checkpoint, --resume continues a
run exactly or refuses, a diverging run stops without losing its last checkpoint, evaluate
reports the number an independent decode gives, and every user error is one line."""

import importlib
import json
import os
import re
import subprocess
import sys
import time

import pytest
import torch
from oracles import hamming, plain_greedy

from searnn_ext import checkpoint
from searnn_ext.cli import main, train_argv
from searnn_ext.data import load_synthetic
from searnn_ext.trainer import SearnnTrainer

TINY = ["train", "--task=synthetic", "--limit=64", "--batch-size=16", "--hidden-size=12", "--quiet"]


def run(tmp_path, name, *options):
    output = tmp_path / name
    assert main([*TINY, f"--output={output}", *options]) == 0
    return output


def weights(output):
    return checkpoint.load(output / "checkpoint.pt")["model"]


def same_weights(one, two) -> bool:
    return all(torch.equal(one[k], two[k]) for k in one)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_train_writes_metrics_and_a_checkpoint(tmp_path):
    output = run(tmp_path, "run", "--epochs=2", "--loss=sll", "--sampling=pol", "--tokens=3")
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert len(steps) == 2 * 4 and all(r["rollouts"] > 0 and r["finite"] for r in steps)
    assert [r["epoch"] for r in records if "valid_error" in r] == [1, 2]
    state = checkpoint.load(output / "checkpoint.pt")
    assert state["epoch"] == 2 and state["step"] == 8
    assert state["run"]["searnn"]["tokens"] == 3 and state["run"]["model"]["hidden_size"] == 12
    assert not list(output.glob("*.partial"))


def test_resume_continues_exactly(tmp_path):
    options = ["--loss=ll", "--rollin=mixed", "--rollout=mixed", "--dropout=0.2"]
    straight = run(tmp_path, "straight", "--epochs=2", *options)
    run(tmp_path, "split", "--epochs=1", *options)
    resumed = run(tmp_path, "split", "--epochs=2", "--resume", *options)
    assert same_weights(weights(straight), weights(resumed))
    lines = (resumed / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len((straight / "metrics.jsonl").read_text().splitlines())


def test_resume_takes_the_runs_options_when_not_given(tmp_path):
    options = ["--loss=mle", "--lr=0.01", "--max-grad-norm=off", "--cells=2"]
    straight = run(tmp_path, "straight", "--epochs=2", *options)
    run(tmp_path, "split", "--epochs=1", *options)
    resumed = tmp_path / "split"
    assert main(["train", f"--output={resumed}", "--resume", "--epochs=2", "--quiet"]) == 0
    assert same_weights(weights(straight), weights(resumed))
    assert checkpoint.load(resumed / "checkpoint.pt")["run"]["searnn"]["cells"] == 2


def test_every_searnn_config_field_reaches_the_run(tmp_path):
    """reproduce and the demo train through train_argv: its options parse as main's do."""
    output = tmp_path / "run"
    options = ["--cells=3", "--cost-scale=2.5", "--max-rows=7", "--cost=edit", "--tokens=2"]
    options.append("--rollout-dtype=bf16")
    train_argv([*TINY[1:], f"--output={output}", "--epochs=1", "--loss=sll", *options])
    recorded = checkpoint.load(output / "checkpoint.pt")["run"]["searnn"]
    assert recorded["cells"] == 3 and isinstance(recorded["cells"], int)
    assert (recorded["cost_scale"], recorded["max_rows"], recorded["cost"]) == (2.5, 7, "edit")
    assert recorded["rollout_dtype"] == "bfloat16"
    assert recorded["max_grad_norm"] == 5.0


def test_resume_refuses_other_settings_naming_each(tmp_path, capsys):
    output = run(tmp_path, "run", "--epochs=1", "--loss=ll")
    before = (output / "checkpoint.pt").read_bytes()
    conflicting = ["--lr=0.01", "--loss=mle", "--hidden-size=16", "--optimizer=sgd"]
    assert main([*TINY, f"--output={output}", "--epochs=2", "--resume", *conflicting]) == 2
    err = one_error_line(capsys)
    for expected in ("--lr 0.01 (the checkpoint's: 0.003)", "--loss mle (the checkpoint's: ll)"):
        assert expected in err
    assert "--hidden-size 16 (the checkpoint's: 12)" in err
    assert "--optimizer sgd (the checkpoint's: adam)" in err
    assert main(["train", "--task=ocr", f"--output={output}", "--resume"]) == 2
    assert "--task ocr (the checkpoint's: synthetic)" in one_error_line(capsys)
    assert (output / "checkpoint.pt").read_bytes() == before
    # What may change does not conflict: the epochs, the chunking of roll-outs.
    assert main([*TINY, f"--output={output}", "--epochs=2", "--resume", "--max-rows=50"]) == 0


def test_a_log_without_a_checkpoint_is_not_a_fresh_start(tmp_path, capsys):
    output = run(tmp_path, "run", "--epochs=1")
    (output / "checkpoint.pt").unlink()
    log = (output / "metrics.jsonl").read_text()
    assert main([*TINY, f"--output={output}", "--resume"]) == 2
    assert "no checkpoint.pt to resume from" in one_error_line(capsys)
    assert (output / "metrics.jsonl").read_text() == log


def test_a_finished_run_is_not_overwritten_by_accident(tmp_path, capsys):
    output = run(tmp_path, "run", "--epochs=1")
    before = (output / "checkpoint.pt").read_bytes()
    assert main([*TINY, f"--output={output}", "--epochs=1"]) == 2
    assert "already holds a run" in one_error_line(capsys)
    assert (output / "checkpoint.pt").read_bytes() == before
    assert main([*TINY, f"--output={output}", "--epochs=1", "--seed=3", "--overwrite"]) == 0
    assert (output / "checkpoint.pt").read_bytes() != before


def poison_from(monkeypatch, step: int) -> None:
    """From the `step`th training step on, every loss is NaN."""
    healthy, calls = SearnnTrainer.loss, []

    def loss(self, batch):
        calls.append(1)
        value, cells, rollouts = healthy(self, batch)
        return (value * float("nan") if len(calls) >= step else value), cells, rollouts

    monkeypatch.setattr(SearnnTrainer, "loss", loss)


def test_divergence_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, capsys, monkeypatch):
    output = run(tmp_path, "run", "--epochs=1")
    good = (output / "checkpoint.pt").read_bytes()
    poison_from(monkeypatch, 2)  # the second step of epoch 2 (4 steps an epoch)
    assert main([*TINY, f"--output={output}", "--epochs=3", "--resume"]) == 1
    err = one_error_line(capsys)
    assert "epoch 2, step 6" in err and "checkpoint of epoch 1 is kept" in err
    assert (output / "checkpoint.pt").read_bytes() == good
    last = json.loads((output / "metrics.jsonl").read_text().splitlines()[-1])
    assert (last["step"], last["finite"]) == (6, False)


def test_skipped_steps_are_counted_and_reported(tmp_path, capsys, monkeypatch):
    poison_from(monkeypatch, 3)  # steps 3 and 4 of epoch 1, 4 of epoch 2
    output = tmp_path / "run"
    command = [*TINY[:-1], f"--output={output}", "--epochs=2", "--on-nonfinite=skip"]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "epoch 1: validation error" in out and "(2 steps skipped: non-finite)" in out
    assert "(6 steps skipped: non-finite)" in out
    state = checkpoint.load(output / "checkpoint.pt")
    assert state["skipped_steps"] == 6
    assert all(torch.isfinite(w).all() for w in state["model"].values())


def test_a_real_divergence_exits_non_zero(tmp_path, capsys):
    output = tmp_path / "run"
    command = [*TINY, f"--output={output}", "--optimizer=sgd", "--lr=1e37", "--max-grad-norm=0"]
    assert main([*command, "--loss=mle", "--epochs=3"]) == 1
    assert re.search(r"epoch 1, step \d: .* not finite", one_error_line(capsys))
    assert not (output / "checkpoint.pt").exists()


def test_evaluate_prints_the_error_an_independent_decode_gives(tmp_path, capsys):
    output = tmp_path / "run"
    arguments = [*TINY[1:], f"--output={output}", "--epochs=2", "--loss=mle"]
    summary = train_argv(arguments)
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt"), "--split=test"]) == 0
    printed = capsys.readouterr().out
    error = float(re.fullmatch(r"synthetic test error: (\d+\.\d\d)%\n", printed).group(1))
    model = checkpoint.load_model(output / "checkpoint.pt")[0]
    test = load_synthetic(sizes=(64, 64, 64)).test
    distance = sum(hamming(plain_greedy(model, e, len(e.source)), e.target.tolist()) for e in test)
    expected = 100 * distance / sum(len(e.target) for e in test)
    assert error == round(expected, 2) == round(summary["test_error"], 2)


def scripted_validation(monkeypatch, errors: list[float]) -> None:
    """fit's validation errors, epoch by epoch, are `errors`; the final test error is 0."""
    left = iter(errors)
    fit = importlib.import_module("searnn_ext.fit")  # searnn_ext.fit is also the function
    monkeypatch.setattr(fit, "error_rate", lambda *arguments, **options: next(left, 0.0))


def test_best_holds_the_first_epoch_with_the_lowest_validation_error(tmp_path, monkeypatch):
    straight = run(tmp_path, "two", "--epochs=2")
    scripted_validation(monkeypatch, [50.0, 30.0, 40.0, 30.0, 35.0])
    output = run(tmp_path, "run", "--epochs=5")
    best = checkpoint.load(output / "best.pt")
    assert best["epoch"] == 2
    assert same_weights(best["model"], weights(straight))
    assert checkpoint.load(output / "checkpoint.pt")["epoch"] == 5


@pytest.mark.parametrize(
    "later, best_epoch", [([35.0, 25.0], 5), ([35.0, 45.0], 2)], ids=["improves", "does-not"]
)
def test_a_resumed_run_replaces_best_only_with_a_better_epoch(
    tmp_path, monkeypatch, later, best_epoch
):
    scripted_validation(monkeypatch, [50.0, 30.0, 40.0])
    output = run(tmp_path, "run", "--epochs=3")
    scripted_validation(monkeypatch, later)
    run(tmp_path, "run", "--epochs=5", "--resume")
    assert checkpoint.load(output / "best.pt")["epoch"] == best_epoch


def test_a_run_stopped_between_its_checkpoint_and_best_resumes_with_the_right_best(
    tmp_path, monkeypatch
):
    one = run(tmp_path, "one", "--epochs=1")
    scripted_validation(monkeypatch, [50.0, 30.0])
    output = run(tmp_path, "run", "--epochs=2")
    second = weights(output)
    # As if stopped after epoch 2's checkpoint.pt, before its best.pt.
    (output / "best.pt").write_bytes((one / "checkpoint.pt").read_bytes())
    scripted_validation(monkeypatch, [40.0])
    run(tmp_path, "run", "--epochs=3", "--resume")
    best = checkpoint.load(output / "best.pt")
    assert best["epoch"] == 2 and same_weights(best["model"], second)


@pytest.mark.parametrize("resume", [[], ["--resume"]], ids=["fresh", "resume"])
def test_a_best_model_alone_is_not_trained_over(tmp_path, capsys, resume):
    output = run(tmp_path, "run", "--epochs=1")
    (output / "checkpoint.pt").unlink()
    (output / "metrics.jsonl").unlink()
    best = (output / "best.pt").read_bytes()
    assert main([*TINY, f"--output={output}", "--epochs=1", *resume]) == 2
    assert "best.pt" in one_error_line(capsys)
    assert (output / "best.pt").read_bytes() == best


def test_evaluate_takes_the_best_model(tmp_path, capsys):
    output = run(tmp_path, "run", "--epochs=2")
    capsys.readouterr()
    assert main(["evaluate", str(output / "best.pt"), "--split=valid"]) == 0
    printed = capsys.readouterr().out
    error = float(re.fullmatch(r"synthetic valid error: (\d+\.\d\d)%\n", printed).group(1))
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    errors = {r["epoch"]: r["valid_error"] for r in records if "valid_error" in r}
    assert error == round(errors[checkpoint.load(output / "best.pt")["epoch"]], 2)


def test_training_draws_learning_curves(tmp_path):
    pytest.importorskip("matplotlib")
    output = run(tmp_path, "run", "--epochs=2", "--loss=mle")
    assert (output / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_beam_search_evaluation(tmp_path, capsys):
    output = run(tmp_path, "run", "--epochs=1", "--loss=mle")
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt"), "--beam=1"]) == 0
    greedy = capsys.readouterr().out
    assert main(["evaluate", str(output / "checkpoint.pt"), "--beam=3"]) == 0
    beam = capsys.readouterr().out
    assert re.fullmatch(r"synthetic test error: \d+\.\d\d%\n", beam) and greedy != ""
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", str(output / "checkpoint.pt"), "--beam=0"])
    assert exited.value.code == 2


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
    interrupted = checkpoint.load(killed / "checkpoint.pt")["epoch"]
    assert 1 <= interrupted < 6
    run(tmp_path, "killed", *options, "--resume")
    assert same_weights(weights(straight), weights(killed))
    assert (killed / "metrics.jsonl").read_text().count("\n") == (
        (straight / "metrics.jsonl").read_text().count("\n")
    )


def test_train_help_gives_defaults_and_each_tasks_model(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "roll-in policy (default: learned)" in out
    assert "(0 or off: no clipping) (default: 5.0)" in out
    for option in ("--max-rows", "--cost-scale", "--cells", "--units", "--on-nonfinite"):
        assert option in out
    assert "--epochs, --device, --beam, --on-nonfinite, --quiet, --max-rows may differ" in out
    for task in ("ocr", "conll", "spelling", "synthetic", "pairs"):
        assert f" {task}: hidden_size=" in out
    assert "the best completion for the cost, found without decoding (optimal)" in out
    assert "(copy, the paper's)" in out


@pytest.mark.parametrize(
    "options, message",
    [
        (["--batch-size=0"], "argument --batch-size: must be a positive integer, got 0"),
        (["--cells=1.5"], "argument --cells: must be 'all', a count (an integer >= 1) or a"),
        (["--rollout-mix-prob=2"], "argument --rollout-mix-prob: must lie in [0, 1], got 2"),
        (["--lr=nan"], "argument --lr: must be a positive finite number, got nan"),
        (["--loss=bleu"], "argument --loss: invalid choice: 'bleu'"),
        (["--units=words"], "--units: not an option of the synthetic task"),
        (["--data=somewhere"], "--data: the synthetic task reads no files"),
        (["--device=cuda:7"], "device 'cuda:7'"),
        (["--device=tpu"], "device 'tpu'"),
    ],
)
def test_option_errors_are_one_line(tmp_path, capsys, options, message):
    try:
        code = main([*TINY, f"--output={tmp_path / 'run'}", *options])
    except SystemExit as exited:  # argparse's own errors
        code = exited.code
    assert code == 2
    assert message in one_error_line(capsys)


def test_an_output_that_cannot_be_created_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main([*TINY, f"--output={tmp_path / 'file' / 'run'}"]) == 2
    assert "cannot create the output folder" in one_error_line(capsys)


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="cannot create the output folder"):
        main(["--debug", *TINY, f"--output={tmp_path / 'file' / 'run'}"])
    with pytest.raises(ValueError, match="cannot create the output folder"):
        main([*TINY, f"--output={tmp_path / 'file' / 'run'}", "--debug"])


def test_the_command_itself_prints_one_line_and_exits_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "searnn_ext.cli", *TINY, "--batch-size=0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("searnn train: ")
