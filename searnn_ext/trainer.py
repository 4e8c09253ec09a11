"""SEARNN training (paper, Algorithm 1): one call of SearnnTrainer.step is one gradient step on
a batch: roll-in, candidate selection, roll-out costs, cost-sensitive loss, backward, optimiser
step. The same object trains plain MLE, so that both run under one optimisation routine."""

from __future__ import annotations

import dataclasses
import time

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from searnn_ext import distributed
from searnn_ext.data.batching import Batch
from searnn_ext.losses import SEARNN_LOSSES, mle_loss, searnn_loss
from searnn_ext.model import Seq2Seq
from searnn_ext.rollin import check_policy
from searnn_ext.rollout import COSTS, REFERENCES, rollout_costs
from searnn_ext.sampling import STRATEGIES, sample_candidates, subsample_cells

LOSSES = ("mle", *SEARNN_LOSSES)


@dataclasses.dataclass
class SearnnConfig:
    """loss: "mle" or one of SEARNN_LOSSES; rollin / rollout: "reference", "learned" or "mixed"
    with their mix probabilities (of learned); reference: the reference policy of reference and
    mixed roll-outs, "copy" (the ground truth, the paper's) or "optimal" (the best completion for
    the cost; see rollout_costs); sampling: a token strategy of
    searnn_ext.sampling with `tokens` per cell; cells: roll out only this many (int) or this
    fraction (float) of each sequence's steps (None: all); cost: "hamming" or "edit";
    max_grad_norm: clip the gradient's norm (None: no clipping); reduction: how the batch's
    cell losses are combined (see searnn_ext.losses: "per_sequence" sums each sequence's cells
    and averages over sequences, "per_cell" averages over the counted cells)."""

    loss: str = "ll"
    rollin: str = "learned"
    rollin_mix_prob: float = 0.5
    rollout: str = "mixed"
    rollout_mix_prob: float = 0.5
    reference: str = "copy"
    sampling: str = "all"
    tokens: int = 5
    cells: int | float | None = None
    cost: str = "hamming"
    cost_scale: float = 1.0
    max_grad_norm: float | None = None
    reduction: str = "per_sequence"
    backend: str = "auto"

    def check(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"SearnnConfig: loss must be one of {LOSSES}, got {self.loss!r}")
        check_policy("SearnnConfig: rollin", self.rollin, self.rollin_mix_prob)
        check_policy("SearnnConfig: rollout", self.rollout, self.rollout_mix_prob)
        if self.reference not in REFERENCES:
            raise ValueError(
                f"SearnnConfig: reference must be one of {REFERENCES}, got {self.reference!r}"
            )
        if self.sampling not in STRATEGIES:
            raise ValueError(
                f"SearnnConfig: sampling must be one of {STRATEGIES}, got {self.sampling!r}"
            )
        if self.loss in ("llcas", "shl") and self.sampling != "all":
            raise ValueError(
                f"SearnnConfig: loss {self.loss!r} needs every token's cost (sampling='all'); "
                "with sampled tokens use 'sllcas' or 'sll'"
            )
        if self.cost not in COSTS:
            raise ValueError(f"SearnnConfig: cost must be one of {tuple(COSTS)}, got {self.cost!r}")


@dataclasses.dataclass
class StepResult:
    loss: float
    cells: int  # cells with a cost (MLE: target steps)
    rollouts: int  # roll-outs scored (0 for MLE)
    seconds: float


class _BatchLoss(nn.Module):
    """The trainer's loss as a module's forward: DistributedDataParallel synchronises the
    gradients of what its forward computes."""

    def __init__(self, model: Seq2Seq, loss) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch: Batch):
        return self.loss(batch)


class SearnnTrainer:
    def __init__(
        self,
        model: Seq2Seq,
        optimizer: torch.optim.Optimizer,
        config: SearnnConfig,
        *,
        token_frequencies: Tensor | None = None,
        generator: torch.Generator | None = None,
        group: distributed.Group | None = None,
    ) -> None:
        """token_frequencies: [A] training-target unigram counts, for sampling="stat";
        generator: the draws of mixed policies and sampling (CPU); give each process its own
        seed. group: the processes sharing each batch (see searnn_ext.distributed)."""
        config.check()
        if config.sampling == "stat" and token_frequencies is None:
            raise ValueError("SearnnTrainer: sampling='stat' needs token_frequencies")
        self.model, self.optimizer, self.config = model, optimizer, config
        self.token_frequencies = token_frequencies
        self.generator = generator if generator is not None else torch.Generator()
        self.group = group if group is not None else distributed.Group()
        self._batch_loss = _BatchLoss(model, self.loss)
        if self.group.active:
            self._batch_loss = DistributedDataParallel(self._batch_loss)

    def loss(self, batch: Batch) -> tuple[Tensor, int, int]:
        """The batch's training loss (with grad), its counted cells and its roll-outs."""
        config, model = self.config, self.model
        memory = model.encode(batch.src, batch.src_lengths)
        if config.loss == "mle":
            rollin = model.roll_in(memory, batch.target, batch.target_lengths)
            loss = mle_loss(
                rollin.logits, batch.target, batch.target_lengths, reduction=config.reduction
            )
            return loss, int(batch.target_lengths.sum()), 0
        rollin = model.roll_in(
            memory,
            batch.target,
            batch.target_lengths,
            policy=config.rollin,
            mix_prob=config.rollin_mix_prob,
            generator=self.generator,
        )
        steps = rollin.tokens.shape[1]
        has_truth = torch.arange(steps, device=batch.target.device) < batch.target_lengths[:, None]
        truth = torch.where(has_truth, batch.target[:, :steps].long(), -1)
        candidates = sample_candidates(
            config.sampling,
            rollin.logits,
            truth,
            tokens=config.tokens,
            frequencies=self.token_frequencies,
            generator=self.generator,
        )
        if config.cells is not None:
            candidates = subsample_cells(
                candidates, rollin.lengths, config.cells, generator=self.generator
            )
        costs = rollout_costs(
            model,
            rollin,
            candidates,
            batch.target,
            batch.target_lengths,
            rollout=config.rollout,
            mix_prob=config.rollout_mix_prob,
            reference=config.reference,
            cost=config.cost,
            generator=self.generator,
            backend=config.backend,
        )
        loss = searnn_loss(
            config.loss,
            rollin.logits,
            candidates,
            costs,
            truth,
            cost_scale=config.cost_scale,
            reduction=config.reduction,
        )
        finite = torch.isfinite(costs)
        return loss, int(finite.any(-1).sum()), int(finite.sum())

    def step(self, batch: Batch) -> StepResult:
        """One gradient step on `batch`; with a process group, `batch` is the global batch
        (the same on every process) and this process rolls out its shard of it. The result
        describes the global batch."""
        start = time.perf_counter()
        self.model.train()
        mine = distributed.shard(batch, self.group)
        loss, cells, rollouts = self._batch_loss(mine)
        loss = loss * self._shard_weight(mine.src.shape[0], batch.src.shape[0], cells)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        loss_sum, cells, rollouts = distributed.total(
            [loss.detach().item(), cells, rollouts], self.group
        )
        mean_loss = loss_sum / self.group.world
        return StepResult(mean_loss, int(cells), int(rollouts), time.perf_counter() - start)

    def _shard_weight(self, rows: int, global_rows: int, cells: int) -> float:
        """The factor that makes the processes' average of their shard losses (DDP averages
        the gradients) the global batch's loss under the configured reduction."""
        world = self.group.world
        if world == 1:
            return 1.0
        if self.config.reduction == "per_sequence":
            return rows * world / global_rows
        if self.config.reduction == "per_cell":
            (global_cells,) = distributed.total([cells], self.group)
            return max(cells, 1) * world / max(global_cells, 1)
        return float(world)  # "sum"
