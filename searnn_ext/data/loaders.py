"""Tasks by name, for the trainer and the command line."""

from __future__ import annotations

from searnn_ext.data.batching import TaskData
from searnn_ext.data.conll import load_conll
from searnn_ext.data.ocr import load_ocr
from searnn_ext.data.spelling import load_spelling
from searnn_ext.data.synthetic import load_synthetic

TASKS = ("ocr", "conll", "spelling", "synthetic")


def load_task(name: str, path=None, **options) -> TaskData:
    """name: one of TASKS; path: the dataset's folder (unused by "synthetic")."""
    if name == "ocr":
        return load_ocr(path, **options)
    if name == "conll":
        return load_conll(path, **options)
    if name == "spelling":
        return load_spelling(path, **options)
    if name == "synthetic":
        return load_synthetic(**options)
    raise ValueError(f"load_task: name must be one of {TASKS}, got {name!r}")
