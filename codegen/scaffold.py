"""``patchbay new``: a connector spec skeleton that validates, generates and whose one example
action passes the contract suite once a golden fixture exists.

The skeleton is a starting point, not a guess about the vendor: every place the author must fill
in carries a ``TODO`` in a free-text field (titles, descriptions), so ``validate`` accepts it and
``grep TODO`` finds them all; URLs point at ``example.com`` until the author replaces them.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import NAME_PATTERN, check_spec_data

AuthKind = Literal["bearer", "api_key", "basic", "oauth2"]
AUTH_KINDS: tuple[AuthKind, ...] = ("bearer", "api_key", "basic", "oauth2")
DEFAULT_BASE_URL = "https://api.example.com/v1"
EXAMPLE_ACTION = "get_item"
VARIABLE_PATTERN = "^[A-Za-z0-9][A-Za-z0-9-]{0,62}$"
ORIGIN_PATTERN = "^https://[A-Za-z0-9.-]+(:[0-9]+)?$"


@dataclass(frozen=True)
class Scaffold:
    """What ``patchbay new`` wrote."""

    name: str
    spec_path: Path
    golden_dir: Path

    def next_steps(self) -> list[str]:
        spec, golden = self.spec_path, self.golden_dir
        return [
            f"edit {spec}: base URL, auth, test_connection and actions (grep TODO)",
            f"patchbay validate {spec}",
            f"patchbay generate {self.name}",
            f"write a golden fixture in {golden}/ (format: golden/README.md), "
            f"or record one: patchbay record {self.name}",
            f"patchbay contract {self.name}",
            f"patchbay coverage {self.name}",
        ]


def check_name(name: str) -> None:
    """A connector name must be a spec name and an importable package name."""
    if re.fullmatch(NAME_PATTERN, name) is None:
        raise ConfigError(
            f"connector name {name!r} must match {NAME_PATTERN} (lower case, digits, _)"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ConfigError(f"connector name {name!r} is a Python keyword")


def _title(name: str) -> str:
    return " ".join(part.capitalize() for part in name.split("_") if part)


def _auth(kind: AuthKind, name: str) -> dict[str, Any]:
    """One auth variant of ``kind`` with obviously fake example values."""
    if kind == "bearer":
        return {
            "name": "api_token",
            "title": "API token",
            "description": "TODO: where the user creates the token.",
            "type": "bearer",
            "token": "{api_token}",
            "fields": {
                "api_token": {
                    "description": "TODO: the token, as the vendor names it.",
                    "secret": True,
                    "example": f"FAKE_{name}_token_0000",
                }
            },
        }
    if kind == "api_key":
        return {
            "name": "api_key",
            "title": "API key",
            "description": "TODO: where the user finds the key; header or query as the vendor "
            "wants it.",
            "type": "api_key",
            "in": "header",
            "params": [{"name": "X-API-Key", "value": "{api_key}"}],
            "fields": {
                "api_key": {
                    "description": "TODO: the key, as the vendor names it.",
                    "secret": True,
                    "example": f"FAKE_{name}_key_0000",
                }
            },
        }
    if kind == "basic":
        return {
            "name": "basic",
            "title": "Username and password",
            "description": "TODO: what the vendor takes as user name and password.",
            "type": "basic",
            "username": "{username}",
            "password": "{password}",
            "fields": {
                "username": {
                    "description": "TODO: the user name or account id.",
                    "secret": False,
                    "example": "fake-user",
                },
                "password": {
                    "description": "TODO: the password or API secret.",
                    "secret": True,
                    "example": f"FAKE_{name}_secret_0000",
                },
            },
        }
    return {
        "name": "oauth2",
        "title": "OAuth 2.0",
        "description": "TODO: the vendor's authorization and token URLs and the scopes needed.",
        "type": "oauth2",
        "authorize_url": "https://example.com/oauth/authorize",
        "token_url": "https://example.com/oauth/token",
        "scopes": ["read"],
        "pkce": True,
    }


def _connection(base_url: str) -> dict[str, Any]:
    """The base URL and a variable for each ``{name}`` in it, with a pattern to tighten or widen
    to what the vendor allows: a host label, or an https origin when it starts the URL."""
    if re.match(r"^(https?://[^\s/]|\{[A-Za-z_]\w*\})\S*$", base_url) is None:
        raise ConfigError(
            f"base URL {base_url!r} must be an http(s) URL or start with a {{variable}} "
            "that holds the origin"
        )
    names = dict.fromkeys(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", base_url))
    out: dict[str, Any] = {"base_url": base_url}
    if names:
        out["variables"] = {
            name: {
                "description": f"TODO: what {name} is and where the user finds it.",
                "pattern": ORIGIN_PATTERN
                if base_url.startswith("{" + name + "}")
                else VARIABLE_PATTERN,
            }
            for name in names
        }
    return out


def skeleton(name: str, auth: AuthKind, base_url: str | None = None) -> dict[str, Any]:
    """The spec document: one auth variant, Test Connection and one example action."""
    check_name(name)
    return {
        "$schema": "./connector.schema.json",
        "name": name,
        "title": _title(name),
        "version": "0.1.0",
        "description": "TODO: what this connector reaches, in one sentence of your own.",
        "connection": _connection(base_url or DEFAULT_BASE_URL),
        "auth": [_auth(auth, name)],
        "test_connection": {
            "method": "GET",
            "path": "/me",
            "account_label_path": "name",
            "account_id_path": "id",
        },
        "actions": [
            {
                "name": EXAMPLE_ACTION,
                "title": "Get an item",
                "description": "TODO: an example action; rename it after a real one.",
                "method": "GET",
                "path": "/items/{item_id}",
                "parameters": [
                    {
                        "name": "item_id",
                        "in": "path",
                        "required": True,
                        "description": "TODO: the item's id.",
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                "output": {"schema": {"$ref": "#/$defs/Item"}},
            }
        ],
        "$defs": {
            "Item": {
                "type": "object",
                "description": "TODO: the vendor's fields, types, enums and formats.",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
                "required": ["id"],
            }
        },
    }


def write_scaffold(
    name: str,
    auth: AuthKind,
    *,
    specs_dir: Path,
    golden_root: Path,
    base_url: str | None = None,
) -> Scaffold:
    """Write ``specs_dir/NAME.json`` and ``golden_root/NAME/<action>/``; refuse to overwrite
    either, and refuse a skeleton that would not validate (a bad ``base_url``)."""
    data = skeleton(name, auth, base_url)
    spec_path = specs_dir / f"{name}.json"
    golden_dir = golden_root / name / EXAMPLE_ACTION
    for existing in (spec_path, golden_root / name):
        if existing.exists():
            raise ConfigError(f"{existing} already exists; not overwriting it")
    spec, problems = check_spec_data(data, str(spec_path))
    if spec is None or problems:
        raise ConfigError("the skeleton would not validate: " + "; ".join(str(p) for p in problems))
    specs_dir.mkdir(parents=True, exist_ok=True)
    with spec_path.open("x", encoding="utf-8") as out:
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    golden_dir.mkdir(parents=True)
    (golden_dir / ".gitkeep").touch()
    return Scaffold(name, spec_path, golden_dir)
