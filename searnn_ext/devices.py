"""The device a command runs on, checked before any work starts, and its CPU threads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def check_device(device: str) -> None:
    """Raises ValueError, saying why, unless `device` is the CPU or a CUDA device present."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {device!r}: not a device; use cpu, cuda or cuda:N") from None
    if parsed.type == "cpu":
        return
    if parsed.type != "cuda":
        raise ValueError(f"device {device!r}: searnn_ext runs on cpu or cuda")
    if not torch.cuda.is_available():
        built = "without CUDA" if torch.version.cuda is None else "with CUDA, but sees no GPU"
        raise ValueError(f"device {device!r}: this torch ({torch.__version__}) is built {built}")
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r}: there are only {torch.cuda.device_count()} CUDA devices"
        )


@contextlib.contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Runs the block with torch (and the extension's OpenMP loops) on `count` CPU threads,
    then restores the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
