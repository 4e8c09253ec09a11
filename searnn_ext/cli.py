"""The `searnn` command: train, evaluate, demo, bench, reproduce.

searnn demo                                   # MLE vs SEARNN on the synthetic task
searnn train --task ocr --data DIR --loss ll --rollin learned --rollout mixed --output runs/x
searnn evaluate runs/x/checkpoint.pt --data DIR --split test
searnn bench costs --quick                    # the speed benchmarks (bench rollout likewise)
searnn reproduce --task ocr --data DIR --rows MLE "LL learned/mixed" --seeds 0 1
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import os
import sys
import textwrap
import time
from pathlib import Path

import torch
from tqdm import tqdm

from searnn_ext import distributed, reproduce
from searnn_ext.curves import plot_curves
from searnn_ext.data import batches, load_embeddings, load_task
from searnn_ext.data.loaders import TASKS
from searnn_ext.evaluation import chunk_f1_of_model, error_rate
from searnn_ext.losses import REDUCTIONS
from searnn_ext.model import Seq2Seq
from searnn_ext.rollin import POLICIES
from searnn_ext.rollout import REFERENCES
from searnn_ext.sampling import STRATEGIES
from searnn_ext.trainer import LOSSES, SearnnConfig, SearnnTrainer

logger = logging.getLogger("searnn")

# The paper's model and optimiser per task (section 4, appendix B); the synthetic task's are ours.
MODEL_DEFAULTS = dict(layers=1, bidirectional=False, input_feeding=False, dropout=0.0)
TASK_DEFAULTS = {
    "ocr": dict(hidden_size=128, attention=None, optimizer="sgd", lr=0.5, batch_size=64),
    "conll": dict(
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
    "spelling": dict(
        hidden_size=100,
        attention="additive",
        optimizer="adam",
        lr=1e-3,
        batch_size=128,
    ),
    "synthetic": dict(
        hidden_size=64,
        attention="additive",
        optimizer="adam",
        lr=3e-3,
        batch_size=64,
    ),
}
CURVES_EVERY_SECONDS = 60  # redrawing curves.png takes about a second
OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adadelta": torch.optim.Adadelta,
}


def task_options(args) -> dict:
    if args.task == "spelling":
        return dict(noise=args.noise, max_length=args.max_length, limit=args.limit)
    if args.task == "conll":
        return dict(embeddings=args.embeddings)
    if args.task == "synthetic" and args.limit is not None:
        held_out = min(200, args.limit)
        return dict(sizes=(args.limit, held_out, held_out))
    return {}


def build(args, data):
    defaults = {**MODEL_DEFAULTS, **TASK_DEFAULTS[args.task]}

    def choose(name: str):
        """The command line's value, else the task's default."""
        value = getattr(args, name)
        return defaults[name] if value is None else value

    attention = choose("attention")
    pretrained = None
    if getattr(args, "embeddings", None) and data.source_tokens is not None:
        pretrained = load_embeddings(args.embeddings, data.source_tokens)
    model = Seq2Seq(
        hidden_size=choose("hidden_size"),
        embedding_size=None if pretrained is None else pretrained.shape[1],
        num_layers=choose("layers"),
        bidirectional=choose("bidirectional"),
        attention=None if attention == "none" else attention,
        input_feeding=choose("input_feeding"),
        dropout=choose("dropout"),
        **data.model_options,
    )
    if pretrained is not None:
        with torch.no_grad():
            model.source_embeddings[0].weight.copy_(pretrained)
    model = model.to(args.device)
    optimizer = OPTIMIZERS[choose("optimizer")](model.parameters(), lr=choose("lr"))
    return model, optimizer, choose("batch_size")


def searnn_config(args, data) -> SearnnConfig:
    return SearnnConfig(
        loss=args.loss,
        rollin=args.rollin,
        rollin_mix_prob=args.rollin_mix_prob,
        rollout=args.rollout,
        rollout_mix_prob=args.rollout_mix_prob,
        reference=args.reference,
        sampling=args.sampling,
        tokens=args.tokens,
        cells=args.cells,
        cost=data.cost,
        max_grad_norm=args.max_grad_norm or None,
        reduction=args.reduction,
        backend=args.backend,
    )


def save_atomically(state: dict, path: Path) -> None:
    """Write then rename: an interrupted run never leaves a half-written checkpoint."""
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def random_states(device) -> dict:
    states = dict(torch=torch.get_rng_state())
    if torch.device(device).type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def training_state(trainer: SearnnTrainer, args) -> dict:
    """What --resume needs, with every process's random draws (a collective call)."""
    group = trainer.group
    return dict(
        model=trainer.model.state_dict(),
        optimizer=trainer.optimizer.state_dict(),
        generators=distributed.gather(trainer.generator.get_state(), group),
        random_states=distributed.gather(random_states(args.device), group),
        args=vars(args),
    )


def restore(path: Path, trainer: SearnnTrainer, device) -> tuple[int, int]:
    """Loads a checkpoint into the trainer; returns its epoch and step."""
    state = torch.load(path, weights_only=False)
    group = trainer.group
    if len(state["generators"]) != group.world:
        raise ValueError(
            f"--resume: {path} was written by {len(state['generators'])} processes; "
            f"resume it with as many, not {group.world}"
        )
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.generator.set_state(state["generators"][group.rank])
    mine = state["random_states"][group.rank]
    torch.set_rng_state(mine["torch"])
    if "cuda" in mine:
        torch.cuda.set_rng_state(mine["cuda"], device)
    logger.info("resuming %s after epoch %d", path, state["epoch"])
    return state["epoch"], state["step"]


def keep_logged_epochs(path: Path, epochs: int) -> None:
    """Drops the log lines of an interrupted epoch (after the checkpoint's `epochs`), and a
    line cut short by the interruption, before a resumed run appends to the log."""
    kept = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record["epoch"] <= epochs:
            kept.append(line + "\n")
    partial = path.with_suffix(".partial")
    partial.write_text("".join(kept))
    os.replace(partial, path)


def train(args) -> dict:
    """Trains one model; under torchrun, one process of a data-parallel run."""
    group, args.device = distributed.start(args.device)
    try:
        return _train(args, group)
    finally:
        distributed.stop(group)


def _train(args, group: distributed.Group) -> dict:
    torch.manual_seed(args.seed)
    data = load_task(args.task, args.data, **task_options(args))
    model, optimizer, batch_size = build(args, data)
    config = searnn_config(args, data)
    if group.rank:
        torch.manual_seed(args.seed + 1_000_003 * group.rank)  # its own dropout masks
    # Each process draws its own roll-in / roll-out mixes and samples; rank 0 as alone.
    generator = torch.Generator().manual_seed(args.seed + 1_000_003 * group.rank)
    trainer = SearnnTrainer(
        model,
        optimizer,
        config,
        token_frequencies=data.token_frequencies() if config.sampling == "stat" else None,
        generator=generator,
        group=group,
    )
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    checkpoint_path = output / "checkpoint.pt"
    first_epoch, step = 0, 0
    if args.resume and checkpoint_path.exists():
        first_epoch, step = restore(checkpoint_path, trainer, args.device)
    speaks = group.leader and not args.quiet
    draws_curves = group.leader and importlib.util.find_spec("matplotlib") is not None
    drawn = time.monotonic()
    if group.leader and not draws_curves:
        logger.info("matplotlib is not installed: no curves.png (pip install 'searnn_ext[plot]')")
    if group.leader and first_epoch:
        keep_logged_epochs(output / "metrics.jsonl", first_epoch)
    log = open(output / "metrics.jsonl", "a" if first_epoch else "w") if group.leader else None
    summary = {}
    try:
        for epoch in range(first_epoch, args.epochs):
            shuffle = torch.Generator().manual_seed(args.seed * 100_003 + epoch)
            progress = tqdm(
                batches(data.train, batch_size, shuffle=True, generator=shuffle),
                total=-(-len(data.train) // batch_size),
                desc=f"epoch {epoch + 1}/{args.epochs}",
                disable=not speaks,
                leave=False,
            )
            for batch in progress:
                if batch.src.shape[0] < group.world:
                    continue  # a last batch too small to share: skipped
                result = trainer.step(batch.to(args.device))
                step += 1
                speed = result.rollouts / max(result.seconds, 1e-9)
                progress.set_postfix(loss=f"{result.loss:.3f}", rollouts_per_s=f"{speed:,.0f}")
                if log is not None:
                    record = dict(epoch=epoch + 1, step=step, **dataclasses.asdict(result))
                    log.write(json.dumps(record) + "\n")
            valid = error_rate(model, data.valid, cost=data.cost, device=args.device)
            summary = dict(epoch=epoch + 1, step=step, valid_error=valid, time=time.time())
            state = training_state(trainer, args)  # every process takes part
            if log is not None:
                log.write(json.dumps(summary) + "\n")
                log.flush()
                save_atomically(dict(state, epoch=epoch + 1, step=step), checkpoint_path)
            last = epoch + 1 == args.epochs
            if draws_curves and (last or time.monotonic() - drawn > CURVES_EVERY_SECONDS):
                plot_curves(output / "metrics.jsonl", output / "curves.png")
                drawn = time.monotonic()
            if speaks:
                print(f"epoch {epoch + 1}: validation error {valid:.2f}%", flush=True)
    finally:
        if log is not None:
            log.close()
    summary["test_error"] = error_rate(
        model, data.test, cost=data.cost, beam=args.beam, device=args.device
    )
    if speaks:
        print(f"test error {summary['test_error']:.2f}%")
    if data.name == "conll":
        summary["test_chunk_f1"] = chunk_f1_of_model(
            model, data.test, data.target_tokens, beam=args.beam, device=args.device
        )
        if speaks:
            print(f"test chunk F1 {summary['test_chunk_f1']:.2f}")
    return summary


def evaluate(args) -> float:
    state = torch.load(args.checkpoint, weights_only=False)
    saved = argparse.Namespace(**state["args"])
    saved.device = args.device
    data = load_task(saved.task, args.data or saved.data, **task_options(saved))
    model, _, _ = build(saved, data)
    model.load_state_dict(state["model"])
    error = error_rate(
        model, data.split(args.split), cost=data.cost, beam=args.beam, device=args.device
    )
    print(f"{saved.task} {args.split} error: {error:.2f}%")
    if data.name == "conll":
        f1 = chunk_f1_of_model(
            model, data.split(args.split), data.target_tokens, beam=args.beam, device=args.device
        )
        print(f"conll {args.split} chunk F1: {f1:.2f}")
    return error


def demo(args) -> None:
    """MLE and SEARNN (LL, learned roll-in, mixed roll-out) under one optimiser and budget."""
    results = {}
    for loss in ("mle", "ll"):
        run = parser().parse_args(
            [
                "train",
                "--task=synthetic",
                f"--loss={loss}",
                f"--epochs={args.epochs}",
                f"--seed={args.seed}",
                f"--output={Path(args.output) / loss}",
                "--quiet",
            ]
        )
        print(f"training {loss.upper()} on the synthetic task ({args.epochs} epochs)...")
        results[loss] = train(run)["test_error"]
    for loss, error in results.items():
        print(f"{loss.upper():>4} test error: {error:.2f}%")


def bench(args) -> None:
    try:
        module = importlib.import_module(f"searnn_ext.bench.{args.which}")
    except ImportError as error:
        raise ValueError(
            f"bench {args.which} needs {error.name}: pip install 'searnn_ext[bench]'"
        ) from error
    module.main(args.options)


def reproduce_rows(args) -> None:
    reproduce.reproduce(args, lambda argv: train(parser().parse_args(argv)))


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def task_defaults_text() -> str:
    lines = ["each task's model and optimiser (the paper's; synthetic's are ours):"]
    for task, defaults in TASK_DEFAULTS.items():
        settings = ", ".join(f"{k}={v}" for k, v in {**MODEL_DEFAULTS, **defaults}.items())
        lines.append(
            textwrap.fill(settings, 88, initial_indent=f"  {task}: ", subsequent_indent="    ")
        )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="searnn", description="SEARNN training and evaluation")
    commands = main.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "train",
        help="train a model on a task",
        epilog=task_defaults_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--task", choices=TASKS, required=True)
    run.add_argument("--data", help="the dataset's folder (default: $SEARNN_DATA/<task folder>)")
    run.add_argument("--output", default="runs/searnn", help="folder for metrics and checkpoint")
    run.add_argument(
        "--loss", choices=LOSSES, default="ll", help="default: %(default)s (mle: no roll-outs)"
    )
    run.add_argument(
        "--rollin",
        choices=POLICIES,
        default="learned",
        help="roll-in policy (default: %(default)s)",
    )
    run.add_argument(
        "--rollin-mix-prob",
        type=float,
        default=0.5,
        help="mixed roll-in: probability of the learned policy at each step (default: %(default)s)",
    )
    run.add_argument(
        "--rollout",
        choices=POLICIES,
        default="mixed",
        help="roll-out policy (default: %(default)s)",
    )
    run.add_argument(
        "--rollout-mix-prob",
        type=float,
        default=0.5,
        help="mixed roll-out: probability of the learned policy, drawn once per cell "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--reference",
        choices=REFERENCES,
        default="copy",
        help="reference policy of reference and mixed roll-outs: copy the ground truth (the "
        "paper's) or the optimal completion for the task's cost, found without decoding (for "
        "Hamming costs, and fixed-length tasks, the two are the same) (default: %(default)s)",
    )
    run.add_argument(
        "--sampling",
        choices=STRATEGIES,
        default="all",
        help="candidate tokens per cell (default: %(default)s; llcas and shl need all)",
    )
    run.add_argument(
        "--tokens",
        type=int,
        default=5,
        help="sampled tokens per cell (default: %(default)s, as the paper)",
    )
    run.add_argument(
        "--cells",
        type=float,
        default=None,
        help="steps rolled out per sequence: a count (>= 1) or a fraction (default: all)",
    )
    run.add_argument("--hidden-size", type=int, default=None, help="default: the task's")
    run.add_argument("--layers", type=int, default=None, help="default: the task's")
    run.add_argument(
        "--attention", choices=["additive", "none"], default=None, help="default: the task's"
    )
    run.add_argument(
        "--bidirectional",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bidirectional encoder (default: the task's)",
    )
    run.add_argument(
        "--input-feeding",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="feed the attention context to the next step (default: the task's)",
    )
    run.add_argument("--dropout", type=float, default=None, help="default: the task's")
    run.add_argument(
        "--optimizer", choices=tuple(OPTIMIZERS), default=None, help="default: the task's"
    )
    run.add_argument("--lr", type=float, default=None, help="step size (default: the task's)")
    run.add_argument("--batch-size", type=int, default=None, help="default: the task's")
    run.add_argument(
        "--max-grad-norm",
        type=float,
        default=5.0,
        help="clip the gradient's norm to this (0: no clipping; default: %(default)s, as the "
        "paper's code)",
    )
    run.add_argument(
        "--reduction",
        choices=REDUCTIONS,
        default="per_sequence",
        help="loss: summed over a sequence's cells, averaged over sequences (per_sequence), "
        "averaged over all cells (per_cell), or summed (sum) (default: %(default)s)",
    )
    run.add_argument("--epochs", type=int, default=10, help="default: %(default)s")
    run.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    run.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    run.add_argument(
        "--backend",
        choices=["ext", "torch", "auto"],
        default="auto",
        help="roll-outs: compiled (ext), pure PyTorch (torch), or ext when built (auto)",
    )
    run.add_argument("--noise", type=float, default=0.3, help="spelling: corruption probability")
    run.add_argument("--max-length", type=int, default=10, help="spelling: characters kept")
    run.add_argument(
        "--limit", type=int, default=None, help="examples per split (spelling, synthetic)"
    )
    run.add_argument(
        "--embeddings", default=None, help="conll: a text file of pretrained word vectors"
    )
    run.add_argument("--beam", type=positive, default=1, help="test decoding's beam width")
    run.add_argument("--resume", action="store_true", help="continue from --output's checkpoint")
    run.add_argument("--quiet", action="store_true", help="no progress bar or prints")

    check = commands.add_parser("evaluate", help="a checkpoint's error on a split")
    check.add_argument("checkpoint")
    check.add_argument("--data", default=None)
    check.add_argument("--split", choices=["train", "valid", "test"], default="test")
    check.add_argument("--beam", type=positive, default=1, help="beam width (1: greedy)")
    check.add_argument("--device", default="cpu")

    show = commands.add_parser("demo", help="MLE vs SEARNN on the synthetic task")
    show.add_argument("--epochs", type=int, default=5)
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--output", default="runs/demo")

    speed = commands.add_parser("bench", help="the speed benchmarks (options: bench X --help)")
    speed.add_argument("which", choices=["costs", "rollout"])
    speed.add_argument("options", nargs=argparse.REMAINDER)

    rows = commands.add_parser("reproduce", help="rows of the paper's Tables 1 and 2")
    reproduce.add_arguments(rows)
    return main


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser().parse_args(argv)
    if getattr(args, "cells", None) is not None and args.cells >= 1:
        args.cells = int(args.cells)
    try:
        commands = dict(
            train=train, evaluate=evaluate, demo=demo, bench=bench, reproduce=reproduce_rows
        )
        commands[args.command](args)
    except (FileNotFoundError, ValueError) as error:
        print(f"searnn: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
