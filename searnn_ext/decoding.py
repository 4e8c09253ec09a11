"""What every decoder loop is written against: the step protocol (a model that encodes a source
into a Memory and advances a DecoderState one token at a time), the guard that runs a decode in
eval mode without grad, and the bookkeeping of EOS-terminated outputs. Roll-ins, roll-outs,
beam search and evaluation import these; Seq2Seq implements the protocol."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor, nn


@dataclasses.dataclass
class Memory:
    """What the decoder reads from the source. outputs: [B, S, D] encoder outputs; keys:
    [B, S, H] their attention projection (None without attention); lengths: int64 [B]; final:
    [L, B, H] the decoder's initial hidden state."""

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
    """hidden: [L, B, H], one GRU state per layer; feed: [B, H] the previous attentional vector
    with input feeding, else None."""

    hidden: Tensor
    feed: Tensor | None

    def select(self, rows: Tensor | slice) -> DecoderState:
        feed = None if self.feed is None else self.feed[rows]
        return DecoderState(self.hidden[:, rows], feed)


class StepModel(Protocol):
    """A decoder over `target_vocab` output tokens that starts from `bos_id` and, for
    EOS-terminated tasks, ends at `eos_id` (None for fixed-length tasks)."""

    target_vocab: int
    bos_id: int
    eos_id: int | None

    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory: ...

    def initial_state(self, memory: Memory) -> DecoderState: ...

    def step(
        self, prev_tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState]: ...


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
