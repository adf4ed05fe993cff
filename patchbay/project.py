"""The project a command works on: the user's ``specs/``, ``golden/`` and output package.

Patchbay operates on the current directory. Settings come from flags, else from
``[tool.patchbay]`` in the nearest ``pyproject.toml`` (searching upwards), else defaults:
``specs/``, ``golden/`` and ``connectors/`` (package ``connectors``) beside that file or in the
current directory; ``--specs-dir`` alone makes its parent folder the project folder. Bundled
connectors (``patchbay call stripe …``) need no project at all.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import BUNDLED_SPECS_DIR, SpecRegistry
from patchbay.runtime.webhooks import EventRouter

BUNDLED_GOLDEN_DIR = BUNDLED_SPECS_DIR.parent / "golden"
BUNDLED_PACKAGE = "patchbay.connectors"
_KEYS = {"specs", "golden", "out", "package"}
PROJECT = "patchbay.project"  # key of the discovered Project in the root click context's meta


def _find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _settings(pyproject: Path) -> dict[str, str]:
    try:
        data: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: not readable as TOML ({exc})") from None
    table = data.get("tool", {}).get("patchbay", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.patchbay] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{pyproject}: unknown [tool.patchbay] key(s) {', '.join(unknown)} "
            f"(have: {', '.join(sorted(_KEYS))})"
        )
    bad = [k for k, v in table.items() if not isinstance(v, str) or not v]
    if bad:
        raise ConfigError(f"{pyproject}: [tool.patchbay] {', '.join(bad)} must be strings")
    return dict(table)


def package_for(out: Path, root: Path) -> str:
    """The dotted name of folder ``out`` seen from ``root`` (a leading ``src/`` is a path root)."""
    try:
        parts = list(out.resolve().relative_to(root.resolve()).parts)
    except ValueError:
        parts = [out.name]
    if parts and parts[0] == "src":
        parts = parts[1:]
    if not parts or not all(p.isidentifier() for p in parts):
        raise ConfigError(
            f"cannot derive a package name from {out}: pass --package (e.g. myapp.connectors)"
        )
    return ".".join(parts)


def _valid_package(name: str) -> str:
    if not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(f"{name!r} is not a dotted Python package name")
    return name


@dataclass(frozen=True)
class Project:
    """Where a project's specs, fixtures and generated clients live."""

    root: Path
    specs: Path
    golden: Path
    out: Path
    package: str

    @classmethod
    def discover(
        cls,
        cwd: Path | None = None,
        *,
        specs: Path | None = None,
        golden: Path | None = None,
        out: Path | None = None,
        package: str | None = None,
    ) -> Project:
        """Flags win over ``[tool.patchbay]``, which wins over the defaults."""
        here = (cwd or Path.cwd()).resolve()
        pyproject = _find_pyproject(here)
        root = pyproject.parent if pyproject is not None else here
        table = _settings(pyproject) if pyproject is not None else {}
        specs_dir = specs or root / table.get("specs", "specs")
        # A specs folder named on the command line makes its parent the project folder.
        base = specs.parent if specs is not None else root
        golden_dir = golden or base / table.get("golden", "golden")
        out_dir = out or base / table.get("out", "connectors")
        if package is not None:
            name = _valid_package(package)
        elif out is None and "package" in table:
            name = _valid_package(table["package"])
        else:
            name = package_for(out_dir, root)
        return cls(root, specs_dir, golden_dir, out_dir, name)

    @property
    def import_root(self) -> Path:
        """The folder that must be on ``sys.path`` for ``package`` to import from ``out``."""
        depth = len(self.package.split("."))
        return self.out.resolve().parents[depth - 1]

    def activate(self) -> None:
        """Make the project's generated package importable in this process."""
        if self.package.split(".")[0] == "patchbay":
            return
        root = str(self.import_root)
        if root not in sys.path:
            sys.path.insert(0, root)

    def golden_for(self, registry: SpecRegistry, connector: str) -> Path:
        """The project's fixtures; for a bundled connector, the bundled ones unless the project
        keeps its own folder for it (project first, as with specs)."""
        if registry.is_bundled(connector) and not (self.golden / connector).is_dir():
            return BUNDLED_GOLDEN_DIR
        return self.golden

    def package_for(self, registry: SpecRegistry, connector: str) -> str:
        """The package holding ``connector``'s generated client."""
        return BUNDLED_PACKAGE if registry.is_bundled(connector) else self.package

    def event_routers(self, registry: SpecRegistry, connectors: Iterable[str]) -> list[EventRouter]:
        """The generated routers of ``connectors``, each from its package (project or bundled)."""
        self.activate()
        return [
            router
            for name in connectors
            for router in event_routers(self.package_for(registry, name), [name])
        ]


def event_routers(package: str, connectors: Iterable[str]) -> list[EventRouter]:
    """One instance of every generated ``<Connector><Webhook>Events`` router of ``connectors``
    in ``package`` (connectors without generated triggers are skipped), to hand to a
    ``WebhookManager``: the runtime itself never imports generated code."""
    found: list[EventRouter] = []
    for name in connectors:
        try:
            module = importlib.import_module(f"{package}.{name}.triggers")
        except ModuleNotFoundError:
            continue
        found += [
            value()
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, EventRouter)
            and value is not EventRouter
        ]
    return found


def current_project() -> Project:
    """The project the ``patchbay`` command discovered (flags, ``[tool.patchbay]``, defaults)."""
    context = click.get_current_context(silent=True)
    project = context.find_root().meta.get(PROJECT) if context is not None else None
    return project if isinstance(project, Project) else Project.discover()
