"""A run's output folder while a run uses it: one run at a time, and an overwritten run kept
until the run that replaces it has a checkpoint of its own."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

LOCK = ".searnn.lock"
OVERWRITTEN = "overwritten"  # where --overwrite keeps the run it replaces, until it is replaced


@contextlib.contextmanager
def holding(folder: Path) -> Iterator[None]:
    """Holds the folder's lock file for the block, or refuses (a ValueError naming the folder
    and the process that holds it). The lock is the kernel's (flock): it ends with the process
    that holds it, so a killed run leaves no stale lock behind, only the file with its pid."""
    with open(folder / LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise ValueError(
                f"{folder} is in use by another run (process {holder}); wait for it to end, "
                "or choose another output folder"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def set_aside(folder: Path, names: tuple[str, ...]) -> None:
    """Moves the files `names` of the run in `folder` (names[0]: its checkpoint) into
    folder/overwritten, so that a new run can start there without destroying the old one
    before it has a checkpoint. Where an earlier set-aside is still there, the newest complete
    run is kept: the folder's own if it has a checkpoint (that overwrite had written one),
    else the one set aside (that overwrite was interrupted first), and the rest goes."""
    aside = folder / OVERWRITTEN
    present = [name for name in names if (folder / name).exists()]
    if aside.exists() and not (folder / names[0]).exists():
        for name in present:
            (folder / name).unlink()
        return
    if present:
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir()
        for name in present:
            os.replace(folder / name, aside / name)


def drop_set_aside(folder: Path) -> None:
    """Deletes what set_aside kept, once the new run has a checkpoint."""
    shutil.rmtree(folder / OVERWRITTEN, ignore_errors=True)
