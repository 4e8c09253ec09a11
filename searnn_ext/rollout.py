"""rollout_costs: the cost of finishing each roll-in prefix with each candidate token (paper,
section 4 and Appendix A). The parts every backend shares live here; the learned decode loop,
where the time goes, is `greedy_decode` of the chosen backend (rollout_torch.py for pure
PyTorch, rollout_ext.py for the compiled loop), called in eval mode without grad."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from searnn_ext import backends, ops, rollout_ext, rollout_torch
from searnn_ext.decoding import eval_mode
from searnn_ext.model import DecoderState, Seq2Seq
from searnn_ext.rollin import RollIn, check_policy
from searnn_ext.torch_path import check_eos_id, check_index_dtype

COSTS = {"hamming": ops.hamming_distance, "edit": ops.edit_distance}
# The reference policy of reference and mixed roll-outs: copy the ground truth (the paper's), or
# the optimal completion (ops.optimal_completion_distance). Copying is optimal for Hamming.
REFERENCES = ("copy", "optimal")


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
    cost: str = "hamming",
    normalize: bool = True,
    max_length: int | None = None,
    max_rows: int | None = None,
    generator: torch.Generator | None = None,
    backend: str = "ext",
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
        cost: ``"hamming"`` or ``"edit"`` (Levenshtein), between the finished sequence and the
            target.
        normalize: divide by the target's length (at least 1).
        max_rows: decode at most this many roll-outs at once (bounds peak memory; the answer
            does not change).
        generator: draws of the mixed policy.
        backend: ``"ext"`` (compiled decode loop and cost kernels), ``"torch"``, ``"auto"``
            (ext where it can run this model on this device, else torch), or
            ``"cuda_emulated"`` (the CUDA kernels' code on the CPU); see searnn_ext.backends.

    float16 and bfloat16 models roll out in their dtype (the CPU decodes float16 in float32),
    and so does a float32 model inside ``torch.autocast``: the decode loop's matrix products
    then run in the autocast dtype, its per-row math accumulating in float32.

    Costs of unused slots and of steps at or past ``rollin.lengths[b]`` are +inf.
    """
    check_policy("rollout_costs: rollout", rollout, mix_prob)
    if reference not in REFERENCES:
        raise ValueError(f"rollout_costs: reference must be one of {REFERENCES}, got {reference!r}")
    if cost not in COSTS:
        raise ValueError(f"rollout_costs: cost must be one of {tuple(COSTS)}, got {cost!r}")
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"rollout_costs: max_rows must be positive, got {max_rows}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"rollout_costs: max_length must be positive, got {max_length}")
    greedy_decode = _decoder(backend, model, candidates.device)
    content_lengths = _check_inputs(model, rollin, candidates, target, target_lengths)
    batch, steps, width = candidates.shape
    device = candidates.device
    if max_length is None:
        max_length = 2 * target.shape[1]

    # The cells that count: (b, t, k) with t inside the trajectory and a candidate.
    in_trajectory = torch.arange(steps, device=device) < rollin.lengths[:, None]
    valid = (candidates >= 0) & in_trajectory[:, :, None]
    learned_cells = _learned_cells(rollout, mix_prob, batch, steps, generator, device)[..., None]
    # At least float32: bfloat16 cannot tell 100/101 from 101/101.
    dtype = torch.promote_types(rollin.memory.outputs.dtype, torch.float32)
    costs = torch.full((batch, steps, width), float("inf"), dtype=dtype, device=device)
    scored_on_sequences = valid
    if reference == "optimal" and cost == "edit" and rollout != "learned":
        # The optimal reference decodes nothing: its costs come straight from the prefixes.
        distances = ops.optimal_completion_distance(
            rollin.tokens, candidates, target, content_lengths, eos_id=model.eos_id, backend=backend
        )
        scale = content_lengths.clamp(min=1)[:, None, None] if normalize else None
        costs = torch.where(valid & ~learned_cells, _cost_values(distances, dtype, scale), costs)
        scored_on_sequences = valid & learned_cells
    cell_b, cell_t, cell_k = scored_on_sequences.nonzero(as_tuple=True)
    if cell_b.numel() == 0:
        return costs

    # One row per remaining roll-out: its whole sequence, decoded (learned) or copied.
    first = candidates[cell_b, cell_t, cell_k]
    learned = learned_cells[cell_b, cell_t, 0]
    ends = first == model.eos_id if model.eos_id is not None else torch.zeros_like(learned)

    # Tokens after step t: the target's (reference policy) or the decoder's (learned policy).
    rows = first.shape[0]
    after = content_lengths[cell_b] - cell_t - 1
    if model.eos_id is not None:
        after = torch.where(learned, max_length - cell_t - 1, after)
    after = after.clamp(min=0).masked_fill(ends, 0)
    continuation_ends = _greedy_continuation_ends(model, rollin, content_lengths, max_length)
    reuse = torch.zeros_like(learned)
    if continuation_ends is not None:
        own = first == rollin.tokens[cell_b, cell_t]
        reuse = learned & ~ends & own & (continuation_ends[cell_b] >= 0)
    decode = (learned & ~ends & ~reuse & (after > 0)).nonzero().squeeze(1)
    suffix_width = max(int(after.max()), 1)  # one column keeps gathers simple
    suffix = target.new_zeros((rows, suffix_width)).long()
    target_positions = (cell_t + 1)[:, None] + torch.arange(suffix_width, device=device)
    if target.shape[1]:
        suffix = target.long()[cell_b[:, None], target_positions.clamp(max=target.shape[1] - 1)]
    suffix_lengths = torch.where(learned, 0, after)
    if reuse.any():
        rollin_positions = target_positions.clamp(max=rollin.tokens.shape[1] - 1)
        suffix[reuse] = rollin.tokens.long()[cell_b[:, None], rollin_positions][reuse]
        reused_lengths = (continuation_ends[cell_b] - cell_t - 1).clamp(min=0)
        suffix_lengths = torch.where(reuse, reused_lengths, suffix_lengths)
    if decode.numel():
        with eval_mode(model):
            decoded, decoded_lengths = _decode_in_chunks(
                greedy_decode,
                model,
                rollin,
                cell_b[decode],
                cell_t[decode],
                first[decode],
                after[decode],
                max_rows,
            )
        suffix[decode, : decoded.shape[1]] = decoded
        suffix_lengths = suffix_lengths.index_put((decode,), decoded_lengths)

    sequences, lengths = _assemble(
        rollin.tokens, cell_b, cell_t, first, ends, suffix, suffix_lengths
    )
    cost_op = COSTS[cost]
    content = target.long()
    distances = cost_op(sequences, lengths, content, content_lengths, cell_b, backend=backend)
    scale = content_lengths[cell_b].clamp(min=1) if normalize else None
    costs[cell_b, cell_t, cell_k] = _cost_values(distances, dtype, scale)
    return costs


def _cost_values(distances: Tensor, dtype: torch.dtype, scale: Tensor | None) -> Tensor:
    """Integer distances as costs in `dtype`, divided by the targets' lengths when
    normalising (scale broadcast against distances)."""
    values = distances.to(dtype)
    return values if scale is None else values / scale


def _decode_in_chunks(greedy_decode, model, rollin, row_b, row_t, first, budgets, max_rows):
    """The backend's greedy_decode over the roll-outs in chunks of at most max_rows, longest
    budgets first (so that the rows still decoding form a prefix), results in input order."""
    memory = rollin.memory.detach()
    states = _prefix_states(model, rollin)
    rows = first.shape[0]
    tokens = first.new_zeros((rows, int(budgets.max())))
    lengths = first.new_zeros((rows,))
    order = torch.argsort(budgets, descending=True, stable=True)
    chunk = max_rows or rows
    for start in range(0, rows, chunk):
        rows_here = order[start : start + chunk]
        chunk_tokens, chunk_lengths = greedy_decode(
            model,
            memory,
            states,
            row_b[rows_here],
            row_t[rows_here],
            first[rows_here],
            budgets[rows_here],
        )
        tokens[rows_here, : chunk_tokens.shape[1]] = chunk_tokens
        lengths[rows_here] = chunk_lengths
    return tokens, lengths


def _decoder(backend: str, model: Seq2Seq, device: torch.device):
    """The greedy_decode that runs this call's learned roll-outs."""
    compiled = backends.compiled_ops("greedy_rollout", backend, device)
    if compiled is None:
        return rollout_torch.greedy_decode
    problem = rollout_ext.unsupported(model)
    if problem is None:
        return functools.partial(rollout_ext.greedy_decode, ops=compiled)
    if backend == "auto":
        backends.log_once(f"rollout_costs: the pure-PyTorch path decodes, because {problem}")
        return rollout_torch.greedy_decode
    raise ValueError(
        f"rollout_costs(backend={backend!r}): the compiled decode loop cannot run this model: "
        f"{problem}. Pass backend='auto' to fall back to the pure-PyTorch path."
    )


def _check_inputs(model, rollin, candidates, target, target_lengths) -> Tensor:
    """Raises ValueError / TypeError naming the argument; returns the targets' content lengths
    (without EOS), int64."""
    last_token = model.target_vocab - 1
    check_eos_id("rollout_costs", "model.eos_id", model.eos_id, 0, last_token, "the model's tokens")
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


def _greedy_continuation_ends(model, rollin, content_lengths, max_length) -> Tensor | None:
    """A greedy roll-in is itself the learned roll-out of the token it chose at each step (the
    same model, the same greedy policy, no dropout, the same precision): those roll-outs need
    no decoding. Returns where each sequence's continuation ends, [B] (-1 where the roll-in
    stops before the roll-out would), or None when the roll-in is not such a roll-out."""
    if not rollin.greedy or torch.is_autocast_enabled(rollin.tokens.device.type):
        return None
    if model.eos_id is None:
        return content_lengths  # fixed length: the roll-in covers the whole target
    steps = rollin.tokens.shape[1]
    last = rollin.tokens.gather(1, (rollin.lengths - 1).clamp(min=0)[:, None]).squeeze(1)
    ended = (rollin.lengths > 0) & (last == model.eos_id)  # the trajectory ends with EOS
    eos_at = rollin.lengths - 1
    # The roll-out stops at the roll-in's EOS if its budget reaches it, else at max_length;
    # either way the roll-in must have decoded that far.
    stop = torch.where(ended, eos_at.clamp(max=max_length), torch.full_like(eos_at, max_length))
    covered = (ended & (eos_at <= max_length)) | (max_length <= steps)
    return torch.where(covered, stop, -1)


def _learned_cells(rollout, mix_prob, batch, steps, generator, device) -> Tensor:
    if rollout == "learned":
        return torch.ones((batch, steps), dtype=torch.bool, device=device)
    if rollout == "reference":
        return torch.zeros((batch, steps), dtype=torch.bool, device=device)
    draws = torch.rand((batch, steps), generator=generator, device="cpu")
    return (draws < mix_prob).to(device)


def _prefix_states(model: Seq2Seq, rollin: RollIn) -> DecoderState:
    """The eval-mode decoder state after BOS and the roll-in tokens 0..t-1, for every step t:
    hidden [T, L, B, H], feed [T, B, H] or None."""
    memory = rollin.memory.detach()
    state = model.initial_state(memory)
    prev = torch.full_like(rollin.lengths, model.bos_id)
    hidden, feed = [], []
    for t in range(rollin.tokens.shape[1]):
        _, state = model.step(prev, state, memory)
        hidden.append(state.hidden)
        feed.append(state.feed)
        prev = rollin.tokens[:, t]
    if not hidden:
        return DecoderState(memory.final.new_zeros((0, *memory.final.shape)), None)
    return DecoderState(torch.stack(hidden), torch.stack(feed) if model.input_feeding else None)


def _assemble(prefix_tokens, cell_b, cell_t, first, ends, suffix, suffix_lengths):
    """Each roll-out's whole sequence: the roll-in's tokens before t, the candidate (unless it
    is EOS), then its suffix. int64 [R, W] and lengths [R]."""
    device = first.device
    prefix_width = prefix_tokens.shape[1]
    width = prefix_width + 1 + suffix.shape[1]
    positions = torch.arange(width, device=device)
    prefix = prefix_tokens.long()[cell_b]
    prefix = torch.cat([prefix, prefix.new_zeros((prefix.shape[0], width - prefix_width))], 1)
    after = positions - (cell_t + 1)[:, None]
    from_suffix = suffix.gather(1, after.clamp(0, suffix.shape[1] - 1))
    sequences = torch.where(after >= 0, from_suffix, prefix)
    sequences = torch.where(after == -1, first[:, None], sequences)
    lengths = torch.where(ends, cell_t, cell_t + 1 + suffix_lengths)
    return sequences, lengths
