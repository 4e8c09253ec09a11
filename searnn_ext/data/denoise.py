"""A synthetic task that needs no files and on which SEARNN should beat MLE: the paper's Spelling
task in miniature, with insertions and deletions added to the corruption. Recover a sentence
of a small made-up language from a corrupted copy; EOS-terminated, edit-distance cost.

The language: 60 words of 2 to 6 letters over the 12 letters a-l, fixed once for all (like
English for Spelling), drawn with Zipfian frequencies (the k-th word with weight 1/k). A
sentence is words separated by spaces, clipped to 5 to 10 characters, as Spelling clips its
sentences to 10 characters. The corruption, character by character: deleted with probability
INDEL; otherwise replaced with probability `noise` by one of the 13 symbols (it may draw the
same one); then followed, with probability INDEL, by an inserted symbol.

Why SEARNN should win here, and by more than on the reversal task: the output is a copy, so
the decoder is pulled to read its own previous token, and teacher forcing shows it only clean
prefixes, which here are very informative (they spell words of the language). At test time the
prefix is the model's own, and after a slip (a corrupted letter copied, an inserted one kept,
a deleted one missed) the decoder is where training never took it. SEARNN's learned roll-in
trains it there, and its roll-outs score each next token by the edit distance it leads to.
Each example is drawn from a generator seeded with (seed, split, index)."""

from __future__ import annotations

import random
import string

import torch

from searnn_ext.data.batching import Example, TaskData
from searnn_ext.data.synthetic import example_seed

LETTERS = string.ascii_lowercase[:12]
SYMBOLS = LETTERS + " "
EOS_ID = len(SYMBOLS)
WORDS, WORD_LENGTHS, SENTENCE_LENGTHS = 60, (2, 6), (5, 10)
INDEL = 0.05  # the probability of deleting a character, and of inserting one after it
LANGUAGE_SEED = 2018


def language() -> tuple[list[str], list[float]]:
    """The task's words and their Zipfian weights."""
    draw = random.Random(LANGUAGE_SEED)
    words: set[str] = set()
    while len(words) < WORDS:
        words.add("".join(draw.choice(LETTERS) for _ in range(draw.randint(*WORD_LENGTHS))))
    return sorted(words), [1 / rank for rank in range(1, WORDS + 1)]


def sentence(words: list[str], weights: list[float], draw: random.Random) -> str:
    length = draw.randint(*SENTENCE_LENGTHS)
    text = ""
    while len(text) < length:
        text += draw.choices(words, weights)[0] + " "
    return text[:length]


def corrupt(text: str, noise: float, draw: random.Random) -> str:
    out = []
    for character in text:
        if draw.random() < INDEL:
            continue
        out.append(draw.choice(SYMBOLS) if draw.random() < noise else character)
        if draw.random() < INDEL:
            out.append(draw.choice(SYMBOLS))
    return "".join(out) or draw.choice(SYMBOLS)


def load_denoise(
    *, noise: float = 0.3, sizes: tuple[int, int, int] = (2000, 300, 500), seed: int = 0
) -> TaskData:
    """Train / validation / test splits of `sizes` (corrupted, clean) sentences."""
    if not 0 <= noise <= 1:
        raise ValueError(f"load_denoise: noise must lie in [0, 1], got {noise}")
    words, weights = language()
    ids = {symbol: i for i, symbol in enumerate(SYMBOLS)}
    splits = []
    for split, size in enumerate(sizes):
        examples = []
        for index in range(size):
            draw = random.Random(example_seed(seed, split, index))
            clean = sentence(words, weights, draw)
            noisy = corrupt(clean, noise, draw)
            source = torch.tensor([ids[c] for c in noisy])
            examples.append(Example(source, torch.tensor([*(ids[c] for c in clean), EOS_ID])))
        splits.append(examples)
    options = dict(target_vocab=EOS_ID + 1, source_vocab=len(SYMBOLS), eos_id=EOS_ID)
    return TaskData("denoise", *splits, model_options=options, target_tokens=[*SYMBOLS, "</s>"])
