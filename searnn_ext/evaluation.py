"""Test error as the paper reports it: total distance over total reference length, in %:
Hamming for fixed-length tasks (OCR, chunking), edit distance for EOS tasks (spelling), or 100
times the mean of another cost (BLEU's for words), of the model's greedy decoding (or beam
search); chunking's usual measure, conlleval's chunk F1; and
corpus BLEU."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from searnn_ext.beam import beam_search
from searnn_ext.chunks import chunk_f1
from searnn_ext.costs import Cost, cost_of
from searnn_ext.data.batching import Batch, Example, batches
from searnn_ext.decoding import eval_mode, tokens_before_eos
from searnn_ext.model import Seq2Seq
from searnn_ext.ngram_costs import corpus_bleu
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
    return rollin.tokens, tokens_before_eos(rollin.tokens, model.eos_id)


def decode(model: Seq2Seq, src, src_lengths, output_width: int, beam: int = 1):
    """greedy_outputs, or beam_search when beam > 1."""
    if beam == 1:
        return greedy_outputs(model, src, src_lengths, output_width)
    return beam_search(model, src, src_lengths, output_width, beam)


def decoded_batches(
    model: Seq2Seq,
    examples: list[Example],
    *,
    max_length: int | None = None,
    beam: int = 1,
    batch_size: int = 256,
    device="cpu",
) -> Iterator[tuple[Batch, Tensor, Tensor]]:
    """The model's outputs for `examples`, in order and in batches of `batch_size`: (batch on
    `device`, tokens int64 [B, W], their counts [B], EOS excluded). Fixed-length tasks decode
    each source's length; EOS tasks at most `max_length` tokens (default: decode_length of
    the examples). Decoding runs in eval mode without grad. Every caller batches alike, so
    that the same examples decode to the same outputs in evaluate, predict and training."""
    if max_length is None:
        max_length = decode_length(examples)
    with eval_mode(model):
        for batch in batches(examples, batch_size):
            batch = batch.to(device)
            width = max_length if model.eos_id is not None else batch.src.shape[1]
            tokens, lengths = decode(model, batch.src, batch.src_lengths, width, beam)
            yield batch, tokens, lengths


def decode_length(examples: list[Example]) -> int:
    """The default decoding budget of EOS tasks: twice the longest target (EOS included)."""
    return 2 * max((len(e.target) for e in examples), default=1)


def error_rate(
    model: Seq2Seq,
    examples: list[Example],
    *,
    cost: str | Cost,
    batch_size: int = 256,
    max_length: int | None = None,
    beam: int = 1,
    device="cpu",
    backend: str = "auto",
) -> float:
    """The test error (%) of the cost (a name, a callable or a searnn_ext.costs.Cost) over
    `examples`: for a distance, 100 * the sum of distances / the sum of the targets' lengths
    (EOS excluded); for another cost, 100 * its mean.
    EOS tasks decode at most `max_length` tokens (default: decode_length(examples));
    beam: beam search's width (1: greedy); backend: the distance op's (searnn_ext.backends).
    An empty list of examples is a ValueError: there is no error to report."""
    if not examples:
        raise ValueError("error_rate: no examples to score")
    cost = cost_of(cost, "error_rate")
    eos = int(model.eos_id is not None)
    total, count = 0.0, 0.0
    for batch, tokens, lengths in decoded_batches(
        model, examples, max_length=max_length, beam=beam, batch_size=batch_size, device=device
    ):
        target_lengths = batch.target_lengths - eos
        rows = torch.arange(tokens.shape[0], device=tokens.device)
        values = cost.score(
            tokens, lengths, batch.target.long(), target_lengths, rows, backend=backend
        )
        batch_total, batch_count = cost.test_error(values, target_lengths)
        total, count = total + batch_total, count + batch_count
    return 100.0 * total / max(count, 1)


def decoded_sequences(
    model: Seq2Seq, examples: list[Example], **options
) -> tuple[list[list[int]], list[list[int]]]:
    """The model's outputs for `examples` and their targets, as id lists without EOS; options
    (max_length, beam, batch_size, device) as decoded_batches's."""
    eos = int(model.eos_id is not None)
    predicted, reference = [], []
    for batch, tokens, lengths in decoded_batches(model, examples, **options):
        for row, length, truth, truth_length in zip(
            tokens.tolist(),
            lengths.tolist(),
            batch.target.tolist(),
            (batch.target_lengths - eos).tolist(),
            strict=True,
        ):
            predicted.append(row[:length])
            reference.append(truth[:truth_length])
    return predicted, reference


def chunk_f1_of_model(model: Seq2Seq, examples: list[Example], labels: list[str], **options):
    """chunk_f1 of the model's tags; labels: the output ids' tag names; options as
    decoded_sequences's."""
    predicted, reference = decoded_sequences(model, examples, **options)
    named = [[[labels[i] for i in row] for row in rows] for rows in (predicted, reference)]
    return chunk_f1(*named)


def corpus_bleu_of_model(model: Seq2Seq, examples: list[Example], **options) -> float:
    """corpus_bleu of the model's outputs; options as decoded_sequences's."""
    return corpus_bleu(*decoded_sequences(model, examples, **options))
