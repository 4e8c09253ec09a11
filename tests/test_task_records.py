"""A task is one record: a task registered here, with a data option of its own, trains,
evaluates and predicts through the command line's own code; --help lists the records' data
options; and the library refuses what the command line refuses, resume included."""

import dataclasses

import pytest
import torch

from searnn_ext import fit, tasks
from searnn_ext.cli import main, parser
from searnn_ext.config import ModelConfig, RunConfig, SearnnConfig
from searnn_ext.data.batching import Example, TaskData
from searnn_ext.options import Integer


def load_copy(path, vocabularies, width):
    """Copy a sequence of `width` letters out of four: the simplest task there is."""
    generator = torch.Generator().manual_seed(0)

    def split(size):
        sources = torch.randint(0, 4, (size, width), generator=generator)
        return [Example(s, s.clone()) for s in sources]

    return TaskData(
        name="copy",
        train=split(48),
        valid=split(8),
        test=split(8),
        model_options=dict(target_vocab=4, source_vocab=4),
        target_tokens=list("abcd"),
    )


COPY = tasks.Task(
    load=load_copy,
    data_options=dict(width=tasks.DataOption(3, "letters per sequence", Integer(1, 20))),
    defaults=dict(hidden_size=16, attention="additive", optimizer="adam", lr=3e-3, batch_size=16),
    read_sources=lambda lines, name, record, options: [
        torch.tensor(["abcd".index(c) for c in line]) for _, line in lines
    ],
    show=lambda ids, record, options: "".join("abcd"[i] for i in ids),
    input_form="letters a-d per line; their copy per output line",
    metrics=dict(
        length=tasks.Metric("mean length", lambda model, examples, record, **_: 3.0),
    ),
)


@pytest.fixture
def copy_task(monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "copy", COPY)
    return "copy"


def test_a_task_added_by_one_record_trains_evaluates_and_predicts(copy_task, tmp_path, capsys):
    output = tmp_path / "run"
    command = ["train", "--task=copy", "--width=5", "--epochs=2", "--loss=ll", "--quiet"]
    assert main([*command, f"--output={output}"]) == 0
    assert main(["evaluate", str(output / "checkpoint.pt")]) == 0
    printed = capsys.readouterr().out
    assert "copy test error" in printed
    sources = tmp_path / "sources.txt"
    sources.write_text("abcda\nddcba\n")
    assert main(["predict", str(output / "checkpoint.pt"), f"--input={sources}"]) == 0
    predictions = capsys.readouterr().out.splitlines()
    assert len(predictions) == 2 and all(set(p) <= set("abcd") for p in predictions)


def test_fit_reports_a_records_metrics(copy_task, tmp_path):
    run = RunConfig(task="copy", searnn=SearnnConfig(loss="mle"))
    summary = fit(run, output=tmp_path / "run", epochs=1)
    assert summary["test_length"] == 3.0


def test_a_records_data_option_is_checked_by_its_kind(copy_task, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--task=copy", "--width=0", f"--output={tmp_path}"])
    assert "--width: must be a positive integer, got 0" in capsys.readouterr().err
    run = RunConfig(task="copy", data_options=dict(width=50))
    with pytest.raises(ValueError, match="--width: must be at most 20, got 50"):
        fit(run, output=tmp_path / "run", epochs=1)


def test_train_help_lists_each_records_data_options(copy_task, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, entry in tasks.TASKS.items():
        for option_name, option in entry.data_options.items():
            assert f"--{option_name.replace('_', '-')}" in text
            assert " ".join(option.help.split()) in text
            assert f"{name} {option.default}" in text


def test_a_data_option_meaning_something_else_is_refused(copy_task):
    clash = dataclasses.replace(
        COPY, data_options=dict(noise=tasks.DataOption(1, "how loud", Integer(0)))
    )
    with pytest.raises(ValueError, match="--noise means something else"):
        tasks.register("clash", clash)


def test_fit_resume_refuses_a_conflicting_option_from_python(tmp_path):
    run = RunConfig(task="synthetic", data_options=dict(limit=32), model=ModelConfig(hidden_size=8))
    fit(run, output=tmp_path / "run", epochs=1)
    changed = dataclasses.replace(run, model=ModelConfig(hidden_size=16))
    with pytest.raises(ValueError, match=r"--hidden-size 16 \(the checkpoint's: 8\)"):
        fit(changed, output=tmp_path / "run", epochs=2, resume=True)
    assert fit(run, output=tmp_path / "run", epochs=2, resume=True)["epoch"] == 2


def test_the_library_names_a_bad_setting_as_the_command_line_does(tmp_path):
    for bad, named in [
        (RunConfig(task="synthetic", searnn=SearnnConfig(tokens=0)), "tokens"),
        (RunConfig(task="synthetic", model=ModelConfig(hidden_size=10**9)), "hidden_size"),
        (RunConfig(task="synthetic", seed=-1), "seed"),
    ]:
        with pytest.raises(ValueError, match=named):
            fit(bad, output=tmp_path / "run", epochs=1)
