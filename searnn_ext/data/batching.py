"""Examples, task splits, and padded batches."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import torch
from torch import Tensor


@dataclasses.dataclass
class Example:
    """source: int64 [S] token ids, or float [S, F] features; target: int64 [T] output ids
    (ending with EOS for EOS tasks)."""

    source: Tensor
    target: Tensor


def fresh_corruptions(
    train: list[Example], corrupt: Callable[[list[int], list[int]], list[int]], seed: int
) -> Callable[[int], list[Example]]:
    """TaskData.train_of_epoch of a denoising task (targets end with EOS): epoch 1 shows
    `train`; epoch e > 1 corrupts example i's clean target anew, corrupt(ids, [seed, e, i])."""

    def train_of_epoch(epoch: int) -> list[Example]:
        if epoch == 1:
            return train
        return [
            Example(torch.tensor(corrupt(e.target[:-1].tolist(), [seed, epoch, i])), e.target)
            for i, e in enumerate(train)
        ]

    return train_of_epoch


@dataclasses.dataclass
class TaskData:
    """A task's splits and what a model for it needs.

    model_options: the Seq2Seq keyword arguments the data fixes (target_vocab, source_vocab or
    source_features, eos_id, embedding_size); target_tokens: the output ids' names;
    vocabularies: the token lists that the loader built from the training file (none where the
    code fixes them), which it takes back to encode other files with the same ids (a
    checkpoint keeps them); train_of_epoch: the training examples of an epoch, where they
    change from epoch to epoch (see train_of).
    """

    name: str
    train: list[Example]
    valid: list[Example]
    test: list[Example]
    model_options: dict
    target_tokens: list[str]
    vocabularies: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    train_of_epoch: Callable[[int], list[Example]] | None = None

    def train_of(self, epoch: int) -> list[Example]:
        """The training examples of epoch `epoch` (from 1): `train`, unless the loader draws
        them anew each epoch (train_of_epoch, e.g. fresh corruption)."""
        return self.train if self.train_of_epoch is None else self.train_of_epoch(epoch)

    def split(self, name: str) -> list[Example]:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {name!r}")
        return getattr(self, name)

    def token_frequencies(self) -> Tensor:
        """Unigram counts of the training targets, float64 [A] (the "stat" sampling)."""
        counts = torch.zeros(self.model_options["target_vocab"], dtype=torch.float64)
        for example in self.train:
            counts += torch.bincount(example.target, minlength=counts.shape[0]).double()
        return counts


@dataclasses.dataclass
class Batch:
    """src [B, S] / [B, S, F]; src_lengths, target_lengths int64 [B]; target int64 [B, T],
    padded with 0 past each length."""

    src: Tensor
    src_lengths: Tensor
    target: Tensor
    target_lengths: Tensor

    def to(self, device) -> Batch:
        return Batch(*(t.to(device) for t in dataclasses.astuple(self)))


def hold_out(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """(kept, held out): a seeded random `fraction` of `examples` held out for validation,
    each part in the original order. A positive fraction holds out at least one example."""
    if not 0 <= fraction < 1:
        raise ValueError(f"the validation fraction must lie in [0, 1), got {fraction}")
    count = int(len(examples) * fraction)
    if fraction > 0:
        count = max(count, 1)
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed))
    held = set(order[:count].tolist())
    kept = [e for i, e in enumerate(examples) if i not in held]
    return kept, [e for i, e in enumerate(examples) if i in held]


def collate(examples: list[Example]) -> Batch:
    if not examples:
        raise ValueError("collate: an empty list of examples")
    src_lengths = torch.tensor([len(e.source) for e in examples])
    target_lengths = torch.tensor([len(e.target) for e in examples])
    src = torch.nn.utils.rnn.pad_sequence([e.source for e in examples], batch_first=True)
    target = torch.nn.utils.rnn.pad_sequence([e.target for e in examples], batch_first=True)
    return Batch(src, src_lengths, target, target_lengths)


def batches(
    examples: list[Example],
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """Batches of `batch_size` examples, in order or in a seeded random order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = torch.randperm(len(examples), generator=generator) if shuffle else None
    indices = order.tolist() if order is not None else list(range(len(examples)))
    stop = len(indices) - len(indices) % batch_size if drop_last else len(indices)
    for start in range(0, stop, batch_size):
        yield collate([examples[i] for i in indices[start : start + batch_size]])
