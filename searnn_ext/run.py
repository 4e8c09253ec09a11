"""RunConfig: everything that defines a training run: the task and its data, the model, the
optimiser, SEARNN's settings and the seed. A checkpoint records it; `--resume` must match it.
Where the run happens and for how long (output folder, device, epochs, beam) are fit's
arguments instead, and may change between a run and its resumption.

Every field of ModelConfig, OptimizerConfig, DataOptions and SearnnConfig is the `searnn train`
option of the same name. None in ModelConfig, OptimizerConfig and DataOptions means "the
task's default" (searnn_ext.tasks); `tasks.resolve` fills them in."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from searnn_ext.options import (
    MAX_BATCH_SIZE,
    MAX_EXAMPLES,
    MAX_HIDDEN_SIZE,
    MAX_LAYERS,
    MAX_LENGTH,
    Choice,
    Integer,
    Switch,
    Text,
    check_fields,
    flag,
    option,
    positive_float,
    probability,
    seed,
)
from searnn_ext.trainer import SearnnConfig

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta}

# What a resumed run may change without changing the result: SearnnConfig.max_rows decodes in
# chunks and gives the same costs.
MAY_CHANGE_ON_RESUME = ("max_rows",)


def _tasks_default(help: str, kind):
    """An option whose default (None) is the task's."""
    return option(None, help, kind, shown_default="the task's")


@dataclasses.dataclass
class ModelConfig:
    """The Seq2Seq options a user chooses (the data fixes the vocabularies)."""

    hidden_size: int | None = _tasks_default("GRU size", Integer(1, MAX_HIDDEN_SIZE))
    layers: int | None = _tasks_default(
        "GRU layers of the encoder and the decoder", Integer(1, MAX_LAYERS)
    )
    attention: str | None = _tasks_default("the decoder's attention", Choice(("additive", "none")))
    bidirectional: bool | None = _tasks_default("bidirectional encoder", Switch())
    input_feeding: bool | None = _tasks_default(
        "feed the attentional vector to the next step (needs attention)", Switch()
    )
    dropout: float | None = _tasks_default("dropout between layers and on attention", probability)


@dataclasses.dataclass
class OptimizerConfig:
    optimizer: str | None = _tasks_default("the optimiser", Choice(OPTIMIZERS))
    lr: float | None = _tasks_default("step size", positive_float)
    batch_size: int | None = _tasks_default("sequences per step", Integer(1, MAX_BATCH_SIZE))


@dataclasses.dataclass
class DataOptions:
    """Options of some tasks' data (each task's defaults are in searnn_ext.tasks); giving one
    to a task that does not take it is an error."""

    noise: float | None = _tasks_default(
        "spelling, denoise: the probability that a character is replaced", probability
    )
    max_length: int | None = _tasks_default(
        "spelling: characters kept per sentence", Integer(1, MAX_LENGTH)
    )
    limit: int | None = _tasks_default(
        "spelling, synthetic, denoise: examples per split, for quick runs",
        Integer(1, MAX_EXAMPLES),
    )
    embeddings: str | None = _tasks_default("conll: a text file of pretrained word vectors", Text())
    units: str | None = _tasks_default(
        "pairs: tokens are characters or whitespace-separated words", Choice(("chars", "words"))
    )


@dataclasses.dataclass
class RunConfig:
    """task: a name of searnn_ext.tasks.TASKS; data: the dataset's folder (None: the task's
    folder under $SEARNN_DATA; unused by the synthetic tasks); data_options: the task's data
    options (DataOptions' fields that it takes); seed: the model's initialisation, the order of
    the batches and the draws of mixed policies and sampling."""

    task: str
    data: str | None = None
    data_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    searnn: SearnnConfig = dataclasses.field(default_factory=SearnnConfig)
    seed: int = 0

    def check(self) -> None:
        """A ValueError naming the first setting that no run may have (the command line refuses
        the same values); whether the task takes its data options is tasks.resolve's check."""
        if not isinstance(self.task, str):
            raise ValueError(f"RunConfig: task must be a task's name, got {self.task!r}")
        if self.data is not None and not isinstance(self.data, str):
            raise ValueError(f"RunConfig: data must be a folder's path, got {self.data!r}")
        if not isinstance(self.data_options, dict):
            raise ValueError(f"RunConfig: data_options must be a dict, got {self.data_options!r}")
        known = {field.name for field in dataclasses.fields(DataOptions)}
        unknown = sorted(set(self.data_options) - known, key=repr)
        if unknown:
            raise ValueError(f"RunConfig: data_options has no option {unknown[0]!r}")
        check_fields(DataOptions(**self.data_options), owner="RunConfig: data_options")
        for section in (self.model, self.optimizer, self.searnn):
            check_fields(section)
        self.searnn.check()
        if seed.problem(self.seed):
            raise ValueError(f"RunConfig: seed {seed.problem(self.seed)}, got {self.seed!r}")

    def to_dict(self) -> dict:
        """Plain values only (what a weights-only checkpoint may hold)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> RunConfig:
        """The inverse of to_dict, checked (see check). Fields it lacks take their defaults (a
        run recorded before they existed); a field it does not know is a ValueError."""
        sections = dict(model=ModelConfig, optimizer=OptimizerConfig, searnn=SearnnConfig)
        if not isinstance(values, dict):
            raise ValueError(f"a run configuration is a dict, not {type(values).__name__}")
        values = dict(values)
        try:
            for name, section in sections.items():
                if name in values:
                    if not isinstance(values[name], dict):
                        raise TypeError(f"{name} is a {type(values[name]).__name__}, not a dict")
                    values[name] = section(**values[name])
            run = cls(**values)
        except TypeError as error:
            raise ValueError(f"a run configuration this version does not know: {error}") from None
        run.check()
        return run

    def options(self) -> dict[str, Any]:
        """Every setting by its command-line name (without --): task, data, seed, the data
        options, and the fields of model, optimizer and searnn."""
        flat = dict(task=self.task, data=self.data, seed=self.seed, **self.data_options)
        for section in (self.model, self.optimizer, self.searnn):
            flat.update(dataclasses.asdict(section))
        return flat


def conflicts(wanted: RunConfig, recorded: RunConfig) -> list[str]:
    """The settings in which `wanted` differs from `recorded` (a checkpoint's), as
    '--name wanted (the checkpoint's: recorded)', except those of MAY_CHANGE_ON_RESUME."""
    mine, theirs = wanted.options(), recorded.options()
    found = []
    for name in sorted(set(mine) | set(theirs)):
        if name in MAY_CHANGE_ON_RESUME or mine.get(name) == theirs.get(name):
            continue
        found.append(
            f"{flag(name)} {_shown(mine.get(name))} (the checkpoint's: {_shown(theirs.get(name))})"
        )
    return found


def _shown(value) -> str:
    return "unset" if value is None else str(value)
