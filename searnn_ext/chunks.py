"""BIO chunks (CoNLL-2000's): the chunks of a tag sequence, the corpus F1 the task reports, and
the chunk F1 cost, 1 - F1 of each tag sequence's chunks against its reference's. The cost scores
the output tokens' names, so it is made for a task's names (costs.Cost.named); its scorer is
plain Python, reading each distinct sequence's chunks once per call."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from searnn_ext import torch_path


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


def chunk_f1_scorer(token_names: Sequence[str]) -> Callable[..., Tensor]:
    """The scorer (hyp, hyp_lengths, ref, ref_lengths, ref_index, *, backend) -> float32 [N]
    costs in [0, 1] for a task whose output ids name `token_names` (BIO tags); `backend` is
    the cost ops' argument, which plain Python has no use for. Two sequences without chunks
    agree perfectly (cost 0); one side without chunks costs 1."""
    names = list(token_names)
    not_tags = [name for name in names if name != "O" and name[:2] not in ("B-", "I-")]
    if not_tags:
        raise ValueError(
            f"chunk_f1 scores BIO tags (O, B-X, I-X); this task's output tokens include "
            f"{not_tags[0]!r}"
        )

    def score(hyp, hyp_lengths, ref, ref_lengths, ref_index, *, backend="auto") -> Tensor:
        torch_path.check_pair_inputs("chunk_f1", hyp, hyp_lengths, ref, ref_lengths, ref_index)
        index = range(hyp.shape[0]) if ref_index is None else ref_index.tolist()
        hyps = [row[:n] for row, n in zip(hyp.tolist(), hyp_lengths.tolist(), strict=True)]
        refs = [row[:n] for row, n in zip(ref.tolist(), ref_lengths.tolist(), strict=True)]
        for name, rows in (("hyp", hyps), ("ref", refs)):  # padding may hold anything
            if any(not 0 <= i < len(names) for row in rows for i in row):
                raise ValueError(f"chunk_f1: {name} holds ids outside the {len(names)} token names")
        read = _ChunkReader(names)
        costs = [1.0 - _f1(read(h), read(refs[r])) for h, r in zip(hyps, index, strict=True)]
        return torch.tensor(costs, dtype=torch.float32, device=hyp.device)

    return score


class _ChunkReader:
    """The chunks of id sequences, each distinct sequence read once."""

    def __init__(self, names: list[str]) -> None:
        self.names, self.seen = names, {}

    def __call__(self, ids: list[int]) -> frozenset:
        key = tuple(ids)
        if key not in self.seen:
            self.seen[key] = frozenset(chunks([self.names[i] for i in ids]))
        return self.seen[key]


def _f1(guess: frozenset, truth: frozenset) -> float:
    if not guess and not truth:
        return 1.0
    hits = len(guess & truth)
    return 2 * hits / (len(guess) + len(truth))
