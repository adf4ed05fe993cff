"""Optional features and the extra that installs each: a command whose extra is missing says
which one to install instead of failing on an import deep inside."""

from __future__ import annotations

import importlib.util

from patchbay.runtime.errors import ConfigError

# extra -> the top-level modules it brings (checked without importing them).
EXTRAS: dict[str, tuple[str, ...]] = {
    "codegen": ("jinja2", "datamodel_code_generator", "ruff", "yaml"),
    "mock": ("starlette", "uvicorn"),
    "webhooks": ("starlette", "uvicorn"),
    "record": ("mitmproxy", "starlette"),
    "fuzz": ("schemathesis", "hypothesis", "starlette"),
    "postgres": ("psycopg", "psycopg_pool"),
    "conformance": ("stripe", "slack_sdk", "github", "twilio", "hubspot"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def need_extra(*extras: str) -> None:
    """Raise a ConfigError naming the extra(s) to install when any of their modules is absent."""
    lacking = [e for e in extras if missing_modules(e)]
    if lacking:
        names = ",".join(lacking)
        modules = ", ".join(m for e in lacking for m in missing_modules(e))
        raise ConfigError(
            f"this command needs Patchbay's [{names}] extra (missing: {modules}); "
            f"install it with: pip install 'patchbay[{names}]'"
        )
