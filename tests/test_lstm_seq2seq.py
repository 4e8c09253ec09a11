"""Seq2Seq(cell="lstm"): the paper's models with LSTM cells. Its roll-outs on the default backend
equal a brute force through its own step, in float64 exactly (test_rollout_costs checks every
backend with the LSTM configurations of seq2seq_cases); --cell lstm trains, evaluates and
predicts through the command line; a checkpoint written before the option existed is a GRU's."""

import pytest
import seq2seq_cases
import torch
from checkpoint_files import forged
from rollout_oracle import oracle_costs
from seq2seq_cases import every_token

import searnn_ext
from searnn_ext import checkpoint
from searnn_ext.cli import main

LSTM_CASES = ["ocr", "chunking", "spelling", "spelling-bidir-2layers", "spelling-feeding"]


def lstm_task(monkeypatch, name: str):
    monkeypatch.setitem(
        seq2seq_cases.CONFIGS, f"{name}-lstm", {**seq2seq_cases.CONFIGS[name], "cell": "lstm"}
    )
    return seq2seq_cases.make_task(f"{name}-lstm", seed=4)


@pytest.mark.parametrize("name", LSTM_CASES)
@pytest.mark.parametrize("rollout", ["learned", "reference"])
def test_lstm_roll_outs_equal_a_brute_force(monkeypatch, name, rollout):
    task = lstm_task(monkeypatch, name)
    model = task.model.eval()
    assert model.cell == "lstm"
    rollin, candidates = every_token(task)
    cost = "hamming" if model.eos_id is None else "edit"
    options = dict(rollout=rollout, cost=cost, normalize=False, max_length=8)
    arguments = (model, rollin, candidates, task.target, task.target_lengths)
    got = searnn_ext.rollout_costs(*arguments, **options)
    want = oracle_costs(
        *arguments,
        torch.full(rollin.tokens.shape, rollout == "learned"),
        cost=cost,
        normalize=False,
        max_length=8,
    )
    assert torch.equal(got.double(), want)


TINY = ["train", "--task=synthetic", "--limit=32", "--hidden-size=8", "--quiet"]


def test_cell_lstm_trains_evaluates_and_predicts(tmp_path, capsys):
    output = tmp_path / "run"
    assert main([*TINY, "--cell=lstm", "--epochs=1", "--loss=ll", f"--output={output}"]) == 0
    state = checkpoint.load(output / "checkpoint.pt")
    assert state["run"]["model"]["cell"] == "lstm"
    assert any("decoder.0.weight_hh" in name for name in state["model"])
    assert state["model"]["decoder.0.weight_hh"].shape[0] == 4 * 8  # an LSTM's four gates
    assert main(["evaluate", str(output / "checkpoint.pt")]) == 0
    sources = tmp_path / "sources.txt"
    sources.write_text("abc\n")
    assert main(["predict", str(output / "checkpoint.pt"), f"--input={sources}"]) == 0
    assert capsys.readouterr().out.splitlines()[-1]


def test_a_checkpoint_from_before_the_cell_option_is_a_grus(tmp_path):
    output = tmp_path / "run"
    assert main([*TINY, "--epochs=1", f"--output={output}"]) == 0
    path = output / "checkpoint.pt"
    forged(path, lambda content: content["run"]["model"].pop("cell"))
    assert main(["train", f"--output={output}", "--epochs=2", "--resume", "--quiet"]) == 0
    assert checkpoint.load(path)["run"]["model"]["cell"] == "gru"
