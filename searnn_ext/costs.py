"""The costs roll-outs are scored with, as records: one `Cost` per cost, which every consumer
reads (rollout_costs, the trainer, evaluation, the command line's --cost). A user's own cost
is a Python callable; `register` names it for SearnnConfig and the command line, and
rollout_costs also takes it directly (its roll-outs still run in the compiled decode loop:
only the scoring is the user's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from torch import Tensor

from searnn_ext import ops
from searnn_ext.chunks import chunk_f1_scorer

# (hyp, hyp_lengths, ref, ref_lengths, ref_index, *, backend) -> [N] costs, as the cost ops.
Scorer = Callable[..., Tensor]


@dataclasses.dataclass(frozen=True)
class Cost:
    """name; score(hyp, hyp_lengths, ref, ref_lengths, ref_index, backend=...) -> [N], for
    padded int64 token batches, one reference row shared by many hypotheses (ref_index);
    distance: the score is a count of edits, which rollout_costs(normalize=True) divides by the
    target's length and whose test error is 100 * the summed counts / the summed lengths (else
    it is already normalised, e.g. in [0, 1], and the test error is 100 * its mean);
    optimal_reference: the reference policy "optimal" exists for it (the best completion);
    over_names: for a cost of the output tokens' names (chunk F1 reads BIO tags), the function
    that makes its scorer from a task's names; such a Cost scores nothing until `named`."""

    name: str
    score: Scorer
    distance: bool = False
    optimal_reference: bool = False
    over_names: Callable[[Sequence[str]], Scorer] | None = None

    def named(self, token_names: Sequence[str] | None, where: str) -> Cost:
        """This cost for a task whose output ids name `token_names`: itself, unless it scores
        names, which it then needs (a ValueError naming `where` without them)."""
        if self.over_names is None:
            return self
        if token_names is None:
            raise ValueError(
                f"{where}: the cost {self.name!r} scores the output tokens' names: pass "
                f"costs.COSTS[{self.name!r}].named(names, ...), with the task's names (e.g. its "
                "BIO tags), or SearnnTrainer(..., token_names=names)"
            )
        return dataclasses.replace(self, score=self.over_names(token_names), over_names=None)

    def test_error(self, values: Tensor, lengths: Tensor) -> tuple[float, float]:
        """A batch's share of the test error: (numerator, denominator) to sum over batches."""
        if self.distance:
            return float(values.sum()), float(lengths.sum())
        return float(values.double().sum()), float(values.numel())


def _unnamed(name: str) -> Scorer:
    def score(*arguments, **options):
        raise ValueError(
            f"the cost {name!r} scores the output tokens' names: use costs.COSTS[{name!r}]"
            ".named(token_names), or SearnnTrainer(..., token_names=...)"
        )

    return score


COSTS: dict[str, Cost] = {
    # Copying the target is the optimal completion for Hamming: "optimal" is exact for it.
    "hamming": Cost("hamming", ops.hamming_distance, distance=True, optimal_reference=True),
    "edit": Cost("edit", ops.edit_distance, distance=True, optimal_reference=True),
    # Already in [0, 1]: never divided by the target's length.
    "bleu": Cost("bleu", ops.bleu_cost),
    "gleu": Cost("gleu", ops.gleu_cost),
    # 1 - chunk F1 of BIO tags (CoNLL): made for a task's tag names.
    "chunk_f1": Cost("chunk_f1", _unnamed("chunk_f1"), over_names=chunk_f1_scorer),
}


def register(name: str, score: Scorer | Cost, *, distance: bool = False) -> Cost:
    """Adds a cost by name (for SearnnConfig(cost=name) and --cost). score: a Cost, or a
    callable (hyp, hyp_lengths, ref, ref_lengths, ref_index) -> [N] costs."""
    if name in COSTS:
        raise ValueError(f"costs.register: a cost named {name!r} exists already")
    COSTS[name] = score if isinstance(score, Cost) else user_cost(score, name, distance=distance)
    return COSTS[name]


def user_cost(score: Scorer, name: str | None = None, *, distance: bool = False) -> Cost:
    """A user's callable as a Cost: it is called without `backend` (its own business)."""
    if not callable(score):
        raise TypeError(f"a cost is a name or a callable, got {type(score).__name__}")

    def checked(hyp, hyp_lengths, ref, ref_lengths, ref_index, *, backend):
        values = score(hyp, hyp_lengths, ref, ref_lengths, ref_index)
        if not isinstance(values, Tensor) or values.shape != (hyp.shape[0],):
            got = list(values.shape) if isinstance(values, Tensor) else type(values).__name__
            raise ValueError(
                f"the cost {label} must return a tensor of shape [{hyp.shape[0]}] (one cost per "
                f"hypothesis), got {got}"
            )
        return values.to(hyp.device)

    label = name or getattr(score, "__name__", type(score).__name__)
    return Cost(label, checked, distance=distance)


def cost_of(cost: str | Scorer | Cost, where: str) -> Cost:
    """The Cost a name, a callable or a Cost stands for; an unknown name is a ValueError."""
    if isinstance(cost, Cost):
        return cost
    if isinstance(cost, str):
        if cost not in COSTS:
            raise ValueError(f"{where}: cost must be one of {tuple(COSTS)}, got {cost!r}")
        return COSTS[cost]
    return user_cost(cost)


def cost_values(values: Tensor, lengths: Tensor, cost: Cost, dtype, normalize: bool) -> Tensor:
    """Scores as costs in `dtype`: a distance divided by the targets' lengths (at least 1,
    broadcast against values) when normalising; any other cost as it is."""
    values = values.to(dtype)
    if normalize and cost.distance:
        return values / lengths.clamp(min=1)
    return values


def natural_cost(eos_id: int | None) -> str:
    """The cost of a model that sets none: hamming for fixed-length models (eos_id None), edit
    for EOS models (the paper's choice on each of its tasks)."""
    return "hamming" if eos_id is None else "edit"
