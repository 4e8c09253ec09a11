"""Learning curves of a run, drawn from its metrics.jsonl as a PNG: the training loss per step
(and its running mean over an epoch's worth of steps) and the validation error per epoch.
Needs matplotlib (`pip install searnn_ext[plot]`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from searnn_ext.files import replacing


def plot_curves(metrics: str | os.PathLike, png: str | os.PathLike) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        from matplotlib import pyplot
    except ImportError as error:
        raise ImportError("plot_curves needs matplotlib: pip install 'searnn_ext[plot]'") from error
    records = [json.loads(line) for line in Path(metrics).read_text().splitlines() if line]
    steps = [r for r in records if "loss" in r]
    epochs = [r for r in records if "valid_error" in r]
    if not steps:
        raise ValueError(f"plot_curves: {metrics} holds no training steps")
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
    right.plot([r["epoch"] for r in epochs], [r["valid_error"] for r in epochs], marker="o")
    right.set(xlabel="epoch", ylabel="error (%)", title="validation error")
    with replacing(png) as partial:
        figure.savefig(partial, dpi=100, format="png")
    pyplot.close(figure)
    return Path(png)
