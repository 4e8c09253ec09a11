"""The pure-PyTorch learned roll-out: every roll-out of the batch advances together through
`model.step`, one Python iteration per decode step. The fallback and the speed baseline."""

from __future__ import annotations

import torch
from torch import Tensor

from searnn_ext.model import DecoderState, Memory, Seq2Seq


def row_states(states: DecoderState, row_b: Tensor, row_t: Tensor) -> DecoderState:
    """Each roll-out's start state: the prefix state of its cell (b, t)."""
    hidden = states.hidden[row_t, :, row_b].transpose(0, 1).contiguous()
    feed = None if states.feed is None else states.feed[row_t, row_b]
    return DecoderState(hidden, feed)


def greedy_rollout(
    model: Seq2Seq,
    memory: Memory,
    states: DecoderState,
    row_b: Tensor,
    row_t: Tensor,
    first: Tensor,
    budgets: Tensor,
) -> tuple[Tensor, Tensor]:
    """For each roll-out r: feed first[r] to the decoder from the prefix state of cell
    (row_b[r], row_t[r]), then emit argmax tokens until EOS or budgets[r] tokens (budgets in
    non-increasing order). Returns the tokens before EOS, int64 [R, budgets[0]] (zero-padded),
    and their counts [R]."""
    state = row_states(states, row_b, row_t)
    return _decode_sorted(model, memory.select(row_b), state, first, budgets)


def _decode_sorted(model, memory, state, prev, budgets):
    # Budgets are sorted: the rows still decoding at each step are a prefix of the rows.
    rows, steps = prev.shape[0], int(budgets[0])
    tokens = prev.new_zeros((rows, steps))
    lengths = prev.new_zeros((rows,))
    alive = torch.ones(rows, dtype=torch.bool, device=prev.device)
    active_counts = (budgets[None, :] > torch.arange(steps, device=prev.device)[:, None]).sum(1)
    for step, active in enumerate(active_counts.tolist()):
        here = slice(0, active)
        logits, state = model.step(prev[here], state.select(here), memory.select(here))
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
