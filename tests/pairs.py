"""Random padded batches of (hypothesis, reference) pairs for the cost-op tests."""

from __future__ import annotations

import torch

PAD_GARBAGE = -7  # padding must be ignored whatever it holds; random ids are used too


def random_sequences(
    count: int, max_length: int, vocab: int, generator: torch.Generator, *, min_length: int = 0
):
    """[count, max_length] ids in [0, vocab) with lengths in [min_length, max_length]; the
    padding holds random ids and a sentinel, so a kernel that reads past a length is caught."""
    tokens = torch.randint(0, vocab, (count, max_length), generator=generator)
    lengths = torch.randint(min_length, max_length + 1, (count,), generator=generator)
    past_end = torch.arange(max_length) >= lengths[:, None]
    garbage = torch.rand((count, max_length), generator=generator) < 0.5
    tokens[past_end & garbage] = PAD_GARBAGE
    return tokens, lengths


def similar_sequences(ref: torch.Tensor, vocab: int, rate: float, generator: torch.Generator):
    """Copies of ref with a fraction `rate` of positions replaced by random ids, so that
    distances are small as in SEARNN, not always near the maximum."""
    noise = torch.randint(0, vocab, ref.shape, generator=generator)
    replace = torch.rand(ref.shape, generator=generator) < rate
    return torch.where(replace, noise, ref)
