"""Files that are never seen half-written."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a path beside `path` to write to; when the block ends, that file replaces `path`
    in one rename (atomic on POSIX), so a reader or an interrupted run sees the old file or the
    new one, never part of one. On an error the partial file is removed and `path` is kept."""
    path = Path(path)
    partial = path.with_name(f"{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
