"""Optimal completion distillation: its targets are the tokens of least optimal cost-to-go,
each cost from the enumeration oracle (every completion over the alphabet), its loss is the
cross-entropy to them, its gradient checks, and it is refused where no optimal reference is."""

import math

import pytest
import torch
from oracles import best_completion_by_enumeration, levenshtein
from seq2seq_cases import every_token, make_task

import searnn_ext
from searnn_ext import costs
from searnn_ext.config import SearnnConfig
from searnn_ext.data import collate, load_synthetic
from searnn_ext.losses import ocd_loss
from searnn_ext.model import Seq2Seq
from searnn_ext.trainer import SearnnTrainer


def optimal_costs_by_enumeration(model, rollin, target, target_lengths):
    """Q[b, t, a] of every token a after the roll-in's prefix, +inf past a sequence's end."""
    batch, steps = rollin.tokens.shape
    vocab, eos = model.target_vocab, model.eos_id
    alphabet = [a for a in range(vocab) if a != eos]
    q = torch.full((batch, steps, vocab), math.inf, dtype=torch.float64)
    for b in range(batch):
        truth = target[b, : int(target_lengths[b]) - 1].tolist()  # before EOS
        for t in range(int(rollin.lengths[b])):
            prefix = rollin.tokens[b, :t].tolist()
            for a in range(vocab):
                if a == eos:
                    q[b, t, a] = levenshtein(prefix, truth)
                else:
                    q[b, t, a] = best_completion_by_enumeration(prefix + [a], truth, alphabet, None)
    return q


@pytest.fixture
def cells():
    task = make_task("spelling", seed=5)
    return (task, *every_token(task))


def test_its_targets_are_the_optimal_tokens_of_the_enumeration_oracle(cells):
    task, rollin, candidates = cells
    model = task.model
    q = searnn_ext.rollout_costs(
        model,
        rollin,
        candidates,
        task.target,
        task.target_lengths,
        rollout="reference",
        reference="optimal",
        cost="edit",
        normalize=False,
    )
    want = optimal_costs_by_enumeration(model, rollin, task.target, task.target_lengths)
    assert torch.equal(q.double(), want)
    counted = torch.isfinite(want).any(-1)
    log_p = torch.log_softmax(rollin.logits.detach(), -1)
    expected = 0.0
    for b, t in counted.nonzero().tolist():
        best = want[b, t] == want[b, t].min()
        expected -= float(log_p[b, t][best].mean())
    got = ocd_loss(rollin.logits, candidates, q, reduction="sum")
    assert float(got.detach()) == pytest.approx(expected, rel=1e-12)


def test_its_gradient_checks(cells):
    task, rollin, candidates = cells
    q = torch.randint(0, 4, candidates.shape).double()
    q[1, 3:] = math.inf  # cells that do not count
    logits = rollin.logits.detach().clone().requires_grad_()
    for temperature in (0.0, 0.7):
        assert torch.autograd.gradcheck(
            lambda x, t=temperature: ocd_loss(x, candidates, q, temperature=t), (logits,)
        )


def test_a_temperature_gives_the_softmax_of_minus_q():
    logits = torch.tensor([[[0.3, -1.0, 2.0]]], dtype=torch.float64)
    candidates = torch.tensor([[[0, 1, 2]]])
    q = torch.tensor([[[1.0, 0.0, 3.0]]], dtype=torch.float64)
    targets = torch.softmax(-q / 0.5, -1)
    want = -(targets * torch.log_softmax(logits, -1)).sum()
    got = ocd_loss(logits, candidates, q, temperature=0.5, reduction="sum")
    assert float(got) == pytest.approx(float(want), rel=1e-12)


def test_the_trainer_takes_a_step_of_ocd():
    data = load_synthetic(sizes=(16, 4, 4))
    torch.manual_seed(0)
    model = Seq2Seq(hidden_size=8, **data.model_options)
    trainer = SearnnTrainer(
        model, torch.optim.Adam(model.parameters(), lr=1e-2), SearnnConfig(loss="ocd")
    )
    result = trainer.step(collate(data.train))
    assert result.finite and result.loss > 0


def test_ocd_is_refused_without_an_optimal_reference_or_with_sampling(monkeypatch):
    data = load_synthetic(sizes=(4, 4, 4))
    model = Seq2Seq(hidden_size=8, **data.model_options)
    monkeypatch.setitem(costs.COSTS, "mine", costs.user_cost(lambda *a: a[0][:, 0].double()))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="--loss ocd .* 'mine'"):
        SearnnTrainer(model, optimizer, SearnnConfig(loss="ocd", cost="mine"))
    with pytest.raises(ValueError, match="needs every token's cost"):
        SearnnConfig(loss="ocd", sampling="uniform").check()


def test_a_token_left_out_with_minus_infinite_logit_adds_nothing():
    logits = torch.tensor([[[0.5, float("-inf"), 1.0]]], dtype=torch.float64)
    candidates = torch.tensor([[[0, 1, 2]]])
    q = torch.tensor([[[0.0, 2.0, 1.0]]], dtype=torch.float64)
    loss = ocd_loss(logits, candidates, q)
    assert torch.isfinite(loss) and float(loss) == pytest.approx(
        -float(torch.log_softmax(logits, -1)[0, 0, 0])
    )
