"""The pure-PyTorch learned roll-out: the roll-outs advance together through `model.step`, one
Python iteration per decode step. The fallback, the speed baseline, and the path of any model
that implements the decoder protocol (searnn_ext.decoding.StepModel)."""

from __future__ import annotations

import torch
from torch import Tensor

from searnn_ext.decoding import select_rows
from searnn_ext.model import DecoderState, Memory, Seq2Seq


def row_states(states: DecoderState, row_b: Tensor, row_t: Tensor) -> DecoderState:
    """Each roll-out's start state: the prefix state of its cell (b, t)."""
    hidden = states.hidden[row_t, :, row_b].transpose(0, 1).contiguous()
    feed = None if states.feed is None else states.feed[row_t, row_b]
    return DecoderState(hidden, feed)


def greedy_rollout(
    model: Seq2Seq,
    memory: Memory,
    states: DecoderState | list,
    row_b: Tensor,
    row_t: Tensor,
    first: Tensor,
    budgets: Tensor,
) -> tuple[Tensor, Tensor]:
    """For each roll-out r: feed first[r] to the decoder from the prefix state of cell
    (row_b[r], row_t[r]), then emit argmax tokens until EOS or budgets[r] tokens (budgets in
    non-increasing order). states: Seq2Seq's prefix states stacked over the steps, or any
    model's as a list by step. Returns the tokens before EOS, int64 [R, budgets[0]]
    (zero-padded), and their counts [R]."""
    if isinstance(states, DecoderState):
        state = row_states(states, row_b, row_t)
        return _decode_sorted(model, memory.select(row_b), state, first, budgets)
    return _decode_by_step(model, memory, states, row_b, row_t, first, budgets)


def _decode_by_step(model, memory, states: list, row_b, row_t, first, budgets):
    """A model whose states need not stack: the roll-outs of each step t start together from
    its state, cut to their sequences' rows (select_rows); the budgets stay sorted."""
    tokens = first.new_zeros((first.shape[0], int(budgets[0]) if len(budgets) else 0))
    lengths = first.new_zeros((first.shape[0],))
    for t in row_t.unique().tolist():
        rows = (row_t == t).nonzero().squeeze(1)
        batch_rows = row_b[rows]
        state = select_rows(states[t], batch_rows)
        here, here_lengths = _decode_sorted(
            model, select_rows(memory, batch_rows), state, first[rows], budgets[rows]
        )
        tokens[rows, : here.shape[1]] = here
        lengths[rows] = here_lengths
    return tokens, lengths


def _decode_sorted(model, memory, state, prev, budgets):
    # Budgets are sorted: the rows still decoding at each step are a prefix of the rows.
    rows, steps = prev.shape[0], int(budgets[0])
    tokens = prev.new_zeros((rows, steps))
    lengths = prev.new_zeros((rows,))
    alive = torch.ones(rows, dtype=torch.bool, device=prev.device)
    active_counts = (budgets[None, :] > torch.arange(steps, device=prev.device)[:, None]).sum(1)
    for step, active in enumerate(active_counts.tolist()):
        here = slice(0, active)
        logits, state = model.step(prev[here], select_rows(state, here), select_rows(memory, here))
        emitted = logits.argmax(dim=-1)
        write = alive[here]
        if model.eos_id is not None:
            write = write & (emitted != model.eos_id)
        tokens[here, step] = torch.where(write, emitted, 0)
        lengths[here] += write
        alive[here] = write
        if not bool(write.any()):
            break
        prev = emitted
    return tokens, lengths
