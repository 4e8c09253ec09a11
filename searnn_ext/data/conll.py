"""CoNLL-2000 chunking (Tjong Kim Sang and Buchholz, 2000): words and POS tags in (two input
streams, `src` [S, 2]), BIO chunk tags out. Fixed-length task, Hamming cost.

Word dictionary (paper, Appendix B): lower-cased words seen more than `min_count` (10) times in
the training file, plus the words of a pretrained embedding file when one is given; numbers
(tokens of digits and , . - / : with at least one digit) share <NUM>; everything else is <UNK>.
POS tags: those of the training file, others <UNK>. Output labels: the 22 chunk tags of the
training file (the paper's A = 22) and O; the test file's few tags that training never shows
(I-LST) are mapped to O. Validation: `valid_fraction` of the training sentences, drawn with
`seed`; test: test.txt."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import torch

from searnn_ext.data.batching import Example, TaskData, hold_out
from searnn_ext.data.paths import data_folder, require_file

SOURCE = "https://www.clips.uantwerpen.be/conll2000/chunking/ (train.txt, test.txt)"
UNKNOWN, NUMBER = "<UNK>", "<NUM>"
_NUMBER = re.compile(r"^(?=.*\d)[\d.,\-/:]+$")


def normalise(word: str) -> str:
    return NUMBER if _NUMBER.match(word) else word.lower()


def read_sentences(file: Path) -> list[list[tuple[str, str, str]]]:
    """Sentences as lists of (word, POS, chunk tag)."""
    sentences, current = [], []
    with open(file, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.split()
            if not fields:
                if current:
                    sentences.append(current)
                current = []
                continue
            if len(fields) != 3:
                raise ValueError(f"{file}:{number}: expected 'word POS chunk', got {line!r}")
            current.append((fields[0], fields[1], fields[2]))
    if current:
        sentences.append(current)
    return sentences


def embedding_words(path: str | os.PathLike) -> list[str]:
    with open(path, encoding="utf-8") as lines:
        return [line.split(" ", 1)[0] for line in lines if line.strip()]


def load_embeddings(path: str | os.PathLike, words: list[str]) -> torch.Tensor:
    """A text embedding file (a word and its floats per line) as rows aligned with `words`;
    words the file lacks get N(0, 1) / sqrt(dim) rows."""
    vectors = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            fields = line.rstrip().split(" ")
            if len(fields) > 1:
                vectors[fields[0]] = [float(v) for v in fields[1:]]
    if not vectors:
        raise ValueError(f"load_embeddings: no vectors in {path}")
    dim = len(next(iter(vectors.values())))
    table = torch.randn(len(words), dim) / dim**0.5
    for i, word in enumerate(words):
        if word in vectors:
            table[i] = torch.tensor(vectors[word])
    return table


def load_conll(
    path: str | os.PathLike | None = None,
    *,
    min_count: int = 10,
    embeddings: str | os.PathLike | None = None,
    valid_fraction: float = 0.1,
    seed: int = 0,
) -> TaskData:
    """path: the folder holding train.txt and test.txt (default: $SEARNN_DATA/conll2000)."""
    folder = data_folder(path, "conll2000", "CoNLL-2000 data")
    train_file = require_file(folder, ("train.txt",), "CoNLL-2000 data", SOURCE)
    test_file = require_file(folder, ("test.txt",), "CoNLL-2000 data", SOURCE)
    train, test = read_sentences(train_file), read_sentences(test_file)
    counts = Counter(normalise(w) for sentence in train for w, _, _ in sentence)
    kept = {w for w, c in counts.items() if c > min_count and w != NUMBER}
    if embeddings is not None:
        kept |= {normalise(w) for w in embedding_words(embeddings)} - {NUMBER}
    words = [UNKNOWN, NUMBER, *sorted(kept)]
    tags = [UNKNOWN, *sorted({p for sentence in train for _, p, _ in sentence})]
    labels = sorted({c for sentence in train for _, _, c in sentence} | {"O"})
    word_ids = {w: i for i, w in enumerate(words)}
    tag_ids = {t: i for i, t in enumerate(tags)}
    label_ids = {c: i for i, c in enumerate(labels)}

    def example(sentence) -> Example:
        source = [[word_ids.get(normalise(w), 0), tag_ids.get(p, 0)] for w, p, _ in sentence]
        target = [label_ids.get(c, label_ids["O"]) for _, _, c in sentence]
        return Example(torch.tensor(source), torch.tensor(target))

    kept, held_out = hold_out([example(s) for s in train], valid_fraction, seed)
    return TaskData(
        name="conll",
        train=kept,
        valid=held_out,
        test=[example(s) for s in test],
        model_options=dict(target_vocab=len(labels), source_vocab=(len(words), len(tags))),
        cost="hamming",
        target_tokens=labels,
        source_tokens=words,
    )
