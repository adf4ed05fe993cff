"""Finding specs by connector name: ``specs/<name>.json`` under a configurable directory."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import ConnectorSpec
from patchbay.runtime.spec_loading import load_spec

SCHEMA_FILE = "connector.schema.json"


def default_specs_dir() -> Path:
    """``$PATCHBAY_SPECS_DIR``, else the ``specs/`` folder beside this package."""
    configured = os.environ.get("PATCHBAY_SPECS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "specs"


def spec_files(directory: Path) -> list[Path]:
    """Every connector spec file in ``directory`` (the published schema is not one)."""
    return sorted(p for p in directory.glob("*.json") if p.name != SCHEMA_FILE)


class SpecRegistry:
    """Loads each spec once; unknown names get an error naming the closest ones."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_specs_dir()
        self._loaded: dict[str, ConnectorSpec] = {}

    def names(self) -> list[str]:
        return [p.stem for p in spec_files(self.directory)]

    def get(self, name: str) -> ConnectorSpec:
        spec = self._loaded.get(name)
        if spec is not None:
            return spec
        path = self.directory / f"{name}.json"
        if not path.is_file() or path.name == SCHEMA_FILE:
            known = self.names()
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ConfigError(
                f"unknown connector {name!r}{hint} (have: {', '.join(known) or 'none'})"
            )
        spec = self._loaded[name] = load_spec(path)
        return spec
