"""Brute-force roll-outs: one sequence at a time through model.step, scored in plain Python.
Independent of searnn_ext.rollout: no batching, no sorting, no shared prefix states."""

from __future__ import annotations

import math

import torch
from oracles import best_completion_by_enumeration, hamming, levenshtein

ORACLE_COSTS = {"hamming": hamming, "edit": levenshtein}


def row_of(memory, b: int):
    """Sequence b's memory, as a batch of one: its own select, or (a dict of tensors, as the
    test's own decoders keep it) each tensor's row b."""
    if isinstance(memory, dict):
        return {key: value[b : b + 1] for key, value in memory.items()}
    return memory.select(torch.tensor([b]))


def greedy_finish(
    model, memory_b, prefix: list[int], length: int | None, max_length: int, margins=None
):
    """prefix then argmax tokens, in eval mode, until `length` tokens (fixed-length tasks) or
    EOS / max_length (EOS tasks). Returns the tokens before EOS. margins: a list that gets each
    greedy choice's margin, its best logit minus the runner-up."""
    state = model.initial_state(memory_b)
    logits = None
    for token in [model.bos_id, *prefix]:
        logits, state = model.step(torch.tensor([token]), state, memory_b)
    sequence = list(prefix)
    if model.eos_id is not None and sequence and sequence[-1] == model.eos_id:
        return sequence[:-1]
    stop = length if model.eos_id is None else max_length
    while len(sequence) < stop:
        token = int(logits[0].argmax())
        if margins is not None:
            best, runner_up = logits[0].double().topk(2).values.tolist()
            margins.append(best - runner_up)
        if token == model.eos_id:
            break
        sequence.append(token)
        logits, state = model.step(torch.tensor([token]), state, memory_b)
    return sequence


def oracle_costs(
    model,
    rollin,
    candidates,
    target,
    target_lengths,
    learned_cells,
    *,
    cost,
    normalize,
    max_length,
    reference="copy",
):
    """costs [B, T, K] as floats; learned_cells [B, T] bool says each cell's roll-out policy.
    The reference policy copies the target, or (reference="optimal", edit cost) takes the best of
    every completion over the model's tokens, enumerated."""
    batch, steps, width = candidates.shape
    costs = torch.full((batch, steps, width), math.inf, dtype=torch.float64)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for b in range(batch):
            truth = target[b, : target_lengths[b]].tolist()
            if model.eos_id is not None:
                truth = truth[:-1]
            memory_b = row_of(rollin.memory, b)
            for t in range(int(rollin.lengths[b])):
                prefix = rollin.tokens[b, :t].tolist()
                for k in range(width):
                    a = int(candidates[b, t, k])
                    if a < 0:
                        continue
                    if bool(learned_cells[b, t]):
                        sequence = greedy_finish(
                            model, memory_b, prefix + [a], len(truth), max_length
                        )
                    elif a == model.eos_id:
                        sequence = prefix
                    elif reference == "optimal" and cost == "edit":
                        sequence = None
                    else:
                        sequence = prefix + [a] + truth[t + 1 :]
                    if sequence is None:
                        tokens = [s for s in range(model.target_vocab) if s != model.eos_id]
                        remaining = None  # EOS tasks: any length
                        if model.eos_id is None:
                            remaining = max(len(truth) - t - 1, 0)
                        value = best_completion_by_enumeration(
                            prefix + [a], truth, tokens, remaining
                        )
                    else:
                        value = ORACLE_COSTS[cost](sequence, truth)
                    costs[b, t, k] = value / max(len(truth), 1) if normalize else value
    model.train(was_training)
    return costs


def decision_margins(model, rollin, candidates, target_lengths, *, max_length):
    """The smallest margin of the greedy choices of each learned roll-out, float64 [B, T, K]
    (+inf where a roll-out makes no choice)."""
    batch, steps, width = candidates.shape
    smallest = torch.full((batch, steps, width), math.inf, dtype=torch.float64)
    with torch.no_grad():
        for b in range(batch):
            length = int(target_lengths[b]) - (model.eos_id is not None)
            memory_b = row_of(rollin.memory, b)
            for t in range(int(rollin.lengths[b])):
                prefix = rollin.tokens[b, :t].tolist()
                for k in range(width):
                    margins = []
                    token = int(candidates[b, t, k])
                    greedy_finish(model, memory_b, [*prefix, token], length, max_length, margins)
                    smallest[b, t, k] = min(margins, default=math.inf)
    return smallest
