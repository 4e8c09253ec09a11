"""Where a loader finds its files: the caller's path, else $SEARNN_DATA/<folder>."""

from __future__ import annotations

import os
from pathlib import Path

ENVIRONMENT_VARIABLE = "SEARNN_DATA"


def data_folder(path: str | os.PathLike | None, folder: str, what: str) -> Path:
    """The folder holding a dataset's files: `path` if given, else $SEARNN_DATA/`folder`."""
    if path is not None:
        if Path(path).is_file():  # a likely slip: the data file named instead of its folder
            raise NotADirectoryError(f"{path} is a file, not a folder: name the {what}'s folder")
        return Path(path)
    root = os.environ.get(ENVIRONMENT_VARIABLE)
    if not root:
        raise FileNotFoundError(
            f"no path for the {what}: pass one, or set {ENVIRONMENT_VARIABLE} to the folder "
            f"that holds {folder}/"
        )
    return Path(root) / folder


def require_file(folder: Path, names: tuple[str, ...], what: str, source: str) -> Path:
    """The first of `names` present in `folder`, or a FileNotFoundError saying what is needed."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"the {what} needs {' or '.join(names)} in {folder}; it can be obtained from {source}"
    )
