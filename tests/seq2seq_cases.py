"""Small float64 Seq2Seq models of every configuration, with random sources and targets."""

from __future__ import annotations

import copy
import dataclasses

import torch

import searnn_ext
from searnn_ext import Seq2Seq


@dataclasses.dataclass
class Task:
    model: Seq2Seq
    src: torch.Tensor
    src_lengths: torch.Tensor
    target: torch.Tensor
    target_lengths: torch.Tensor

    def to(self, device) -> Task:
        """A copy on `device` (the model copied too)."""
        moved = [t.to(device) for t in (self.src, self.src_lengths, self.target)]
        return Task(copy.deepcopy(self.model).to(device), *moved, self.target_lengths.to(device))


CONFIGS = {
    "ocr": dict(source_features=6, hidden_size=12),
    "ocr-2layers": dict(source_features=6, hidden_size=10, num_layers=2),
    "chunking": dict(
        source_vocab=(11, 4),
        hidden_size=10,
        num_layers=2,
        bidirectional=True,
        attention="additive",
        input_feeding=True,
        dropout=0.3,
    ),
    "spelling": dict(source_vocab=9, hidden_size=12, attention="additive", eos_id=0),
    "spelling-bidir-2layers": dict(
        source_vocab=9, hidden_size=8, num_layers=2, bidirectional=True, eos_id=1
    ),
    "spelling-feeding": dict(
        source_vocab=9, hidden_size=8, attention="additive", input_feeding=True, eos_id=2
    ),
}
# The same models with LSTM cells: without attention, with all of it (fixed length), with EOS.
CONFIGS.update(
    {
        f"{name}-lstm": {**CONFIGS[name], "cell": "lstm"}
        for name in ("ocr-2layers", "chunking", "spelling-feeding")
    }
)
# Wider than a GPU warp (32 lanes) in every dimension a warp splits: hidden units, source
# positions, output tokens; used with vocab > 64.
WIDE_CONFIGS = {
    "ocr-wide": dict(source_features=6, hidden_size=70),
    "spelling-wide": dict(
        source_vocab=9, hidden_size=70, attention="additive", input_feeding=True, eos_id=0
    ),
    "spelling-wide-lstm": dict(
        source_vocab=9,
        hidden_size=70,
        attention="additive",
        input_feeding=True,
        eos_id=0,
        cell="lstm",
    ),
}


def make_task(name: str, batch: int = 4, length: int = 6, vocab: int = 5, seed: int = 0) -> Task:
    config = {**CONFIGS, **WIDE_CONFIGS}[name]
    torch.manual_seed(seed)
    model = Seq2Seq(target_vocab=vocab, **config).double()
    generator = torch.Generator().manual_seed(seed)
    src_lengths = torch.randint(1, length + 1, (batch,), generator=generator)
    src_lengths[0] = length
    if "source_features" in config:
        src = torch.rand((batch, length, config["source_features"]), generator=generator)
        src = src.double()
    else:
        vocabs = config["source_vocab"]
        vocabs = vocabs if isinstance(vocabs, tuple) else (vocabs,)
        src = torch.stack(
            [torch.randint(0, v, (batch, length), generator=generator) for v in vocabs], dim=-1
        )
        src = src.squeeze(-1) if len(vocabs) == 1 else src
    eos = model.eos_id
    if eos is None:
        target_lengths = src_lengths.clone()
        target = torch.randint(0, vocab, (batch, length), generator=generator)
    else:
        target_lengths = torch.randint(1, length + 2, (batch,), generator=generator)
        target = torch.randint(0, vocab - 1, (batch, length + 1), generator=generator)
        target[target >= eos] += 1  # no EOS inside the content
        target[torch.arange(batch), target_lengths - 1] = eos
    return Task(model, src, src_lengths, target, target_lengths)


def every_token(task: Task, policy: str = "learned"):
    """The task's roll-in with `policy`, and every token as a candidate at every step."""
    model = task.model
    memory = model.encode(task.src, task.src_lengths)
    rollin = model.roll_in(memory, task.target, task.target_lengths, policy=policy)
    vocab = model.target_vocab
    return rollin, torch.arange(vocab).expand(*rollin.tokens.shape, vocab).clone()


def costs_by_policy(model, rollin, candidates, target, target_lengths, backend="auto"):
    """rollout_costs of the learned, reference and mixed roll-outs of every candidate, the mixed
    draws seeded alike in every call: each mixed cell must equal one of the other two."""

    def costs(rollout, prob=0.5):
        return searnn_ext.rollout_costs(
            model,
            rollin,
            candidates,
            target,
            target_lengths,
            rollout=rollout,
            mix_prob=prob,
            generator=torch.Generator().manual_seed(5),
            backend=backend,
        )

    return costs
