"""Configuration fields that are also command-line options. A dataclass field made with
`option` carries its help text and argparse keywords (type, choices, action); `searnn train`
turns every such field into `--field-name`, so adding a field to a configuration adds its
option. The value types below reject what argparse cannot, naming the value."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def option(default: Any, help: str, *, shown_default: str | None = None, **argparse_keywords):
    """A dataclass field with `default` and, in its metadata, the command line's help, the
    default as --help shows it (`shown_default`, else the value), and argparse keywords."""
    shown = str(default) if shown_default is None else shown_default
    metadata = dict(help=f"{help} (default: {shown})", **argparse_keywords)
    return dataclasses.field(default=default, metadata=metadata)


def flag(name: str) -> str:
    """The command-line option of a field: --rollin-mix-prob for rollin_mix_prob."""
    return "--" + name.replace("_", "-")


def positive_int(text: str) -> int:
    value = _number(text, int, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a positive number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def probability(text: str) -> float:
    value = _number(text, float, "a probability")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def count_or_fraction(text: str) -> int | float | None:
    """'all' (None), a count (an integer >= 1) or a fraction in (0, 1)."""
    if text == "all":
        return None
    value = _number(text, float, "'all', a count or a fraction")
    if value >= 1 and value == int(value):
        return int(value)
    if 0 < value < 1:
        return value
    raise argparse.ArgumentTypeError(
        f"must be 'all', a count (an integer >= 1) or a fraction in (0, 1), got {text}"
    )


def norm_or_off(text: str) -> float | None:
    """A positive number, or 0 / 'off' (None)."""
    if text in ("0", "off"):
        return None
    return positive_float(text)


DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}


def dtype_name(text: str) -> str:
    """A floating-point dtype's name: float32, bfloat16, float16, or an alias (bf16, fp16)."""
    return DTYPE_ALIASES.get(text, text)


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
