"""fit: trains a run (searnn_ext.config.RunConfig) for a number of epochs, and writes into its
output folder:

- metrics.jsonl: one line per step and one per epoch (searnn_ext.metrics_log);
- checkpoint.pt: after every epoch, written then renamed (searnn_ext.checkpoint), never with
  weights that are not finite, so an interruption or a divergence loses at most an epoch;
- best.pt: the same, after each epoch whose validation error is the lowest so far (the first
  of equals): a run that overfits or comes apart late keeps its best model, which `searnn
  evaluate` and `searnn predict` take as they take checkpoint.pt;
- curves.png: the training loss and the validation error, when matplotlib is installed.

With resume=True it continues the run its output folder holds, exactly, or refuses. Under
torchrun every process calls fit; rank 0 writes (see searnn_ext.distributed)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from searnn_ext import checkpoint, distributed, metrics_log, run_folder, tasks
from searnn_ext.config import RunConfig, conflicts
from searnn_ext.costs import natural_cost
from searnn_ext.curves import plot_curves
from searnn_ext.data import batches
from searnn_ext.data.batching import TaskData
from searnn_ext.devices import check_device
from searnn_ext.evaluation import error_rate
from searnn_ext.metrics_log import MetricsLog
from searnn_ext.tasks import TaskRecord
from searnn_ext.trainer import SearnnTrainer

logger = logging.getLogger("searnn")

ON_NONFINITE = ("stop", "skip")
CURVES_EVERY_SECONDS = 60  # redrawing curves.png takes about a second
CHECKPOINT, METRICS, CURVES = "checkpoint.pt", "metrics.jsonl", "curves.png"
BEST = "best.pt"
RUN_FILES = (CHECKPOINT, BEST, METRICS, CURVES)  # what --overwrite sets aside, checkpoint first


class Diverged(RuntimeError):
    """Training met a non-finite loss, gradient or weight; the message says where."""


def recorded_run(output: str | os.PathLike) -> RunConfig | None:
    """The run an output folder holds, to resume: its checkpoint's RunConfig, or None for a
    folder without a run. A log without a checkpoint is a ValueError (see _resumable_state)."""
    state = _resumable_state(Path(output))
    return None if state is None else tasks.as_recorded(RunConfig.from_dict(state["run"]))


def run_with_options(
    options: dict, *, output: str | os.PathLike, resume: bool = False
) -> RunConfig:
    """The run that `options` (settings by command-line name, without --) describe, as
    `searnn train` reads them: with resume, the run recorded in `output` with these replaced
    (fit then refuses any that differs from the recorded run, except what may change), or,
    where there is none, a new one; otherwise a new run of the task's defaults and these."""
    base = recorded_run(output) if resume else None
    if base is None:
        if "task" not in options:
            raise ValueError("--task is required to start a run")
        base = RunConfig(task=options["task"])
    return base.updated(options)


def _resumable_state(output: Path) -> dict | None:
    """The checkpoint in `output`, or None where there is no run. A log without a checkpoint
    (a run stopped in its first epoch, or a checkpoint removed) is a ValueError: resuming would
    start afresh and lose the log."""
    if (output / CHECKPOINT).exists():
        return checkpoint.load(output / CHECKPOINT)
    held = [name for name in (METRICS, BEST) if (output / name).exists()]
    if held:
        kept = ""
        if (output / run_folder.OVERWRITTEN).exists():
            kept = f"; the run it replaced is kept in {output / run_folder.OVERWRITTEN}"
        raise ValueError(
            f"{output}: {' and '.join(held)} but no {CHECKPOINT} to resume from (the run "
            "stopped before its first epoch ended, or the checkpoint was removed); start afresh "
            f"with another output folder, or remove {' and '.join(held)}{kept}"
        )
    return None


def fit(
    run: RunConfig,
    *,
    output: str | os.PathLike,
    epochs: int,
    device: str = "cpu",
    beam: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    on_nonfinite: str = "stop",
    progress: bool = False,
    report: Callable[[str], None] | None = None,
) -> dict:
    """Trains `run` until `epochs` epochs are done; returns the last epoch's summary (epoch,
    step, valid_error, skipped_steps) with the test error (greedy, or beam search of width
    `beam`) and the task's metrics (tasks.Task.metrics: "test_<name>").

    resume: continue the run in `output` (any setting of `run` that differs from the
    checkpoint's is a ValueError naming each; run.searnn.max_rows may differ); without a run
    there, start one. overwrite: start afresh even where `output` holds a run (otherwise a
    ValueError). on_nonfinite: "stop" raises Diverged at the first step with a non-finite
    loss or gradient; "skip" skips such steps (nothing of them is applied) and counts them.
    progress: show a progress bar. report: called with a line for each epoch and the test
    error (e.g. print)."""
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
    if epochs < 1 or beam < 1:
        raise ValueError(f"epochs and beam must be positive, got {epochs} and {beam}")
    if resume and overwrite:
        raise ValueError(
            "--resume continues the run in the output folder and --overwrite replaces it: "
            "choose one"
        )
    check_device(device)
    group, device = distributed.start(device)
    finished = False
    try:
        summary = _Fit(run, Path(output), device, group).train(
            epochs, beam, resume, overwrite, on_nonfinite, progress, report or _quiet
        )
        finished = True
        return summary
    finally:
        distributed.stop(group, finished=finished)


def _quiet(line: str) -> None:
    logger.debug(line)


class _Fit:
    """One call of fit: the run's data, model, trainer and files."""

    def __init__(self, run: RunConfig, output: Path, device: str, group) -> None:
        self.run, self.output, self.device, self.group = run, output, device, group

    def train(self, *arguments) -> dict:
        """Holds the output folder (one run at a time in it) while training."""
        try:
            self.output.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"{self.output}: cannot create the output folder ({error})") from None
        # Only the leader writes into the folder; the other processes follow its lead.
        holding = run_folder.holding if self.group.leader else lambda _: contextlib.nullcontext()
        with holding(self.output):
            return self._train(*arguments)

    def _train(self, epochs, beam, resume, overwrite, on_nonfinite, progress, report) -> dict:
        state = self._previous_state(resume, overwrite)
        data, record = self._data(state)
        torch.manual_seed(self.run.seed)
        model = tasks.build_model(self.run, record)
        pretrained = tasks.task(self.run.task).pretrained
        if state is None and pretrained is not None:
            pretrained(model, self.run.data_options, record)
        model = model.to(self.device)
        rank = self.group.rank
        if rank:
            torch.manual_seed(self.run.seed + 1_000_003 * rank)  # its own dropout masks
        # Each process draws its own roll-in / roll-out mixes and samples; rank 0 as alone.
        generator = torch.Generator().manual_seed(self.run.seed + 1_000_003 * rank)
        config = self.run.searnn
        trainer = SearnnTrainer(
            model,
            tasks.build_optimizer(self.run.optimizer, model),
            config,
            token_frequencies=data.token_frequencies() if config.sampling == "stat" else None,
            generator=generator,
            group=self.group,
            token_names=data.target_tokens,
        )
        epoch = step = skipped = 0
        if state is not None:
            epoch, step, skipped = checkpoint.restore(
                state, trainer, self.output / CHECKPOINT, self.device
            )
        loop = _EpochLoop(self, trainer, data, record, on_nonfinite, progress, report)
        summary = loop.run(epoch, epochs, step, skipped)
        summary.update(self._test(model, data, record, trainer.cost, beam, report))
        return summary

    def _previous_state(self, resume: bool, overwrite: bool) -> dict | None:
        """The checkpoint to resume from (checked against the run and its log), or None; sets
        self.run to the run resolved (tasks.resolve)."""
        path = self.output / CHECKPOINT
        # Whether this run replaces what an overwrite set aside: an overwrite does, and so does
        # a resumed run (its checkpoint is the overwriting run's); a fresh start may not.
        self.replaces_set_aside = overwrite or resume
        if not resume:
            held = [name for name in (CHECKPOINT, BEST) if (self.output / name).exists()]
            if held and not overwrite:
                raise ValueError(
                    f"{self.output} already holds a run ({held[0]}): resume it, or choose "
                    "another output folder (or overwrite it)"
                )
            self._refuse_a_set_aside_run(overwrite)
            self.run = tasks.resolve(self.run)
            return None
        state = _resumable_state(self.output)
        if state is None:
            self._refuse_a_set_aside_run(overwrite)
            logger.info("%s holds no run to resume: starting one", self.output)
            self.run = tasks.resolve(self.run)
            return None
        recorded = tasks.as_recorded(RunConfig.from_dict(state["run"]))
        if self.run.task != recorded.task:  # before its options are judged by the task
            _refuse_changes(path, [f"--task {self.run.task} (the checkpoint's: {recorded.task})"])
        self.run = tasks.resolve(self.run)
        eos_id = state["task"]["model_options"].get("eos_id")
        _refuse_changes(path, conflicts(_with_cost(self.run, eos_id), _with_cost(recorded, eos_id)))
        metrics_log.check_matches(self.output / METRICS, state["epoch"], state["step"], path)
        return state

    def _refuse_a_set_aside_run(self, overwrite: bool) -> None:
        aside = self.output / run_folder.OVERWRITTEN
        if aside.exists() and not overwrite:
            raise ValueError(
                f"{aside} holds the run that an interrupted --overwrite replaced: pass "
                "--overwrite to replace it for good, or move it away"
            )

    def _data(self, state: dict | None) -> tuple[TaskData, TaskRecord]:
        recorded = TaskRecord(**state["task"]) if state is not None else None
        data = tasks.load_data(self.run, recorded.vocabularies if recorded else None)
        where = self.run.data or f"the {self.run.task} task"
        for split in ("train", "valid", "test"):
            if not data.split(split):
                raise ValueError(f"{where}: the {split} split has no examples")
        return data, recorded or TaskRecord.of(data)

    def _test(self, model, data: TaskData, record: TaskRecord, cost, beam, report) -> dict:
        options = dict(beam=beam, device=self.device)
        result = dict(
            test_error=error_rate(
                model, data.test, cost=cost, max_length=record.decode_length, **options
            )
        )
        report(f"test error {result['test_error']:.2f}%")
        for name, metric in tasks.task(self.run.task).metrics.items():
            result[f"test_{name}"] = metric.compute(model, data.test, record, **options)
            report(f"test {metric.title} {result[f'test_{name}']:.2f}")
        return result


@dataclasses.dataclass
class _EpochLoop:
    fit: _Fit
    trainer: SearnnTrainer
    data: TaskData
    record: TaskRecord
    on_nonfinite: str
    progress: bool
    report: Callable[[str], None]
    best_valid_error: float = math.inf  # of the model in best.pt

    def run(self, first_epoch: int, epochs: int, step: int, skipped: int) -> dict:
        fit, group = self.fit, self.fit.group
        output = fit.output
        if group.leader and fit.replaces_set_aside and first_epoch == 0:
            # Only now, with the data, model and trainer built: a run that fails to start
            # leaves the old run where it was.
            run_folder.set_aside(output, RUN_FILES)
        log = MetricsLog(output / METRICS, after_epoch=first_epoch) if group.leader else None
        if group.leader:
            self.best_valid_error = _best_valid_error(output, first_epoch)
        draws_curves = group.leader and importlib.util.find_spec("matplotlib") is not None
        if group.leader and not draws_curves:
            _say_no_curves()
        drawn = time.monotonic()
        summary = dict(epoch=first_epoch, step=step, skipped_steps=skipped)
        try:
            for epoch in range(first_epoch + 1, epochs + 1):
                step, skipped = self._epoch(epoch, epochs, step, skipped, log)
                summary = self._end_epoch(epoch, step, skipped, log)
                if draws_curves and (
                    epoch == epochs or time.monotonic() - drawn > CURVES_EVERY_SECONDS
                ):
                    plot_curves(output / METRICS, output / CURVES)
                    drawn = time.monotonic()
        finally:
            if log is not None:
                log.close()
        return summary

    def _epoch(self, epoch: int, epochs: int, step: int, skipped: int, log) -> tuple[int, int]:
        fit, trainer = self.fit, self.trainer
        batch_size = fit.run.optimizer.batch_size
        shuffle = torch.Generator().manual_seed(fit.run.seed * 100_003 + epoch - 1)
        progress = tqdm(
            batches(self.data.train_of(epoch), batch_size, shuffle=True, generator=shuffle),
            total=-(-len(self.data.train) // batch_size),
            desc=f"epoch {epoch}/{epochs}",
            disable=not (self.progress and fit.group.leader),
            leave=False,
        )
        for batch in progress:
            if batch.src.shape[0] < fit.group.world:
                continue  # a last batch too small to share: skipped
            result = trainer.step(batch.to(fit.device))
            step += 1
            if log is not None:
                log.write(dict(epoch=epoch, step=step, **dataclasses.asdict(result)))
            if not result.finite:
                skipped += 1
                if self.on_nonfinite == "stop":
                    raise Diverged(
                        f"epoch {epoch}, step {step}: the loss ({result.loss}) or the gradient "
                        f"is not finite; the step was not applied and {_kept(epoch)}. Lower "
                        "the learning rate, or skip such steps (--on-nonfinite skip)"
                    )
            speed = result.rollouts / max(result.seconds, 1e-9)
            progress.set_postfix(loss=f"{result.loss:.3f}", rollouts_per_s=f"{speed:,.0f}")
        return step, skipped

    def _end_epoch(self, epoch: int, step: int, skipped: int, log) -> dict:
        fit, model = self.fit, self.trainer.model
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise Diverged(
                f"epoch {epoch}: the model's weights are no longer finite; {_kept(epoch)}. "
                "Lower the learning rate"
            )
        valid = error_rate(
            model,
            self.data.valid,
            cost=self.trainer.cost,
            max_length=self.record.decode_length,
            device=fit.device,
        )
        summary = dict(
            epoch=epoch, step=step, valid_error=valid, skipped_steps=skipped, time=time.time()
        )
        state = checkpoint.training_state(
            self.trainer,
            fit.run,
            self.record,
            epoch=epoch,
            step=step,
            skipped_steps=skipped,
            device=fit.device,
        )  # every process takes part
        if log is not None:
            log.write(summary)
            log.flush()
            checkpoint.save(state, fit.output / CHECKPOINT)
            if valid < self.best_valid_error:
                checkpoint.save(state, fit.output / BEST)
                self.best_valid_error = valid
            if fit.replaces_set_aside:
                run_folder.drop_set_aside(fit.output)
        skips = f" ({skipped} steps skipped: non-finite)" if skipped else ""
        self.report(f"epoch {epoch}: validation error {valid:.2f}%{skips}")
        return summary


def _best_valid_error(output: Path, epochs_done: int) -> float:
    """The validation error of the model in best.pt, for a run resumed after `epochs_done`
    epochs (infinity for a new run: its first epoch writes best.pt). Where the log's best epoch
    (the first of equals) is the checkpoint's and best.pt does not hold it, the run stopped
    between writing the two: best.pt is written from checkpoint.pt first. A run begun before
    best.pt existed keeps the best of the epochs trained since."""
    if epochs_done == 0:
        return math.inf
    errors = {
        record["epoch"]: record["valid_error"]
        for record in metrics_log.read_records(output / METRICS)
        if "valid_error" in record and record["epoch"] <= epochs_done
    }
    held = checkpoint.load(output / BEST)["epoch"] if (output / BEST).exists() else None
    best = min(errors, key=lambda epoch: (errors[epoch], epoch), default=None)
    if best == epochs_done and held != best:
        checkpoint.save(checkpoint.load(output / CHECKPOINT), output / BEST)
        held = best
    return errors.get(held, math.inf)


def _refuse_changes(path: Path, differences: list[str]) -> None:
    if differences:
        raise ValueError(
            f"{path} was trained with other settings, which a resumed run cannot change: "
            + "; ".join(differences)
        )


@functools.cache
def _say_no_curves() -> None:
    """Once per process: the demo trains two runs."""
    logger.info("matplotlib is not installed: no curves.png (pip install matplotlib)")


def _with_cost(run: RunConfig, eos_id: int | None) -> RunConfig:
    """`run` with its cost made explicit: unset, it is the model's natural one."""
    if run.searnn.cost is not None:
        return run
    searnn = dataclasses.replace(run.searnn, cost=natural_cost(eos_id))
    return dataclasses.replace(run, searnn=searnn)


def _kept(epoch: int) -> str:
    """What a run stopped in `epoch` leaves behind."""
    if epoch == 1:
        return "no checkpoint was written"
    return f"the checkpoint of epoch {epoch - 1} is kept"
