"""The Spelling task of Bahdanau et al. (2017) as SEARNN uses it: recover a sentence's clean
text from a corrupted copy. EOS-terminated, edit-distance cost.

Text: One Billion Word sentences, lower-cased, each character mapped to the 42-symbol alphabet
(26 letters, 10 digits, ``,.!?``, space, and one unknown symbol for anything else), clipped to
`max_length` characters (the paper: 10). Corruption: each character is replaced, with
probability `noise` (the paper: 0.3 and 0.5), by a character drawn uniformly from the 41 known
symbols (it may draw the same one). Output tokens: the 42 symbols and EOS, the paper's 43
(the decoder's BOS is the model's own extra input). Example i of a split is corrupted by a
generator seeded with (seed, split, i), so every example is reproducible on its own. With
`fresh_noise`, training sentence i is corrupted anew at each epoch e > 1, by a generator
seeded with (seed, e, i), as Bahdanau et al. draw fresh corruption each time a sentence is
seen; epoch 1 shows the fixed corruption, and validation and test keep theirs.

Files and splits: data.one_billion_word (in `path`, default $SEARNN_DATA/text)."""

from __future__ import annotations

import os
import string

import numpy as np
import torch

from searnn_ext.data.batching import Example, TaskData, fresh_corruptions
from searnn_ext.data.one_billion_word import sentence_splits
from searnn_ext.data.synthetic import example_seed

SPELLING_ALPHABET = string.ascii_lowercase + string.digits + ",.!? "
UNKNOWN = "~"  # shown for characters outside the alphabet
SYMBOLS = SPELLING_ALPHABET + UNKNOWN
EOS_ID = len(SYMBOLS)
_CODES = {c: i for i, c in enumerate(SPELLING_ALPHABET)}


def encode_text(text: str, max_length: int) -> list[int]:
    """Lower-cased, clipped, one id per character (unknown characters share one id)."""
    return [_CODES.get(c, len(SPELLING_ALPHABET)) for c in text.lower()[:max_length]]


def corrupt(ids: list[int], noise: float, seed: int | list[int]) -> list[int]:
    rng = np.random.default_rng(seed)
    replace = rng.random(len(ids)) < noise
    substitutes = rng.integers(0, len(SPELLING_ALPHABET), len(ids))
    return [int(s) if r else i for i, r, s in zip(ids, replace, substitutes, strict=True)]


def load_spelling(
    path: str | os.PathLike | None = None,
    *,
    noise: float = 0.3,
    max_length: int = 10,
    valid_size: int = 2000,
    limit: int | None = None,
    seed: int = 0,
    fresh_noise: bool = False,
) -> TaskData:
    """limit: keep at most this many examples per split (quick runs); fresh_noise: a new
    corruption of the training sentences at every epoch (TaskData.train_of)."""
    if not 0 <= noise <= 1:
        raise ValueError(f"load_spelling: noise must lie in [0, 1], got {noise}")
    if max_length < 1:
        raise ValueError(f"load_spelling: max_length must be positive, got {max_length}")
    texts = sentence_splits(path, valid_size, "spelling corpus")
    splits = []
    for split, sentences in enumerate(texts):
        sentences = sentences[:limit] if limit is not None else sentences
        examples = []
        for index, sentence in enumerate(sentences):
            clean = encode_text(sentence, max_length)
            noisy = corrupt(clean, noise, example_seed(seed, split, index))
            examples.append(Example(torch.tensor(noisy), torch.tensor([*clean, EOS_ID])))
        splits.append(examples)

    def corrupt_anew(ids: list[int], seeds: list[int]) -> list[int]:
        return corrupt(ids, noise, seeds)

    return TaskData(
        name="spelling",
        train=splits[0],
        valid=splits[1],
        test=splits[2],
        model_options=dict(target_vocab=EOS_ID + 1, source_vocab=len(SYMBOLS), eos_id=EOS_ID),
        target_tokens=[*SYMBOLS, "</s>"],
        train_of_epoch=fresh_corruptions(splits[0], corrupt_anew, seed) if fresh_noise else None,
    )
