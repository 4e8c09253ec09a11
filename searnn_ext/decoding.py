"""What every decoder loop is written against: the step protocol (a model that encodes a source
into a memory and advances a decoder state one token at a time), the guard that runs a decode
in eval mode without grad, and the bookkeeping of EOS-terminated outputs. Roll-ins, roll-outs,
beam search and evaluation import these; Seq2Seq implements the protocol, with Memory and
DecoderState, and any nn.Module may (see StepModel): its memory and states are only ever
passed back to it, or cut to some batch rows with `select_rows`."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor, nn

from searnn_ext.torch_path import check_eos_id


@dataclasses.dataclass
class Memory:
    """What the decoder reads from the source. outputs: [B, S, D] encoder outputs; keys:
    [B, S, H] their attention projection (None without attention); lengths: int64 [B]; final:
    [L, B, H] the decoder's initial hidden state ([L, B, 2H] for an LSTM, as DecoderState)."""

    outputs: Tensor
    keys: Tensor | None
    lengths: Tensor
    final: Tensor

    def select(self, rows: Tensor | slice) -> Memory:
        """The memory of batch rows `rows` (int64 [R] or a slice), e.g. one per roll-out."""
        keys = None if self.keys is None else self.keys[rows]
        return Memory(self.outputs[rows], keys, self.lengths[rows], self.final[:, rows])

    def detach(self) -> Memory:
        keys = None if self.keys is None else self.keys.detach()
        return Memory(self.outputs.detach(), keys, self.lengths, self.final.detach())


@dataclasses.dataclass
class DecoderState:
    """hidden: [L, B, H], one GRU state per layer ([L, B, 2H] for an LSTM: its hidden and cell
    vectors side by side); feed: [B, H] the previous attentional vector with input feeding,
    else None."""

    hidden: Tensor
    feed: Tensor | None

    def select(self, rows: Tensor | slice) -> DecoderState:
        feed = None if self.feed is None else self.feed[rows]
        return DecoderState(self.hidden[:, rows], feed)


class StepModel(Protocol):
    """A decoder over `target_vocab` output tokens that starts from `bos_id` and, for
    EOS-terminated tasks, ends at `eos_id` (None for fixed-length tasks). `step` returns the
    next token's logits [B, target_vocab] and the next state. A memory and a state are either
    objects with a `select(rows)` method or tensors whose first dimension is the batch, in
    nested tuples, lists and dicts (None allowed)."""

    target_vocab: int
    bos_id: int
    eos_id: int | None

    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory: ...

    def initial_state(self, memory: Memory) -> DecoderState: ...

    def step(
        self, prev_tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState]: ...


PROTOCOL_ATTRIBUTES = ("target_vocab", "bos_id", "eos_id")
PROTOCOL_METHODS = ("encode", "initial_state", "step")


def check_decoder(model, where: str) -> None:
    """A TypeError naming what `model` lacks of the step protocol (StepModel), or a ValueError
    for attributes out of range."""
    missing = [name for name in PROTOCOL_ATTRIBUTES if not hasattr(model, name)]
    missing += [name for name in PROTOCOL_METHODS if not callable(getattr(model, name, None))]
    if missing:
        raise TypeError(
            f"{where}: the model ({type(model).__name__}) lacks {', '.join(missing)} of the "
            "decoder protocol: attributes target_vocab, bos_id, eos_id and methods "
            "encode(src, src_lengths), initial_state(memory), step(prev_tokens, state, memory) "
            "(searnn_ext.decoding.StepModel)"
        )
    vocab, bos_id, eos_id = model.target_vocab, model.bos_id, model.eos_id
    if not _is_int(vocab) or vocab < 1:
        raise ValueError(f"{where}: model.target_vocab must be a positive int, got {vocab!r}")
    if not _is_int(bos_id):
        raise ValueError(f"{where}: model.bos_id must be an int, got {bos_id!r}")
    check_eos_id(where, "model.eos_id", eos_id, 0, vocab - 1, "the model's tokens")


def check_logits(logits, batch: int, model, where: str) -> None:
    """A ValueError unless `logits` (what model.step returned) is a [batch, target_vocab]
    floating-point tensor."""
    expected = (batch, model.target_vocab)
    if not isinstance(logits, Tensor) or not logits.is_floating_point() or logits.shape != expected:
        got = list(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(
            f"{where}: model.step must return logits of shape {list(expected)} (the batch, "
            f"target_vocab) and the next state, got {got}"
        )


def select_rows(value, rows: Tensor | slice):
    """Batch rows `rows` of a memory or a decoder state: its own select(rows), else each
    tensor's first dimension, through nested tuples, lists and dicts."""
    if hasattr(value, "select") and not isinstance(value, Tensor):
        return value.select(rows)
    if isinstance(value, Tensor):
        return value[rows]
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return _same_sequence(value, [select_rows(item, rows) for item in value])
    if isinstance(value, dict):
        return {key: select_rows(item, rows) for key, item in value.items()}
    raise TypeError(
        f"a decoder's memory and state must be objects with a select(rows) method, or tensors "
        f"whose first dimension is the batch in nested tuples, lists and dicts; got a "
        f"{type(value).__name__}"
    )


def detached(value):
    """A memory or state without its autograd history (its own detach(), or each tensor's)."""
    if isinstance(value, Tensor) or callable(getattr(value, "detach", None)):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return _same_sequence(value, [detached(item) for item in value])
    if isinstance(value, dict):
        return {key: detached(item) for key, item in value.items()}
    return value


def _same_sequence(original, items: list):
    """`items` in the container type of `original` (a list, a tuple or a named tuple)."""
    if hasattr(original, "_fields"):
        return type(original)(*items)
    return type(original)(items)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Runs the block in eval mode (no dropout) without grad; the model's mode is restored
    afterwards, even on an error."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def tokens_before_eos(tokens: Tensor, eos_id: int) -> Tensor:
    """The number of tokens before each row's first `eos_id`, or the row's width when it has
    none: int64 [B] for tokens [B, W]."""
    is_eos = tokens == eos_id
    return torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), tokens.shape[1]).long()
