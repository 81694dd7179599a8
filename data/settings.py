"""Fields of the frozen configuration dataclasses that carry their own help, said once.

``setting(default, "what it does", choices=...)`` is a :func:`dataclasses.field` whose metadata
holds what a command line shows for it (help text, choices).  The commands build their options
from these fields (:func:`glassdyn.commands.options.add_setting`), so a default, a choice or a
description cannot differ between the library and the command line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, field


def setting(default=MISSING, help: str = "", *, choices: Iterable | None = None):
    """A dataclass field with ``help`` (and ``choices``) in its metadata; without ``default`` the
    field is required."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = tuple(choices)
    return field(default=default, metadata=meta)
