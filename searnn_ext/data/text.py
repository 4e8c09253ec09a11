"""Lines of the datasets' text files, read so that every problem is one message naming the file
and the line: bytes that are not UTF-8, a truncated or corrupt gzip file, a malformed line, a
number that is not finite."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

# Some editors (Notepad, Excel's "UTF-8 CSV") start a UTF-8 file with one; it is not text.
BYTE_ORDER_MARK = "\ufeff"


class DataError(ValueError):
    """A dataset file that cannot be read as its task expects; the message names the file and,
    where there is one, the line."""

    def __init__(self, where: str | os.PathLike, problem: str, line: int | None = None) -> None:
        place = f"{where}:{line}" if line is not None else f"{where}"
        super().__init__(f"{place}: {problem}")


def read_lines(file: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(line number, line without its line ending) of a UTF-8 text file, gzip-compressed when
    its name ends with .gz; a byte order mark that starts the file is dropped."""
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
        if number == 1:
            text = text.removeprefix(BYTE_ORDER_MARK)
        yield number, text.rstrip("\r\n")


def finite_numbers(fields: list[str], name: str | os.PathLike, line: int, what: str) -> list[float]:
    """`fields` as floats, or a DataError naming the first that is not a finite number (NaN or
    inf would only surface later, as a run that diverges); `what` says whose numbers they are."""
    try:
        numbers = [float(field) for field in fields]
        if all(map(math.isfinite, numbers)):
            return numbers
    except ValueError:
        pass
    bad = next(field for field in fields if not _is_finite_number(field))
    raise DataError(name, f"{what}: {bad!r} is not a finite number", line)


def _is_finite_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
