"""How much reduced-precision roll-outs change what SEARNN learns from: the share of cells
(sequence, step) whose whole cost vector equals the float32 one, and the share whose LL target
(the cheapest candidate, ties to the ground truth) changes. On a trained checkpoint and on a
freshly initialised model of its shape, over training batches of its task:

    searnn bench precision runs/ocr/checkpoint.pt --batches 4
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from searnn_ext import checkpoint, tasks
from searnn_ext.bench.timing import add_threads_option, bench_parser, machine_description
from searnn_ext.costs import natural_cost
from searnn_ext.data.batching import batches as batches_of
from searnn_ext.losses import target_tokens
from searnn_ext.options import positive_int
from searnn_ext.rollout import rollout_costs


@dataclasses.dataclass
class Agreement:
    cells: int  # cells with at least one counted candidate
    equal_costs: float  # share of them whose costs all equal float32's
    changed_targets: float  # share of them whose LL target differs from float32's
    equal_entries: float  # share of the counted (cell, candidate) costs equal to float32's

    def describe(self) -> str:
        return (
            f"costs equal on {self.equal_costs:.2%} of {self.cells:,} cells "
            f"({self.equal_entries:.2%} of their candidates); "
            f"LL target changed on {self.changed_targets:.2%}"
        )


def agreement(candidates: Tensor, full: Tensor, reduced: Tensor, truth: Tensor) -> Agreement:
    """candidates [B, T, K]; full, reduced: costs [B, T, K] of float32 and reduced-precision
    roll-outs; truth [B, T] the ground-truth token of each cell (-1: none), the LL tie-break."""
    counted = torch.isfinite(full).any(-1)
    if not torch.equal(torch.isfinite(full), torch.isfinite(reduced)):
        raise AssertionError("reduced-precision roll-outs counted other cells than float32")
    same = ((full == reduced) | ~torch.isfinite(full)).all(-1)
    changed = target_tokens(candidates, full, truth) != target_tokens(candidates, reduced, truth)
    cells = int(counted.sum())
    share = lambda mask: float((mask & counted).sum()) / max(cells, 1)  # noqa: E731
    entries = torch.isfinite(full)
    equal_entries = float(((full == reduced) & entries).sum()) / max(int(entries.sum()), 1)
    return Agreement(cells, share(same), share(changed), equal_entries)


def measure_checkpoint(path, *, batches: int, dtype: torch.dtype, seed: int = 0):
    """Agreement of `dtype` roll-outs with float32 ones on `batches` training batches of the
    checkpoint's task, as SearnnTrainer builds them (learned roll-in, every token a candidate),
    for the trained model and for a freshly initialised one of the same shape."""
    model, run_config, record = checkpoint.load_model(path)
    examples = tasks.load_data(run_config, record.vocabularies).train
    generator = torch.Generator().manual_seed(seed)
    batch_size = run_config.optimizer.batch_size
    chosen = list(batches_of(examples, batch_size, shuffle=True, generator=generator))[:batches]
    torch.manual_seed(seed)
    fresh = tasks.build_model(run_config, record).eval()
    return {
        name: _model_agreement(candidate_model, chosen, dtype)
        for name, candidate_model in (("trained", model), ("random", fresh))
    }


def _model_agreement(model, chosen, dtype) -> Agreement:
    parts = [_batch_agreement(model, batch, dtype) for batch in chosen]
    cells = sum(part.cells for part in parts)

    def weighted(field: str) -> float:
        return sum(getattr(part, field) * part.cells for part in parts) / max(cells, 1)

    fields = ("equal_costs", "changed_targets", "equal_entries")
    return Agreement(cells, *(weighted(field) for field in fields))


@torch.no_grad()
def _batch_agreement(model, batch, dtype) -> Agreement:
    memory = model.encode(batch.src, batch.src_lengths)
    rollin = model.roll_in(memory, batch.target, batch.target_lengths, policy="learned")
    steps, vocab = rollin.tokens.shape[1], model.target_vocab
    candidates = torch.arange(vocab).expand(batch.src.shape[0], steps, vocab).contiguous()
    has_truth = torch.arange(steps) < batch.target_lengths[:, None]
    truth = torch.where(has_truth, batch.target[:, :steps].long(), -1)
    arguments = (model, rollin, candidates, batch.target, batch.target_lengths)
    cost = natural_cost(model.eos_id)
    full = rollout_costs(*arguments, rollout="learned", cost=cost)
    with torch.autocast("cpu", dtype=dtype):
        reduced = rollout_costs(*arguments, rollout="learned", cost=cost)
    return agreement(candidates, full, reduced, truth)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser("precision", __doc__)
    parser.add_argument("checkpoint", help="a checkpoint written by searnn train")
    parser.add_argument(
        "--batches",
        type=positive_int,
        default=4,
        help="training batches measured (default: %(default)s)",
    )
    parser.add_argument("--dtype", choices=["bfloat16", "float16"], default="bfloat16")
    add_threads_option(parser, 2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"Machine: {machine_description()}\n")
    dtype = getattr(torch, args.dtype)
    for name, result in measure_checkpoint(
        args.checkpoint, batches=args.batches, dtype=dtype
    ).items():
        print(f"{args.checkpoint}, {name} model: {args.dtype} against float32: {result.describe()}")
