"""The training layer under hostile input: two runs on one folder, an interrupted --overwrite, a
full disk, forged checkpoints, corrupt logs, overflowing options. Each case is one line on
stderr and exit status 2 (or a correct result), never a traceback or a silent loss."""

import json
import os
import resource
import signal
import subprocess
import sys

import pytest
import torch
from checkpoint_files import forged

from searnn_ext import checkpoint, run_folder
from searnn_ext.cli import main
from searnn_ext.config import RunConfig, SearnnConfig
from searnn_ext.fit import RUN_FILES

TINY = ["train", "--task=synthetic", "--limit=64", "--batch-size=16", "--hidden-size=12", "--quiet"]


def run(output, *options) -> int:
    return main([*TINY, f"--output={output}", *options])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def trained(tmp_path):
    output = tmp_path / "run"
    assert run(output, "--epochs=1") == 0
    return output


def test_a_second_run_on_a_folder_in_use_is_refused(trained, capsys):
    with run_folder.holding(trained):  # as a live run holds it
        before = (trained / "metrics.jsonl").read_bytes()
        assert run(trained, "--epochs=2", "--resume") == 2
        err = one_error_line(capsys)
        assert str(trained) in err and f"process {os.getpid()}" in err
        assert (trained / "metrics.jsonl").read_bytes() == before
    assert run(trained, "--epochs=2", "--resume") == 0  # released with the run


def test_a_killed_runs_lock_file_does_not_block(trained):
    (trained / run_folder.LOCK).write_text("999999999\n")  # a pid that is no process
    assert run(trained, "--epochs=2", "--resume") == 0


def test_two_processes_on_one_folder_one_is_refused(tmp_path):
    output = tmp_path / "run"
    command = [sys.executable, "-m", "searnn_ext.cli", *TINY, "--limit=1000", "--epochs=2"]
    command.append(f"--output={output}")
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        lock = output / run_folder.LOCK
        while not lock.exists() or not lock.read_text():
            assert first.poll() is None, first.stderr.read()
        second = subprocess.run(
            [*command, "--overwrite"], capture_output=True, text=True, timeout=300
        )
        assert first.poll() is None, "the first run ended before the second one started"
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0, first.stderr.read()
    assert second.returncode == 2 and "in use by another run" in second.stderr
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "valid_error" in r] == [1, 2]


def test_an_interrupted_overwrite_keeps_the_old_run(trained, capsys):
    old = (trained / "checkpoint.pt").read_bytes()
    # As if stopped after the new run's log started, before its first checkpoint.
    run_folder.set_aside(trained, RUN_FILES)
    (trained / "metrics.jsonl").write_text("")
    kept = trained / run_folder.OVERWRITTEN / "checkpoint.pt"
    assert kept.read_bytes() == old
    assert run(trained, "--epochs=2", "--resume") == 2
    err = one_error_line(capsys)
    assert "no checkpoint.pt to resume from" in err and str(kept.parent) in err
    # A second overwrite keeps the run it would replace until it has a checkpoint of its own.
    run_folder.set_aside(trained, RUN_FILES)
    assert kept.read_bytes() == old and not (trained / "metrics.jsonl").exists()
    assert run(trained, "--epochs=1", "--overwrite") == 0
    assert not (trained / run_folder.OVERWRITTEN).exists()


def test_overwrite_killed_before_its_first_checkpoint(tmp_path):
    output = tmp_path / "run"
    assert run(output, "--epochs=1") == 0
    old = (output / "checkpoint.pt").read_bytes()
    command = [sys.executable, "-m", "searnn_ext.cli", *TINY, "--limit=2000", "--epochs=1"]
    new = subprocess.Popen([*command, f"--output={output}", "--overwrite"])
    try:
        while not (output / run_folder.OVERWRITTEN).exists():
            assert new.poll() is None
    finally:
        new.send_signal(signal.SIGTERM)
        new.wait(timeout=60)
    assert (output / run_folder.OVERWRITTEN / "checkpoint.pt").read_bytes() == old
    assert not (output / "checkpoint.pt").exists()


def test_resume_refuses_a_log_that_is_not_the_checkpoints(trained, capsys):
    (trained / "metrics.jsonl").write_text("")
    assert run(trained, "--epochs=2", "--resume") == 2
    assert "does not belong to" in one_error_line(capsys)
    (trained / "metrics.jsonl").unlink()
    assert run(trained, "--epochs=2", "--resume") == 2
    assert "there is none" in one_error_line(capsys)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("[1, 2]", ":1: not a metrics record"),
        ('{"epoch": "x"}', ":1: not a metrics record"),
        ("\xff", "not UTF-8 text"),
    ],
)
def test_a_corrupt_log_is_named_when_resumed(trained, capsys, line, problem):
    log = trained / "metrics.jsonl"
    log.write_bytes(line.encode("latin-1") + b"\n" + log.read_bytes())
    assert run(trained, "--epochs=2", "--resume") == 2
    err = one_error_line(capsys)
    assert problem in err and str(log) in err


def test_a_full_disk_is_one_line_and_keeps_the_checkpoint(trained):
    old = (trained / "checkpoint.pt").read_bytes()
    limit = len(old) // 2  # the log fits, the next checkpoint does not

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "searnn_ext.cli", *TINY, f"--output={trained}", "--epochs=2"]
        + ["--resume"],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    error = done.stderr.splitlines()[-1]  # after the log's "resuming ..."
    assert "could not be written" in error and "the previous checkpoint is kept" in error
    assert (trained / "checkpoint.pt").read_bytes() == old


FORGERIES = {
    "an extra key in task": (lambda c: c["task"].update(extra=1), "an unknown field 'extra'"),
    "a missing key in task": (lambda c: c["task"].pop("decode_length"), "decode_length is missing"),
    "an extra model option": (
        lambda c: c["task"]["model_options"].update(hidden=3),
        "no such option 'hidden'",
    ),
    "a missing model weight": (lambda c: c["model"].popitem(), "do not fit the model"),
    "a vocabulary the task has not": (
        lambda c: c["task"]["vocabularies"].update(words=["a"]),
        "task.vocabularies",
    ),
    "decode_length 1e9": (
        lambda c: c["task"].update(decode_length=10**9),
        "decode_length must be at most",
    ),
    "decode_length -1": (
        lambda c: c["task"].update(decode_length=-1),
        "decode_length must be a positive integer",
    ),
    "target_vocab 1e12": (
        lambda c: c["task"]["model_options"].update(target_vocab=10**12),
        "target_vocab must be at most",
    ),
    "a string hidden_size": (
        lambda c: c["run"]["model"].update(hidden_size="12"),
        "hidden_size must be a positive integer",
    ),
    "empty target_tokens": (lambda c: c["task"].update(target_tokens=[]), "task.target_tokens"),
    "a list run": (lambda c: c.update(run=[1, 2]), "run: a run configuration is a dict"),
    "a wrong-sized RNG state": (
        lambda c: c["random_states"][0].update(torch=torch.zeros(3, dtype=torch.uint8)),
        "random_states[0].torch",
    ),
    "epoch '1'": (lambda c: c.update(epoch="1"), "epoch must be a positive integer"),
    "units bytes": (
        lambda c: c["run"]["data_options"].update(units="bytes"),
        "--units",
    ),
    "NaN weights": (
        lambda c: next(iter(c["model"].values())).fill_(float("nan")),
        "not finite",
    ),
}


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
@pytest.mark.parametrize("command", ["evaluate", "predict", "resume"])
def test_a_forged_checkpoint_is_refused_naming_the_field(trained, capsys, forgery, command):
    edit, problem = FORGERIES[forgery]
    path = trained / "checkpoint.pt"
    forged(path, edit)
    if command == "resume":
        code = run(trained, "--epochs=2", "--resume")
    elif command == "predict":
        (trained / "input.txt").write_text("abc\n")
        code = main(["predict", str(path), f"--input={trained / 'input.txt'}"])
    else:
        code = main(["evaluate", str(path)])
    assert code == 2
    err = one_error_line(capsys)
    assert str(path) in err and problem in err


def test_a_wrong_shaped_optimiser_state_is_refused_on_resume(trained, capsys):
    def edit(content):
        state = next(iter(content["optimizer"]["state"].values()))
        state["exp_avg"] = torch.zeros(3, 3)

    forged(trained / "checkpoint.pt", edit)
    assert run(trained, "--epochs=2", "--resume") == 2
    assert "its optimiser state does not fit: exp_avg" in one_error_line(capsys)


@pytest.mark.parametrize(
    "value", [torch.zeros(2, 2).to_sparse(), {1, 2}, b"bytes"], ids=["sparse", "set", "bytes"]
)
def test_a_checkpoint_holding_other_objects_is_named(trained, value):
    path = trained / "checkpoint.pt"
    content = torch.load(path, weights_only=True)
    content["extra"] = value
    torch.save(content, path)
    with pytest.raises(checkpoint.CheckpointError, match=str(path)):
        checkpoint.load(path)


@pytest.mark.parametrize(
    "option, message",
    [
        ("--cells=inf", "--cells: must be 'all', a count"),
        ("--cells=1e30", "--cells: must be at most"),
        ("--hidden-size=1000000000", "--hidden-size: must be at most 16384"),
        ("--limit=1000000000000", "--limit: must be at most"),
        ("--seed=180000000000000", "--seed: must be at most"),
        ("--seed=-1", "--seed: must be a non-negative integer"),
    ],
)
def test_impossible_sizes_are_refused_up_front(tmp_path, capsys, option, message):
    with pytest.raises(SystemExit) as exit:
        run(tmp_path / "run", "--epochs=1", option)
    assert exit.value.code == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_max_grad_norm_zero_turns_clipping_off(tmp_path):
    assert run(tmp_path / "run", "--epochs=1", "--max-grad-norm=0.0") == 0
    recorded = checkpoint.load(tmp_path / "run" / "checkpoint.pt")["run"]["searnn"]
    assert recorded["max_grad_norm"] is None


@pytest.mark.parametrize(
    "config, field",
    [
        (SearnnConfig(tokens=0), "tokens"),
        (SearnnConfig(cost_scale=-1.0), "cost_scale"),
        (SearnnConfig(cells=-3), "cells"),
        (SearnnConfig(max_rows=0), "max_rows"),
        (SearnnConfig(rollout_mix_prob=1.5), "rollout_mix_prob"),
    ],
)
def test_the_library_refuses_what_the_command_line_refuses(config, field):
    with pytest.raises(ValueError, match=rf"SearnnConfig: {field} .*--{field.replace('_', '-')}"):
        config.check()
    with pytest.raises(ValueError, match=field):
        RunConfig(task="synthetic", searnn=config).check()


def test_resume_names_a_changed_task_not_its_data(tmp_path, capsys):
    data = tmp_path / "pairs"
    data.mkdir()
    for split in ("train", "test"):
        (data / f"{split}.tsv").write_text("ab\tba\nabc\tcba\nb\tb\n" * 8)
    output = tmp_path / "run"
    command = ["train", "--task=pairs", f"--data={data}", "--quiet", f"--output={output}"]
    assert main([*command, "--epochs=1", "--hidden-size=8"]) == 0
    assert main(["train", "--task=synthetic", f"--output={output}", "--resume"]) == 2
    assert "--task synthetic (the checkpoint's: pairs)" in one_error_line(capsys)


def test_resume_accepts_the_runs_own_cost_by_name(tmp_path):
    output = tmp_path / "run"
    assert run(output, "--epochs=1") == 0  # synthetic: fixed length, so hamming
    assert run(output, "--epochs=2", "--resume", "--cost=hamming") == 0


def test_resume_and_overwrite_together_are_refused(trained, capsys):
    assert run(trained, "--epochs=2", "--resume", "--overwrite") == 2
    assert "choose one" in one_error_line(capsys)


def test_predict_into_a_closed_pipe_exits_quietly(trained):
    sources = trained / "many.txt"
    sources.write_text("abcdef\n" * 20000)
    command = [sys.executable, "-m", "searnn_ext.cli", "predict", str(trained / "checkpoint.pt")]
    pipeline = f"{' '.join(command)} --input={sources} | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], capture_output=True)
    assert done.stdout.count(b"\n") == 1
    assert done.stderr == b""


def test_reproduce_takes_a_data_path_with_a_space(tmp_path, capsys):
    from data_files import write_ocr

    data = tmp_path / "ocr dir"
    write_ocr(data)
    command = ["reproduce", "--task=ocr", f"--data={data}", "--epochs=1", "--threads=1"]
    assert main([*command, "--rows", "MLE", f"--output={tmp_path / 'out'}"]) == 0
    assert "'--data=" in capsys.readouterr().out  # the shown command quotes the path


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"row": "MLE"}', "results.jsonl:1: not a run's record"),
        ("[1, 2]", "results.jsonl:1: not a run's record"),
        ("nonsense", "results.jsonl:1: not a JSON line"),
    ],
)
def test_a_corrupt_results_file_is_named(tmp_path, capsys, line, problem):
    output = tmp_path / "out"
    output.mkdir()
    (output / "results.jsonl").write_text(line + "\n")
    command = ["reproduce", "--task=ocr", "--epochs=1", "--resume", f"--output={output}"]
    assert main([*command, "--data=nowhere"]) == 2
    assert problem in capsys.readouterr().err


@pytest.mark.parametrize(
    "dtype, kernels, slow",
    [
        ("bfloat16", "portable", True),
        ("bfloat16", "avx512", False),
        ("float16", None, True),
        ("float32", "aten", False),
    ],
)
def test_a_slow_rollout_dtype_is_said_at_start(monkeypatch, caplog, dtype, kernels, slow):
    from searnn_ext import _extension, backends
    from searnn_ext.data import load_synthetic
    from searnn_ext.model import Seq2Seq
    from searnn_ext.trainer import SearnnTrainer

    info = dict(_extension.build_info(), cpu_decoder_kernels={dtype: kernels})
    monkeypatch.setattr(_extension, "build_info", lambda: info)
    backends.log_once.cache_clear()
    options = load_synthetic(sizes=(4, 4, 4)).model_options
    model = Seq2Seq(hidden_size=8, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with caplog.at_level("INFO"):
        SearnnTrainer(model, optimizer, SearnnConfig(rollout_dtype=dtype))
    lines = [r.message for r in caplog.records if "rollout_dtype" in r.message]
    assert len(lines) == int(slow)
    if slow:
        assert "this CPU lacks" in lines[0] and "float32 is faster" in lines[0]


def test_a_half_written_last_result_is_dropped(tmp_path):
    from searnn_ext.reproduce import recorded_runs

    record = dict(row="MLE", seed=0, test_error=3.5, seconds=1.0, command="train --seed=0")
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(record) + "\n" + '{"row": "LL", "se')
    assert recorded_runs(results) == {"train --seed=0": record}
    assert results.read_text() == json.dumps(record) + "\n"  # the next record appends cleanly


def test_an_overwrite_that_fails_to_start_leaves_the_old_run_in_place(trained, capsys):
    old = (trained / "checkpoint.pt").read_bytes()
    # Refused when the trainer is built, after the data is loaded: nothing may have moved.
    assert run(trained, "--epochs=1", "--overwrite", "--loss=ocd", "--cost=bleu") == 2
    assert "--loss ocd" in one_error_line(capsys)
    assert (trained / "checkpoint.pt").read_bytes() == old
    assert not (trained / run_folder.OVERWRITTEN).exists()


def test_a_fresh_start_beside_a_set_aside_run_is_refused(trained, capsys):
    run_folder.set_aside(trained, RUN_FILES)
    assert run(trained, "--epochs=1") == 2
    assert "an interrupted --overwrite replaced" in one_error_line(capsys)
    assert (trained / run_folder.OVERWRITTEN / "checkpoint.pt").exists()


def test_a_set_aside_keeps_the_newest_complete_run(trained):
    run_folder.set_aside(trained, RUN_FILES)
    assert run(trained, "--epochs=1", "--overwrite") == 0
    newest = (trained / "checkpoint.pt").read_bytes()
    # As if killed between the new run's checkpoint and the deletion of the old one.
    (trained / run_folder.OVERWRITTEN).mkdir()
    run_folder.set_aside(trained, RUN_FILES)
    assert (trained / run_folder.OVERWRITTEN / "checkpoint.pt").read_bytes() == newest


def test_bleu_scores_roll_outs_decoded_by_the_compiled_loop(tmp_path):
    command = [*TINY, f"--output={tmp_path / 'run'}", "--epochs=1", "--cost=bleu"]
    assert main([*command, "--backend=ext", "--reference=best_suffix"]) == 0


def test_a_record_with_a_validation_error_but_no_epoch_is_not_an_epochs_end(trained):
    log = trained / "metrics.jsonl"
    log.write_text('{"valid_error": 1}\n' + log.read_text())
    assert run(trained, "--epochs=2", "--resume") == 0  # was a KeyError
