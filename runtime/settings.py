"""Feature flags from the environment and a ``.env`` file (the environment wins)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def read_dotenv(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs of a ``.env`` file (python-dotenv's grammar); keys without a value
    are left out, a missing file is empty."""
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path, encoding="utf-8").items() if v is not None}


def flag(
    name: str,
    *,
    default: bool = False,
    environ: Mapping[str, str] | None = None,
    dotenv: Path | None = None,
) -> bool:
    """A boolean setting; an unrecognised value is an error rather than a silent default."""
    env = os.environ if environ is None else environ
    raw = env.get(name)
    if raw is None:
        raw = read_dotenv(dotenv if dotenv is not None else Path(".env")).get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ValueError(
        f"{name}={raw!r} is not a boolean (use one of 1/0, true/false, yes/no, on/off)"
    )


def generic_executor_enabled(
    *, environ: Mapping[str, str] | None = None, dotenv: Path | None = None
) -> bool:
    return flag("GENERIC_EXECUTOR_ENABLED", environ=environ, dotenv=dotenv)
