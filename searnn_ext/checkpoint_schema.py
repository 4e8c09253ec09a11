"""What a checkpoint must hold, checked as data before any of it is used: its fields, their types
and their ranges. The checksum detects a damaged file, not an edited one (anyone can recompute
it), so a file is held to this schema whatever its checksum says, and refused in one line
naming the file and the field, instead of failing later deep inside the library."""

from __future__ import annotations

import os

import torch

from searnn_ext import tasks
from searnn_ext.config import RunConfig, options_of_other_cells
from searnn_ext.options import MAX_HIDDEN_SIZE, MAX_LENGTH, Integer

FIELDS = (
    "format",
    "version",
    "run",
    "task",
    "model",
    "optimizer",
    "generators",
    "random_states",
    "epoch",
    "step",
    "skipped_steps",
)
MAX_VOCAB = 10_000_000
RECORD_FIELDS = ("model_options", "target_tokens", "vocabularies", "decode_length")
SIZES = dict(
    target_vocab=Integer(1, MAX_VOCAB),
    source_features=Integer(1, MAX_VOCAB),
    embedding_size=Integer(1, MAX_HIDDEN_SIZE),
)
GENERATOR_STATE = torch.Generator().get_state()


class SchemaError(ValueError):
    """The first field of a checkpoint that breaks the schema, and how."""


def check(content: dict, path: str | os.PathLike) -> None:
    """A SchemaError naming the first field of `content` (a checkpoint's, its checksum
    removed; format and version already checked) that a checkpoint cannot hold."""
    _fields(content, FIELDS, "the checkpoint")
    record = check_record(content["task"])
    run = _run(content["run"])
    _weights(content["model"])
    _counts(content)
    _random_states(content)
    if not isinstance(content["optimizer"], dict):
        raise SchemaError(f"optimizer: a dict, not {_type(content['optimizer'])}")
    if sorted(record["vocabularies"]) != sorted(tasks.task(run.task).vocabularies):
        raise SchemaError(
            f"task.vocabularies: the {run.task} task's are "
            f"{list(tasks.task(run.task).vocabularies)}, not {list(record['vocabularies'])}"
        )


def check_record(record) -> dict:
    """A TaskRecord's fields (a checkpoint's "task"), checked; returns them."""
    _fields(record, RECORD_FIELDS, "task")
    options = record["model_options"]
    if not isinstance(options, dict):
        raise SchemaError(f"task.model_options: a dict, not {_type(options)}")
    unknown = sorted(set(options) - {*SIZES, "source_vocab", "eos_id"}, key=repr)
    if unknown:
        raise SchemaError(f"task.model_options: no such option {unknown[0]!r}")
    for name, kind in SIZES.items():
        if name in options and kind.problem(options[name]):
            problem = kind.problem(options[name])
            raise SchemaError(f"task.model_options.{name} {problem}, not {options[name]!r}")
    if "target_vocab" not in options:
        raise SchemaError("task.model_options: target_vocab is missing")
    _source(options)
    vocab = options["target_vocab"]
    eos_id = options.get("eos_id")
    if eos_id is not None and not Integer(0, vocab - 1).accepts(eos_id):
        raise SchemaError(f"task.model_options.eos_id: None or in [0, {vocab}), not {eos_id!r}")
    tokens = record["target_tokens"]
    if not _strings(tokens) or len(tokens) != vocab:
        raise SchemaError(f"task.target_tokens: a list of target_vocab ({vocab}) strings")
    vocabularies = record["vocabularies"]
    if not isinstance(vocabularies, dict) or not all(
        isinstance(name, str) and _strings(words) for name, words in vocabularies.items()
    ):
        raise SchemaError("task.vocabularies: a dict of lists of strings, by name")
    problem = Integer(1, MAX_LENGTH).problem(record["decode_length"])
    if problem:
        raise SchemaError(f"task.decode_length {problem}, not {record['decode_length']!r}")
    return record


def _source(options: dict) -> None:
    vocab = options.get("source_vocab")
    if (vocab is None) == ("source_features" not in options):
        raise SchemaError("task.model_options: exactly one of source_vocab and source_features")
    streams = vocab if isinstance(vocab, (list, tuple)) else [vocab]
    if vocab is not None and not (
        streams and all(SIZES["target_vocab"].accepts(v) for v in streams)
    ):
        raise SchemaError(
            f"task.model_options.source_vocab: a vocabulary size or a list of them, not {vocab!r}"
        )


def _run(values) -> RunConfig:
    try:
        run = tasks.as_recorded(RunConfig.from_dict(values))
        tasks.resolve(run)
    except ValueError as error:
        raise SchemaError(f"run: {error}") from None
    for section in (run.model, run.optimizer):
        unset = [name for name, value in vars(section).items() if value is None]
        # The other kind of cell's options stay unset.
        unset = [name for name in unset if name not in options_of_other_cells(run.model.cell)]
        if unset:
            raise SchemaError(f"run: {unset[0]} is unset (a checkpoint's run is resolved)")
    return run


def _weights(weights) -> None:
    if not isinstance(weights, dict):
        raise SchemaError(f"model: a dict of tensors, not {_type(weights)}")
    for name, tensor in weights.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise SchemaError(f"model.{name}: a floating-point tensor, not {_type(tensor)}")
        if not bool(torch.isfinite(tensor).all()):
            raise SchemaError(f"model.{name}: holds values that are not finite")


def _counts(content: dict) -> None:
    for name, low in (("epoch", 1), ("step", 0), ("skipped_steps", 0)):
        problem = Integer(low).problem(content[name])
        if problem:
            raise SchemaError(f"{name} {problem}, not {content[name]!r}")
    if content["skipped_steps"] > content["step"]:
        raise SchemaError("skipped_steps: more than the steps taken")


def _random_states(content: dict) -> None:
    generators, states = content["generators"], content["random_states"]
    if not isinstance(generators, list) or not generators:
        raise SchemaError("generators: a list of generator states, one per process")
    if not isinstance(states, list) or len(states) != len(generators):
        raise SchemaError("random_states: a list with one entry per process, as generators")
    for rank, (generator, state) in enumerate(zip(generators, states, strict=True)):
        _generator_state(generator, f"generators[{rank}]")
        if not isinstance(state, dict) or "torch" not in state or set(state) - {"torch", "cuda"}:
            raise SchemaError(f"random_states[{rank}]: a dict of 'torch' (and 'cuda') states")
        _generator_state(state["torch"], f"random_states[{rank}].torch")
        if "cuda" in state and not _bytes(state["cuda"]):
            raise SchemaError(f"random_states[{rank}].cuda: a uint8 tensor")


def _generator_state(state, where: str) -> None:
    if not _bytes(state) or state.shape != GENERATOR_STATE.shape:
        raise SchemaError(f"{where}: a CPU generator's state, {GENERATOR_STATE.numel()} bytes")


def _bytes(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1


def _fields(value, names: tuple[str, ...], what: str) -> None:
    if not isinstance(value, dict):
        raise SchemaError(f"{what}: a dict, not {_type(value)}")
    missing = [name for name in names if name not in value]
    extra = sorted(set(value) - set(names), key=repr)
    if missing:
        raise SchemaError(f"{what}: {missing[0]} is missing")
    if extra:
        raise SchemaError(f"{what}: an unknown field {extra[0]!r}")


def _strings(values) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def _type(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor"
    return f"a {type(value).__name__}"
