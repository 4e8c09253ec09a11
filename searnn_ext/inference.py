"""What a trained checkpoint is for: its predictions on new inputs (`searnn predict`) and its
error on a split of its task's data (`searnn evaluate`). Both read what they need of the model
and of its data from the checkpoint alone, and decode alike (evaluation.decoded_batches), so
that the error of predict's output on a split is the error evaluate reports on it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator

import torch

from searnn_ext import checkpoint, tasks
from searnn_ext.costs import cost_of
from searnn_ext.data.batching import Example
from searnn_ext.devices import check_device
from searnn_ext.evaluation import decoded_batches, error_rate


def predict(
    path: str | os.PathLike,
    lines: Iterable[tuple[int, str]],
    *,
    name: str = "the input",
    beam: int = 1,
    device: str = "cpu",
) -> Iterator[str]:
    """The checkpoint's output for each source of `lines` ((line number, text) pairs, as
    searnn_ext.data.text.read_lines gives them), in the task's text form (see
    searnn_ext.tasks.TASKS: letters, a corrected text, chunk tags, a pairs target). Greedy
    decoding, or beam search of width `beam`. `name` is what error messages call the input."""
    check_device(device)
    model, run, record = checkpoint.load_model(path, device)
    entry = tasks.task(run.task)
    nothing = torch.zeros(0, dtype=torch.long)
    sources = entry.read_sources(lines, name, record, run.data_options)
    examples = [Example(source, nothing) for source in sources]
    for _, tokens, lengths in decoded_batches(
        model, examples, max_length=record.decode_length, beam=beam, device=device
    ):
        for row, length in zip(tokens.tolist(), lengths.tolist(), strict=True):
            yield entry.show(row[:length], record, run.data_options)


def evaluate(
    path: str | os.PathLike,
    *,
    split: str = "test",
    data: str | os.PathLike | None = None,
    beam: int = 1,
    device: str = "cpu",
) -> dict:
    """The checkpoint's error (%) on a split of its task's data, read from `data` (default: the
    folder it was trained on) with its vocabularies: {"task", "split", "error"}, and the
    task's metrics by name (tasks.Task.metrics)."""
    check_device(device)
    model, run, record = checkpoint.load_model(path, device)
    if data is not None:
        run = tasks.resolve(dataclasses.replace(run, data=str(data)))
    examples = tasks.load_data(run, record.vocabularies).split(split)
    if not examples:
        raise ValueError(f"{run.data or run.task}: the {split} split has no examples")
    options = dict(beam=beam, device=device)
    cost = cost_of(run.searnn.cost_for(model), "evaluate").named(record.target_tokens, "evaluate")
    result = dict(task=run.task, split=split)
    result["error"] = error_rate(
        model, examples, cost=cost, max_length=record.decode_length, **options
    )
    for name, metric in tasks.task(run.task).metrics.items():
        result[name] = metric.compute(model, examples, record, **options)
    return result
