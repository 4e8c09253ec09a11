"""Configuration fields that are also command-line options. A dataclass field made with
`option` carries its help text and its `Kind`: the values it takes, written once. The command
line parses with the kind (`searnn train` turns every such field into `--field-name`), and
`check_fields` holds a configuration built in Python, or read from a checkpoint, to the same
rule, so that both refuse the same values with an error naming the option."""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

# Bounds on sizes, far above any model or dataset this package trains on a machine, that turn an
# impossible request (an allocation that cannot succeed, a loop that cannot end) into an error.
MAX_HIDDEN_SIZE = 16_384
MAX_LAYERS = 64
MAX_BATCH_SIZE = 1 << 20
MAX_EXAMPLES = 10_000_000
MAX_LENGTH = 100_000
MAX_COUNT = 1 << 31  # sampled tokens, cells, roll-outs at once
MAX_BEAM = 1024
MAX_THREADS = 1024
# Seeds feed torch.manual_seed after scaling by an epoch and a process rank (fit.py), which must
# stay in int64.
MAX_SEED = (1 << 32) - 1


class Parser(argparse.ArgumentParser):
    """argparse's parser, with an error of one line, not a usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class Kind:
    """The values of an option: `problem` judges a Python value (None where it is fine, else
    what is wrong, as "must be ..."), and calling the kind parses command-line text (argparse's
    `type`)."""

    argparse_keywords: dict = {}

    def problem(self, value: Any) -> str | None:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        return text

    def accepts(self, value: Any) -> bool:
        return self.problem(value) is None

    def __call__(self, text: str) -> Any:
        value = self.parse(text)
        problem = self.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, got {text}")
        return value


class Integer(Kind):
    def __init__(self, low: int, high: int | None = None) -> None:
        self.low, self.high = low, high
        names = {0: "a non-negative integer", 1: "a positive integer"}
        self.what = names.get(low, f"an integer of at least {low}")

    def problem(self, value) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or value < self.low:
            return f"must be {self.what}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high}"
        return None

    def parse(self, text: str) -> int:
        return _number(text, int, self.what)


class Number(Kind):
    """A finite number in [low, high], or in (low, high] where `above` is set."""

    def __init__(self, low: float, high: float = math.inf, *, above: bool = False) -> None:
        self.low, self.high, self.above = low, high, above
        if (low, high, above) == (0, math.inf, True):
            self.what = "must be a positive finite number"
        elif high == math.inf:
            self.what = f"must be a finite number {'above' if above else 'of at least'} {low:g}"
        else:
            self.what = f"must lie in {'(' if above else '['}{low:g}, {high:g}]"

    def problem(self, value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.what
        lowest = value > self.low if self.above else value >= self.low
        finite = isinstance(value, int) or math.isfinite(value)  # an int may not fit a float
        return None if finite and lowest and value <= self.high else self.what

    def parse(self, text: str) -> float:
        return _number(text, float, "a number")


class Choice(Kind):
    """One of `values`, read when judged: a registry (a dict by name) may grow."""

    def __init__(self, values, aliases: dict[str, str] | None = None) -> None:
        self._values, self.aliases = values, aliases or {}

    @property
    def values(self) -> tuple:
        return tuple(self._values)

    @property
    def argparse_keywords(self) -> dict:
        return dict(choices=self.values)

    def problem(self, value) -> str | None:
        return None if value in self.values else f"must be one of {self.values}"

    def __call__(self, text: str) -> str:
        # argparse lists the choices in --help and refuses any other (aliases resolved) itself.
        return self.aliases.get(text, text)


class Switch(Kind):
    argparse_keywords = dict(action=argparse.BooleanOptionalAction)

    def problem(self, value) -> str | None:
        return None if isinstance(value, bool) else "must be True or False"


class Text(Kind):
    def problem(self, value) -> str | None:
        return None if isinstance(value, str) and value else "must be a non-empty string"


class CountOrFraction(Kind):
    """'all' (None), a count (an integer in [1, high]) or a fraction in (0, 1)."""

    what = "must be 'all', a count (an integer >= 1) or a fraction in (0, 1)"

    def __init__(self, high: int) -> None:
        self.count = Integer(1, high)

    def problem(self, value) -> str | None:
        if value is None or (isinstance(value, float) and 0 < value < 1):
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return self.count.problem(value)
        return self.what

    def parse(self, text: str):
        if text == "all":
            return None
        value = _number(text, float, self.what.removeprefix("must be "))
        if math.isfinite(value) and value >= 1 and value == int(value):
            return int(value)
        return value


class PositiveOrOff(Kind):
    """A positive finite number, or 0 / 'off' (None)."""

    what = "must be a positive finite number, or None (0 or 'off' on the command line)"

    def problem(self, value) -> str | None:
        return None if value is None or Number(0, above=True).accepts(value) else self.what

    def parse(self, text: str):
        if text == "off":
            return None
        value = _number(text, float, "a number")
        return None if value == 0 else value


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


# The kinds used by more than one option.
positive_int = Integer(1)
positive_float = Number(0, above=True)
probability = Number(0, 1)
threads = Integer(1, MAX_THREADS)
seed = Integer(0, MAX_SEED)
beam = Integer(1, MAX_BEAM)
examples = Integer(1, MAX_EXAMPLES)


def option(default: Any, help: str, kind: Kind, *, shown_default: str | None = None):
    """A dataclass field with `default`, and in its metadata the command line's help (with the
    default as --help shows it: `shown_default`, else the value) and the field's `kind`. A
    field whose default is None may be None ("unset")."""
    shown = str(default) if shown_default is None else shown_default
    metadata = dict(help=f"{help} (default: {shown})", kind=kind)
    return dataclasses.field(default=default, metadata=metadata)


def argparse_keywords(field: dataclasses.Field) -> dict:
    """add_argument's keywords for a configuration field."""
    return dict(help=field.metadata["help"], **kind_keywords(field.metadata["kind"]))


def kind_keywords(kind: Kind) -> dict:
    """add_argument's keywords that make it take the values of `kind`."""
    keywords = dict(kind.argparse_keywords)
    if "action" not in keywords:
        keywords["type"] = kind
    return keywords


def check_fields(config, *, owner: str | None = None) -> None:
    """A ValueError naming the first field of the dataclass `config` whose value its kind does
    not accept (None passes where the field's default is None)."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is None and field.default is None:
            continue
        problem = field.metadata["kind"].problem(value)
        if problem:
            raise ValueError(
                f"{owner or type(config).__name__}: {field.name} {problem}, got {value!r} "
                f"({flag(field.name)})"
            )


def flag(name: str) -> str:
    """The command-line option of a field: --rollin-mix-prob for rollin_mix_prob."""
    return "--" + name.replace("_", "-")


DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
