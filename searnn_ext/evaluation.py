"""Test error as the paper reports it: total distance over total reference length, in %:
Hamming for fixed-length tasks (OCR, chunking), edit distance for EOS tasks (spelling), of the
model's greedy decoding."""

from __future__ import annotations

import torch
from torch import Tensor

from searnn_ext import ops
from searnn_ext.data.batching import Example, batches
from searnn_ext.model import Seq2Seq
from searnn_ext.rollin import roll_in


@torch.no_grad()
def greedy_outputs(model: Seq2Seq, src, src_lengths, output_width: int) -> tuple[Tensor, Tensor]:
    """Greedy decoding of a batch: tokens int64 [B, W] and their counts [B] (EOS excluded).
    Fixed-length tasks decode `output_width` tokens and keep each row's source length; EOS
    tasks stop at EOS or after `output_width` tokens."""
    memory = model.encode(src, src_lengths)
    batch = src.shape[0]
    blank = torch.zeros((batch, output_width), dtype=torch.long, device=src.device)
    rollin = roll_in(model, memory, blank, torch.zeros_like(src_lengths), policy="learned")
    if model.eos_id is None:
        return rollin.tokens, src_lengths.long().clamp(max=output_width)
    ended = rollin.tokens == model.eos_id
    lengths = torch.where(ended.any(1), ended.int().argmax(1), output_width)
    return rollin.tokens, lengths


@torch.no_grad()
def error_rate(
    model: Seq2Seq,
    examples: list[Example],
    *,
    cost: str,
    batch_size: int = 256,
    max_length: int | None = None,
    device="cpu",
) -> float:
    """100 * sum of distances / sum of reference lengths (EOS excluded) over `examples`.
    EOS tasks decode at most `max_length` tokens (default: twice the longest target)."""
    if max_length is None:
        max_length = 2 * max((len(e.target) for e in examples), default=1)
    was_training = model.training
    model.eval()
    distance_op = ops.hamming_distance if cost == "hamming" else ops.edit_distance
    total_distance, total_length = 0, 0
    try:
        for batch in batches(examples, batch_size):
            batch = batch.to(device)
            eos = model.eos_id is not None
            reference_lengths = batch.target_lengths - int(eos)
            width = max_length if eos else batch.target.shape[1]
            tokens, lengths = greedy_outputs(model, batch.src, batch.src_lengths, width)
            distances = distance_op(
                tokens, lengths, batch.target, reference_lengths, backend="auto"
            )
            total_distance += int(distances.sum())
            total_length += int(reference_lengths.sum())
    finally:
        model.train(was_training)
    return 100.0 * total_distance / max(total_length, 1)
