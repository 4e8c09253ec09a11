"""The OCR handwritten-words data of Taskar et al. (2003): 16x8 binary letter images, 128
features per letter, 26 output letters; each word's first (capital) letter is missing from the
data, as in the original. Fixed-length task, Hamming cost.

Split: the words of fold `test_fold` are the test set, the other nine folds the training set
(SEARNN's choice: train on fold != split); `valid_fraction` of the training words, drawn with
`seed`, are held out for validation."""

from __future__ import annotations

import gzip
import os
import string

import torch

from searnn_ext.data.batching import Example, TaskData, hold_out
from searnn_ext.data.paths import data_folder, require_file

SOURCE = "http://ai.stanford.edu/~btaskar/ocr/ (letter.data.gz)"
LETTERS = string.ascii_lowercase
FOLDS = 10


def load_ocr(
    path: str | os.PathLike | None = None,
    *,
    test_fold: int = 0,
    valid_fraction: float = 0.1,
    seed: int = 0,
) -> TaskData:
    """path: the folder holding letter.data or letter.data.gz (default: $SEARNN_DATA/ocr)."""
    if not 0 <= test_fold < FOLDS:
        raise ValueError(f"load_ocr: test_fold must lie in [0, {FOLDS}), got {test_fold}")
    folder = data_folder(path, "ocr", "OCR data")
    file = require_file(folder, ("letter.data", "letter.data.gz"), "OCR data", SOURCE)
    words = _read_words(file)
    test = [example for fold, example in words if fold == test_fold]
    train = [example for fold, example in words if fold != test_fold]
    train, valid = hold_out(train, valid_fraction, seed)
    return TaskData(
        name="ocr",
        train=train,
        valid=valid,
        test=test,
        model_options=dict(target_vocab=len(LETTERS), source_features=128),
        cost="hamming",
        target_tokens=list(LETTERS),
    )


def _read_words(file) -> list[tuple[int, Example]]:
    opener = gzip.open if file.suffix == ".gz" else open
    words, pixels, letters = [], [], []
    with opener(file, "rt") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.split()
            if len(fields) != 134:
                raise ValueError(f"{file}:{number}: expected 134 fields, got {len(fields)}")
            letters.append(LETTERS.index(fields[1]))
            pixels.append([float(p) for p in fields[6:]])
            if fields[2] == "-1":  # the word's last letter
                source = torch.tensor(pixels, dtype=torch.float32)
                words.append((int(fields[5]), Example(source, torch.tensor(letters))))
                pixels, letters = [], []
    return words
