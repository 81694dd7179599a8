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
            raise argparse.ArgumentTypeError(
                f"{p!r} in {text!r} is not finite; give finite numbers"
            )
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


# ------------------------------------------------------------------ options from dataclasses
def _field(cls, name: str):
    import dataclasses

    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise AttributeError(f"{cls.__name__} has no field {name!r}")


def _value_type(cls, name: str):
    """The type a field holds: ``X`` for ``X | None``."""
    import types
    import typing

    hint = typing.get_type_hints(cls)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def add_setting(parser: argparse.ArgumentParser, cls, name: str, *flags: str, **kwargs) -> None:
    """Add the option that sets field ``name`` of the dataclass ``cls``: its default, and the help
    and choices of :func:`glassdyn.data.settings.setting`, unless ``kwargs`` say otherwise.

    The flag is ``--name-with-dashes`` unless ``flags`` are given; a ``bool`` field becomes a
    ``--x / --no-x`` switch; ``int``, ``float`` and ``str`` fields parse as such; the help of an
    option with a default ends with it."""
    import dataclasses

    f = _field(cls, name)
    kw: dict = {"dest": name}
    if f.default is not dataclasses.MISSING:
        kw["default"] = f.default
    else:
        kw["required"] = True
    if f.metadata.get("help"):
        kw["help"] = f.metadata["help"]
    if "choices" in f.metadata:
        kw["choices"] = f.metadata["choices"]
    kind = _value_type(cls, name)
    if "action" not in kwargs:
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif kind in (int, float, str) and "choices" not in kw:
            kw["type"] = kind
    kw.update(kwargs)
    if kw.get("help") and kw.get("default") is not None and "action" not in kw:
        kw["help"] += " (default: %(default)s)"
    parser.add_argument(*(flags or ("--" + name.replace("_", "-"),)), **kw)


def settings_from_args(cls, args: argparse.Namespace, **overrides):
    """An instance of the dataclass ``cls`` from the parsed options named after its fields
    (fields without an option keep their defaults; ``overrides`` win)."""
    import dataclasses

    given = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)
    }
    return cls(**{**given, **overrides})


def add_cluster_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """--workers / --scheduler of the commands that quench (``quench``, ``import --quench``)."""
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"{prefix}local worker processes, 1 thread each (default: number of CPUs; 0 = no dask)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help=f"{prefix}address of a running dask scheduler (e.g. tcp://host:8786) instead of a local cluster",
    )
