"""The pure-PyTorch path of every op: the fallback where the extension is not compiled and the
baseline for every speed claim. Vectorised over the batch; Python loops only where the
recurrence itself is sequential."""

from __future__ import annotations

import torch
from torch import Tensor

_INDEX_DTYPES = (torch.int32, torch.int64)
_INT64 = torch.iinfo(torch.int64)


def check_same_device(op: str, anchor_name: str, anchor: Tensor, **tensors: Tensor | None) -> None:
    """A ValueError naming the first of `tensors` (None skipped) not on `anchor`'s device, with
    the message of the C++ checks."""
    for name, tensor in tensors.items():
        if isinstance(tensor, Tensor) and tensor.device != anchor.device:
            raise ValueError(
                f"{op}: {name} is on {tensor.device} but {anchor_name} is on {anchor.device}; "
                "all inputs must be on one device"
            )


def check_pair_inputs(
    op: str,
    hyp: Tensor,
    hyp_lengths: Tensor,
    ref: Tensor,
    ref_lengths: Tensor,
    ref_index: Tensor | None,
) -> None:
    """The checks of csrc/pair_inputs.cpp, with the same exception types and messages."""
    check_same_device(
        op,
        "hyp",
        hyp,
        hyp_lengths=hyp_lengths,
        ref=ref,
        ref_lengths=ref_lengths,
        ref_index=ref_index,
    )
    named = [("hyp", hyp, 2), ("hyp_lengths", hyp_lengths, 1), ("ref", ref, 2)]
    named += [("ref_lengths", ref_lengths, 1)]
    if ref_index is not None:
        named.append(("ref_index", ref_index, 1))
    _check_index_tensors(op, named)
    n, m = hyp.shape[0], ref.shape[0]
    if hyp_lengths.shape[0] != n:
        raise ValueError(
            f"{op}: hyp_lengths must have one entry per hyp row ({n}), got {hyp_lengths.shape[0]}"
        )
    if ref_lengths.shape[0] != m:
        raise ValueError(
            f"{op}: ref_lengths must have one entry per ref row ({m}), got {ref_lengths.shape[0]}"
        )
    if ref_index is not None:
        if ref_index.shape[0] != n:
            raise ValueError(
                f"{op}: ref_index must have one entry per hyp row ({n}), got {ref_index.shape[0]}"
            )
        _check_range(op, "ref_index", ref_index, m - 1, "rows of ref")
    elif m != n:
        raise ValueError(
            f"{op}: without ref_index, ref must have as many rows as hyp ({n}), got {m}"
        )
    _check_range(op, "hyp_lengths", hyp_lengths, hyp.shape[1], "the width of hyp")
    _check_range(op, "ref_lengths", ref_lengths, ref.shape[1], "the width of ref")


def check_index_dtype(op: str, name: str, tensor: Tensor) -> None:
    """A TypeError unless `tensor` is an int32/int64 tensor, worded as csrc/input_checks.cpp's."""
    if not isinstance(tensor, Tensor) or tensor.dtype not in _INDEX_DTYPES:
        got = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"{op}: {name} must be an int32 or int64 tensor, got {got}")


def check_eos_id(
    op: str,
    name: str,
    eos_id: int | None,
    low: int = _INT64.min,
    high: int = _INT64.max,
    bound: str = "int64",
) -> None:
    """eos_id None or an int in [low, high] (`bound` says where the range comes from). Checked
    here because an int beyond int64 fails later as an OverflowError in a tensor comparison, or
    as the dispatcher's RuntimeError."""
    if eos_id is None:
        return
    if not isinstance(eos_id, int):
        raise TypeError(f"{op}: {name} must be an int or None, got {type(eos_id).__name__}")
    if not low <= eos_id <= high:
        raise ValueError(
            f"{op}: {name} must lie in [{low}, {high}] ({bound}) or be None, got {eos_id}"
        )


def _check_index_tensors(op: str, named: list[tuple[str, Tensor, int]]) -> None:
    """Each (name, tensor, rank): an int32/int64 tensor of that rank (csrc/input_checks.cpp)."""
    for name, tensor, dim in named:
        check_index_dtype(op, name, tensor)
        if tensor.dim() != dim:
            raise ValueError(f"{op}: {name} must be {dim}-D, got shape {list(tensor.shape)}")


def _check_range(op: str, name: str, tensor: Tensor, high: int, bound: str) -> None:
    # A meta tensor has no values to check: shapes only, as the fake kernels do.
    if tensor.numel() == 0 or tensor.is_meta:
        return
    low_value, high_value = (int(v) for v in torch.aminmax(tensor))
    if low_value < 0 or high_value > high:
        raise ValueError(
            f"{op}: {name} values must lie in [0, {high}] ({bound}), "
            f"got values in [{low_value}, {high_value}]"
        )


def _paired_refs(ref: Tensor, ref_lengths: Tensor, ref_index: Tensor | None):
    if ref_index is None:
        return ref, ref_lengths.long()
    return ref[ref_index.long()], ref_lengths.long()[ref_index.long()]


def hamming_distance(
    hyp: Tensor, hyp_lengths: Tensor, ref: Tensor, ref_lengths: Tensor, ref_index: Tensor | None
) -> Tensor:
    """Mismatches over the common length plus the length difference, per pair: int64 [N]."""
    check_pair_inputs("hamming_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index)
    ref, ref_lengths = _paired_refs(ref, ref_lengths, ref_index)
    hyp_lengths = hyp_lengths.long()
    width = min(hyp.shape[1], ref.shape[1])
    common = torch.minimum(hyp_lengths, ref_lengths)
    in_common = torch.arange(width, device=hyp.device) < common[:, None]
    mismatches = ((hyp[:, :width] != ref[:, :width]) & in_common).sum(dim=1)
    return mismatches + (hyp_lengths - ref_lengths).abs()


def edit_distance(
    hyp: Tensor, hyp_lengths: Tensor, ref: Tensor, ref_lengths: Tensor, ref_index: Tensor | None
) -> Tensor:
    """Levenshtein distance per pair: int64 [N].

    The Wagner-Fischer DP one hypothesis symbol (DP row) at a time, all pairs at once. Within a
    row, D[i][j] = min(E[j], D[i][j-1] + 1) with E[j] = min(D[i-1][j] + 1, D[i-1][j-1] + cost)
    unrolls to D[i][j] = j + min_{k<=j} (E[k] - k): a cumulative minimum, so the whole row is a
    handful of tensor ops with no loop over j.
    """
    check_pair_inputs("edit_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index)
    ref, ref_lengths = _paired_refs(ref, ref_lengths, ref_index)
    n = hyp.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.int64, device=hyp.device)
    ref_width = _longest(ref_lengths, ref.shape[1])
    hyp_width = _longest(hyp_lengths, hyp.shape[1])
    ref = ref[:, :ref_width]
    columns = torch.arange(ref_width + 1, device=hyp.device, dtype=torch.int32)
    row = columns.expand(n, -1).contiguous()  # D[0][j] = j
    for i in range(hyp_width):
        next_row = _next_row(row, hyp[:, i, None], ref, columns)
        row = torch.where((i < hyp_lengths)[:, None], next_row, row)
    return row.gather(1, ref_lengths[:, None]).squeeze(1).long()


def _longest(lengths: Tensor, width: int) -> int:
    """The largest of `lengths`; for meta tensors, which hold no values, their bound `width`: the
    DP then runs on shapes alone and gives the fake kernels' meta result."""
    return width if lengths.is_meta else int(lengths.max())


def _next_row(row: Tensor, symbols: Tensor, ref: Tensor, columns: Tensor) -> Tensor:
    """One Wagner-Fischer step (see edit_distance): D[i-1][0..W] in `row` [..., W + 1], the
    hypothesis symbols [..., 1], references [..., W] (broadcast against one another), columns =
    arange(W + 1). Entry j depends on ref[..., :j] only, so padding past a reference's length
    never reaches the entries up to it."""
    substitute = row[..., :-1] + (symbols != ref).int()
    best = torch.minimum(substitute, row[..., 1:] + 1)
    first = (row[..., :1] + 1).expand(*best.shape[:-1], 1)
    best = torch.cat([first, best], dim=-1)
    return torch.cummin(best - columns, dim=-1).values + columns


def check_completion_inputs(
    prefix: Tensor, candidates: Tensor, ref: Tensor, ref_lengths: Tensor
) -> None:
    """The checks of csrc/optimal_completion_inputs.cpp, with the same exception types and
    messages."""
    op = "optimal_completion_distance"
    check_same_device(op, "prefix", prefix, candidates=candidates, ref=ref, ref_lengths=ref_lengths)
    named = [("prefix", prefix, 2), ("candidates", candidates, 3), ("ref", ref, 2)]
    _check_index_tensors(op, [*named, ("ref_lengths", ref_lengths, 1)])
    batch, steps = prefix.shape
    if candidates.shape[:2] != (batch, steps):
        raise ValueError(
            f"{op}: candidates must have shape [{batch}, {steps}, K] (prefix's rows and steps), "
            f"got {list(candidates.shape)}"
        )
    if ref.shape[0] != batch:
        raise ValueError(
            f"{op}: ref must have one row per prefix row ({batch}), got {ref.shape[0]}"
        )
    if ref_lengths.shape[0] != batch:
        raise ValueError(
            f"{op}: ref_lengths must have one entry per prefix row ({batch}), "
            f"got {ref_lengths.shape[0]}"
        )
    _check_range(op, "ref_lengths", ref_lengths, ref.shape[1], "the width of ref")


def optimal_completion_distance(
    prefix: Tensor, candidates: Tensor, ref: Tensor, ref_lengths: Tensor, eos_id: int | None
) -> Tensor:
    """The least edit distance of any completion of prefix[b, :t] + candidates[b, t, k] to its
    reference: int64 [B, T, K] (see searnn_ext.ops.optimal_completion_distance).

    One DP row per prefix, advanced one token per step for every sequence at once; each step
    extends it by all K candidates together ([B, K, W + 1]) and takes min_j of row[j] plus, for
    fixed-length tasks, |n - (|r| - j)| = |j - min(t + 1, |r|)|.
    """
    check_completion_inputs(prefix, candidates, ref, ref_lengths)
    batch, steps, width = candidates.shape
    out = torch.zeros((batch, steps, width), dtype=torch.int64, device=prefix.device)
    if out.numel() == 0:
        return out
    ref_lengths = ref_lengths.long()
    ref_width = ref.shape[1]
    columns = torch.arange(ref_width + 1, device=prefix.device, dtype=torch.int32)
    beyond_ref = columns > ref_lengths[:, None]  # [B, W + 1]: rows past each reference
    row = columns.expand(batch, -1).contiguous()  # the empty prefix: D[j] = j
    for t in range(steps):
        step_candidates = candidates[:, t]
        extended = _next_row(row[:, None], step_candidates[..., None], ref[:, None], columns)
        if eos_id is None:
            anchor = ref_lengths.clamp(max=t + 1)
            extended = extended + (columns - anchor[:, None]).abs()[:, None].int()
        extended = extended.masked_fill(beyond_ref[:, None], torch.iinfo(torch.int32).max)
        best = extended.amin(dim=-1).long()
        if eos_id is not None:
            prefix_distance = row.gather(1, ref_lengths[:, None]).long()
            # In int64: int32 tokens would wrap an eos_id beyond their range onto one of theirs.
            is_eos = step_candidates.long() == eos_id
            best = torch.where(is_eos, prefix_distance, best)
        out[:, t] = best
        row = _next_row(row, prefix[:, t, None], ref, columns)
    return out
