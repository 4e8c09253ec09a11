"""The library under the command: fit, resume and predict from Python, as the README shows, on
a small pairs folder; and RunConfig's record of a run and its conflicts."""

import pytest
import torch

import searnn_ext
from searnn_ext import ModelConfig, RunConfig, SearnnConfig, checkpoint, fit, predict, tasks
from searnn_ext.config import conflicts


@pytest.fixture
def folder(tmp_path):
    lines = ["the cat sat\tsat cat the", "a dog ran\tran dog a", "the dog sat\tsat dog the"]
    (tmp_path / "train.tsv").write_text("\n".join(lines * 8) + "\n")
    (tmp_path / "test.tsv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_fit_resume_and_predict_from_python(folder, tmp_path):
    run = RunConfig(
        task="pairs",
        data=str(folder),
        data_options=dict(units="words"),
        model=ModelConfig(hidden_size=16),
        searnn=SearnnConfig(loss="ll", rollin="learned", rollout="mixed"),
    )
    lines = []
    straight = fit(run, output=tmp_path / "straight", epochs=2, report=lines.append)
    assert lines[0].startswith("epoch 1: validation error ") and len(lines) == 3
    assert lines[2] == f"test error {straight['test_error']:.2f}%"
    fit(run, output=tmp_path / "split", epochs=1)
    resumed = fit(run, output=tmp_path / "split", epochs=2, resume=True)
    assert resumed["test_error"] == straight["test_error"]
    one, two = (
        checkpoint.load(tmp_path / n / "checkpoint.pt")["model"] for n in ("straight", "split")
    )
    assert all(torch.equal(one[k], two[k]) for k in one)

    model, recorded, record = checkpoint.load_model(tmp_path / "split" / "checkpoint.pt")
    assert isinstance(model, searnn_ext.Seq2Seq) and not model.training
    assert recorded == tasks.resolve(run)  # the defaults filled in: the task's optimiser, ...
    assert recorded.optimizer.optimizer == "adam" and recorded.model.hidden_size == 16
    assert record.vocabularies["target"][-1] == "</s>"
    outputs = list(predict(tmp_path / "split" / "checkpoint.pt", enumerate(["the cat ran"], 1)))
    assert len(outputs) == 1 and set(outputs[0].split()) <= set(record.target_tokens)


def test_a_run_records_every_setting_and_names_its_conflicts():
    run = tasks.resolve(RunConfig(task="spelling", data="text", searnn=SearnnConfig(cells=2)))
    assert run.data_options == dict(noise=0.3, max_length=10, limit=None, fresh_noise=True)
    assert run.model.hidden_size == 100 and run.optimizer.lr == 1e-3
    assert RunConfig.from_dict(run.to_dict()) == run
    other = RunConfig(task="spelling", data="text", searnn=SearnnConfig(cells=0.5, max_rows=9))
    other = tasks.resolve(other)
    assert conflicts(other, run) == ["--cells 0.5 (the checkpoint's: 2)"]  # max_rows may change
    older = run.to_dict()
    del older["searnn"]["max_rows"]  # a run recorded before the field existed: its default
    assert RunConfig.from_dict(older) == run
    with pytest.raises(ValueError, match="a run configuration this version does not know"):
        RunConfig.from_dict({**run.to_dict(), "colour": "blue"})
    with pytest.raises(ValueError, match="--embeddings: not an option of the spelling task"):
        tasks.resolve(RunConfig(task="spelling", data_options=dict(embeddings="v.txt")))
