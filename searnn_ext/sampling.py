"""Which roll-outs to run (paper, section 5): the candidate tokens of each cell and a subset of
the cells.

Token strategies (``candidates`` int64 [B, T, K], -1 for an unused slot):

- ``"all"``: every token (K = A), the full SEARNN of section 4;
- ``"uniform"``: tokens drawn uniformly;
- ``"stat"``: drawn from corpus statistics, e.g. the unigram frequencies of the training targets
  (``frequencies``, [A]);
- ``"pol"``: drawn from the current policy, the softmax of the roll-in's scores at that cell;
- ``"bias"``: the current policy with its low-probability tokens boosted: drawn from
  ``softmax(logits / bias_temperature)`` (temperature > 1 flattens it);
- ``"topk"``: the highest-scoring tokens of the current policy.

The ground-truth token of a cell is always among its candidates, and the others are drawn
without replacement (Gumbel top-k), so a cell has K distinct tokens (K = ``tokens``, the paper's
5). Cells without a ground truth (past the target) get K drawn tokens.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

STRATEGIES = ("all", "uniform", "stat", "pol", "bias", "topk")


def sample_candidates(
    strategy: str,
    logits: Tensor,
    ground_truth: Tensor,
    *,
    tokens: int = 5,
    frequencies: Tensor | None = None,
    bias_temperature: float = 2.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Candidates int64 [B, T, K] for the roll-in's cells.

    Args:
        strategy: one of STRATEGIES (see the module's doc).
        logits: [B, T, A] the roll-in's scores (used by "pol", "bias" and "topk"; no grad).
        ground_truth: int [B, T] the target's token of each cell, -1 where there is none.
        tokens: K, candidates per cell (ignored by "all"); at most A.
        frequencies: [A] non-negative token frequencies, for "stat".
        bias_temperature: the temperature of "bias", > 0.
        generator: the draws' random generator (CPU).
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"sample_candidates: strategy must be one of {STRATEGIES}, got {strategy!r}"
        )
    batch, steps, vocab = logits.shape
    if ground_truth.shape != (batch, steps):
        raise ValueError(
            f"sample_candidates: ground_truth must have shape [{batch}, {steps}], "
            f"got {list(ground_truth.shape)}"
        )
    device = logits.device
    if strategy == "all":
        return torch.arange(vocab, device=device).expand(batch, steps, vocab).contiguous()
    if not 1 <= tokens <= vocab:
        raise ValueError(f"sample_candidates: tokens must lie in [1, {vocab}], got {tokens}")
    log_weights = _log_weights(strategy, logits.detach(), frequencies, bias_temperature)
    target = ground_truth.long()
    has_target = (target >= 0) & (target < vocab)
    is_target = torch.arange(vocab, device=device) == target[..., None]
    keys = log_weights.expand(batch, steps, vocab)
    if strategy != "topk":
        uniform = torch.rand((batch, steps, vocab), generator=generator).to(device)
        keys = keys - torch.log(-torch.log(uniform.clamp(min=1e-20)))  # + Gumbel noise
    # The target's token ranks first; the rest in order of their (perturbed) keys.
    keys = keys.masked_fill(is_target & has_target[..., None], math.inf)
    return keys.topk(tokens, dim=-1).indices


def _log_weights(strategy, logits, frequencies, bias_temperature) -> Tensor:
    vocab = logits.shape[-1]
    if strategy == "uniform":
        return logits.new_zeros(vocab)
    if strategy == "stat":
        if frequencies is None or frequencies.shape != (vocab,):
            raise ValueError(
                f"sample_candidates: 'stat' needs frequencies of shape [{vocab}], "
                f"got {None if frequencies is None else list(frequencies.shape)}"
            )
        if bool((frequencies < 0).any()) or not bool((frequencies > 0).any()):
            raise ValueError("sample_candidates: frequencies must be >= 0 and not all zero")
        # A tiny floor keeps never-seen tokens drawable once the frequent ones are used up.
        weights = (frequencies / frequencies.sum()).to(logits)
        return torch.log(weights.clamp(min=1e-12))
    if strategy == "bias":
        if bias_temperature <= 0:
            raise ValueError(
                f"sample_candidates: bias_temperature must be positive, got {bias_temperature}"
            )
        return torch.log_softmax(logits / bias_temperature, -1)
    return torch.log_softmax(logits, -1)  # "pol" and "topk"


def subsample_cells(
    candidates: Tensor,
    lengths: Tensor,
    cells: int | float,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Keeps the candidates of `cells` steps per sequence, drawn uniformly among its steps
    t < lengths[b] (an int: that many, at most the length; a float in (0, 1]: that fraction,
    rounded up); the other steps' candidates become -1, so rollout_costs skips them."""
    batch, steps, _ = candidates.shape
    if isinstance(cells, bool) or not isinstance(cells, int | float):
        raise TypeError(f"subsample_cells: cells must be an int or a float, got {cells!r}")
    if isinstance(cells, float) and not 0 < cells <= 1:
        raise ValueError(f"subsample_cells: a fraction of cells must lie in (0, 1], got {cells}")
    if isinstance(cells, int) and cells < 1:
        raise ValueError(f"subsample_cells: cells must be at least 1, got {cells}")
    lengths = lengths.long().clamp(max=steps)
    if isinstance(cells, float):
        keep = torch.ceil(lengths.double() * cells).long()
    else:
        keep = lengths.clamp(max=cells)
    device = candidates.device
    keys = torch.rand((batch, steps), generator=generator).to(device)
    keys = keys.masked_fill(torch.arange(steps, device=device) >= lengths[:, None], 2.0)
    rank = keys.argsort(-1).argsort(-1)
    kept = rank < keep[:, None]
    return candidates.masked_fill(~kept[..., None], -1)
