"""Small dataset files in each task's format, written by the tests so that they run without the
shared data folder."""

import random

SPELLING_FILES = (
    "1b_benchmark.test.tokens.txt",
    "1b_benchmark.dev.tokens.txt",
    "1b_news.en.heldout-00000-of-00050.txt",
)
CONLL_SENTENCE = "He PRP B-NP\nreckons VBZ B-VP\nthe DT B-NP\ndeficit NN I-NP\n. . O\n\n"


def write_ocr(folder, words=40):
    """letter.data lines: id, letter, next id (-1 ends a word), word id, position, fold, 128
    pixels; word w is in fold w % 10."""
    draw = random.Random(0)
    lines, letter_id = [], 0
    for word in range(words):
        text = "".join(draw.choice("abcdef") for _ in range(draw.randint(1, 5)))
        for position, letter in enumerate(text):
            letter_id += 1
            following = -1 if position == len(text) - 1 else letter_id + 1
            pixels = " ".join(draw.choice("01") for _ in range(128))
            fields = f"{letter_id} {letter} {following} {word} {position + 1} {word % 10}"
            lines.append(f"{fields} {pixels}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "letter.data").write_text("\n".join(lines) + "\n")
    return folder


def write_spelling(folder, sentences=30):
    """The three One Billion Word files, each holding the same numbered sentences."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(f"sentence number {i} , here !\n" for i in range(sentences))
    for name in SPELLING_FILES:
        (folder / name).write_text(text)
    return folder


def write_conll(folder, train=12, test=3):
    """train.txt and test.txt repeating one sentence."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(CONLL_SENTENCE * train)
    (folder / "test.txt").write_text(CONLL_SENTENCE * test)
    return folder
