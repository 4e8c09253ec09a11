"""The One Billion Word sentences that the Spelling and words tasks read, and their splits.

Files (in `path`, default $SEARNN_DATA/text): train = 1b_benchmark.test.tokens.txt and
1b_benchmark.dev.tokens.txt after its first `valid_size` lines; valid = the first `valid_size`
lines of 1b_benchmark.dev.tokens.txt; test = 1b_news.en.heldout-00000-of-00050.txt (the
benchmark's standard held-out shard)."""

from __future__ import annotations

import os

from searnn_ext.data.paths import data_folder, require_file
from searnn_ext.data.text import DataError, read_lines

SOURCE = "the One Billion Word benchmark, http://www.statmt.org/lm-benchmark/"
TRAIN_FILES = ("1b_benchmark.test.tokens.txt",)
VALID_FILE = "1b_benchmark.dev.tokens.txt"
TEST_FILE = "1b_news.en.heldout-00000-of-00050.txt"


def sentence_splits(
    path: str | os.PathLike | None, valid_size: int, what: str
) -> tuple[list[str], list[str], list[str]]:
    """(train, valid, test) sentences, as read from the files; `what` names the corpus in
    messages (e.g. "spelling corpus")."""
    folder = data_folder(path, "text", what)

    def read(name: str) -> list[str]:
        return _sentences(require_file(folder, (name,), what, SOURCE))

    dev = read(VALID_FILE)
    train = dev[valid_size:] + [s for name in TRAIN_FILES for s in read(name)]
    return train, dev[:valid_size], read(TEST_FILE)


def _sentences(file) -> list[str]:
    sentences = [line for _, line in read_lines(file) if line.strip()]
    if not sentences:
        raise DataError(file, "no sentences: the file is empty")
    return sentences
