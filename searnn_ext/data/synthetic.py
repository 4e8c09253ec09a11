"""A synthetic task that needs no files: reverse a random sequence of letters. Fixed-length
(the output has the input's length), Hamming cost; small enough that a Seq2Seq learns it in a
minute on a CPU. Each example is drawn from a generator seeded by (seed, split, index)."""

from __future__ import annotations

import string

import torch

from searnn_ext.data.batching import Example, TaskData


def load_synthetic(
    *,
    vocab: int = 8,
    min_length: int = 3,
    max_length: int = 8,
    sizes: tuple[int, int, int] = (2000, 200, 200),
    seed: int = 0,
) -> TaskData:
    """Train / validation / test splits of `sizes` examples, lengths min_length..max_length."""
    if not 2 <= vocab <= len(string.ascii_lowercase):
        raise ValueError(f"load_synthetic: vocab must lie in [2, 26], got {vocab}")
    if not 1 <= min_length <= max_length:
        raise ValueError(
            f"load_synthetic: need 1 <= min_length <= max_length, got {min_length}, {max_length}"
        )
    splits = []
    for split, size in enumerate(sizes):
        examples = []
        for index in range(size):
            generator = torch.Generator().manual_seed(example_seed(seed, split, index))
            length = int(torch.randint(min_length, max_length + 1, (1,), generator=generator))
            source = torch.randint(0, vocab, (length,), generator=generator)
            examples.append(Example(source, source.flip(0)))
        splits.append(examples)
    return TaskData(
        name="synthetic",
        train=splits[0],
        valid=splits[1],
        test=splits[2],
        model_options=dict(target_vocab=vocab, source_vocab=vocab),
        target_tokens=list(string.ascii_lowercase[:vocab]),
    )


def example_seed(seed: int, split: int, index: int) -> int:
    """A distinct, platform-independent seed per (seed, split, index)."""
    return ((seed * 4 + split) * 1_000_000_007 + index) % 2**63
