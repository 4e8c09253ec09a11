"""The public cost ops: thin wrappers that pick a backend (searnn_ext.backends) and call
torch.ops.searnn.* (checked in C++) or the pure-PyTorch path (checked in Python, with the same
errors)."""

from __future__ import annotations

import torch
from torch import Tensor

from searnn_ext import _extension, backends, ngram_costs, torch_path

# The pair cost ops, their result's dtype and their pure-PyTorch twins.
COST_DTYPES = {
    "edit_distance": torch.int64,
    "hamming_distance": torch.int64,
    "bleu_cost": torch.float32,
    "gleu_cost": torch.float32,
}
TORCH_PATH = {  # the module of each op's twin, of the same name
    "edit_distance": torch_path,
    "hamming_distance": torch_path,
    "bleu_cost": ngram_costs,
    "gleu_cost": ngram_costs,
}

if _extension.available():
    # Fake kernels: shapes only, so the ops trace under torch.compile and FakeTensor. They also
    # run for a call that mixes meta and real tensors, so they check devices as the kernels do.
    for _namespace in ("searnn", "searnn_emulated"):
        for _op, _dtype in COST_DTYPES.items():

            @torch.library.register_fake(f"{_namespace}::{_op}")
            def _cost_fake(hyp, hyp_lengths, ref, ref_lengths, ref_index, _op=_op, _dtype=_dtype):
                torch_path.check_same_device(
                    _op,
                    "hyp",
                    hyp,
                    hyp_lengths=hyp_lengths,
                    ref=ref,
                    ref_lengths=ref_lengths,
                    ref_index=ref_index,
                )
                return hyp.new_empty((hyp.shape[0],), dtype=_dtype)

        @torch.library.register_fake(f"{_namespace}::optimal_completion_distance")
        def _optimal_completion_distance_fake(prefix, candidates, ref, ref_lengths, eos_id):
            torch_path.check_same_device(
                "optimal_completion_distance",
                "prefix",
                prefix,
                candidates=candidates,
                ref=ref,
                ref_lengths=ref_lengths,
            )
            return candidates.new_empty(candidates.shape, dtype=torch.int64)


def _check_tensors(op: str, **arguments) -> None:
    # The dispatcher's own message for a non-tensor is a RuntimeError about casting; users
    # get the TypeError the C++ checks give for a wrong dtype.
    for name, value in arguments.items():
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(
                f"{op}: {name} must be an int32 or int64 tensor, got {type(value).__name__}"
            )


def edit_distance(
    hyp: Tensor,
    hyp_lengths: Tensor,
    ref: Tensor,
    ref_lengths: Tensor,
    ref_index: Tensor | None = None,
    *,
    backend: str = "auto",
) -> Tensor:
    """Levenshtein distance (unit insertions, deletions, substitutions) of each hypothesis to its
    reference.

    Args:
        hyp: int32/int64 [N, Lh], padded token ids; entries at or past ``hyp_lengths[i]`` are
            ignored, whatever they are. Ids are any integers: only equality matters.
        hyp_lengths: int32/int64 [N], each in [0, Lh].
        ref: int32/int64 [M, Lr], padded like ``hyp``.
        ref_lengths: int32/int64 [M], each in [0, Lr].
        ref_index: int32/int64 [N] with values in [0, M): hypothesis i is compared with
            reference row ``ref_index[i]``. Without it, M must equal N.
        backend: which implementation runs, ``"auto"`` by default; the choices are described
            in :mod:`searnn_ext.backends`.

    Returns:
        int64 [N] on the inputs' device: unnormalised distances.

    Raises:
        TypeError: a tensor is not int32/int64.
        ValueError: a wrong rank, a size mismatch, a length or index out of range, inputs on
            different devices, or an unknown backend.
        RuntimeError: backend="ext" where the compiled kernels cannot run these inputs.

    Non-contiguous inputs are accepted (copied once when needed).
    """
    return _cost("edit_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index, backend)


def hamming_distance(
    hyp: Tensor,
    hyp_lengths: Tensor,
    ref: Tensor,
    ref_lengths: Tensor,
    ref_index: Tensor | None = None,
    *,
    backend: str = "auto",
) -> Tensor:
    """Hamming distance of each hypothesis to its reference: mismatches over the common length
    plus the length difference. Arguments, result and errors as in :func:`edit_distance`."""
    return _cost("hamming_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index, backend)


def _cost(op, hyp, hyp_lengths, ref, ref_lengths, ref_index, backend) -> Tensor:
    _check_tensors(
        op, hyp=hyp, hyp_lengths=hyp_lengths, ref=ref, ref_lengths=ref_lengths, ref_index=ref_index
    )
    compiled = backends.compiled_ops(op, backend, hyp.device)
    if compiled is not None:
        return getattr(compiled, op)(hyp, hyp_lengths, ref, ref_lengths, ref_index)
    return getattr(TORCH_PATH[op], op)(hyp, hyp_lengths, ref, ref_lengths, ref_index)


def optimal_completion_distance(
    prefix: Tensor,
    candidates: Tensor,
    ref: Tensor,
    ref_lengths: Tensor,
    *,
    eos_id: int | None,
    backend: str = "auto",
) -> Tensor:
    """The edit distance of the best completion, for every (sequence, step, candidate): the
    costs of the optimal reference policy for edit distance, without decoding.

    ``out[b, t, k]`` is the least Levenshtein distance to ``ref[b, :ref_lengths[b]]`` (r) of any
    sequence that starts with ``prefix[b, :t]`` then ``candidates[b, t, k]`` (together x):

    - ``eos_id`` an int (EOS tasks): completions of any length, ``min_j ED(x, r[:j])``; a
      candidate equal to ``eos_id`` ends the sequence, ``ED(prefix[b, :t], r)``.
    - ``eos_id=None`` (fixed-length tasks): exactly ``n = max(|r| - t - 1, 0)`` more tokens,
      ``min_j ED(x, r[:j]) + |n - (|r| - j)|``.

    Work per cell: one bit-parallel DP column per prefix (advanced along the trajectory), one
    more step per candidate and a minimum down the column; no distance is computed from scratch.

    Args:
        prefix: int32/int64 [B, T], token ids (any integers: only equality matters).
        candidates: int32/int64 [B, T, K]; every slot is scored (mask unused ones afterwards).
        ref: int32/int64 [B, Lr], padded; ref_lengths: int32/int64 [B], each in [0, Lr].
        eos_id: keyword-only, see above; any int64 (one no token equals never matches).
        backend: as in :func:`edit_distance`.

    Returns:
        int64 [B, T, K] on the inputs' device, unnormalised.

    Raises:
        TypeError: a tensor is not int32/int64, or eos_id is not an int or None.
        ValueError: a wrong rank, a size mismatch, a length out of range, eos_id beyond int64,
            inputs on different devices, or an unknown backend.
        RuntimeError: backend="ext" where the compiled kernels cannot run these inputs.
    """
    _check_tensors(
        "optimal_completion_distance",
        prefix=prefix,
        candidates=candidates,
        ref=ref,
        ref_lengths=ref_lengths,
    )
    torch_path.check_eos_id("optimal_completion_distance", "eos_id", eos_id)
    compiled = backends.compiled_ops("optimal_completion_distance", backend, prefix.device)
    if compiled is not None:
        return compiled.optimal_completion_distance(prefix, candidates, ref, ref_lengths, eos_id)
    return torch_path.optimal_completion_distance(prefix, candidates, ref, ref_lengths, eos_id)


def bleu_cost(
    hyp: Tensor,
    hyp_lengths: Tensor,
    ref: Tensor,
    ref_lengths: Tensor,
    ref_index: Tensor | None = None,
    *,
    backend: str = "auto",
) -> Tensor:
    """1 - sentence BLEU-4 of each hypothesis against its reference, float32 [N] in [0, 1]:
    p_1 = m_1 / c_1 and p_n = (m_n + 1) / (c_n + 1) for n = 2..4 (m_n the clipped n-gram
    matches, c_n the hypothesis's n-grams; Lin and Och 2004's smoothing), brevity penalty
    min(1, exp(1 - |r| / |h|)), BLEU = 0 for an empty hypothesis or m_1 = 0. Arguments, checks
    and backends as :func:`edit_distance`'s; the compiled kernels are one thread per pair with
    no scratch memory, the pure-PyTorch path is searnn_ext.ngram_costs."""
    return _cost("bleu_cost", hyp, hyp_lengths, ref, ref_lengths, ref_index, backend)


def gleu_cost(
    hyp: Tensor,
    hyp_lengths: Tensor,
    ref: Tensor,
    ref_lengths: Tensor,
    ref_index: Tensor | None = None,
    *,
    backend: str = "auto",
) -> Tensor:
    """1 - GLEU of each hypothesis against its reference (Wu et al. 2016), float32 [N] in
    [0, 1]: GLEU = min(matches / the hypothesis's n-grams, matches / the reference's), each
    summed over n = 1..4, 0 when either is empty. Arguments, checks and backends as
    :func:`bleu_cost`'s."""
    return _cost("gleu_cost", hyp, hyp_lengths, ref, ref_lengths, ref_index, backend)
