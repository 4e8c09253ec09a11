"""The tasks `searnn` trains on, by name: one record (Task) per task owns everything about it:
its loader and the files it reads, its data options (kinds, defaults, help), the model and
optimiser it defaults to (the paper's, section 4 and appendix B; ours for the synthetic
tasks), its extra metrics, its pretrained-embedding setup, and its text form: how `searnn
predict` reads its sources and writes its outputs. The command line, fit, inference,
reproduce and the benchmarks read the records; adding a task is a data module and a record
(`register`)."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from searnn_ext.config import (
    OPTIMIZERS,
    RECURRENT_ONLY,
    TRANSFORMER,
    TRANSFORMER_ONLY,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    options_of_other_cells,
)
from searnn_ext.data import conll, denoise, ocr, pairs, spelling, synthetic, words
from searnn_ext.data.batching import TaskData
from searnn_ext.data.text import DataError
from searnn_ext.evaluation import chunk_f1_of_model, corpus_bleu_of_model, decode_length
from searnn_ext.model import Seq2Seq
from searnn_ext.options import (
    MAX_LENGTH,
    Choice,
    Integer,
    Kind,
    Switch,
    Text,
    examples,
    flag,
    probability,
)
from searnn_ext.transformer import TransformerSeq2Seq

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
class DataOption:
    """An option of a task's data: `searnn train --<name>` for the tasks that take it. absent:
    the value that gives what a run recorded before the option existed did (its default, unless
    the new option changes the task's behaviour by default)."""

    default: Any
    help: str
    kind: Kind
    absent: Any = None


@dataclasses.dataclass(frozen=True)
class Metric:
    """A task's measure beside its error: compute(model, examples, record, beam=, device=)."""

    title: str  # as printed: "test chunk F1 93.20"
    compute: Callable[..., float]


@dataclasses.dataclass(frozen=True)
class Task:
    """load(path, vocabularies, **data_options) -> TaskData; data_options: the DataOptions it
    takes, by name; defaults: its ModelConfig and OptimizerConfig values; read_sources(lines,
    name, record, data_options) -> the sources of `searnn predict`'s input; show(ids, record,
    data_options) -> an output's text; files: what its --data folder holds (none: it reads no
    files); vocabularies: the names of the token lists its loader builds from the training data
    (TaskData.vocabularies); metrics: its measures beside the error, by name; pretrained(model,
    data_options, record): copies pretrained weights into a fresh model, where its data options
    name some; cost: its test error's cost, where it is not the model's natural one (Hamming
    for fixed-length outputs, edit distance for EOS ones)."""

    load: Callable[..., TaskData]
    data_options: dict[str, DataOption]
    defaults: dict[str, Any]
    read_sources: Callable[[Lines, str, TaskRecord, dict], list[Tensor]]
    show: Callable[[list[int], TaskRecord, dict], str]
    input_form: str  # for --help
    files: str = ""
    vocabularies: tuple[str, ...] = ()
    metrics: dict[str, Metric] = dataclasses.field(default_factory=dict)
    pretrained: Callable[[Seq2Seq, dict, TaskRecord], None] | None = None
    cost: str | None = None


def limit_option(default: int | None = None) -> DataOption:
    return DataOption(default, "examples per split, for quick runs", examples)


def noise_option(default: float) -> DataOption:
    return DataOption(
        default,
        "the corruption's probability (spelling and denoise: of replacing a character; words: "
        "of each of its corruptions of a word)",
        probability,
    )


def max_length_option(default: int) -> DataOption:
    return DataOption(
        default,
        "the sentence length kept (spelling: characters; words: words)",
        Integer(1, MAX_LENGTH),
    )


def fresh_noise_option() -> DataOption:
    return DataOption(
        True,
        "a new corruption of every training sentence at each epoch, seeded by the epoch and "
        "the sentence (off: the same corruption every epoch)",
        Switch(),
        absent=False,
    )


MODEL_DEFAULTS = dict(
    cell="gru",
    layers=1,
    bidirectional=False,
    input_feeding=False,
    dropout=0.0,
    heads=4,
    ffn_size=512,
)
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


def _read_words(lines: Lines, name: str, record: TaskRecord, options: dict):
    encode = words.word_encoder(record.vocabularies["words"])

    def encode_line(line: str, number: int) -> Tensor:
        return torch.tensor(encode(words.split_words(line, options["max_length"])))

    return _each_line(encode_line)(lines, name, record, options)


def _corpus_bleu(model, examples, record: TaskRecord, **options) -> float:
    return corpus_bleu_of_model(model, examples, max_length=record.decode_length, **options)


def _spaced(tokens: list[int], record: TaskRecord, options: dict) -> str:
    """Tags or words: the tokens' names separated by spaces."""
    return " ".join(record.target_tokens[i] for i in tokens)


def _chunk_f1(model, examples, record: TaskRecord, **options) -> float:
    return chunk_f1_of_model(
        model, examples, record.target_tokens, max_length=record.decode_length, **options
    )


def _pretrained_word_vectors(model: Seq2Seq, options: dict, record: TaskRecord) -> None:
    """Copies --embeddings' rows into the model's word embeddings (the loader sized them after
    the file)."""
    if options.get("embeddings"):
        with torch.no_grad():
            vectors = conll.load_embeddings(options["embeddings"], record.vocabularies["words"])
            model.source_embeddings[0].weight.copy_(vectors)


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
        files="letter.data or letter.data.gz ($SEARNN_DATA/ocr)",
    ),
    "conll": Task(
        load=lambda path, vocabularies, embeddings: conll.load_conll(
            path, embeddings=embeddings, vocabularies=vocabularies
        ),
        data_options=dict(
            embeddings=DataOption(None, "a text file of pretrained word vectors", Text())
        ),
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
        show=_spaced,
        input_form="'word POS' lines, a blank line after each sentence; one line of chunk tags "
        "per sentence",
        files="train.txt and test.txt ($SEARNN_DATA/conll2000)",
        vocabularies=("words", "tags", "labels"),
        metrics=dict(chunk_f1=Metric("chunk F1", _chunk_f1)),
        pretrained=_pretrained_word_vectors,
    ),
    "spelling": Task(
        load=lambda path, vocabularies, **options: spelling.load_spelling(path, **options),
        data_options=dict(
            noise=noise_option(0.3),
            max_length=max_length_option(10),
            limit=limit_option(),
            fresh_noise=fresh_noise_option(),
        ),
        defaults=dict(
            hidden_size=100, attention="additive", optimizer="adam", lr=1e-3, batch_size=128
        ),
        read_sources=_read_spelling,
        show=_letters,
        input_form="a text per line; its correction per output line",
        files="the One Billion Word files of $SEARNN_DATA/text",
    ),
    "synthetic": Task(
        load=lambda path, vocabularies, limit: synthetic.load_synthetic(**_sizes(limit, 200, 200)),
        data_options=dict(limit=limit_option()),
        defaults=SYNTHETIC_DEFAULTS,
        read_sources=_read_letter_lines,
        show=_letters,
        input_form="letters per line; their reversal per output line",
    ),
    "denoise": Task(
        load=lambda path, vocabularies, noise, limit: denoise.load_denoise(
            noise=noise, **_sizes(limit, 300, 500)
        ),
        data_options=dict(noise=noise_option(0.3), limit=limit_option()),
        defaults=SYNTHETIC_DEFAULTS,
        read_sources=_read_letter_lines,
        show=_letters,
        input_form="a corrupted sentence per line (letters a-l and spaces); its correction per "
        "output line",
    ),
    "words": Task(
        load=lambda path, vocabularies, **options: words.load_words(
            path, vocabularies=vocabularies, **options
        ),
        data_options=dict(
            noise=noise_option(0.1),
            max_length=max_length_option(15),
            limit=limit_option(),
            fresh_noise=fresh_noise_option(),
        ),
        defaults=dict(
            hidden_size=128, attention="additive", optimizer="adam", lr=1e-3, batch_size=64
        ),
        read_sources=_read_words,
        show=_spaced,
        input_form="a sentence per line (words separated by spaces); its correction per output "
        "line",
        files="the One Billion Word files of $SEARNN_DATA/text",
        vocabularies=("words",),
        metrics=dict(corpus_bleu=Metric("corpus BLEU", _corpus_bleu)),
        cost="bleu",
    ),
    "pairs": Task(
        load=lambda path, vocabularies, units: pairs.load_pairs(
            path, units=units, vocabularies=vocabularies
        ),
        data_options=dict(
            units=DataOption(
                "chars",
                "tokens are characters or whitespace-separated words",
                Choice(("chars", "words")),
            )
        ),
        defaults=dict(
            hidden_size=128, attention="additive", optimizer="adam", lr=1e-3, batch_size=64
        ),
        read_sources=_read_pairs,
        show=_show_pairs,
        input_form="a source per line (or source<TAB>target: the target is ignored); its "
        "prediction per output line",
        files="train.tsv, test.tsv and optionally valid.tsv",
        vocabularies=("source", "target"),
    ),
}


def register(name: str, record: Task) -> None:
    """Adds a task: the command line, fit, evaluate and predict take it by `name`. Its data
    options must agree with other tasks' options of the same name (one --option each)."""
    for option_name, option in record.data_options.items():
        other = data_option(option_name)
        if other is not None and (other.help, type(other.kind)) != (option.help, type(option.kind)):
            raise ValueError(f"task {name!r}: --{option_name} means something else elsewhere")
    TASKS[name] = record


def task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {name!r}")
    return TASKS[name]


def data_option(name: str) -> DataOption | None:
    """The data option of that name, as the tasks that take it define it (None: no task)."""
    return next((t.data_options[name] for t in TASKS.values() if name in t.data_options), None)


def as_recorded(run: RunConfig) -> RunConfig:
    """A checkpoint's run with the settings gained since it was recorded at the values that
    keep its behaviour: the task's defaults for model and optimiser fields (e.g. cell, "gru"),
    and DataOption.absent for data options. The options of the other kind of cell, which some
    versions recorded with their defaults, are unset."""
    record = task(run.task)
    gained = {
        name: option.absent if option.absent is not None else option.default
        for name, option in record.data_options.items()
        if name not in run.data_options
    }
    cell = run.model.cell or {**MODEL_DEFAULTS, **record.defaults}["cell"]
    unused = dict.fromkeys(options_of_other_cells(cell))
    return dataclasses.replace(
        run,
        data_options={**run.data_options, **gained},
        model=_with_defaults(dataclasses.replace(run.model, **unused), record),
        optimizer=_with_defaults(run.optimizer, record),
    )


def data_option_names() -> set[str]:
    return {name for entry in TASKS.values() for name in entry.data_options}


def resolve(run: RunConfig) -> RunConfig:
    """`run`, checked (RunConfig.check, and its data options by the task's record), with every
    None of its model, optimizer and data options replaced by the task's default, and its
    paths made absolute. A data option that the task does not take, or a data folder for a task
    that reads none, is a ValueError naming it."""
    run.check()
    chosen = task(run.task)
    foreign = RECURRENT_ONLY if run.model.cell == TRANSFORMER else TRANSFORMER_ONLY
    given = [name for name in foreign if getattr(run.model, name) is not None]
    if given and run.model.cell == TRANSFORMER:
        raise ValueError(
            f"{flag(given[0])}: an option of the recurrent cells; the transformer has its own "
            "attention"
        )
    if given:
        raise ValueError(f"{flag(given[0])}: an option of the transformer (--cell transformer)")
    foreign = sorted(set(run.data_options) - set(chosen.data_options), key=str)
    if foreign:
        flags = ", ".join(flag(str(name)) for name in foreign)
        raise ValueError(f"{flags}: not an option of the {run.task} task")
    data_options = {name: option.default for name, option in chosen.data_options.items()}
    data_options.update({k: v for k, v in run.data_options.items() if v is not None})
    for name, value in data_options.items():
        problem = chosen.data_options[name].kind.problem(value)
        if value is not None and problem:
            raise ValueError(f"{flag(name)}: {problem}, got {value!r}")
    if run.data is not None and not chosen.files:
        raise ValueError(f"--data: the {run.task} task reads no files")
    if data_options.get("embeddings") is not None:
        data_options["embeddings"] = _absolute(data_options["embeddings"])
    model = _with_defaults(run.model, chosen)
    if model.cell == TRANSFORMER and model.hidden_size % model.heads:
        raise ValueError(
            f"--hidden-size ({model.hidden_size}) must be a multiple of --heads ({model.heads}) "
            "for a transformer"
        )
    return dataclasses.replace(
        run,
        data=None if run.data is None else _absolute(run.data),
        data_options=data_options,
        model=model,
        optimizer=_with_defaults(run.optimizer, chosen),
        searnn=run.searnn
        if run.searnn.cost is not None or chosen.cost is None
        else dataclasses.replace(run.searnn, cost=chosen.cost),
    )


def _with_defaults(section, chosen: Task):
    """A ModelConfig or OptimizerConfig with each None replaced by the task's default, but for
    the options of the other kind of cell, which stay None (options_of_other_cells)."""
    defaults = {**MODEL_DEFAULTS, **chosen.defaults}
    values = dataclasses.asdict(section)
    if "cell" in values:
        unused = options_of_other_cells(values["cell"] or defaults["cell"])
        defaults = {k: v for k, v in defaults.items() if k not in unused}
    return type(section)(**{k: defaults.get(k) if v is None else v for k, v in values.items()})


def _absolute(path: str | os.PathLike) -> str:
    """Paths are recorded absolute, so that a run resumed from elsewhere finds its files."""
    return str(Path(path).resolve())


def load_data(run: RunConfig, vocabularies: dict | None = None) -> TaskData:
    """The run's dataset (`run` resolved); vocabularies: a checkpoint's, to encode the files
    with the ids its model was trained on."""
    return task(run.task).load(run.data, vocabularies or None, **run.data_options)


def build_model(run: RunConfig, record: TaskRecord) -> Seq2Seq | TransformerSeq2Seq:
    """A fresh model for `run` (resolved) on data described by `record`: a Seq2Seq, or a
    TransformerSeq2Seq for --cell transformer."""
    config: ModelConfig = run.model
    if config.cell == TRANSFORMER:
        options = dict(record.model_options)
        width = options.pop("embedding_size", config.hidden_size)
        if width != config.hidden_size:
            raise ValueError(
                f"--embeddings: the vectors have {width} numbers, and a transformer's word "
                f"embeddings are --hidden-size ({config.hidden_size}) wide"
            )
        return TransformerSeq2Seq(
            # Past the longest decode (and any source of the tasks' data): an output of
            # decode_length tokens is fed decode_length + 1 inputs.
            max_positions=max(1024, record.decode_length + 1),
            d_model=config.hidden_size,
            heads=config.heads,
            layers=config.layers,
            ffn_size=config.ffn_size,
            dropout=config.dropout,
            **options,
        )
    return Seq2Seq(
        cell=config.cell,
        hidden_size=config.hidden_size,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        attention=None if config.attention == "none" else config.attention,
        input_feeding=config.input_feeding,
        dropout=config.dropout,
        **record.model_options,
    )


def build_optimizer(config: OptimizerConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr)


def defaults_text() -> str:
    """Each task's defaults, for --help."""
    lines = []
    for name, entry in TASKS.items():
        model = {k: v for k, v in MODEL_DEFAULTS.items() if k not in entry.defaults}
        data = {name: option.default for name, option in entry.data_options.items()}
        settings = {**entry.defaults, **model, **data}
        text = ", ".join(f"{k}={v}" for k, v in settings.items())
        lines.append(
            textwrap.fill(text, 88, initial_indent=f"  {name}: ", subsequent_indent="    ")
        )
    return "\n".join(lines)
