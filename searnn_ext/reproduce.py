"""Rows of the paper's Tables 1 and 2 on this machine's budget: every row trains the same model
with the same optimiser, data and epochs (the task's defaults of `searnn train`), and reports
its test error beside the paper's.

    searnn reproduce --task ocr --data DIR/ocr --table 1 --epochs 40 --seeds 0 1
    searnn reproduce --task spelling --data DIR/text --noise 0.5 --limit 20000 --rows MLE

Each finished (row, seed) is also appended to OUTPUT/results.jsonl. With --resume, a run
already recorded there is not trained again, and one that was interrupted continues from its
checkpoint (its recorded wall time is then that of the last part only, marked "resumed").
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import time
from pathlib import Path

from searnn_ext import options
from searnn_ext.cells import CELLS
from searnn_ext.config import TRANSFORMER, ModelConfig, RunConfig, SearnnConfig
from searnn_ext.devices import cpu_threads
from searnn_ext.files import replacing
from searnn_ext.fit import fit


def row(loss: str, rollin: str | None = None, rollout: str | None = None, **more) -> dict:
    """A row's SearnnConfig settings, in the order its train command names them."""
    policies = {} if rollin is None else dict(rollin=rollin, rollout=rollout)
    return dict(loss=loss, **policies, **more)


TABLE1 = {  # row -> (SearnnConfig settings, paper: OCR, CoNLL, Spelling 0.3, Spelling 0.5)
    "MLE": (row("mle"), (2.8, 4.2, 19.6, 43.0)),
    "LL learned/mixed": (row("ll", "learned", "mixed"), (1.9, 3.7, 17.8, 37.3)),
    "LL reference/learned": (row("ll", "reference", "learned"), (2.5, 6.1, 19.5, 43.3)),
    "LL learned/learned": (row("ll", "learned", "learned"), (1.8, 5.6, 17.9, 37.5)),
    "LLCAS learned/mixed": (row("llcas", "learned", "mixed"), (1.9, 5.8, 17.7, 37.1)),
    "LLCAS reference/learned": (row("llcas", "reference", "learned"), (2.4, 5.3, 19.6, 43.3)),
    "LLCAS learned/learned": (row("llcas", "learned", "learned"), (1.9, 5.1, 17.7, 38.2)),
}
# Rows beyond the paper's (no paper figure), run only when --rows names them: the optimal
# reference policy for edit distance (the best completion instead of a copy of the ground truth),
# LL learned/reference, the same roll-outs with the paper's copying reference, its control,
# LL learned/mixed-optimal on 5 uniformly sampled tokens per cell (Table 2's LL uniform), for
# vocabularies where rolling out every token does not fit the budget, and OCD (Sabour et al.,
# 2019), which distils the optimal reference's cost-to-go on a learned roll-in.
EXTRA_ROWS = {
    "LL learned/reference": (row("ll", "learned", "reference"), None),
    "LL learned/mixed-optimal": (row("ll", "learned", "mixed", reference="optimal"), None),
    "LL uniform learned/mixed-optimal": (
        row("ll", "learned", "mixed", reference="optimal", sampling="uniform", tokens=5),
        None,
    ),
    "LL learned/reference-optimal": (row("ll", "learned", "reference", reference="optimal"), None),
    "LLCAS learned/reference-optimal": (
        row("llcas", "learned", "reference", reference="optimal"),
        None,
    ),
    "OCD": (row("ocd", "learned", "reference", reference="optimal"), None),
}
# Table 2: learned roll-in, mixed roll-out, 5 sampled tokens; paper: OCR, Spelling 0.3, 0.5.
TABLE2_PAPER = {
    "ll": {
        "uniform": (1.94, 17.7, 37.0),
        "stat": (1.50, 17.7, 36.7),
        "pol": (1.96, 17.7, 37.1),
        "bias": (1.84, 17.7, 36.6),
        "topk": (2.13, 17.8, 36.6),
    },
    "sll": {
        "uniform": (1.82, 18.8, 37.4),
        "stat": (1.91, 20.5, 41.4),
        "pol": (1.86, 17.5, 37.7),
        "bias": (2.25, 17.7, 36.9),
        "topk": (2.69, 18.4, 41.7),
    },
    "sllcas": {
        "uniform": (2.03, 18.8, 37.6),
        "stat": (2.33, 20.2, 41.7),
        "pol": (1.50, 17.7, 37.0),
        "bias": (2.37, 17.7, 37.8),
        "topk": (1.94, 18.2, 40.5),
    },
}


def table2_rows():
    rows = {"MLE": (row("mle"), (2.84, 19.6, 43.0))}
    for loss, strategies in TABLE2_PAPER.items():
        for strategy, paper in strategies.items():
            settings = row(loss, "learned", "mixed", sampling=strategy, tokens=5)
            rows[f"{loss.upper()} {strategy}"] = (settings, paper)
    return rows


def paper_column(table: int, task: str, noise: float) -> int | None:
    """The paper's column of the task in the table; None: the table has none (CoNLL in
    Table 2)."""
    if table == 1:
        return {"ocr": 0, "conll": 1}.get(task, 2 if noise == 0.3 else 3)
    return {"ocr": 0, "conll": None}.get(task, 1 if noise == 0.3 else 2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=["ocr", "conll", "spelling"], required=True)
    parser.add_argument("--data", default=None, help="the dataset's folder, as for train")
    parser.add_argument("--table", type=int, choices=[1, 2], default=1)
    parser.add_argument(
        "--rows",
        nargs="+",
        help="row names (default: all the paper's; the rows beyond the paper's, such as "
        "'LL learned/reference-optimal', run only when named)",
    )
    parser.add_argument(
        "--cell",
        choices=(*CELLS, TRANSFORMER),
        help="the cell of every row's model, a recurrent one or 'transformer' (a "
        "TransformerSeq2Seq of the task's width and depth; default: the task's, a GRU as in the "
        "paper)",
    )
    parser.add_argument("--epochs", type=options.positive_int, default=5)
    parser.add_argument("--seeds", type=options.seed, nargs="+", default=[0])
    parser.add_argument("--noise", type=options.probability, default=0.3, help="spelling's")
    parser.add_argument(
        "--fresh-noise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="spelling: a new corruption of the training sentences at each epoch (default); "
        "--no-fresh-noise reproduces the rows of earlier versions, one corruption for all epochs",
    )
    parser.add_argument(
        "--limit", type=options.examples, default=None, help="spelling: examples per split"
    )
    parser.add_argument("--threads", type=options.threads, default=2)
    parser.add_argument("--output", default="runs/reproduce")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the runs recorded in OUTPUT/results.jsonl and continue interrupted ones",
    )


RESULTS = "results.jsonl"
RECORD_FIELDS = dict(row=str, seed=int, test_error=(int, float), seconds=(int, float), command=str)


def recorded_runs(path: Path) -> dict[str, dict]:
    """The runs of an earlier `reproduce` in this output folder, by their train command. A last
    line cut short (a run killed while writing it) is dropped from the file; any other line
    that is not a record is a ValueError naming the file and line."""
    if not path.exists():
        return {}
    text = _text(path)
    lines = text.splitlines()
    if lines and not text.endswith("\n") and not _is_json(lines[-1]):
        lines.pop()
        with replacing(path) as partial:
            partial.write_text("".join(line + "\n" for line in lines))
    records = {}
    for number, line in enumerate(lines, 1):
        if line.strip():
            record = _record(line, f"{path}:{number}")
            records[record["command"]] = record
    return records


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _record(line: str, where: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not a JSON line ({error.msg})") from None
    wrong = [
        name
        for name, kinds in RECORD_FIELDS.items()
        if not isinstance(record, dict)
        or not isinstance(record.get(name), kinds)
        or isinstance(record.get(name), bool)
    ]
    if wrong:
        fields = ", ".join(RECORD_FIELDS)
        raise ValueError(f"{where}: not a run's record (one with {fields}): {line.strip()[:80]}")
    return record


def reproduce(args) -> None:
    """Trains and prints the rows `args` (reproduce's options) name."""
    with cpu_threads(args.threads):
        _reproduce(args)


def _reproduce(args) -> None:
    rows = TABLE1 if args.table == 1 else table2_rows()
    extra = EXTRA_ROWS if args.table == 1 else {}
    unknown = set(args.rows or ()) - set(rows) - set(extra)
    if unknown:
        raise ValueError(
            f"--rows: table {args.table} has no {sorted(unknown)}; its rows: "
            f"{list(rows) + list(extra)}"
        )
    if args.rows:
        rows = {name: row for name, row in {**rows, **extra}.items() if name in args.rows}
    column = paper_column(args.table, args.task, args.noise)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    recorded = recorded_runs(output / RESULTS) if args.resume else {}
    print(f"| row | paper | ours (seeds {args.seeds}) | wall time | command |")
    print("|---|---|---|---|---|")
    for name, (settings, paper) in rows.items():
        errors, seconds = [], 0.0
        for seed in args.seeds:
            command = " ".join(["train", *_train_args(args, seed, settings)])
            if command in recorded:
                errors.append(recorded[command]["test_error"])
                seconds += recorded[command]["seconds"]
                continue
            cell = f"{args.cell}-" if args.cell else ""
            row_name = name.replace(" ", "_").replace("/", "-")
            folder = output / f"{args.task}-{cell}{row_name}-{seed}"
            # Without --resume every run starts afresh, over an earlier one in its folder.
            resumed = args.resume and (folder / "checkpoint.pt").exists()
            start = time.perf_counter()
            summary = fit(
                _run(args, seed, settings),
                output=folder,
                epochs=args.epochs,
                resume=resumed,
                overwrite=not resumed,
            )
            errors.append(summary["test_error"])
            elapsed = time.perf_counter() - start
            seconds += elapsed
            with open(output / RESULTS, "a") as results:
                record = dict(
                    row=name, seed=seed, test_error=errors[-1], seconds=elapsed, command=command
                )
                # The task's metrics beside the error (CoNLL's chunk F1), as fit reports them.
                record.update({k: v for k, v in summary.items() if k.startswith("test_")})
                if resumed:
                    record["resumed"] = True
                results.write(json.dumps(record) + "\n")
        ours = statistics.mean(errors)
        spread = f" ± {statistics.stdev(errors):.2f}" if len(errors) > 1 else ""
        paper_figure = "-" if paper is None or column is None else paper[column]
        shown = shlex.join(["searnn", "train", *_train_args(args, "S", settings)])
        print(
            f"| {name} | {paper_figure} | {ours:.2f}{spread} | {seconds / 60:.1f} min | "
            f"`{shown}` |",
            flush=True,
        )


def _run(args, seed: int, settings: dict) -> RunConfig:
    """The run of one (row, seed): the task's defaults and the row's SEARNN settings."""
    spelling = dict(noise=args.noise, fresh_noise=args.fresh_noise)
    data_options = spelling if args.task == "spelling" else {}
    if args.limit is not None:
        data_options["limit"] = args.limit
    return RunConfig(
        task=args.task,
        data=args.data,
        data_options=data_options,
        model=ModelConfig(cell=args.cell),
        searnn=SearnnConfig(**settings),
        seed=seed,
    )


def _train_args(args, seed, settings: dict) -> list[str]:
    """The `searnn train` arguments of the same run, to show it and to key it in results.jsonl
    (the format earlier versions wrote, so that --resume finds their runs)."""
    train_args = [f"--task={args.task}", f"--epochs={args.epochs}", f"--seed={seed}"]
    if args.cell:  # runs without it keep the key earlier versions gave them
        train_args.append(f"--cell={args.cell}")
    if args.task == "spelling":
        train_args.append(f"--noise={args.noise}")
        if args.fresh_noise:  # runs without it keep the key earlier versions gave them
            train_args.append("--fresh-noise")
    train_args += [f"{options.flag(name)}={value}" for name, value in settings.items()]
    train_args.append("--quiet")
    if args.data is not None:
        train_args.append(f"--data={args.data}")
    if args.limit is not None:
        train_args.append(f"--limit={args.limit}")
    return train_args
