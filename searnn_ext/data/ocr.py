"""The OCR handwritten-words data of Taskar et al. (2003): 16x8 binary letter images, 128
features per letter, 26 output letters; each word's first (capital) letter is missing from the
data, as in the original. Fixed-length task, Hamming cost.

Split: the words of fold `test_fold` are the test set, the other nine folds the training set
(SEARNN's choice: train on fold != split); `valid_fraction` of the training words, drawn with
`seed`, are held out for validation."""

from __future__ import annotations

import os
import string
from collections.abc import Iterable

import torch

from searnn_ext.data.batching import Example, TaskData, hold_out
from searnn_ext.data.paths import data_folder, require_file
from searnn_ext.data.text import DataError, finite_numbers, read_lines

SOURCE = "http://ai.stanford.edu/~btaskar/ocr/ (letter.data.gz)"
LETTERS = string.ascii_lowercase
FOLDS = 10
FOLD_FIELDS = {str(fold) for fold in range(FOLDS)}  # what the fold field may hold
LETTER_IDS = {letter: i for i, letter in enumerate(LETTERS)}
FIELDS = 6 + 128


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
    words = read_letter_words(read_lines(file), file)
    test = [example for fold, example in words if fold == test_fold]
    train = [example for fold, example in words if fold != test_fold]
    if not test:
        raise DataError(file, f"no word is in fold {test_fold}: the test split would be empty")
    train, valid = hold_out(train, valid_fraction, seed)
    return TaskData(
        name="ocr",
        train=train,
        valid=valid,
        test=test,
        model_options=dict(target_vocab=len(LETTERS), source_features=128),
        target_tokens=list(LETTERS),
    )


def read_letter_words(lines: Iterable[tuple[int, str]], name) -> list[tuple[int, Example]]:
    """The words of letter.data lines ((number, text) pairs, as data.text.read_lines gives
    them) as (fold, Example); a letter's fields: id, letter, next id (-1 ends a word), word
    id, position, fold (0 to 9), 128 pixels (0 or 1); blank lines are skipped. `name` is the
    file's name in messages."""
    words, pixels, letters = [], [], []
    for number, line in lines:
        fields = line.split()
        if not fields:
            continue
        if len(fields) != FIELDS:
            raise DataError(name, f"expected {FIELDS} fields, got {len(fields)}", number)
        if fields[1] not in LETTER_IDS:
            raise DataError(name, f"the letter field is {fields[1]!r}, not a-z", number)
        if fields[5] not in FOLD_FIELDS:
            raise DataError(name, f"the fold is {fields[5]!r}, not 0 to {FOLDS - 1}", number)
        fold = int(fields[5])
        pixels.append(finite_numbers(fields[6:], name, number, "the pixels"))
        letters.append(LETTER_IDS[fields[1]])
        if fields[2] == "-1":  # the word's last letter
            source = torch.tensor(pixels, dtype=torch.float32)
            words.append((fold, Example(source, torch.tensor(letters))))
            pixels, letters = [], []
    if letters:
        raise DataError(name, "the last word does not end (no letter with next id -1)")
    if not words:
        raise DataError(name, "no letters: the file is empty")
    return words
