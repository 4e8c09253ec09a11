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
from collections.abc import Callable, Iterable

import torch

from searnn_ext.data.batching import Example, TaskData, hold_out
from searnn_ext.data.paths import data_folder, require_file
from searnn_ext.data.text import DataError, finite_numbers, read_lines

SOURCE = "https://www.clips.uantwerpen.be/conll2000/chunking/ (train.txt, test.txt)"
UNKNOWN, NUMBER = "<UNK>", "<NUM>"
_NUMBER = re.compile(r"^(?=.*\d)[\d.,\-/:]+$")
_WORD2VEC_HEADER = re.compile(r"[0-9]+\s+[0-9]+")


def normalise(word: str) -> str:
    return NUMBER if _NUMBER.match(word) else word.lower()


def read_sentences(
    lines: Iterable[tuple[int, str]], name, *, with_chunks: bool = True
) -> list[list[tuple[str, ...]]]:
    """Sentences (separated by blank lines) as lists of (word, POS, chunk tag), or of (word,
    POS) when not `with_chunks` (a third column is then ignored). `lines`: (number, text)
    pairs as data.text.read_lines gives them; `name` is the file's name in messages."""
    wanted = "word POS chunk" if with_chunks else "word POS [chunk]"
    sentences, current = [], []
    for number, line in lines:
        fields = line.split()
        if not fields:
            if current:
                sentences.append(current)
            current = []
            continue
        if len(fields) != 3 and (with_chunks or len(fields) != 2):
            raise DataError(name, f"expected '{wanted}', got {line!r}", number)
        current.append(tuple(fields[: 3 if with_chunks else 2]))
    if current:
        sentences.append(current)
    if not sentences:
        raise DataError(name, "no sentences: the file is empty")
    return sentences


def read_vectors(path: str | os.PathLike) -> dict[str, list[float]]:
    """A text embedding file: a word and its numbers per line, separated by any whitespace,
    every line as long; a first line of two integers is word2vec's header (the number of
    vectors, their size), checked against the lines below it."""
    vectors, count, dim, rows = {}, None, None, 0
    for number, line in read_lines(path):
        fields = line.split()
        if number == 1 and _WORD2VEC_HEADER.fullmatch(line.strip()):
            count, dim = map(int, fields)
            continue
        if not fields:
            continue
        word = fields[0]
        if len(fields) == 1:
            raise DataError(path, f"expected a word and its numbers, got only {word!r}", number)
        vector = finite_numbers(fields[1:], path, number, f"the vector of {word!r}")
        if dim is not None and len(vector) != dim:
            source = "earlier lines have" if count is None else "the header (line 1) says"
            raise DataError(path, f"{len(vector)} numbers, where {source} {dim}", number)
        vectors[word], dim = vector, len(vector)
        rows += 1
    if not vectors:
        raise DataError(path, "no vectors: the file is empty")
    if count is not None and count != rows:
        raise DataError(path, f"the header announces {count} vectors, the file has {rows}", 1)
    return vectors


def load_embeddings(path: str | os.PathLike, words: list[str]) -> torch.Tensor:
    """A text embedding file (a word and its floats per line) as rows aligned with `words`;
    words the file lacks get N(0, 1) / sqrt(dim) rows."""
    vectors = read_vectors(path)
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
    vocabularies: dict[str, list[str]] | None = None,
) -> TaskData:
    """path: the folder holding train.txt and test.txt (default: $SEARNN_DATA/conll2000).
    vocabularies: the words, tags and labels of an earlier load (a checkpoint's), to encode the
    files with the same ids; by default they come from train.txt (and `embeddings`)."""
    folder = data_folder(path, "conll2000", "CoNLL-2000 data")
    train_file = require_file(folder, ("train.txt",), "CoNLL-2000 data", SOURCE)
    test_file = require_file(folder, ("test.txt",), "CoNLL-2000 data", SOURCE)
    train = read_sentences(read_lines(train_file), train_file)
    test = read_sentences(read_lines(test_file), test_file)
    vectors = {}
    if vocabularies is None:
        vectors = read_vectors(embeddings) if embeddings is not None else {}
        vocabularies = conll_vocabularies(train, min_count, vectors)
    labels = vocabularies["labels"]
    label_ids = {c: i for i, c in enumerate(labels)}
    encode = sentence_encoder(vocabularies)

    def example(sentence) -> Example:
        target = [label_ids.get(c, label_ids["O"]) for _, _, c in sentence]
        return Example(encode(sentence), torch.tensor(target))

    kept, held_out = hold_out([example(s) for s in train], valid_fraction, seed)
    return TaskData(
        name="conll",
        train=kept,
        valid=held_out,
        test=[example(s) for s in test],
        model_options=dict(
            target_vocab=len(labels),
            source_vocab=(len(vocabularies["words"]), len(vocabularies["tags"])),
            # Pretrained vectors fix the embeddings' size (given vocabularies, the caller has
            # the model, and its size, already).
            **({"embedding_size": len(next(iter(vectors.values())))} if vectors else {}),
        ),
        target_tokens=labels,
        vocabularies=vocabularies,
    )


def conll_vocabularies(sentences, min_count: int, vectors: dict) -> dict[str, list[str]]:
    """The word dictionary (with the words of pretrained `vectors`), the POS tags and the
    output labels (see the module's doc)."""
    counts = Counter(normalise(w) for sentence in sentences for w, _, _ in sentence)
    kept = {w for w, c in counts.items() if c > min_count and w != NUMBER}
    kept |= {normalise(w) for w in vectors} - {NUMBER}
    return dict(
        words=[UNKNOWN, NUMBER, *sorted(kept)],
        tags=[UNKNOWN, *sorted({p for sentence in sentences for _, p, _ in sentence})],
        labels=sorted({c for sentence in sentences for _, _, c in sentence} | {"O"}),
    )


def sentence_encoder(vocabularies: dict[str, list[str]]) -> Callable[[list], torch.Tensor]:
    """A function from a sentence of (word, POS, ...) to int64 [S, 2], each token's word id and
    POS tag id (<UNK> for unknown ones)."""
    word_ids = {w: i for i, w in enumerate(vocabularies["words"])}
    tag_ids = {t: i for i, t in enumerate(vocabularies["tags"])}

    def encode(sentence) -> torch.Tensor:
        ids = [[word_ids.get(normalise(w), 0), tag_ids.get(p, 0)] for w, p, *_ in sentence]
        return torch.tensor(ids)

    return encode
