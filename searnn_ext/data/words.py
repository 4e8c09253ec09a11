"""The words task: word-level denoising of One Billion Word sentences, a large output
vocabulary (the paper's scaling section, token sampling, is about such vocabularies), scored
with BLEU. EOS-terminated.

Text: each sentence lower-cased and clipped to its first `max_length` words (default 15); the
text is already tokenized (words and punctuation separated by spaces). Vocabulary: the
`vocabulary_size` (default 5,000) most frequent words of the clipped training sentences (ties
in first-seen order), then <unk> for every other word; outputs add EOS (5,002 tokens).

Corruption of a sentence, with probability `noise` (default 0.1) for each kind, in this order:
adjacent words swapped (scanning left to right; a swapped pair is not swapped again), each
word replaced by a vocabulary word drawn uniformly (never <unk>), each word dropped (a sentence
keeps at least its first remaining word). Sentence i of a split's file is corrupted by a
generator seeded with (seed, split, i); empty lines are then dropped. With `fresh_noise`,
training example i (counted after that) is corrupted anew at each epoch e > 1 with the seed
(seed, e, i), as the Spelling task does. Splits: those of
data.one_billion_word."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import torch

from searnn_ext.data.batching import Example, TaskData, fresh_corruptions
from searnn_ext.data.one_billion_word import sentence_splits
from searnn_ext.data.synthetic import example_seed

UNKNOWN, END = "<unk>", "</s>"


def split_words(sentence: str, max_length: int) -> list[str]:
    return sentence.lower().split()[:max_length]


def word_vocabulary(sentences: list[list[str]], size: int) -> list[str]:
    """The `size` most frequent words, most frequent first (Counter keeps first-seen order
    among equal counts)."""
    counts = Counter(word for sentence in sentences for word in sentence)
    return [word for word, _ in counts.most_common(size)]


def word_encoder(words: list[str]):
    """A function from a list of words to their ids (<unk>, id len(words), for the others)."""
    ids = {word: i for i, word in enumerate(words)}
    unknown = len(words)
    return lambda sentence: [ids.get(word, unknown) for word in sentence]


def corrupt_words(ids: list[int], known: int, noise: float, seed) -> list[int]:
    """The corruption of the module's doc; `known`: the vocabulary words' ids are 0..known-1."""
    rng = np.random.default_rng(seed)
    words = list(ids)
    swaps = rng.random(max(len(words) - 1, 0)) < noise
    i = 0
    while i < len(words) - 1:
        if swaps[i]:
            words[i], words[i + 1] = words[i + 1], words[i]
            i += 2
        else:
            i += 1
    replaced = rng.random(len(words)) < noise
    substitutes = rng.integers(0, known, len(words))
    words = [int(s) if r else w for w, r, s in zip(words, replaced, substitutes, strict=True)]
    kept = rng.random(len(words)) >= noise
    if len(words) and not kept.any():
        kept[0] = True
    return [w for w, keep in zip(words, kept, strict=True) if keep]


def load_words(
    path: str | os.PathLike | None = None,
    *,
    noise: float = 0.1,
    max_length: int = 15,
    vocabulary_size: int = 5000,
    valid_size: int = 2000,
    limit: int | None = None,
    seed: int = 0,
    fresh_noise: bool = True,
    vocabularies: dict[str, list[str]] | None = None,
) -> TaskData:
    """limit: at most this many examples per split; vocabularies: those of an earlier load (a
    checkpoint's), to encode the files with the same ids."""
    if not 0 <= noise <= 1:
        raise ValueError(f"load_words: noise must lie in [0, 1], got {noise}")
    texts = sentence_splits(path, valid_size, "words corpus")
    sentences = [[split_words(s, max_length) for s in split[:limit]] for split in texts]
    if vocabularies is None:
        vocabularies = dict(words=word_vocabulary(sentences[0], vocabulary_size))
    words = vocabularies["words"]
    known, eos = len(words), len(words) + 1
    encode = word_encoder(words)

    def corrupt(clean: list[int], seeds) -> list[int]:
        return corrupt_words(clean, known, noise, seeds)

    splits = []
    for split, split_sentences in enumerate(sentences):
        examples = []
        for index, sentence in enumerate(split_sentences):
            clean = encode(sentence)
            source = corrupt(clean, example_seed(seed, split, index))
            examples.append(
                Example(torch.tensor(source, dtype=torch.long), torch.tensor([*clean, eos]))
            )
        splits.append([e for e in examples if len(e.source)])  # an empty line has no words

    return TaskData(
        name="words",
        train=splits[0],
        valid=splits[1],
        test=splits[2],
        model_options=dict(target_vocab=eos + 1, source_vocab=known + 1, eos_id=eos),
        target_tokens=[*words, UNKNOWN, END],
        vocabularies=vocabularies,
        train_of_epoch=fresh_corruptions(splits[0], corrupt, seed) if fresh_noise else None,
    )
