"""The tasks `searnn` trains on, by name: each one's loader and data options, the model and
optimiser it defaults to (the paper's, section 4 and appendix B; ours for the synthetic
tasks), how its model is built, and its text form: how `searnn predict` reads its sources and
writes its outputs."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from searnn_ext.data import conll, denoise, ocr, pairs, spelling, synthetic
from searnn_ext.data.batching import TaskData
from searnn_ext.data.text import DataError
from searnn_ext.evaluation import decode_length
from searnn_ext.model import Seq2Seq
from searnn_ext.options import flag
from searnn_ext.run import OPTIMIZERS, ModelConfig, OptimizerConfig, RunConfig

Lines = Iterable[tuple[int, str]]  # (line number, text), as searnn_ext.data.text reads them


@dataclasses.dataclass
class TaskRecord:
    """What a trained model needs to know of its data, without the data (a checkpoint keeps
    it): the Seq2Seq options the data fixed, the output ids' names, the vocabularies the loader
    built (searnn_ext.data.TaskData), and the EOS tasks' decoding budget (twice the longest
    training target)."""

    model_options: dict[str, Any]
    target_tokens: list[str]
    vocabularies: dict[str, list[str]]
    decode_length: int

    @classmethod
    def of(cls, data: TaskData) -> TaskRecord:
        return cls(
            dict(data.model_options),
            list(data.target_tokens),
            dict(data.vocabularies),
            decode_length(data.train),
        )


@dataclasses.dataclass(frozen=True)
class Task:
    """load(path, vocabularies, **data_options) -> TaskData; data_options: the DataOptions it
    takes, with their defaults; defaults: its ModelConfig and OptimizerConfig values;
    read_sources(lines, name, record, data_options) -> the sources of `searnn predict`'s input;
    show(ids, record, data_options) -> an output's text; vocabularies: the names of the token
    lists its loader builds from the training data (TaskData.vocabularies)."""

    load: Callable[..., TaskData]
    data_options: dict[str, Any]
    defaults: dict[str, Any]
    read_sources: Callable[[Lines, str, TaskRecord, dict], list[Tensor]]
    show: Callable[[list[int], TaskRecord, dict], str]
    input_form: str  # for --help
    vocabularies: tuple[str, ...] = ()


MODEL_DEFAULTS = dict(layers=1, bidirectional=False, input_feeding=False, dropout=0.0)
# Ours: small enough to learn the synthetic tasks in a minute or two on a CPU.
SYNTHETIC_DEFAULTS = dict(
    hidden_size=64, attention="additive", optimizer="adam", lr=3e-3, batch_size=64
)


def _letters(tokens: list[int], record: TaskRecord, options: dict) -> str:
    return "".join(record.target_tokens[i] for i in tokens)


def _each_line(encode: Callable[[str, int], Tensor]):
    """A read_sources that encodes each line on its own; an empty line is an error."""

    def read(lines: Lines, name: str, record: TaskRecord, options: dict) -> list[Tensor]:
        sources = []
        for number, line in lines:
            source = encode(line, number)
            if not len(source):
                raise DataError(name, "an empty source", number)
            sources.append(source)
        return sources

    return read


def _read_letter_lines(lines: Lines, name: str, record: TaskRecord, options: dict):
    ids = {letter: i for i, letter in enumerate(record.target_tokens)}

    def encode(line: str, number: int) -> Tensor:
        unknown = sorted(set(line) - set(ids))
        if unknown:
            symbols = "".join(t for t in record.target_tokens if len(t) == 1)
            raise DataError(name, f"{unknown[0]!r} is not one of {symbols!r}", number)
        return torch.tensor([ids[c] for c in line], dtype=torch.long)

    return _each_line(encode)(lines, name, record, options)


def _read_spelling(lines: Lines, name: str, record: TaskRecord, options: dict):
    def encode(line: str, number: int) -> Tensor:
        return torch.tensor(spelling.encode_text(line, options["max_length"]), dtype=torch.long)

    return _each_line(encode)(lines, name, record, options)


def _read_pairs(lines: Lines, name: str, record: TaskRecord, options: dict):
    encode_source = pairs.source_encoder(record.vocabularies)

    def encode(line: str, number: int) -> Tensor:
        source = line.split("\t", 1)[0]  # a source<TAB>target line: the target is ignored
        return encode_source(pairs.split_units(source, options["units"])).long()

    return _each_line(encode)(lines, name, record, options)


def _show_pairs(tokens: list[int], record: TaskRecord, options: dict) -> str:
    return pairs.join_units([record.target_tokens[i] for i in tokens], options["units"])


def _read_ocr(lines: Lines, name: str, record: TaskRecord, options: dict):
    return [example.source for _, example in ocr.read_letter_words(lines, name)]


def _read_conll(lines: Lines, name: str, record: TaskRecord, options: dict):
    encode = conll.sentence_encoder(record.vocabularies)
    return [encode(s) for s in conll.read_sentences(lines, name, with_chunks=False)]


def _show_tags(tokens: list[int], record: TaskRecord, options: dict) -> str:
    return " ".join(record.target_tokens[i] for i in tokens)


def _sizes(limit: int | None, valid: int, test: int) -> dict:
    """A synthetic task's split sizes under --limit (default: its own)."""
    if limit is None:
        return {}
    return dict(sizes=(limit, min(valid, limit), min(test, limit)))


TASKS: dict[str, Task] = {
    "ocr": Task(
        load=lambda path, vocabularies: ocr.load_ocr(path),
        data_options={},
        defaults=dict(hidden_size=128, attention="none", optimizer="sgd", lr=0.5, batch_size=64),
        read_sources=_read_ocr,
        show=_letters,
        input_form="letter.data lines; one word per output line",
    ),
    "conll": Task(
        load=lambda path, vocabularies, embeddings: conll.load_conll(
            path, embeddings=embeddings, vocabularies=vocabularies
        ),
        data_options=dict(embeddings=None),
        defaults=dict(
            hidden_size=172,
            layers=2,
            bidirectional=True,
            attention="additive",
            input_feeding=True,
            dropout=0.3,
            optimizer="adadelta",
            lr=1.0,
            batch_size=64,
        ),
        read_sources=_read_conll,
        show=_show_tags,
        input_form="'word POS' lines, a blank line after each sentence; one line of chunk tags "
        "per sentence",
        vocabularies=("words", "tags", "labels"),
    ),
    "spelling": Task(
        load=lambda path, vocabularies, noise, max_length, limit: spelling.load_spelling(
            path, noise=noise, max_length=max_length, limit=limit
        ),
        data_options=dict(noise=0.3, max_length=10, limit=None),
        defaults=dict(
            hidden_size=100, attention="additive", optimizer="adam", lr=1e-3, batch_size=128
        ),
        read_sources=_read_spelling,
        show=_letters,
        input_form="a text per line; its correction per output line",
    ),
    "synthetic": Task(
        load=lambda path, vocabularies, limit: synthetic.load_synthetic(**_sizes(limit, 200, 200)),
        data_options=dict(limit=None),
        defaults=SYNTHETIC_DEFAULTS,
        read_sources=_read_letter_lines,
        show=_letters,
        input_form="letters per line; their reversal per output line",
    ),
    "denoise": Task(
        load=lambda path, vocabularies, noise, limit: denoise.load_denoise(
            noise=noise, **_sizes(limit, 300, 500)
        ),
        data_options=dict(noise=0.3, limit=None),
        defaults=SYNTHETIC_DEFAULTS,
        read_sources=_read_letter_lines,
        show=_letters,
        input_form="a corrupted sentence per line (letters a-l and spaces); its correction per "
        "output line",
    ),
    "pairs": Task(
        load=lambda path, vocabularies, units: pairs.load_pairs(
            path, units=units, vocabularies=vocabularies
        ),
        data_options=dict(units="chars"),
        defaults=dict(
            hidden_size=128, attention="additive", optimizer="adam", lr=1e-3, batch_size=64
        ),
        read_sources=_read_pairs,
        show=_show_pairs,
        input_form="a source per line (or source<TAB>target: the target is ignored); its "
        "prediction per output line",
        vocabularies=("source", "target"),
    ),
}
FILE_TASKS = ("ocr", "conll", "spelling", "pairs")  # the tasks that read a --data folder


def task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {name!r}")
    return TASKS[name]


def resolve(run: RunConfig) -> RunConfig:
    """`run` with every None of its model, optimizer and data options replaced by the task's
    default, and its paths made absolute. A data option that the task does not take, or a
    data folder for a task that reads none, is a ValueError naming it."""
    chosen = task(run.task)
    foreign = sorted(set(run.data_options) - set(chosen.data_options))
    if foreign:
        flags = ", ".join(flag(name) for name in foreign)
        raise ValueError(f"{flags}: not an option of the {run.task} task")
    data_options = dict(chosen.data_options)
    data_options.update({k: v for k, v in run.data_options.items() if v is not None})
    defaults = {**MODEL_DEFAULTS, **chosen.defaults}

    def filled(section):
        values = dataclasses.asdict(section)
        return type(section)(**{k: defaults[k] if v is None else v for k, v in values.items()})

    if run.data is not None and run.task not in FILE_TASKS:
        raise ValueError(f"--data: the {run.task} task reads no files")
    if data_options.get("embeddings") is not None:
        data_options["embeddings"] = _absolute(data_options["embeddings"])
    return dataclasses.replace(
        run,
        data=None if run.data is None else _absolute(run.data),
        data_options=data_options,
        model=filled(run.model),
        optimizer=filled(run.optimizer),
    )


def _absolute(path: str | os.PathLike) -> str:
    """Paths are recorded absolute, so that a run resumed from elsewhere finds its files."""
    return str(Path(path).resolve())


def load_data(run: RunConfig, vocabularies: dict | None = None) -> TaskData:
    """The run's dataset (`run` resolved); vocabularies: a checkpoint's, to encode the files
    with the ids its model was trained on."""
    return task(run.task).load(run.data, vocabularies or None, **run.data_options)


def build_model(run: RunConfig, record: TaskRecord) -> Seq2Seq:
    """A fresh Seq2Seq for `run` (resolved) on data described by `record`."""
    config: ModelConfig = run.model
    return Seq2Seq(
        hidden_size=config.hidden_size,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        attention=None if config.attention == "none" else config.attention,
        input_feeding=config.input_feeding,
        dropout=config.dropout,
        **record.model_options,
    )


def with_pretrained_embeddings(model: Seq2Seq, path: str | os.PathLike, words: list[str]):
    """Copies a word-vector file's rows into the model's word embeddings (conll; the loader
    sized them after the file)."""
    with torch.no_grad():
        model.source_embeddings[0].weight.copy_(conll.load_embeddings(path, words))
    return model


def build_optimizer(config: OptimizerConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr)


def defaults_text() -> str:
    """Each task's defaults, for --help."""
    lines = []
    for name, entry in TASKS.items():
        model = {k: v for k, v in MODEL_DEFAULTS.items() if k not in entry.defaults}
        settings = {**entry.defaults, **model, **entry.data_options}
        text = ", ".join(f"{k}={v}" for k, v in settings.items())
        lines.append(
            textwrap.fill(text, 88, initial_indent=f"  {name}: ", subsequent_indent="    ")
        )
    return "\n".join(lines)
