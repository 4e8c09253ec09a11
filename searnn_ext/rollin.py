"""Roll-in: the trajectory a SEARNN step branches from (paper, section 3 and Appendix A)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from searnn_ext.decoding import (
    StepModel,
    check_decoder,
    check_logits,
    detached,
    tokens_before_eos,
)
from searnn_ext.torch_path import check_index_dtype

POLICIES = ("reference", "learned", "mixed")


@dataclasses.dataclass
class RollIn:
    """tokens: int64 [B, T], the token chosen at each step and fed forward; logits: [B, T, A]
    the model's scores at each step (with grad, for the loss); lengths: int64 [B], the steps of
    each trajectory that count (fixed-length tasks: the target's length; EOS tasks: up to and
    including the first EOS); memory: the encoder's output the trajectory was decoded from;
    greedy: the trajectory is the model's own greedy decoding without dropout (a learned
    roll-in), so that rollout_costs can reuse it as the roll-out of each chosen token; states:
    the decoder's state after each step's input (BOS, then tokens 0..T-2), without grad, where
    they are the eval-mode states (no dropout), else None: rollout_costs starts the roll-outs
    of step t from states[t] instead of decoding the prefix again."""

    tokens: Tensor
    logits: Tensor
    lengths: Tensor
    memory: Any  # the model's memory, as its encode returned it
    greedy: bool = False
    states: list | None = None


def check_policy(name: str, policy: str, mix_prob: float) -> None:
    if policy not in POLICIES:
        raise ValueError(f"{name} must be one of {POLICIES}, got {policy!r}")
    if not 0.0 <= mix_prob <= 1.0:
        raise ValueError(f"mix_prob must lie in [0, 1], got {mix_prob}")


def roll_in(
    model: StepModel,
    memory: Any,
    target: Tensor,
    target_lengths: Tensor,
    *,
    policy: str = "reference",
    mix_prob: float = 0.5,
    generator: torch.Generator | None = None,
) -> RollIn:
    """Decode T = target.shape[1] steps, feeding at step t the ground truth target[:, t]
    (reference), the model's own argmax (learned), or, per (sequence, step), the argmax with
    probability `mix_prob` and the ground truth otherwise (mixed). Past a target's length
    there is no ground truth: the argmax is fed."""
    check_decoder(model, "roll_in")
    check_policy("roll_in: policy", policy, mix_prob)
    check_index_dtype("roll_in", "target", target)
    check_index_dtype("roll_in", "target_lengths", target_lengths)
    batch, steps = target.shape
    if target_lengths.shape != (batch,):
        raise ValueError(
            f"roll_in: target_lengths must have shape [{batch}], got {list(target_lengths.shape)}"
        )
    target_lengths = target_lengths.long()
    prev = torch.full((batch,), model.bos_id, dtype=torch.long, device=target.device)
    state = model.initial_state(memory)
    if policy == "mixed":
        draws = torch.rand((batch, steps), generator=generator, device="cpu").to(target.device)
        use_learned = draws < mix_prob
    # A model in training mode is deterministic only if it says it has no dropout.
    dropout_off = not model.training or getattr(model, "dropout", None) == 0
    tokens, logits, states = [], [], []
    for t in range(steps):
        step_logits, state = model.step(prev, state, memory)
        check_logits(step_logits, batch, model, "roll_in")
        if dropout_off:
            states.append(detached(state))
        learned = step_logits.detach().argmax(dim=-1)
        has_target = t < target_lengths
        if policy == "reference":
            prev = torch.where(has_target, target[:, t], learned)
        elif policy == "learned":
            prev = learned
        else:
            prev = torch.where(has_target & ~use_learned[:, t], target[:, t], learned)
        tokens.append(prev)
        logits.append(step_logits)
    tokens = torch.stack(tokens, dim=1) if steps else target.new_zeros((batch, 0)).long()
    logits = (
        torch.stack(logits, dim=1)
        if steps
        else torch.zeros((batch, 0, model.target_vocab), dtype=_dtype(model), device=target.device)
    )
    lengths = trajectory_lengths(model, policy, tokens, target_lengths)
    greedy = policy == "learned" and dropout_off
    return RollIn(tokens, logits, lengths, memory, greedy, states if dropout_off else None)


def _dtype(model) -> torch.dtype:
    """The model's floating-point dtype (its first parameter's), for logits of no step."""
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    return torch.get_default_dtype() if weight is None else weight.dtype


def trajectory_lengths(model: StepModel, policy: str, tokens: Tensor, target_lengths: Tensor):
    if model.eos_id is None or policy == "reference":
        return target_lengths.clone()
    # Up to and including the first EOS: its step is a decision the losses train.
    return (tokens_before_eos(tokens, model.eos_id) + 1).clamp(max=tokens.shape[1])
