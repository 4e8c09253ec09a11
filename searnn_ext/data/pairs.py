"""Your own data: a folder of `source<TAB>target` lines, one example a line.

    DIR/train.tsv   the training examples; the vocabularies come from it
    DIR/test.tsv    the test examples
    DIR/valid.tsv   optional validation examples (default: `valid_fraction` of train.tsv,
                    drawn with `seed`)

Tokens are characters (`units="chars"`) or whitespace-separated words (`units="words"`). The
source vocabulary is the training sources' tokens plus <unk>, which stands for any token they
lack. The target vocabulary is the training targets' tokens plus </s> (EOS), which ends every
target: the model decides the output's length. A test target token that train.tsv never shows
cannot be predicted: it counts as an error. Blank lines are skipped; any other line needs
exactly one tab, with a source and a target on either side. As on every EOS task, the cost is
the edit distance unless SearnnConfig.cost says otherwise."""

from __future__ import annotations

import os

import torch

from searnn_ext.data.batching import Example, TaskData, hold_out
from searnn_ext.data.paths import data_folder
from searnn_ext.data.text import DataError, read_lines

UNITS = ("chars", "words")
UNKNOWN, EOS = "<unk>", "</s>"
# Target tokens unknown to the vocabulary get this id: the model's outputs (ids >= 0) never
# equal it, and the cost ops compare ids for equality only.
NEVER_PREDICTED = -1


def split_units(text: str, units: str) -> list[str]:
    """The tokens of `text`: its characters, or its whitespace-separated words."""
    return list(text) if units == "chars" else text.split()


def join_units(tokens: list[str], units: str) -> str:
    """The inverse of split_units (words are joined by one space)."""
    return "".join(tokens) if units == "chars" else " ".join(tokens)


def read_pairs(file: str | os.PathLike, units: str) -> list[tuple[list[str], list[str]]]:
    """The (source tokens, target tokens) of each non-blank line of a TSV file."""
    pairs = []
    for number, line in read_lines(file):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            found = "no tab" if len(fields) == 1 else f"{len(fields) - 1} tabs"
            raise DataError(file, f"expected 'source<TAB>target', found {found}", number)
        source, target = (split_units(field, units) for field in fields)
        for side, tokens in (("source", source), ("target", target)):
            if not tokens:
                raise DataError(file, f"the {side} is empty", number)
        pairs.append((source, target))
    if not pairs:
        raise DataError(file, "no examples: the file is empty")
    return pairs


def pairs_vocabularies(pairs: list[tuple[list[str], list[str]]]) -> dict[str, list[str]]:
    """source: <unk> then the sources' tokens; target: the targets' tokens then </s>."""
    sources = sorted({token for source, _ in pairs for token in source})
    targets = sorted({token for _, target in pairs for token in target})
    return dict(source=[UNKNOWN, *sources], target=[*targets, EOS])


def source_encoder(vocabularies: dict[str, list[str]]):
    """A function from source tokens to their int64 ids (<unk> for unknown tokens)."""
    ids = {token: i for i, token in enumerate(vocabularies["source"])}
    return lambda tokens: torch.tensor([ids.get(token, 0) for token in tokens])


def load_pairs(
    path: str | os.PathLike | None,
    *,
    units: str = "chars",
    valid_fraction: float = 0.1,
    seed: int = 0,
    vocabularies: dict[str, list[str]] | None = None,
) -> TaskData:
    """path: the folder holding train.tsv, test.tsv and optionally valid.tsv (default:
    $SEARNN_DATA/pairs). vocabularies: those of an earlier load (a checkpoint's), to encode
    the files with the same ids."""
    if units not in UNITS:
        raise ValueError(f"load_pairs: units must be one of {UNITS}, got {units!r}")
    folder = data_folder(path, "pairs", "pairs task")
    for name in ("train.tsv", "test.tsv"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"the pairs task needs {name} in {folder} (source<TAB>target lines)"
            )
    train = read_pairs(folder / "train.tsv", units)
    if vocabularies is None:
        vocabularies = pairs_vocabularies(train)
    encode_source = source_encoder(vocabularies)
    target_ids = {token: i for i, token in enumerate(vocabularies["target"])}
    eos_id = target_ids[EOS]

    def examples(pairs) -> list[Example]:
        return [
            Example(
                encode_source(source),
                torch.tensor([*(target_ids.get(t, NEVER_PREDICTED) for t in target), eos_id]),
            )
            for source, target in pairs
        ]

    train_examples = examples(train)
    if any(bool((e.target == NEVER_PREDICTED).any()) for e in train_examples):
        raise DataError(
            folder / "train.tsv",
            "has target tokens that the given vocabularies lack (the file changed since they "
            "were built?)",
        )
    valid_file = folder / "valid.tsv"
    if valid_file.is_file():
        valid = examples(read_pairs(valid_file, units))
    else:
        train_examples, valid = hold_out(train_examples, valid_fraction, seed)
    return TaskData(
        name="pairs",
        train=train_examples,
        valid=valid,
        test=examples(read_pairs(folder / "test.tsv", units)),
        model_options=dict(
            target_vocab=len(vocabularies["target"]),
            source_vocab=len(vocabularies["source"]),
            eos_id=eos_id,
        ),
        target_tokens=vocabularies["target"],
        vocabularies=vocabularies,
    )
