"""SEARNN's cost-sensitive losses (paper, section 4, eqs. 3-5, and section 5) and MLE.

Every SEARNN loss is defined per cell (b, t) from the cell's scores ``logits[b, t]`` (the roll-in's
``[B, T, A]``), its candidates ``[B, T, K]`` (token ids, -1 for an unused slot) and their costs
``[B, T, K]`` from :func:`searnn_ext.rollout_costs` (+inf for unused slots and for cells past a
sequence's end). A cell counts when at least one of its costs is finite.

a*, the token a cell's loss trains towards (:func:`target_tokens`), is its cheapest candidate;
ties go to the target's token (the ground truth) when it is among the cheapest, else to the
lowest token id. Costs are shifted so that c(a*) = 0.

- ``"ll"`` (eq. 3): log-loss on a* over the softmax of all A scores.
- ``"llcas"`` (eq. 4): log-loss on a* over the softmax of ``s(a) + cost_scale * c(a)``, all A
  tokens; every token of a counted cell needs a cost.
- ``"shl"`` (eq. 5): ``max_a (s(a) + cost_scale * c(a)) - s(a*)``, all A tokens.
- ``"sll"``, ``"sllcas"`` (section 5): LL and LLCAS with the softmax over the cell's candidates
  only, so that tokens that were not sampled get no gradient.

``"ocd"`` (optimal completion distillation, Sabour et al. 2019) is not a SEARNN loss but takes
the same inputs (:func:`ocd_loss`): the cross-entropy between softmax(-Q / temperature) over all
A tokens and the model's distribution, with Q the optimal reference's costs of the cell.

Reductions: ``"per_sequence"`` (default) sums the losses of all counted cells and divides by the
batch size B: the paper's sum over the T cells of a sequence, averaged over the mini-batch;
``"per_cell"`` divides by the number of counted cells instead; ``"sum"`` does not divide.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SEARNN_LOSSES = ("ll", "llcas", "shl", "sll", "sllcas")
REDUCTIONS = ("per_sequence", "per_cell", "sum")


def mle_loss(
    logits: Tensor, target: Tensor, target_lengths: Tensor, *, reduction: str = "per_sequence"
) -> Tensor:
    """Teacher-forced cross-entropy: logits [B, T, A] of a reference roll-in, target int [B, T']
    (T' >= T), cells t < target_lengths[b] count (EOS included for EOS tasks)."""
    _check_reduction(reduction)
    batch, steps, _ = logits.shape
    counted = torch.arange(steps, device=logits.device) < target_lengths[:, None]
    target = torch.where(counted, target[:, :steps].long(), 0)  # padding may hold anything
    losses = F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none")
    losses = losses.view(batch, steps)
    return _reduce(losses, counted, reduction)


def searnn_loss(
    name: str,
    logits: Tensor,
    candidates: Tensor,
    costs: Tensor,
    ground_truth: Tensor | None = None,
    *,
    cost_scale: float = 1.0,
    reduction: str = "per_sequence",
) -> Tensor:
    """One of SEARNN_LOSSES (see the module's doc) over the counted cells.

    Args:
        logits: [B, T, A] scores (with grad). candidates: int64 [B, T, K], -1 unused.
        costs: [B, T, K], +inf where a slot or cell does not count.
        ground_truth: int [B, T] (or wider), the tie-break preference; None: lowest id wins.
        cost_scale: multiplies the costs inside LLCAS, SHL and sLLCAS.
    """
    if name not in SEARNN_LOSSES:
        raise ValueError(f"searnn_loss: name must be one of {SEARNN_LOSSES}, got {name!r}")
    _check_reduction(reduction)
    _check_shapes(logits, candidates, costs)
    batch, steps, vocab = logits.shape
    usable = (candidates >= 0) & torch.isfinite(costs)
    counted = usable.any(-1)
    shifted = torch.where(usable, costs, torch.zeros_like(costs))
    # Cells that do not count get harmless stand-ins (every slot usable, zero costs) so that no
    # inf or -inf - (-inf) reaches the value or the gradient; their losses are masked out below.
    usable = usable | ~counted[..., None]
    tokens = candidates.clamp(min=0)
    best_slot = _best_slots(tokens, shifted, usable, ground_truth)
    best_token = tokens.gather(-1, best_slot[..., None]).squeeze(-1)
    shifted = shifted - shifted.gather(-1, best_slot[..., None])
    if name == "ll":
        losses = F.cross_entropy(logits.flatten(0, 1), best_token.flatten(), reduction="none").view(
            batch, steps
        )
    elif name in ("llcas", "shl"):
        full = _full_costs(tokens, shifted, usable, counted, vocab, name) * cost_scale
        augmented = logits + full
        best_score = logits.gather(-1, best_token[..., None]).squeeze(-1)
        if name == "llcas":
            losses = torch.logsumexp(augmented, -1) - best_score
        else:
            losses = augmented.max(-1).values - best_score
    else:
        scores = logits.gather(-1, tokens)
        if name == "sllcas":
            scores = scores + cost_scale * shifted
        scores = scores.masked_fill(~usable, float("-inf"))
        losses = torch.logsumexp(scores, -1) - scores.gather(-1, best_slot[..., None]).squeeze(-1)
    return _reduce(losses, counted, reduction)


def ocd_loss(
    logits: Tensor,
    candidates: Tensor,
    costs: Tensor,
    *,
    temperature: float = 0.0,
    reduction: str = "per_sequence",
) -> Tensor:
    """Optimal completion distillation over the counted cells: at each, the cross-entropy
    between the targets softmax(-Q / temperature) over all A tokens, Q the cell's costs (its
    optimal cost-to-go, e.g. rollout_costs with the optimal reference), and the softmax of
    logits [B, T, A]. temperature 0 is the limit: uniform over the tokens of least Q. Every
    token of a counted cell needs a cost."""
    if not (isinstance(temperature, (int, float)) and 0 <= temperature < float("inf")):
        raise ValueError(f"ocd_loss: temperature must be finite and >= 0, got {temperature}")
    _check_reduction(reduction)
    _check_shapes(logits, candidates, costs)
    usable = (candidates >= 0) & torch.isfinite(costs)
    counted = usable.any(-1)
    shifted = torch.where(usable, costs, torch.zeros_like(costs))
    usable = usable | ~counted[..., None]  # stand-ins, masked out below (see searnn_loss)
    q = _full_costs(candidates.clamp(min=0), shifted, usable, counted, logits.shape[-1], "ocd")
    q = (q - q.min(-1, keepdim=True).values).to(logits.dtype)
    if temperature == 0:
        optimal = (q == 0).to(logits.dtype)
        targets = optimal / optimal.sum(-1, keepdim=True)
    else:
        targets = torch.softmax(-q / temperature, dim=-1)
    # A token the targets leave out adds nothing, even where its log-probability is -inf.
    log_p = torch.log_softmax(logits, dim=-1)
    losses = -torch.where(targets > 0, targets * log_p, torch.zeros_like(log_p)).sum(-1)
    return _reduce(losses, counted, reduction)


def target_tokens(candidates: Tensor, costs: Tensor, ground_truth: Tensor | None = None) -> Tensor:
    """a* of every cell, int64 [B, T]: the cheapest candidate, ties to the ground truth, then
    to the lowest id; -1 where the cell does not count."""
    usable = (candidates >= 0) & torch.isfinite(costs)
    tokens = candidates.clamp(min=0)
    shifted = torch.where(usable, costs, torch.zeros_like(costs))
    slot = _best_slots(tokens, shifted, usable | ~usable.any(-1, keepdim=True), ground_truth)
    best = tokens.gather(-1, slot[..., None]).squeeze(-1)
    return best.masked_fill(~usable.any(-1), -1)


def _best_slots(tokens, costs, usable, target) -> Tensor:
    """The slot of a* in each cell, int64 [B, T]; target [B, T] (or wider, or None): the target's
    token of each cell, preferred among the cheapest."""
    cheapest = costs.masked_fill(~usable, float("inf")).min(-1, keepdim=True).values
    tied = usable & (costs == cheapest)
    vocab_bound = int(tokens.max()) + 2 if tokens.numel() else 2
    # Rank of each tied slot: the target's token first, then token ids in increasing order.
    rank = tokens + 1
    if target is not None:
        target = target[:, : tokens.shape[1]].long()[..., None]
        rank = torch.where(tokens == target, torch.zeros_like(rank), rank)
    rank = rank.masked_fill(~tied, vocab_bound)
    return rank.argmin(-1)


def _full_costs(tokens, shifted, usable, counted, vocab, name) -> Tensor:
    """Shifted costs scattered to [B, T, A]; every token of a counted cell must have one."""
    # Unusable slots go to a spare column A, dropped after the scatter.
    index = tokens.masked_fill(~usable, vocab)
    full = shifted.new_zeros((*tokens.shape[:2], vocab + 1)).scatter(-1, index, shifted)
    covered = torch.zeros_like(full, dtype=torch.bool).scatter(-1, index, usable)
    if bool((counted[..., None] & ~covered[..., :vocab]).any()):
        raise ValueError(
            f"searnn_loss: {name!r} needs the cost of every token at every counted cell; "
            f"with sampled candidates use 's{name if name == 'llcas' else 'll'}'"
        )
    return full[..., :vocab]


def _check_shapes(logits, candidates, costs) -> None:
    if logits.dim() != 3:
        raise ValueError(f"searnn_loss: logits must be [B, T, A], got {list(logits.shape)}")
    if candidates.dtype != torch.int64:
        raise TypeError(f"searnn_loss: candidates must be int64, got {candidates.dtype}")
    if candidates.dim() != 3 or candidates.shape[:2] != logits.shape[:2]:
        raise ValueError(
            f"searnn_loss: candidates must be [{logits.shape[0]}, {logits.shape[1]}, K], "
            f"got {list(candidates.shape)}"
        )
    if costs.shape != candidates.shape:
        raise ValueError(
            f"searnn_loss: costs must have the candidates' shape {list(candidates.shape)}, "
            f"got {list(costs.shape)}"
        )


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(losses: Tensor, counted: Tensor, reduction: str) -> Tensor:
    total = torch.where(counted, losses, torch.zeros_like(losses)).sum()
    if reduction == "per_sequence":
        return total / max(losses.shape[0], 1)
    if reduction == "per_cell":
        return total / counted.sum().clamp(min=1)
    return total
