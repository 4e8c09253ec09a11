"""rollout_costs: the cost of finishing each roll-in prefix with each candidate token (paper,
section 4 and Appendix A). The parts every backend shares live here; the learned decode loop,
where the time goes, is `greedy_rollout` of the chosen backend (rollout_torch.py for pure
PyTorch, rollout_ext.py for the compiled loop), called in eval mode without grad."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import torch
from torch import Tensor

from searnn_ext import backends, ops, rollout_ext, rollout_torch, rollout_transformer
from searnn_ext.best_suffix import best_suffix_scores
from searnn_ext.costs import COSTS, Cost, cost_of, cost_values
from searnn_ext.decoding import check_decoder, detached, eval_mode
from searnn_ext.model import DecoderState, Seq2Seq
from searnn_ext.rollin import RollIn, check_policy
from searnn_ext.torch_path import check_index_dtype
from searnn_ext.transformer import TransformerSeq2Seq

# The reference policy of reference and mixed roll-outs: copy the target (the paper's), or
# the optimal completion (ops.optimal_completion_distance). Copying is optimal for Hamming.
REFERENCES = ("copy", "optimal", "best_suffix")


def rollout_costs(
    model: Seq2Seq,
    rollin: RollIn,
    candidates: Tensor,
    target: Tensor,
    target_lengths: Tensor,
    *,
    rollout: str = "learned",
    mix_prob: float = 0.5,
    reference: str = "copy",
    cost: str | Callable | Cost = "hamming",
    normalize: bool = True,
    max_length: int | None = None,
    max_rows: int | None = None,
    generator: torch.Generator | None = None,
    backend: str = "auto",
) -> Tensor:
    """Cost of every (sequence, step, candidate) roll-out: float [B, T, K] in the model's dtype
    (float32 for float16 and bfloat16 models).

    ``costs[b, t, k]`` scores the sequence made of the roll-in tokens of steps 0..t-1, then
    ``candidates[b, t, k]`` at step t, then the roll-out:

    - ``"learned"``: greedy decoding (argmax, first maximum on ties) with ``model.step`` in eval
      mode (no dropout), from the state the prefix leads to, over ``rollin.memory``;
    - ``"reference"``: the reference policy, ``reference``:

      - ``"copy"`` (the paper's): ``target`` copied from step t+1 on;
      - ``"optimal"``: the best completion for the cost, found without decoding. For
        ``cost="edit"``, with r the target's tokens (before EOS) and x the sequence up to the
        candidate, ``min_j ED(x, r[:j])`` (EOS tasks) or ``min_j ED(x, r[:j]) + |n - (|r| -
        j)|`` with n tokens still to emit (fixed-length tasks); see
        :func:`searnn_ext.optimal_completion_distance`. For ``cost="hamming"`` copying is
        optimal, so both give the same costs.
      - ``"best_suffix"``, for any cost: the suffix ``r[j:]`` of the target that gives the
        lowest cost, over every j (searnn_ext.best_suffix); it decodes nothing.

    - ``"mixed"``: one draw per (sequence, step), learned with probability ``mix_prob``, shared
      by the cell's K candidates so that their costs stay comparable; the other cells take the
      reference policy's costs.

    Fixed-length tasks (``model.eos_id is None``) decode up to the target's length. EOS tasks
    stop at EOS (a candidate equal to EOS ends the sequence at step t) or after ``max_length``
    tokens (default: twice the target's width); their ``target`` must hold EOS at
    ``target_lengths - 1`` and costs compare the tokens before EOS.

    Args:
        model: the Seq2Seq that produced ``rollin``; its training mode is restored afterwards.
        rollin: from ``model.roll_in``.
        candidates: int64 [B, T, K] token ids in [0, A), or -1 for an unused slot.
        target: int [B, Tt] ground truth; target_lengths: int [B].
        cost: a cost's name (``"hamming"``, ``"edit"`` (Levenshtein), or one registered with
            :func:`searnn_ext.costs.register`), a :class:`searnn_ext.costs.Cost`, or your own
            callable ``(hyp, hyp_lengths, ref, ref_lengths, ref_index) -> [N]`` costs, between
            the finished sequences (int64, padded) and the targets' rows ``ref_index``.
        normalize: divide a distance (hamming, edit) by the target's length (at least 1); other
            costs are taken as they are.
        max_rows: decode at most this many roll-outs at once (bounds peak memory; the answer
            does not change).
        generator: draws of the mixed policy.
        backend: which implementation runs the decode loop and the cost ops, ``"auto"`` by
            default; the choices are described in :mod:`searnn_ext.backends`.

    float16 and bfloat16 models roll out in their dtype (the CPU decodes float16 in float32),
    and so does a float32 model inside ``torch.autocast``: the decode loop's matrix products
    then run in the autocast dtype, its per-row math accumulating in float32.

    Costs of unused slots and of steps at or past ``rollin.lengths[b]`` are +inf.
    """
    cost = cost_of(cost, "rollout_costs").named(None, "rollout_costs")  # refused if unnamed
    _check_options(rollout, mix_prob, reference, cost, max_rows, max_length)
    scored_lengths = _check_inputs(model, rollin, candidates, target, target_lengths)
    greedy_rollout = _greedy_rollout_for(backend, model, candidates.device)
    if max_length is None:
        max_length = 2 * target.shape[1]
    # At least float32: bfloat16 cannot tell 100/101 from 101/101.
    dtype = torch.promote_types(rollin.logits.dtype, torch.float32)
    costs = torch.full(candidates.shape, float("inf"), dtype=dtype, device=candidates.device)

    to_score, learned_cells = _choose_cells(rollin, candidates, rollout, mix_prob, generator)
    # For Hamming, copying the target is the optimal completion: the copy path is exact.
    if reference == "optimal" and cost.name == "edit" and rollout != "learned":
        reference_costs = _optimal_reference_costs(
            rollin, candidates, target, scored_lengths, model.eos_id, dtype, normalize, backend
        )
        costs = torch.where(to_score & ~learned_cells, reference_costs, costs)
        to_score = to_score & learned_cells  # the optimal reference decodes nothing
    if reference == "best_suffix" and rollout != "learned":
        cell_b, cell_t, cell_k = (to_score & ~learned_cells).nonzero(as_tuple=True)
        scores = best_suffix_scores(
            rollin.tokens,
            cell_b,
            cell_t,
            candidates[cell_b, cell_t, cell_k],
            target,
            scored_lengths,
            model.eos_id,
            cost,
            backend,
        )
        costs[cell_b, cell_t, cell_k] = cost_values(
            scores, scored_lengths[cell_b], cost, dtype, normalize
        )
        to_score = to_score & learned_cells  # the best suffix decodes nothing
    rollouts = _plan_rollouts(
        to_score, learned_cells, candidates, scored_lengths, max_length, model.eos_id
    )
    if rollouts.cell_b.numel() == 0:
        return costs

    suffix, suffix_lengths = _reference_rollouts(rollouts, target)
    suffix, suffix_lengths = _learned_rollouts(
        model,
        rollin,
        rollouts,
        suffix,
        suffix_lengths,
        continuation_ends=_greedy_continuation_ends(model, rollin, scored_lengths, max_length),
        greedy_rollout=greedy_rollout,
        max_rows=max_rows,
    )
    sequences, lengths = _assemble(rollin.tokens, rollouts, suffix, suffix_lengths)
    costs[rollouts.cell_b, rollouts.cell_t, rollouts.cell_k] = _score(
        sequences, lengths, target, scored_lengths, rollouts.cell_b, cost, dtype, normalize, backend
    )
    return costs


@dataclasses.dataclass
class _RollOuts:
    """One row per roll-out to score: its cell (cell_b, cell_t) and candidate slot cell_k; first,
    the candidate, its token at step t; learned, whether the learned policy finishes it (else
    the reference policy copies the target); ends, whether it ends at step t (first is EOS);
    budgets, the most tokens it may have after step t. All [R]."""

    cell_b: Tensor
    cell_t: Tensor
    cell_k: Tensor
    first: Tensor
    learned: Tensor
    ends: Tensor
    budgets: Tensor

    def select(self, rows: Tensor) -> _RollOuts:
        """The roll-outs `rows` (int64 [R'])."""
        fields = dataclasses.fields(self)
        return _RollOuts(**{field.name: getattr(self, field.name)[rows] for field in fields})


def _check_options(rollout, mix_prob, reference, cost, max_rows, max_length) -> None:
    check_policy("rollout_costs: rollout", rollout, mix_prob)
    if reference not in REFERENCES:
        raise ValueError(f"rollout_costs: reference must be one of {REFERENCES}, got {reference!r}")
    if reference == "optimal" and not cost.optimal_reference:
        raise ValueError(
            f"rollout_costs: reference='optimal' is not known for the cost {cost.name!r}: use "
            "reference='copy'"
        )
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"rollout_costs: max_rows must be positive, got {max_rows}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"rollout_costs: max_length must be positive, got {max_length}")


def _greedy_rollout_for(backend: str, model: Seq2Seq, device: torch.device):
    """The greedy_rollout that runs this call's learned roll-outs."""
    transformer = isinstance(model, TransformerSeq2Seq)
    op = "transformer_rollout" if transformer else "greedy_rollout"
    compiled = backends.compiled_ops(op, backend, device)
    if compiled is None:
        return rollout_torch.greedy_rollout
    loop = rollout_transformer if transformer else rollout_ext
    problem = loop.unsupported(model)
    if problem is None:
        return functools.partial(loop.greedy_rollout, ops=compiled)
    if backend == "auto":
        backends.log_once(f"rollout_costs: the pure-PyTorch path decodes, because {problem}")
        return rollout_torch.greedy_rollout
    if not isinstance(model, (Seq2Seq, TransformerSeq2Seq)):
        raise TypeError(
            f"rollout_costs(backend={backend!r}): the compiled decode loops run the decoders of "
            f"Seq2Seq and TransformerSeq2Seq, and {type(model).__name__} is a model of your own: "
            "pass backend='auto' (the default) to roll it out on the pure-PyTorch path"
        )
    raise ValueError(
        f"rollout_costs(backend={backend!r}): the compiled decode loop cannot run this model: "
        f"{problem}. Pass backend='auto' to fall back to the pure-PyTorch path."
    )


def _check_inputs(model, rollin, candidates, target, target_lengths) -> Tensor:
    """Raises ValueError / TypeError naming the argument; returns the targets' lengths without
    EOS, the tokens the costs compare: int64 [B]."""
    check_decoder(model, "rollout_costs")
    for name, tensor in [
        ("rollin.tokens", rollin.tokens),
        ("rollin.lengths", rollin.lengths),
        ("target", target),
        ("target_lengths", target_lengths),
    ]:
        check_index_dtype("rollout_costs", name, tensor)
    target_lengths = target_lengths.long()
    batch, steps = rollin.tokens.shape
    if candidates.dtype != torch.int64:
        raise TypeError(f"rollout_costs: candidates must be int64, got {candidates.dtype}")
    if candidates.dim() != 3 or candidates.shape[:2] != (batch, steps):
        raise ValueError(
            f"rollout_costs: candidates must have shape [{batch}, {steps}, K] (the roll-in's "
            f"batch and steps), got {list(candidates.shape)}"
        )
    if candidates.numel():
        low, high = (int(v) for v in torch.aminmax(candidates))
        if low < -1 or high >= model.target_vocab:
            raise ValueError(
                f"rollout_costs: candidates must lie in [0, {model.target_vocab}) or be -1, "
                f"got values in [{low}, {high}]"
            )
    if target.dim() != 2 or target.shape[0] != batch:
        raise ValueError(
            f"rollout_costs: target must have shape [{batch}, Tt], got {list(target.shape)}"
        )
    if target_lengths.shape != (batch,):
        raise ValueError(
            f"rollout_costs: target_lengths must have shape [{batch}], "
            f"got {list(target_lengths.shape)}"
        )
    if batch and (target_lengths.min() < 0 or target_lengths.max() > target.shape[1]):
        raise ValueError(
            f"rollout_costs: target_lengths must lie in [0, {target.shape[1]}] (target's width)"
        )
    if model.eos_id is None:
        if batch and bool((target_lengths > rollin.lengths).any()):
            raise ValueError(
                "rollout_costs: target_lengths exceed rollin.lengths: a fixed-length task's "
                "roll-in must cover the whole target"
            )
        return target_lengths
    last = target.long().gather(1, (target_lengths - 1).clamp(min=0)[:, None]).squeeze(1)
    if batch and bool(((target_lengths < 1) | (last != model.eos_id)).any()):
        raise ValueError(
            f"rollout_costs: each target must end with eos_id={model.eos_id} at target_lengths - 1"
        )
    return target_lengths - 1


def _choose_cells(rollin, candidates, rollout, mix_prob, generator) -> tuple[Tensor, Tensor]:
    """The (b, t, k) to score, bool [B, T, K]: t inside the trajectory and a candidate in slot
    k; and the cells (b, t) that the learned policy rolls out, bool [B, T, 1]."""
    batch, steps, _ = candidates.shape
    device = candidates.device
    in_trajectory = torch.arange(steps, device=device) < rollin.lengths[:, None]
    to_score = (candidates >= 0) & in_trajectory[:, :, None]
    return to_score, _learned_cells(rollout, mix_prob, batch, steps, generator, device)[..., None]


def _learned_cells(rollout, mix_prob, batch, steps, generator, device) -> Tensor:
    """bool [B, T]; "mixed" draws once per cell, so that its K candidates share a policy and
    their costs stay comparable."""
    if rollout == "learned":
        return torch.ones((batch, steps), dtype=torch.bool, device=device)
    if rollout == "reference":
        return torch.zeros((batch, steps), dtype=torch.bool, device=device)
    draws = torch.rand((batch, steps), generator=generator, device="cpu")
    return (draws < mix_prob).to(device)


def _optimal_reference_costs(
    rollin, candidates, target, scored_lengths, eos_id, dtype, normalize, backend
) -> Tensor:
    """The optimal reference policy's cost of every (b, t, k), [B, T, K] in `dtype`, for the
    edit distance: straight from the prefixes, without decoding."""
    distances = ops.optimal_completion_distance(
        rollin.tokens, candidates, target, scored_lengths, eos_id=eos_id, backend=backend
    )
    return cost_values(distances, scored_lengths[:, None, None], COSTS["edit"], dtype, normalize)


def _plan_rollouts(to_score, learned_cells, candidates, scored_lengths, max_length, eos_id):
    """A _RollOuts of the (b, t, k) of to_score [B, T, K], in that order."""
    cell_b, cell_t, cell_k = to_score.nonzero(as_tuple=True)
    first = candidates[cell_b, cell_t, cell_k]
    learned = learned_cells[cell_b, cell_t, 0]
    ends = first == eos_id if eos_id is not None else torch.zeros_like(learned)
    # The reference policy copies the target up to its end; the learned policy decodes up to
    # max_length on EOS tasks, up to the target's length on fixed-length ones.
    budgets = scored_lengths[cell_b] - cell_t - 1
    if eos_id is not None:
        budgets = torch.where(learned, max_length - cell_t - 1, budgets)
    budgets = budgets.clamp(min=0).masked_fill(ends, 0)
    return _RollOuts(cell_b, cell_t, cell_k, first, learned, ends, budgets)


def _reference_rollouts(rollouts: _RollOuts, target: Tensor) -> tuple[Tensor, Tensor]:
    """Every roll-out's tokens after step t as the reference policy gives them, the target's:
    int64 [R, W] (W the largest budget, at least 1: one column keeps gathers simple), and how
    many count, [R]: the budget, 0 for learned roll-outs (_learned_rollouts fills those in)."""
    width = max(int(rollouts.budgets.max()), 1)
    suffix = target.new_zeros((rollouts.budgets.shape[0], width)).long()
    if target.shape[1]:
        positions = _positions_after_step(rollouts.cell_t, width).clamp(max=target.shape[1] - 1)
        suffix = target.long()[rollouts.cell_b[:, None], positions]
    return suffix, torch.where(rollouts.learned, 0, rollouts.budgets)


def _learned_rollouts(
    model, rollin, rollouts, suffix, suffix_lengths, *, continuation_ends, greedy_rollout, max_rows
) -> tuple[Tensor, Tensor]:
    """The learned roll-outs' tokens after step t, written over their rows of suffix [R, W] and
    suffix_lengths [R]: a greedy roll-in's own continuation where it is one (see
    _greedy_continuation_ends), else decoded by greedy_rollout in eval mode."""
    reused = _reused_rollouts(rollin, rollouts, continuation_ends)
    decoded_rows = rollouts.learned & ~rollouts.ends & ~reused & (rollouts.budgets > 0)
    decoded_rows = decoded_rows.nonzero().squeeze(1)
    if reused.any():
        positions = _positions_after_step(rollouts.cell_t, suffix.shape[1])
        positions = positions.clamp(max=rollin.tokens.shape[1] - 1)
        suffix[reused] = rollin.tokens.long()[rollouts.cell_b[:, None], positions][reused]
        reused_lengths = (continuation_ends[rollouts.cell_b] - rollouts.cell_t - 1).clamp(min=0)
        suffix_lengths = torch.where(reused, reused_lengths, suffix_lengths)
    if decoded_rows.numel():
        with eval_mode(model):
            decoded, decoded_lengths = _decode_in_chunks(
                greedy_rollout, model, rollin, rollouts.select(decoded_rows), max_rows
            )
        suffix[decoded_rows, : decoded.shape[1]] = decoded
        suffix_lengths = suffix_lengths.index_put((decoded_rows,), decoded_lengths)
    return suffix, suffix_lengths


def _reused_rollouts(rollin, rollouts, continuation_ends) -> Tensor:
    """Which roll-outs a greedy roll-in has already decoded, bool [R]: the learned roll-outs of
    the token it chose, unless that ends the sequence or the roll-in stops too early."""
    if continuation_ends is None:
        return torch.zeros_like(rollouts.learned)
    own = rollouts.first == rollin.tokens[rollouts.cell_b, rollouts.cell_t]
    reaches = continuation_ends[rollouts.cell_b] >= 0
    return rollouts.learned & ~rollouts.ends & own & reaches


def _greedy_continuation_ends(model, rollin, scored_lengths, max_length) -> Tensor | None:
    """A greedy roll-in is itself the learned roll-out of the token it chose at each step (the
    same model, the same greedy policy, no dropout, the same precision): those roll-outs need
    no decoding. Returns where each sequence's continuation ends, [B] (-1 where the roll-in
    stops before the roll-out would), or None when the roll-in is not such a roll-out."""
    if not rollin.greedy or torch.is_autocast_enabled(rollin.tokens.device.type):
        return None
    if model.eos_id is None:
        return scored_lengths  # fixed length: the roll-in covers the whole target
    steps = rollin.tokens.shape[1]
    last = rollin.tokens.gather(1, (rollin.lengths - 1).clamp(min=0)[:, None]).squeeze(1)
    ended = (rollin.lengths > 0) & (last == model.eos_id)  # the trajectory ends with EOS
    eos_at = rollin.lengths - 1
    # The roll-out stops at the roll-in's EOS if its budget reaches it, else at max_length;
    # either way the roll-in must have decoded that far.
    stop = torch.where(ended, eos_at.clamp(max=max_length), torch.full_like(eos_at, max_length))
    covered = (ended & (eos_at <= max_length)) | (max_length <= steps)
    return torch.where(covered, stop, -1)


def _positions_after_step(cell_t: Tensor, width: int) -> Tensor:
    """Positions t + 1 .. t + width of each roll-out's sequence, int64 [R, width]."""
    return (cell_t + 1)[:, None] + torch.arange(width, device=cell_t.device)


def _decode_in_chunks(greedy_rollout, model, rollin, rollouts, max_rows):
    """greedy_rollout over `rollouts` in chunks of at most max_rows, longest budgets first (so
    that the rows still decoding form a prefix), results in the rollouts' order."""
    memory = detached(rollin.memory)
    states = _prefix_states(model, rollin)
    rows = rollouts.first.shape[0]
    tokens = rollouts.first.new_zeros((rows, int(rollouts.budgets.max())))
    lengths = rollouts.first.new_zeros((rows,))
    order = torch.argsort(rollouts.budgets, descending=True, stable=True)
    chunk = max_rows or rows
    for start in range(0, rows, chunk):
        rows_here = order[start : start + chunk]
        chunk_tokens, chunk_lengths = greedy_rollout(
            model,
            memory,
            states,
            rollouts.cell_b[rows_here],
            rollouts.cell_t[rows_here],
            rollouts.first[rows_here],
            rollouts.budgets[rows_here],
        )
        tokens[rows_here, : chunk_tokens.shape[1]] = chunk_tokens
        lengths[rows_here] = chunk_lengths
    return tokens, lengths


def _prefix_states(model: Seq2Seq, rollin: RollIn) -> DecoderState | list:
    """The eval-mode decoder state after BOS and the roll-in tokens 0..t-1, for every step t:
    the roll-in's own where it kept them (a dropout-free roll-in; not under autocast, whose
    roll-outs run in another precision), else decoded again. Seq2Seq's stacked (hidden
    [T, L, B, H], feed [T, B, H] or None), any other model's as a list by step."""
    memory = detached(rollin.memory)
    states = rollin.states
    if states is None or torch.is_autocast_enabled(rollin.tokens.device.type):
        states = _states_by_step(model, rollin, memory)
    if not isinstance(model, Seq2Seq):
        return states
    if not states:
        return DecoderState(memory.final.new_zeros((0, *memory.final.shape)), None)
    feed = torch.stack([state.feed for state in states]) if model.input_feeding else None
    return DecoderState(torch.stack([state.hidden for state in states]), feed)


def _states_by_step(model, rollin: RollIn, memory) -> list:
    state = model.initial_state(memory)
    prev = torch.full_like(rollin.lengths, model.bos_id)
    states = []
    for t in range(rollin.tokens.shape[1]):
        _, state = model.step(prev, state, memory)
        states.append(state)
        prev = rollin.tokens[:, t]
    return states


def _assemble(prefix_tokens, rollouts, suffix, suffix_lengths):
    """Each roll-out's whole sequence: the roll-in's tokens before t, the candidate (unless it
    is EOS), then its suffix. int64 [R, W] and lengths [R]."""
    cell_t = rollouts.cell_t
    prefix_width = prefix_tokens.shape[1]
    width = prefix_width + 1 + suffix.shape[1]
    positions = torch.arange(width, device=cell_t.device)
    prefix = prefix_tokens.long()[rollouts.cell_b]
    prefix = torch.cat([prefix, prefix.new_zeros((prefix.shape[0], width - prefix_width))], 1)
    after = positions - (cell_t + 1)[:, None]
    from_suffix = suffix.gather(1, after.clamp(0, suffix.shape[1] - 1))
    sequences = torch.where(after >= 0, from_suffix, prefix)
    sequences = torch.where(after == -1, rollouts.first[:, None], sequences)
    lengths = torch.where(rollouts.ends, cell_t, cell_t + 1 + suffix_lengths)
    return sequences, lengths


def _score(
    sequences, lengths, target, scored_lengths, target_index, cost, dtype, normalize, backend
) -> Tensor:
    """The cost of each finished sequence (int64 [R, W], lengths [R]) against the target row
    target_index[r], [R] in `dtype`."""
    values = cost.score(
        sequences, lengths, target.long(), scored_lengths, target_index, backend=backend
    )
    return cost_values(values, scored_lengths[target_index], cost, dtype, normalize)
