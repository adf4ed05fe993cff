"""Feature flags from the environment and a ``.env`` file (the environment wins)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; ``#`` comments, ``export`` prefixes and matching quotes allowed."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


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
