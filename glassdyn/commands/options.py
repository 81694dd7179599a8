"""One syntax for every command's lists: comma-separated, spaces tolerated.

``--temperatures 0.8,0.64`` (or ``--temperatures "0.8, 0.64"``) everywhere: ``simulate``, ``import``,
``train``, ``evaluate``, ``predict``, ``analyze``, ``gen``.  A bad list is an error naming the field
and the fix (argparse turns it into ``glassdyn CMD: error: argument --temperatures: ...``, exit 2):
an empty field (``0.8,,0.6``, a trailing comma), something that is not a number, a number that is
not finite, or one that is not positive where the option needs it.

Each parser is an argparse ``type=``: it receives the whole option value as one string.
"""

from __future__ import annotations

import argparse
import math

_EXAMPLE_FLOATS = "comma-separated numbers like 0.8,0.64"
_EXAMPLE_INTS = "comma-separated integers like 0,3,7"


def _fields(text: str, example: str) -> list[str]:
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"empty list {text!r}; give {example}")
    for i, p in enumerate(parts):
        if not p:
            raise argparse.ArgumentTypeError(
                f"empty field {i + 1} in {text!r}; give {example} (no doubled or trailing comma)"
            )
        if any(c.isspace() for c in p):
            raise argparse.ArgumentTypeError(
                f"{p!r} in {text!r} is not one number; separate numbers by commas ({example})"
            )
    return parts


def float_list(text: str, *, positive: bool = True) -> tuple[float, ...]:
    """``"0.8, 0.64"`` -> (0.8, 0.64); every number finite (and > 0 when ``positive``)."""
    out = []
    for p in _fields(text, _EXAMPLE_FLOATS):
        try:
            v = float(p)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{p!r} in {text!r} is not a number; give {_EXAMPLE_FLOATS}"
            ) from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{p!r} in {text!r} is not finite; give finite numbers")
        if positive and not v > 0:
            raise argparse.ArgumentTypeError(f"{p!r} in {text!r} must be positive")
        out.append(v)
    return tuple(out)


def positive_floats(text: str) -> tuple[float, ...]:
    """argparse type of temperatures and times: finite numbers > 0."""
    return float_list(text, positive=True)


def positive_float(text: str) -> float:
    """argparse type of one temperature or density: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return v


def index_list(text: str) -> tuple[int, ...]:
    """``"0,3,7"`` -> (0, 3, 7): non-negative integers (configuration or time indices)."""
    out = []
    for p in _fields(text, _EXAMPLE_INTS):
        try:
            v = int(p)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{p!r} in {text!r} is not an integer; give {_EXAMPLE_INTS}"
            ) from None
        if v < 0:
            raise argparse.ArgumentTypeError(f"{p!r} in {text!r} must be >= 0")
        out.append(v)
    return tuple(out)


def indices_or_all(text: str) -> tuple[int, ...] | None:
    """``"all"`` -> None, else :func:`index_list`."""
    return None if str(text).strip() == "all" else index_list(text)
