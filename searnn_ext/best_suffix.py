"""The best-suffix reference policy, for any cost: a reference roll-out after the prefix x (the
roll-in's tokens before step t, then the candidate) copies the suffix r[j:] of the target r that
gives x + r[j:] the lowest cost, over every j in 0..|r|. It decodes nothing. The paper's code
uses it for BLEU, where copying r[t+1:] can be far from the best completion. A candidate that
is EOS ends the sequence at x without it; on fixed-length tasks the output keeps the target's
length, so the only suffix is r[t+1:], the copy."""

from __future__ import annotations

import torch
from torch import Tensor

from searnn_ext.costs import Cost

TOKENS_PER_CHUNK = 1 << 22  # per [rows, suffixes, width] int64 tensor: 32 MiB


def best_suffix_scores(
    prefix_tokens: Tensor,
    cell_b: Tensor,
    cell_t: Tensor,
    first: Tensor,
    target: Tensor,
    target_lengths: Tensor,
    eos_id: int | None,
    cost: Cost,
    backend: str,
) -> Tensor:
    """The lowest score over the suffixes of each reference roll-out r: prefix_tokens [B, T]
    (the roll-in's), its cell (cell_b[r], cell_t[r]) and candidate first[r]; target [B, Tt]
    with target_lengths [B] the tokens compared (before EOS). Returns [R] scores in the cost's
    own units (rollout_costs normalises them). Rows go in chunks that bound the
    [rows, suffixes, width] sequences scored at once."""
    suffixes = int(target_lengths.max()) + 1 if target_lengths.numel() else 1
    width = prefix_tokens.shape[1] + 1 + target.shape[1]
    chunk = max(1, TOKENS_PER_CHUNK // (suffixes * width))
    parts = [
        _scores_of_rows(
            prefix_tokens,
            cell_b[start : start + chunk],
            cell_t[start : start + chunk],
            first[start : start + chunk],
            target,
            target_lengths,
            eos_id,
            cost,
            backend,
        )
        for start in range(0, cell_b.shape[0], chunk)
    ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def _scores_of_rows(
    prefix_tokens: Tensor,
    cell_b: Tensor,
    cell_t: Tensor,
    first: Tensor,
    target: Tensor,
    target_lengths: Tensor,
    eos_id: int | None,
    cost: Cost,
    backend: str,
) -> Tensor:
    """best_suffix_scores of one chunk of rows."""
    rows, device = cell_b.shape[0], cell_b.device
    if rows == 0:
        return torch.zeros(0, dtype=torch.float64, device=device)
    lengths_b = target_lengths[cell_b]
    if eos_id is None:
        starts = (cell_t + 1)[:, None]  # the copy: the only suffix of the target's length
    else:
        starts = torch.arange(int(lengths_b.max()) + 1, device=device)  # rows > 0 here
        starts = starts[None, :].expand(rows, -1)
    choices = starts.shape[1]
    suffix_lengths = (lengths_b[:, None] - starts).clamp(min=0)
    valid = starts <= lengths_b[:, None]
    ends = first == eos_id if eos_id is not None else torch.zeros_like(first, dtype=torch.bool)
    width = prefix_tokens.shape[1] + 1 + int(target.shape[1])
    positions = torch.arange(width, device=device)[None, None, :]
    t = cell_t[:, None, None]
    from_target = (starts[..., None] + positions - t - 1).clamp(0, max(target.shape[1] - 1, 0))
    copied = target.long()[cell_b[:, None, None], from_target]
    before = positions.clamp(max=prefix_tokens.shape[1] - 1)  # a cell's t < T: T >= 1 here
    prefix = prefix_tokens.long()[cell_b[:, None, None], before]
    sequences = torch.where(positions < t, prefix, copied)
    sequences = torch.where(positions == t, first[:, None, None], sequences)
    lengths = torch.where(ends[:, None], cell_t[:, None], cell_t[:, None] + 1 + suffix_lengths)
    scores = cost.score(
        sequences.reshape(rows * choices, width),
        lengths.reshape(-1),
        target.long(),
        target_lengths,
        cell_b.repeat_interleave(choices),
        backend=backend,
    ).reshape(rows, choices)
    scores = scores.to(torch.float64).masked_fill(~valid, float("inf"))
    return scores.min(dim=1).values
