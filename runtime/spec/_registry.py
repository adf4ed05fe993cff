"""Finding specs by name: the project's ``specs/<name>.json`` first, then the bundled ones.

A project's spec of the same name as a bundled one wins; enumeration (``names``) covers only the
project's own specs, so ``generate`` or ``contract`` with no names never touch the bundled set.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec._loading import load_spec
from patchbay.runtime.spec._model import ConnectorSpec

SCHEMA_FILE = "connector.schema.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # a file stem: no separators, no dots


# The specs shipped with Patchbay (``patchbay/specs`` in the wheel, ``specs/`` in the checkout).
BUNDLED_SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"


def default_specs_dir() -> Path:
    """``$PATCHBAY_SPECS_DIR``, else ``./specs``: the current project's."""
    configured = os.environ.get("PATCHBAY_SPECS_DIR")
    return Path(configured) if configured else Path("specs")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def spec_files(directory: Path) -> list[Path]:
    """Every connector spec file in ``directory`` (the published schema is not one)."""
    return sorted(p for p in directory.glob("*.json") if p.name != SCHEMA_FILE)


class SpecRegistry:
    """Loads each spec once; unknown names get an error naming the closest ones."""

    def __init__(self, directory: Path | None = None, *, bundled: bool = True) -> None:
        self.directory = directory or default_specs_dir()
        self.fallback = (
            BUNDLED_SPECS_DIR if bundled and not _same(self.directory, BUNDLED_SPECS_DIR) else None
        )
        self._loaded: dict[str, ConnectorSpec] = {}

    def names(self) -> list[str]:
        """The project's own connectors (not the bundled ones)."""
        return [p.stem for p in spec_files(self.directory)] if self.directory.is_dir() else []

    def all_names(self) -> list[str]:
        """Every connector ``get`` can load: the project's and the bundled ones."""
        bundled = [p.stem for p in spec_files(self.fallback)] if self.fallback else []
        return sorted({*self.names(), *bundled})

    def path_of(self, name: str) -> Path | None:
        """The file ``get(name)`` loads, or None for an unknown name."""
        if name == SCHEMA_FILE.removesuffix(".json") or not _NAME.fullmatch(name):
            return None
        for folder in (self.directory, self.fallback):
            if folder is not None and (folder / f"{name}.json").is_file():
                return folder / f"{name}.json"
        return None

    def is_bundled(self, name: str) -> bool:
        """True when ``name`` comes from Patchbay's own specs (the project has no such spec)."""
        path = self.path_of(name)
        return path is not None and _same(path.parent, BUNDLED_SPECS_DIR)

    def get(self, name: str) -> ConnectorSpec:
        spec = self._loaded.get(name)
        if spec is not None:
            return spec
        path = self.path_of(name)
        if path is None:
            known = self.all_names()
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ConfigError(
                f"unknown connector {name!r}{hint} (have: {', '.join(known) or 'none'})"
            )
        spec = self._loaded[name] = load_spec(path)
        return spec
