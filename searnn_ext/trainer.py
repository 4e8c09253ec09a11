"""SEARNN training (paper, Algorithm 1): one call of SearnnTrainer.step is one gradient step on
a batch: roll-in, candidate selection, roll-out costs, cost-sensitive loss, backward, optimiser
step. The same object trains plain MLE, so that both run under one optimisation routine."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from searnn_ext import distributed
from searnn_ext.backends import log_once, slow_rollout_dtype
from searnn_ext.config import ROLLOUT_DTYPES, SearnnConfig
from searnn_ext.costs import cost_of
from searnn_ext.data.batching import Batch
from searnn_ext.decoding import check_decoder
from searnn_ext.losses import mle_loss, ocd_loss, searnn_loss
from searnn_ext.model import Seq2Seq
from searnn_ext.rollin import roll_in
from searnn_ext.rollout import rollout_costs
from searnn_ext.sampling import sample_candidates, subsample_cells


@dataclasses.dataclass
class StepResult:
    loss: float
    cells: int  # cells with a cost (MLE: target steps)
    rollouts: int  # roll-outs scored (0 for MLE)
    seconds: float
    finite: bool = True  # False: a non-finite loss or gradient; the step was not applied


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
        token_names: Sequence[str] | None = None,
    ) -> None:
        """token_frequencies: [A] training-target unigram counts, for sampling="stat";
        generator: the draws of mixed policies and sampling (CPU); give each process its own
        seed. group: the processes sharing each batch (see searnn_ext.distributed).
        token_names: the output ids' names, for a cost that scores them (chunk_f1).
        `cost` is then the searnn_ext.costs.Cost that scores the roll-outs."""
        check_decoder(model, "SearnnTrainer")
        config.check()
        if config.sampling == "stat" and token_frequencies is None:
            raise ValueError("SearnnTrainer: sampling='stat' needs token_frequencies")
        self.model, self.optimizer, self.config = model, optimizer, config
        slow = slow_rollout_dtype(config.rollout_dtype, next(model.parameters()).device)
        if slow and config.loss != "mle" and config.backend != "torch":
            log_once(slow)
        cost = config.cost_for(model)
        self.cost = cost_of(cost, "SearnnTrainer").named(token_names, "SearnnTrainer")
        if config.loss == "ocd" and not self.cost.optimal_reference:
            raise ValueError(
                f"--loss ocd distils the optimal reference, which the cost {cost!r} has not "
                "(--cost hamming or edit)"
            )
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
            rollin = roll_in(model, memory, batch.target, batch.target_lengths)
            loss = mle_loss(
                rollin.logits, batch.target, batch.target_lengths, reduction=config.reduction
            )
            return loss, int(batch.target_lengths.sum()), 0
        rollin = roll_in(
            model,
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
        with torch.autocast(
            batch.src.device.type,
            dtype=ROLLOUT_DTYPES[config.rollout_dtype],
            enabled=config.rollout_dtype != "float32",
        ):
            # OCD's Q is the optimal reference's cost-to-go, in the cost's own units.
            distils = config.loss == "ocd"
            costs = rollout_costs(
                model,
                rollin,
                candidates,
                batch.target,
                batch.target_lengths,
                rollout="reference" if distils else config.rollout,
                mix_prob=config.rollout_mix_prob,
                reference="optimal" if distils else config.reference,
                cost=self.cost,
                normalize=not distils,
                max_rows=config.max_rows,
                generator=self.generator,
                backend=config.backend,
            )
        if config.loss == "ocd":
            loss = ocd_loss(
                rollin.logits,
                candidates,
                costs,
                temperature=config.temperature,
                reduction=config.reduction,
            )
        else:
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
        describes the global batch. A step whose loss or gradient is not finite changes
        nothing (no update, the optimiser's state untouched) and says so in `finite`."""
        start = time.perf_counter()
        self.model.train()
        mine = distributed.shard(batch, self.group)
        loss, cells, rollouts = self._batch_loss(mine)
        loss = loss * self._shard_weight(mine.src.shape[0], batch.src.shape[0], cells)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loss_sum, cells, rollouts = distributed.total(
            [loss.detach().item(), cells, rollouts], self.group
        )
        # Gradients are synchronised and losses summed: every process takes the same decision.
        finite = math.isfinite(loss_sum) and math.isfinite(self._clipped_gradient_norm())
        if finite:
            self.optimizer.step()
        else:
            self.optimizer.zero_grad(set_to_none=True)
        mean_loss = loss_sum / self.group.world
        seconds = time.perf_counter() - start
        return StepResult(mean_loss, int(cells), int(rollouts), seconds, finite)

    def _clipped_gradient_norm(self) -> float:
        """The gradient's norm before clipping; clips it to max_grad_norm when one is set (an
        infinite limit measures without clipping)."""
        limit = self.config.max_grad_norm
        norm = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), limit if limit is not None else float("inf")
        )
        return float(norm)

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
