"""A run's metrics.jsonl: one JSON line per training step and one per epoch. A resumed run keeps
the lines of the epochs its checkpoint holds and drops the rest (the interrupted epoch's
steps, and a last line cut short), so that its log reads as if it had never stopped."""

from __future__ import annotations

import json
import os
from pathlib import Path

from searnn_ext.files import replacing

COUNTS = ("epoch", "step")  # the fields that place a record in the run


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
    """The records of a log (none where there is no file). A last line cut short by an
    interruption is skipped; any other line that is not a record (a JSON object whose epoch and
    step, where present, are counts) is a ValueError naming the file and line."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: not a metrics log: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break  # cut short by an interruption
            record = None
        if not _is_record(record):
            raise ValueError(f"{path}:{number}: not a metrics record: {line.strip()[:80]}")
        records.append(record)
    return records


def _is_record(record) -> bool:
    if not isinstance(record, dict):
        return False
    counts = [record[name] for name in COUNTS if name in record]
    return all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)


def check_matches(path: str | os.PathLike, epoch: int, step: int, checkpoint: str) -> None:
    """A ValueError unless the log at `path` records every epoch up to `epoch`, the last one
    ending at `step`: the checkpoint written after that epoch belongs to this log."""
    ends = {
        r["epoch"]: r.get("step") for r in read_records(path) if "valid_error" in r and "epoch" in r
    }
    if all(e in ends for e in range(1, epoch + 1)) and ends.get(epoch, step) == step:
        return
    found = f"its last epoch is {max(ends)}" if ends else "it records no epoch"
    if not Path(path).exists():
        found = "there is none"
    raise ValueError(
        f"{path} does not belong to {checkpoint}, written after epoch {epoch} (step {step}): "
        f"{found}. Resuming would leave a log that misreports the run: start afresh with "
        "--overwrite, or use another output folder"
    )


def _keep_epochs(path: Path, epochs: int) -> None:
    kept = [record for record in read_records(path) if record.get("epoch", epochs + 1) <= epochs]
    with replacing(path) as partial:
        partial.write_text("".join(json.dumps(record) + "\n" for record in kept))
