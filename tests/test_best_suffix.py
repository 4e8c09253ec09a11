"""The best-suffix reference policy: each reference roll-out's cost is the least, over every j,
of the cost of the prefix, the candidate and the target's suffix r[j:], enumerated here in
plain Python, for the built-in costs and a user's own; it decodes nothing."""

import math

import pytest
import torch
from oracles import hamming, levenshtein
from seq2seq_cases import every_token, make_task

import searnn_ext
from searnn_ext import rollout


def word_overlap_cost(hyp, hyp_lengths, ref, ref_lengths, ref_index):
    """1 - the share of the target's tokens that the hypothesis holds (clipped counts): a cost
    whose best completion is not the copy."""
    values = []
    for row, target_row in enumerate(ref_index.tolist()):
        guess = hyp[row, : hyp_lengths[row]].tolist()
        truth = ref[target_row, : ref_lengths[target_row]].tolist()
        matched = sum(min(guess.count(s), truth.count(s)) for s in set(truth))
        values.append(1 - matched / max(len(truth), 1) + 0.01 * abs(len(guess) - len(truth)))
    return torch.tensor(values, dtype=torch.float64)


SCORERS = {"edit": levenshtein, "hamming": hamming}


def enumerated(task, rollin, candidates, cost):
    """min over j of cost(prefix + [a] + r[j:], r), EOS tasks; +inf where nothing counts."""
    model = task.model
    batch, steps, width = candidates.shape
    want = torch.full((batch, steps, width), math.inf, dtype=torch.float64)
    for b in range(batch):
        truth = task.target[b, : int(task.target_lengths[b]) - 1].tolist()
        for t in range(int(rollin.lengths[b])):
            prefix = rollin.tokens[b, :t].tolist()
            for k in range(width):
                a = int(candidates[b, t, k])
                options = (
                    [prefix]
                    if a == model.eos_id
                    else [prefix + [a] + truth[j:] for j in range(len(truth) + 1)]
                )
                want[b, t, k] = min(score(sequence, truth, cost) for sequence in options)
    return want


def score(sequence, truth, cost) -> float:
    if cost in SCORERS:
        return SCORERS[cost](sequence, truth)
    as_tensor = torch.tensor([sequence + [0]])  # one padding slot: the empty case too
    return float(
        cost(
            as_tensor,
            torch.tensor([len(sequence)]),
            torch.tensor([truth + [0]]),
            torch.tensor([len(truth)]),
            torch.tensor([0]),
        )[0]
    )


@pytest.mark.parametrize(
    "cost", ["edit", "hamming", word_overlap_cost], ids=["edit", "hamming", "user"]
)
@pytest.mark.parametrize("policy", ["learned", "reference"])
def test_best_suffix_costs_equal_the_enumeration_of_every_suffix(cost, policy, monkeypatch):
    task = make_task("spelling", seed=3)
    model = task.model
    rollin, candidates = every_token(task, policy)
    monkeypatch.setattr(rollout, "_learned_rollouts", None)  # nothing may be decoded
    got = searnn_ext.rollout_costs(
        model,
        rollin,
        candidates,
        task.target,
        task.target_lengths,
        rollout="reference",
        reference="best_suffix",
        cost=cost,
        normalize=False,
    )
    want = enumerated(task, rollin, candidates, cost)
    assert torch.equal(torch.isfinite(got), torch.isfinite(want))
    finite = torch.isfinite(want)
    torch.testing.assert_close(got[finite].double(), want[finite], rtol=0, atol=1e-12)


def test_best_suffix_is_the_copy_on_fixed_length_tasks():
    task = make_task("ocr", seed=1)
    model = task.model
    rollin, candidates = every_token(task)
    arguments = (model, rollin, candidates, task.target, task.target_lengths)
    copy = searnn_ext.rollout_costs(*arguments, rollout="reference", cost="edit")
    best = searnn_ext.rollout_costs(
        *arguments, rollout="reference", reference="best_suffix", cost="edit"
    )
    assert torch.equal(copy, best)


def test_chunks_of_rows_give_the_same_costs(monkeypatch):
    from searnn_ext import best_suffix

    task = make_task("spelling", seed=3)
    rollin, candidates = every_token(task)
    arguments = (task.model, rollin, candidates, task.target, task.target_lengths)
    options = dict(rollout="reference", reference="best_suffix", cost="edit")
    whole = searnn_ext.rollout_costs(*arguments, **options)
    monkeypatch.setattr(best_suffix, "TOKENS_PER_CHUNK", 50)  # a row at a time
    assert torch.equal(searnn_ext.rollout_costs(*arguments, **options), whole)
