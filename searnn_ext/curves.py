"""Learning curves drawn from metrics.jsonl files as PNGs (needs matplotlib: `pip install
searnn_ext[plot]`): a run's training loss per step (and its running mean over an epoch's worth
of steps) and validation error per epoch; or several runs' validation errors side by side."""

from __future__ import annotations

import os
from pathlib import Path

from searnn_ext.files import replacing
from searnn_ext.metrics_log import read_records


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        from matplotlib import pyplot
    except ImportError as error:
        raise ImportError(
            "drawing curves needs matplotlib: pip install 'searnn_ext[plot]'"
        ) from error
    return pyplot


def _epochs(records: list[dict]) -> tuple[list[int], list[float]]:
    ends = [r for r in records if "valid_error" in r]
    return [r["epoch"] for r in ends], [r["valid_error"] for r in ends]


def _save(figure, pyplot, png) -> Path:
    with replacing(png) as partial:
        figure.savefig(partial, dpi=100, format="png")
    pyplot.close(figure)
    return Path(png)


def plot_curves(metrics: str | os.PathLike, png: str | os.PathLike) -> Path:
    pyplot = _pyplot()
    records = read_records(metrics)
    steps = [r for r in records if "loss" in r]
    if not steps:
        raise ValueError(f"plot_curves: {metrics} holds no training steps")
    epochs, errors = _epochs(records)
    window = max(1, len(steps) // max(len(epochs), 1))
    losses = [r["loss"] for r in steps]
    running = [
        sum(losses[max(0, i + 1 - window) : i + 1]) / (i + 1 - max(0, i + 1 - window))
        for i in range(len(losses))
    ]
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    step_numbers = [r["step"] for r in steps]
    left.plot(step_numbers, losses, alpha=0.3, label="per step")
    left.plot(step_numbers, running, label=f"mean of {window} steps")
    left.set(xlabel="step", ylabel="training loss", title="training loss")
    left.legend()
    right.plot(epochs, errors, marker="o")
    right.set(xlabel="epoch", ylabel="error (%)", title="validation error")
    return _save(figure, pyplot, png)


def plot_comparison(runs: dict[str, str | os.PathLike], png: str | os.PathLike) -> Path:
    """The validation error per epoch of each run (label -> its metrics.jsonl) on one plot."""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(6, 4), constrained_layout=True)
    for label, metrics in runs.items():
        axes.plot(*_epochs(read_records(metrics)), marker="o", label=label)
    axes.set(xlabel="epoch", ylabel="error (%)", title="validation error")
    axes.legend()
    return _save(figure, pyplot, png)
