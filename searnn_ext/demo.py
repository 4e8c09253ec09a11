"""`searnn demo`: MLE and SEARNN (LL, learned roll-in, mixed roll-out) trained on the same task,
with the same model, optimiser, data and number of epochs, and their test errors side by side.
The task is `denoise` (searnn_ext/data/denoise.py says why SEARNN should win there);
results/RESULTS.md gives five seeds."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path

from searnn_ext.config import RunConfig, SearnnConfig
from searnn_ext.curves import plot_comparison
from searnn_ext.devices import cpu_threads
from searnn_ext.fit import METRICS, fit

TASK = "denoise"
EPOCHS = 25  # what fits in about 3 minutes on 2 CPU cores
# Its model is small: a second thread gains little, and on a busy 2-core machine it made the
# demo 6 times slower (813 s against 137 s, results/RESULTS.md).
THREADS = 1
SUMMARY = "MLE against SEARNN on a task where exposure bias bites (about 3 minutes)"
WHY = (
    "Why: MLE learns only from clean, teacher-forced prefixes, and the better it fits them the "
    "worse it continues its own slips; SEARNN learns from its own prefixes, each next token "
    "scored by the edit distance its roll-out reaches."
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
    limit: int | None = None,
    threads: int = THREADS,
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Trains each of CONTENDERS on TASK into output/<mle|ll> (limit: examples per split, for
    quick runs; threads: CPU threads); returns, by name, its fit summary with its wall time
    ("seconds"). Reports both test errors, the wall times and why they differ; draws
    output/curves.png when matplotlib is installed."""
    results, folders = {}, {}
    with cpu_threads(threads):
        for name, config in CONTENDERS.items():
            folders[name] = Path(output) / config.loss
            report(f"training {name} on the {TASK} task for {epochs} epochs...")
            start = time.perf_counter()
            summary = fit(
                RunConfig(task=TASK, seed=seed, searnn=config, data_options=dict(limit=limit)),
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
    mle_error, searnn_error = (result["test_error"] for result in results.values())
    gap = mle_error - searnn_error
    lower = "below" if gap > 0 else "above"
    report(f"SEARNN's test error is {abs(gap):.2f} points {lower} MLE's.")
    report(WHY)
    if importlib.util.find_spec("matplotlib") is None:
        report("no picture of the curves: matplotlib is not installed (pip install matplotlib)")
        return results
    png = plot_comparison({n: f / METRICS for n, f in folders.items()}, Path(output) / "curves.png")
    report(f"validation curves of both: {png}")
    return results
