"""Fixture files: atomic writes beside their siblings, and reading a folder back."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from patchbay.mocks.golden import (
    Fixture,
    load_fixture,
)
from patchbay.runtime.errors import ConfigError

if TYPE_CHECKING:
    pass

RECORDED_PREFIX = "recorded-"


def _content_type(headers: Iterable[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "")


def write_atomic(folder: Path, text: str, prefix: str = RECORDED_PREFIX) -> Path:
    """Write ``text`` as the next free ``<prefix><n>.json`` in ``folder``: a temporary file is
    flushed to disk, then hard-linked into place (never clobbers, never half-written)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        taken = {p.name for p in folder.glob(f"{prefix}*.json")}
        n = 1
        while True:
            target = folder / f"{prefix}{n}.json"
            if target.name not in taken:
                try:
                    os.link(tmp, target)
                    return target
                except FileExistsError:
                    pass
            n += 1
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def scan_fixtures(
    connector: str, root: Path, *, recorded_only: bool = False
) -> tuple[dict[str, list[tuple[Path, Fixture]]], list[str]]:
    """Every fixture of ``connector`` by action, and one problem line (with the file's path) per
    corrupt or partial file instead of an exception: one bad file must not hide the others."""
    found: dict[str, list[tuple[Path, Fixture]]] = {}
    problems: list[str] = []
    base = root / connector
    if not base.is_dir():
        return found, problems
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.json")):
            try:
                fixture = load_fixture(path)
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            if recorded_only and fixture.source != "recorded":
                continue
            found.setdefault(folder.name, []).append((path, fixture))
    return found, problems
