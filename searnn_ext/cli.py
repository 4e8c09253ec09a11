"""The `searnn` command: it parses arguments and calls the library (fit, inference, demo,
reproduce, bench).

searnn demo                                       # MLE against SEARNN, where SEARNN should win
searnn train --task ocr --data DIR --loss ll --rollin learned --rollout mixed --output runs/x
searnn train --task pairs --data DIR --units words --output runs/mine
searnn evaluate runs/x/checkpoint.pt --split test
searnn predict runs/mine/checkpoint.pt --input sources.txt
searnn bench costs --quick                        # the speed benchmarks (bench rollout likewise)
searnn reproduce --task ocr --data DIR --rows MLE "LL learned/mixed" --seeds 0 1

A user's error (an option out of range, a missing or malformed file, a refused checkpoint) is
one line on stderr and exit status 2; a run stopped by a non-finite loss exits with status 1;
--debug shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import signal
import sys

from searnn_ext import demo, reproduce, tasks
from searnn_ext.config import MAY_CHANGE_ON_RESUME, ModelConfig, OptimizerConfig, SearnnConfig
from searnn_ext.data.text import decode_lines, read_lines
from searnn_ext.fit import ON_NONFINITE, Diverged, fit, run_with_options
from searnn_ext.inference import evaluate, predict
from searnn_ext.options import (
    Parser,
    argparse_keywords,
    beam,
    examples,
    flag,
    kind_keywords,
    positive_int,
    seed,
    threads,
)
from searnn_ext.tasks import TASKS, data_option, data_option_names, defaults_text

SECTIONS = {"model": ModelConfig, "optimiser": OptimizerConfig, "SEARNN": SearnnConfig}
# fit's arguments (besides the output folder): they may change when a run is resumed.
RUN_ARGUMENTS = ("epochs", "device", "beam", "on_nonfinite", "quiet")


def _add_config_options(group, config_class) -> None:
    """`--field-name` for every field of a configuration dataclass. Options that are not given
    stay out of the parsed namespace, so that a resumed run can tell them from the run's."""
    for field in dataclasses.fields(config_class):
        keywords = argparse_keywords(field)
        group.add_argument(flag(field.name), dest=field.name, default=argparse.SUPPRESS, **keywords)


def _add_data_options(group) -> None:
    """`--name` for every data option of the task records, with the tasks that take it."""
    for name in sorted(data_option_names()):
        option = data_option(name)
        takers = ", ".join(
            f"{task} {entry.data_options[name].default}"
            for task, entry in TASKS.items()
            if name in entry.data_options
        )
        group.add_argument(
            flag(name),
            dest=name,
            default=argparse.SUPPRESS,
            help=f"{option.help} (tasks and defaults: {takers})",
            **kind_keywords(option.kind),
        )


def _config_names() -> set[str]:
    names = {"task", "data", "seed", *data_option_names()}
    for config_class in SECTIONS.values():
        names |= {field.name for field in dataclasses.fields(config_class)}
    return names


def train(args) -> dict:
    """Trains one model; under torchrun, one process of a data-parallel run."""
    names = _config_names()
    given = {k: v for k, v in vars(args).items() if k in names}
    return fit(
        run_with_options(given, output=args.output, resume=args.resume),
        output=args.output,
        epochs=args.epochs,
        device=args.device,
        beam=args.beam,
        resume=args.resume,
        overwrite=args.overwrite,
        on_nonfinite=args.on_nonfinite,
        progress=not args.quiet,
        report=None if args.quiet else print,
    )


def evaluate_command(args) -> dict:
    result = evaluate(
        args.checkpoint, split=args.split, data=args.data, beam=args.beam, device=args.device
    )
    print(f"{result['task']} {args.split} error: {result['error']:.2f}%")
    for name, metric in tasks.task(result["task"]).metrics.items():
        print(f"{result['task']} {args.split} {metric.title}: {result[name]:.2f}")
    return result


def predict_command(args) -> None:
    if args.input in (None, "-"):
        lines, name = decode_lines(sys.stdin.buffer, "stdin"), "stdin"
    else:
        lines, name = read_lines(args.input), args.input
    for prediction in predict(
        args.checkpoint, lines, name=name, beam=args.beam, device=args.device
    ):
        print(prediction)


def demo_command(args) -> None:
    demo.run(
        seed=args.seed,
        epochs=args.epochs,
        output=args.output,
        limit=args.limit,
        threads=args.threads,
        progress=not args.quiet,
    )


def train_argv(argv: list[str]) -> dict:
    """`searnn train` with these arguments; its summary."""
    return train(parser().parse_args(["train", *argv]))


def bench(args) -> None:
    try:
        module = importlib.import_module(f"searnn_ext.bench.{args.which}")
    except ImportError as error:
        raise ValueError(
            f"bench {args.which} needs {error.name}: pip install 'searnn_ext[bench]'"
        ) from error
    module.main(args.options)


def reproduce_rows(args) -> None:
    reproduce.reproduce(args)


def _resume_help() -> str:
    may_change = [*RUN_ARGUMENTS, *MAY_CHANGE_ON_RESUME]
    return (
        "continue the run in --output exactly: options not given take the run's values; "
        f"{', '.join(flag(n) for n in may_change)} may differ from the run's; any other "
        "option that differs is refused"
    )


def _add_train(commands, common) -> None:
    run = commands.add_parser(
        "train",
        parents=[common],
        help="train a model on a task",
        epilog="each task's defaults (the paper's; synthetic's and denoise's are ours):\n"
        + defaults_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    task = run.add_argument_group("task")
    task.add_argument(
        "--task", choices=tuple(TASKS), default=argparse.SUPPRESS, help="the task (required)"
    )
    task.add_argument(
        "--data",
        default=argparse.SUPPRESS,
        help="the dataset's folder, for the tasks that read files; it holds "
        + "; ".join(f"{name}: {entry.files}" for name, entry in TASKS.items() if entry.files),
    )
    for title, config_class in SECTIONS.items():
        _add_config_options(run.add_argument_group(title), config_class)
    _add_data_options(run.add_argument_group("data (only the tasks named take each)"))
    where = run.add_argument_group("the run")
    where.add_argument(
        "--seed",
        type=seed,
        default=argparse.SUPPRESS,
        help="initialisation, batch order and draws (default: 0)",
    )
    where.add_argument("--output", default="runs/searnn", help="default: %(default)s")
    where.add_argument("--epochs", type=positive_int, default=10, help="default: %(default)s")
    where.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    where.add_argument(
        "--beam",
        type=beam,
        default=1,
        help="the test's beam width (1: greedy; default: %(default)s)",
    )
    where.add_argument("--resume", action="store_true", help=_resume_help())
    where.add_argument(
        "--overwrite", action="store_true", help="train afresh where --output holds a run"
    )
    where.add_argument(
        "--on-nonfinite",
        choices=ON_NONFINITE,
        default="stop",
        help="at a non-finite loss or gradient: stop (exit status 1), or skip the step and "
        "count it (default: %(default)s)",
    )
    where.add_argument("--quiet", action="store_true", help="no progress bar or prints")


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    main = Parser(prog="searnn", description="SEARNN training and evaluation")
    main.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = main.add_subparsers(dest="command", required=True)
    _add_train(commands, common)

    check = commands.add_parser(
        "evaluate", parents=[common], help="a checkpoint's error on a split of its data"
    )
    check.add_argument("checkpoint")
    check.add_argument(
        "--data", default=None, help="the dataset's folder (default: the one it trained on)"
    )
    check.add_argument("--split", choices=["train", "valid", "test"], default="test")
    check.add_argument("--beam", type=beam, default=1, help="beam width (1: greedy)")
    check.add_argument("--device", default="cpu")

    guess = commands.add_parser(
        "predict",
        parents=[common],
        help="a checkpoint's predictions, one per line",
        epilog="input and output by task:\n"
        + "\n".join(f"  {name}: {entry.input_form}" for name, entry in TASKS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    guess.add_argument("checkpoint")
    guess.add_argument("--input", default=None, help="a file of sources (default or -: stdin)")
    guess.add_argument("--beam", type=beam, default=1, help="beam width (1: greedy)")
    guess.add_argument("--device", default="cpu")

    show = commands.add_parser("demo", parents=[common], help=demo.SUMMARY)
    show.add_argument("--epochs", type=positive_int, default=demo.EPOCHS)
    show.add_argument("--seed", type=seed, default=0)
    show.add_argument("--output", default="runs/demo")
    show.add_argument(
        "--limit", type=examples, default=None, help="examples per split, for a quick look"
    )
    show.add_argument(
        "--threads",
        type=threads,
        default=demo.THREADS,
        help="CPU threads (default: %(default)s: more made a busy 2-core machine slower)",
    )
    show.add_argument("--quiet", action="store_true", help="no progress bars")

    speed = commands.add_parser("bench", help="the speed benchmarks (options: bench X --help)")
    speed.add_argument("which", choices=["costs", "rollout", "precision"])
    speed.add_argument("options", nargs=argparse.REMAINDER)

    rows = commands.add_parser(
        "reproduce", parents=[common], help="rows of the paper's Tables 1 and 2"
    )
    reproduce.add_arguments(rows)
    return main


COMMANDS = dict(
    train=train,
    evaluate=evaluate_command,
    predict=predict_command,
    demo=demo_command,
    bench=bench,
    reproduce=reproduce_rows,
)


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except BrokenPipeError:
        # The reader has gone (`searnn predict ... | head -1`): stop quietly, as Unix tools do,
        # with the status of a process ended by SIGPIPE; stdout is closed so that Python's own
        # flush at exit does not report the pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (Diverged, ValueError, OSError) as error:
        if args.debug:
            raise
        print(f"searnn {args.command}: {_one_line(error)}", file=sys.stderr)
        return 1 if isinstance(error, Diverged) else 2
    except KeyboardInterrupt:
        print(f"searnn {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
