"""Test error as the paper reports it: total distance over total reference length, in %:
Hamming for fixed-length tasks (OCR, chunking), edit distance for EOS tasks (spelling), of the
model's greedy decoding (or beam search); and chunking's usual measure, conlleval's chunk F1."""

from __future__ import annotations

import torch
from torch import Tensor

from searnn_ext import ops
from searnn_ext.beam import beam_search
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


def decode(model: Seq2Seq, src, src_lengths, output_width: int, beam: int = 1):
    """greedy_outputs, or beam_search when beam > 1."""
    if beam == 1:
        return greedy_outputs(model, src, src_lengths, output_width)
    return beam_search(model, src, src_lengths, output_width, beam)


@torch.no_grad()
def error_rate(
    model: Seq2Seq,
    examples: list[Example],
    *,
    cost: str,
    batch_size: int = 256,
    max_length: int | None = None,
    beam: int = 1,
    device="cpu",
    backend: str = "auto",
) -> float:
    """100 * sum of distances / sum of reference lengths (EOS excluded) over `examples`.
    EOS tasks decode at most `max_length` tokens (default: twice the longest target);
    beam: beam search's width (1: greedy); backend: the distance op's (searnn_ext.backends)."""
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
            tokens, lengths = decode(model, batch.src, batch.src_lengths, width, beam)
            distances = distance_op(
                tokens, lengths, batch.target, reference_lengths, backend=backend
            )
            total_distance += int(distances.sum())
            total_length += int(reference_lengths.sum())
    finally:
        model.train(was_training)
    return 100.0 * total_distance / max(total_length, 1)


def chunks(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) of each chunk of a BIO tag sequence, as conlleval reads them: a
    chunk starts at B-X, or at I-X after O or after another type, and runs over the I-X that
    follow."""
    found, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, tag_kind = tag.partition("-")
        continues = prefix == "I" and tag_kind == kind
        if start is not None and not continues:
            found.add((start, i, kind))
            start, kind = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            start, kind = i, tag_kind
    return found


def chunk_f1(predicted: list[list[str]], reference: list[list[str]]) -> float:
    """F1 (in %) of the predicted chunks against the reference chunks over all sentences."""
    hits = guessed = wanted = 0
    for guess, truth in zip(predicted, reference, strict=True):
        guess_chunks, truth_chunks = chunks(guess), chunks(truth)
        hits += len(guess_chunks & truth_chunks)
        guessed += len(guess_chunks)
        wanted += len(truth_chunks)
    if hits == 0:
        return 0.0
    precision, recall = hits / guessed, hits / wanted
    return 100.0 * 2 * precision * recall / (precision + recall)


@torch.no_grad()
def chunk_f1_of_model(
    model: Seq2Seq,
    examples: list[Example],
    labels: list[str],
    *,
    batch_size: int = 256,
    beam: int = 1,
    device="cpu",
) -> float:
    """chunk_f1 of the model's tags (greedy, or beam search of width `beam`); labels: the
    output ids' tag names."""
    was_training = model.training
    model.eval()
    predicted, reference = [], []
    try:
        for batch in batches(examples, batch_size):
            batch = batch.to(device)
            width = batch.target.shape[1]
            tokens, lengths = decode(model, batch.src, batch.src_lengths, width, beam)
            for row, length, truth, truth_length in zip(
                tokens.tolist(),
                lengths.tolist(),
                batch.target.tolist(),
                batch.target_lengths.tolist(),
                strict=True,
            ):
                predicted.append([labels[i] for i in row[:length]])
                reference.append([labels[i] for i in truth[:truth_length]])
    finally:
        model.train(was_training)
    return chunk_f1(predicted, reference)
