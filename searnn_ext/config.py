"""The configuration layer, under the trainer and the command line: every setting of a run,
its kind (the values it takes), default and help written once (searnn_ext.options), checked
the same way from Python, from the command line and from a checkpoint.

RunConfig is everything that defines a training run: the task and its data, the model
(ModelConfig), the optimiser (OptimizerConfig), SEARNN's settings (SearnnConfig) and the seed.
A checkpoint records it; `--resume` must match it, except MAY_CHANGE_ON_RESUME. Where the run
happens and for how long (output folder, device, epochs, beam) are fit's arguments instead,
and may change between a run and its resumption.

Every field of ModelConfig, OptimizerConfig and SearnnConfig is the `searnn train` option of
the same name, and so is every data option of a task's record (searnn_ext.tasks). None in
ModelConfig, OptimizerConfig and the data options means "the task's default";
`tasks.resolve` fills them in."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from searnn_ext.backends import BACKENDS
from searnn_ext.cells import CELLS
from searnn_ext.costs import COSTS, natural_cost
from searnn_ext.losses import REDUCTIONS, SEARNN_LOSSES
from searnn_ext.options import (
    DTYPE_ALIASES,
    MAX_BATCH_SIZE,
    MAX_COUNT,
    MAX_HIDDEN_SIZE,
    MAX_LAYERS,
    Choice,
    CountOrFraction,
    Integer,
    Number,
    PositiveOrOff,
    Switch,
    check_fields,
    flag,
    option,
    positive_float,
    probability,
    seed,
)
from searnn_ext.rollin import POLICIES
from searnn_ext.rollout import REFERENCES
from searnn_ext.sampling import STRATEGIES

TRANSFORMER = "transformer"
# The model options of one kind of cell, which the other refuses (and leaves unset).
RECURRENT_ONLY = ("attention", "bidirectional", "input_feeding")
TRANSFORMER_ONLY = ("heads", "ffn_size")
MAX_HEADS = 1024


def options_of_other_cells(cell: str) -> tuple[str, ...]:
    """The ModelConfig fields that a model of `cell` has no use for."""
    return RECURRENT_ONLY if cell == TRANSFORMER else TRANSFORMER_ONLY


OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta}

# What a resumed run may change without changing the result: SearnnConfig.max_rows decodes in
# chunks and gives the same costs.
MAY_CHANGE_ON_RESUME = ("max_rows",)


def _tasks_default(help: str, kind):
    """An option whose default (None) is the task's."""
    return option(None, help, kind, shown_default="the task's")


LOSSES = ("mle", *SEARNN_LOSSES, "ocd")
ROLLOUT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclasses.dataclass
class SearnnConfig:
    """How SearnnTrainer trains. Each field is also `searnn train`'s option of the same name
    (`--rollin-mix-prob` for rollin_mix_prob), with this help and default."""

    loss: str = option(
        "ll",
        "the loss (mle: teacher forcing, no roll-outs; ocd: optimal completion distillation, "
        "from the optimal reference's costs, whatever --rollout and --reference say)",
        Choice(LOSSES),
    )
    rollin: str = option("learned", "roll-in policy", Choice(POLICIES))
    rollin_mix_prob: float = option(
        0.5, "mixed roll-in: probability of the learned policy at each step", probability
    )
    rollout: str = option("mixed", "roll-out policy", Choice(POLICIES))
    rollout_mix_prob: float = option(
        0.5, "mixed roll-out: probability of the learned policy, drawn once per cell", probability
    )
    reference: str = option(
        "copy",
        "the reference policy of reference and mixed roll-outs: copy the ground truth (copy, "
        "the paper's), the best completion for the cost, found without decoding (optimal), or "
        "the ground truth's suffix that gives the lowest cost, for any cost (best_suffix)",
        Choice(REFERENCES),
    )
    sampling: str = option(
        "all", "candidate tokens per cell (llcas and shl need all)", Choice(STRATEGIES)
    )
    tokens: int = option(5, "sampled tokens per cell, as the paper", Integer(1, MAX_COUNT))
    cells: int | float | None = option(
        None,
        "steps rolled out per sequence: 'all', a count or a fraction",
        CountOrFraction(MAX_COUNT),
        shown_default="all",
    )
    cost: str | None = option(
        None,
        "the roll-outs' cost and the test error's: hamming, edit, or one registered with "
        "searnn_ext.costs.register",
        Choice(COSTS),
        shown_default="the task's; hamming for fixed-length models, edit for EOS models",
    )
    temperature: float = option(
        0.0,
        "ocd: its targets are softmax(-Q/temperature) over the tokens, Q the optimal "
        "cost-to-go; 0: the limit, uniform over the optimal tokens",
        Number(0),
    )
    cost_scale: float = option(
        1.0, "multiplies the costs inside llcas, shl and sllcas", positive_float
    )
    max_grad_norm: float | None = option(
        5.0,
        "clip the gradient's norm to this, as the paper's code (0 or off: no clipping)",
        PositiveOrOff(),
    )
    reduction: str = option(
        "per_sequence",
        "the batch's loss: summed over each sequence's cells and averaged over sequences "
        "(per_sequence), averaged over cells (per_cell), or summed (sum)",
        Choice(REDUCTIONS),
    )
    backend: str = option(
        "auto",
        "roll-outs and costs: compiled (ext), pure PyTorch (torch), ext where it can run "
        "(auto), or the CUDA kernels' code on the CPU (cuda_emulated; slow, for tests)",
        Choice(BACKENDS),
    )
    rollout_dtype: str = option(
        "float32",
        "the learned roll-outs' precision: bfloat16 (bf16) or float16 (fp16) run them under "
        "torch.autocast; the weights, the roll-in and the loss stay in the model's dtype",
        Choice(ROLLOUT_DTYPES, aliases=DTYPE_ALIASES),
    )
    max_rows: int | None = option(
        None,
        "decode at most this many roll-outs at once, to bound memory; results do not change",
        Integer(1, MAX_COUNT),
        shown_default="all at once",
    )

    def check(self) -> None:
        """A ValueError naming the first field whose value the command line would refuse, or a
        combination of fields that cannot train."""
        check_fields(self)
        if self.loss in ("llcas", "shl", "ocd") and self.sampling != "all":
            raise ValueError(
                f"SearnnConfig: loss {self.loss!r} needs every token's cost (sampling='all'); "
                "with sampled tokens use 'sllcas' or 'sll'"
            )

    def cost_for(self, model: torch.nn.Module) -> str:
        """`cost`, or the model's natural one: hamming for fixed-length models, edit for EOS
        models (the paper's choice on each of its tasks)."""
        return self.cost if self.cost is not None else natural_cost(model.eos_id)


@dataclasses.dataclass
class ModelConfig:
    """The Seq2Seq options a user chooses (the data fixes the vocabularies)."""

    cell: str | None = _tasks_default(
        "the cell of the encoder and the decoder: recurrent, or a transformer "
        "(TransformerSeq2Seq, its width --hidden-size)",
        Choice((*CELLS, TRANSFORMER)),
    )
    hidden_size: int | None = _tasks_default("state size", Integer(1, MAX_HIDDEN_SIZE))
    layers: int | None = _tasks_default(
        "layers of the encoder and the decoder", Integer(1, MAX_LAYERS)
    )
    heads: int | None = _tasks_default(
        "the transformer's attention heads (a divisor of --hidden-size)", Integer(1, MAX_HEADS)
    )
    ffn_size: int | None = _tasks_default(
        "the transformer's feed-forward width", Integer(1, MAX_HIDDEN_SIZE)
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
class RunConfig:
    """task: a name of searnn_ext.tasks.TASKS; data: the dataset's folder (None: the task's
    folder under $SEARNN_DATA; unused by the synthetic tasks); data_options: the task's data
    options by name (its record's data_options say which, their kinds and defaults); seed: the
    model's initialisation, the order of the batches and the draws of mixed policies and
    sampling."""

    task: str
    data: str | None = None
    data_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    searnn: SearnnConfig = dataclasses.field(default_factory=SearnnConfig)
    seed: int = 0

    def check(self) -> None:
        """A ValueError naming the first setting that no run may have (the command line refuses
        the same values); the data options are judged by the task's record (tasks.resolve)."""
        if not isinstance(self.task, str):
            raise ValueError(f"RunConfig: task must be a task's name, got {self.task!r}")
        if self.data is not None and not isinstance(self.data, str):
            raise ValueError(f"RunConfig: data must be a folder's path, got {self.data!r}")
        if not isinstance(self.data_options, dict):
            raise ValueError(f"RunConfig: data_options must be a dict, got {self.data_options!r}")
        for section in (self.model, self.optimizer, self.searnn):
            check_fields(section)
        self.searnn.check()
        if seed.problem(self.seed):
            raise ValueError(f"RunConfig: seed {seed.problem(self.seed)}, got {self.seed!r}")

    def updated(self, options: dict[str, Any]) -> RunConfig:
        """This run with some settings replaced: `options` by command-line name (without --,
        as options() gives them); a name that is no field of a section is a data option (the
        task's record judges it). Another task starts from none of this run's data options."""
        task = options.get("task", self.task)
        data_options = self.data_options if task == self.task else {}
        sections = (self.model, self.optimizer, self.searnn)
        fields = {"task", "data", "seed"} | {
            f.name for s in sections for f in dataclasses.fields(s)
        }
        given = {k: v for k, v in options.items() if k not in fields}
        return RunConfig(
            task=task,
            data=options.get("data", self.data),
            data_options={**data_options, **given},
            model=_replaced(self.model, options),
            optimizer=_replaced(self.optimizer, options),
            searnn=_replaced(self.searnn, options),
            seed=options.get("seed", self.seed),
        )

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


def _replaced(section, options: dict[str, Any]):
    names = {field.name for field in dataclasses.fields(section)}
    return dataclasses.replace(section, **{k: v for k, v in options.items() if k in names})


def _shown(value) -> str:
    return "unset" if value is None else str(value)
