"""Costs as records: a user's own cost, a plain Python callable, scores the compiled roll-outs
and the pure-PyTorch ones alike, equals the built-in cost it reimplements, trains through a
registered name and gives evaluation's test error; impossible combinations are refused."""

import pytest
import torch
from oracles import hamming
from seq2seq_cases import every_token, make_task

import searnn_ext
from searnn_ext import costs
from searnn_ext.config import SearnnConfig
from searnn_ext.data import collate, load_synthetic
from searnn_ext.evaluation import error_rate
from searnn_ext.model import Seq2Seq
from searnn_ext.trainer import SearnnTrainer


def mismatch_share(hyp, hyp_lengths, ref, ref_lengths, ref_index):
    """Hamming distance over the target's length, in plain Python: a user's cost."""
    values = []
    for row, target_row in enumerate(ref_index.tolist()):
        guess = hyp[row, : hyp_lengths[row]].tolist()
        truth = ref[target_row, : ref_lengths[target_row]].tolist()
        values.append(hamming(guess, truth) / max(len(truth), 1))
    return torch.tensor(values, dtype=torch.float64)


@pytest.fixture
def rolled_in():
    task = make_task("ocr", seed=2)
    return (task, *every_token(task))


@pytest.mark.parametrize("backend", ["ext", "torch"])
def test_a_callable_cost_scores_the_roll_outs_as_the_cost_it_reimplements(rolled_in, backend):
    task, rollin, candidates = rolled_in
    arguments = (task.model, rollin, candidates, task.target, task.target_lengths)
    options = dict(rollout="mixed", generator=torch.Generator().manual_seed(4), backend=backend)
    mine = searnn_ext.rollout_costs(*arguments, cost=mismatch_share, **options)
    options["generator"] = torch.Generator().manual_seed(4)
    built_in = searnn_ext.rollout_costs(*arguments, cost="hamming", normalize=True, **options)
    torch.testing.assert_close(mine, built_in, rtol=0, atol=1e-6)


def test_a_callable_cost_is_the_same_on_the_compiled_and_the_pytorch_roll_outs(rolled_in):
    task, rollin, candidates = rolled_in
    arguments = (task.model, rollin, candidates, task.target, task.target_lengths)
    on = {
        backend: searnn_ext.rollout_costs(
            *arguments, cost=mismatch_share, rollout="learned", backend=backend
        )
        for backend in ("ext", "torch")
    }
    assert torch.equal(on["ext"], on["torch"])


def test_a_registered_cost_trains_and_evaluates(monkeypatch):
    monkeypatch.setitem(costs.COSTS, "mismatch_share", costs.user_cost(mismatch_share))
    data = load_synthetic(sizes=(32, 8, 8))
    torch.manual_seed(0)
    model = Seq2Seq(hidden_size=8, **data.model_options)
    config = SearnnConfig(loss="ll", cost="mismatch_share")
    config.check()
    trainer = SearnnTrainer(model, torch.optim.Adam(model.parameters(), lr=1e-2), config)
    result = trainer.step(collate(data.train[:16]))
    assert result.rollouts > 0
    mine = error_rate(model, data.test, cost="mismatch_share")
    per_sequence = error_rate(model, data.test, cost=costs.user_cost(mismatch_share))
    assert mine == per_sequence and 0 <= mine <= 100


def test_the_optimal_reference_of_a_cost_without_one_is_refused_naming_both(rolled_in):
    task, rollin, candidates = rolled_in
    with pytest.raises(ValueError, match="reference='optimal'.*'mismatch_share'"):
        searnn_ext.rollout_costs(
            task.model,
            rollin,
            candidates,
            task.target,
            task.target_lengths,
            cost=mismatch_share,
            reference="optimal",
            rollout="reference",
        )


def test_a_cost_of_the_wrong_shape_or_name_is_refused(rolled_in):
    task, rollin, candidates = rolled_in
    arguments = (task.model, rollin, candidates, task.target, task.target_lengths)
    with pytest.raises(ValueError, match=r"the cost first_row must return .* shape \["):

        def first_row(hyp, hyp_lengths, ref, ref_lengths, ref_index):
            return hyp[:1].double()

        searnn_ext.rollout_costs(*arguments, cost=first_row, rollout="learned")
    with pytest.raises(ValueError, match="cost must be one of"):
        searnn_ext.rollout_costs(*arguments, cost="meteor")
    with pytest.raises(ValueError, match="exists already"):
        costs.register("edit", mismatch_share)


def test_a_registered_cost_is_a_command_line_choice(monkeypatch, tmp_path):
    from searnn_ext.cli import main

    monkeypatch.setitem(costs.COSTS, "mismatch_share", costs.user_cost(mismatch_share))
    command = ["train", "--task=synthetic", "--limit=32", "--hidden-size=8", "--epochs=1"]
    assert main([*command, "--cost=mismatch_share", "--quiet", f"--output={tmp_path}"]) == 0
