"""`searnn demo`: MLE and SEARNN (LL, learned roll-in, mixed roll-out) trained on the same task,
with the same model, optimiser, data and number of epochs, and their test errors side by side."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path

from searnn_ext.curves import plot_comparison
from searnn_ext.fit import METRICS, fit
from searnn_ext.run import RunConfig
from searnn_ext.trainer import SearnnConfig

TASK = "synthetic"
EPOCHS = 5
SUMMARY = "MLE against SEARNN on the synthetic task"
WHY = (
    "Why: MLE only ever continues the true prefix (teacher forcing); once its own output slips "
    "it is somewhere training never showed it. SEARNN trains on its own prefixes, and its "
    "roll-outs score each next token by the edit distance it leads to."
)
CONTENDERS = {
    "MLE": SearnnConfig(loss="mle"),
    "SEARNN (LL, learned roll-in, mixed roll-out)": SearnnConfig(
        loss="ll", rollin="learned", rollout="mixed"
    ),
}


def run(
    *,
    seed: int = 0,
    epochs: int = EPOCHS,
    output: str | os.PathLike = "runs/demo",
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Trains each of CONTENDERS on TASK into output/<mle|ll>; returns, by name, its fit
    summary with its wall time ("seconds"). Reports both test errors, the wall times and why
    they differ; draws output/curves.png when matplotlib is installed."""
    results, folders = {}, {}
    for name, config in CONTENDERS.items():
        folders[name] = Path(output) / config.loss
        report(f"training {name} on the {TASK} task for {epochs} epochs...")
        start = time.perf_counter()
        summary = fit(
            RunConfig(task=TASK, seed=seed, searnn=config),
            output=folders[name],
            epochs=epochs,
            overwrite=True,
            progress=progress,
        )
        results[name] = dict(summary, seconds=time.perf_counter() - start)
    width = max(len(name) for name in results)
    for name, result in results.items():
        report(
            f"{name:<{width}}  test error {result['test_error']:6.2f}%   {result['seconds']:5.0f} s"
        )
    report(WHY)
    if importlib.util.find_spec("matplotlib") is not None:
        png = plot_comparison(
            {n: f / METRICS for n, f in folders.items()}, Path(output) / "curves.png"
        )
        report(f"validation curves: {png}")
    return results
