"""Lines of the datasets' text files, read so that every problem is one message naming the file
and the line: bytes that are not UTF-8, a truncated or corrupt gzip file, a malformed line."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO


class DataError(ValueError):
    """A dataset file that cannot be read as its task expects; the message names the file and,
    where there is one, the line."""

    def __init__(self, where: str | os.PathLike, problem: str, line: int | None = None) -> None:
        place = f"{where}:{line}" if line is not None else f"{where}"
        super().__init__(f"{place}: {problem}")


def read_lines(file: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(line number, line without its line ending) of a UTF-8 text file, gzip-compressed when
    its name ends with .gz."""
    file = Path(file)
    opener = gzip.open if file.suffix == ".gz" else open
    with opener(file, "rb") as stream:
        yield from decode_lines(stream, file)


def decode_lines(stream: BinaryIO | Iterable[bytes], name: str | os.PathLike):
    """read_lines over an open binary stream (stdin, a file); `name` is what messages call it."""
    number = 0
    lines = iter(stream)
    while True:
        try:
            raw = next(lines)
        except StopIteration:
            return
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise DataError(name, f"truncated or corrupt gzip data ({error})", number + 1) from None
        number += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problem = f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})"
            raise DataError(name, problem, number) from None
        yield number, text.rstrip("\r\n")
