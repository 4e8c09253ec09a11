"""A run's metrics.jsonl: one JSON line per training step and one per epoch. A resumed run keeps
the lines of the epochs its checkpoint holds and drops the rest (the interrupted epoch's
steps, and a last line cut short), so that its log reads as if it had never stopped."""

from __future__ import annotations

import json
import os
from pathlib import Path

from searnn_ext.files import replacing


class MetricsLog:
    def __init__(self, path: str | os.PathLike, *, after_epoch: int = 0) -> None:
        """Starts the log afresh, or, after_epoch > 0, continues it after that epoch."""
        self.path = Path(path)
        if after_epoch:
            _keep_epochs(self.path, after_epoch)
        self._file = open(self.path, "a" if after_epoch else "w")

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_records(path: str | os.PathLike) -> list[dict]:
    """The complete lines of a log (a line cut short by an interruption is skipped)."""
    records = []
    for line in Path(path).read_text().splitlines() if Path(path).exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _keep_epochs(path: Path, epochs: int) -> None:
    kept = [record for record in read_records(path) if record.get("epoch", epochs + 1) <= epochs]
    with replacing(path) as partial:
        partial.write_text("".join(json.dumps(record) + "\n" for record in kept))
