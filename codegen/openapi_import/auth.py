"""Security schemes into auth variants.

A security requirement (schemes that apply together) becomes one variant: Trello's key and token,
both API keys in the query, are one ``api_key`` variant with two params. Requirements come from
the chosen operations (else the document); without any, every declared scheme is offered.
"""

from __future__ import annotations

from typing import Any

from patchbay.codegen.naming import snake
from patchbay.codegen.openapi_import.document import Document


def _fields(*names: str) -> dict[str, Any]:
    return {name: {"secret": True} for name in names}


def _scheme_variant(name: str, scheme: dict[str, Any], todo: list[str]) -> dict[str, Any] | None:
    kind = scheme.get("type")
    variant_name = snake(name)
    if kind == "http":
        http = str(scheme.get("scheme", "")).lower()
        if http == "bearer":
            return {
                "name": variant_name,
                "type": "bearer",
                "token": "{token}",
                "fields": _fields("token"),
            }
        if http == "basic":
            return {
                "name": variant_name,
                "type": "basic",
                "username": "{username}",
                "password": "{password}",
                "fields": {"username": {"secret": False}, "password": {"secret": True}},
            }
        todo.append(f"auth: HTTP scheme {http!r} of {name!r} is not supported; add it by hand")
        return None
    if kind == "apiKey":
        where = scheme.get("in")
        if where not in ("header", "query"):
            todo.append(f"auth: API key of {name!r} goes in {where!r}; only header/query exist")
            return None
        field = snake(str(scheme.get("name", "api_key")))
        param = {"name": str(scheme.get("name")), "value": f"{{{field}}}"}
        return {
            "name": variant_name,
            "type": "api_key",
            "in": where,
            "params": [param],
            "fields": _fields(field),
        }
    if kind == "oauth2":
        flows = scheme.get("flows") or {}
        for flow_name, grant in (
            ("authorizationCode", "authorization_code"),
            ("clientCredentials", "client_credentials"),
        ):
            flow = flows.get(flow_name)
            if not isinstance(flow, dict) or "tokenUrl" not in flow:
                continue
            variant: dict[str, Any] = {"name": variant_name, "type": "oauth2", "grant": grant}
            if grant == "authorization_code":
                variant["authorize_url"] = flow.get("authorizationUrl")
            variant["token_url"] = flow["tokenUrl"]
            if flow.get("refreshUrl"):
                variant["refresh_url"] = flow["refreshUrl"]
            variant["scopes"] = sorted(flow.get("scopes") or {})
            return variant
        todo.append(f"auth: OAuth2 {name!r} has no authorizationCode/clientCredentials flow")
        return None
    todo.append(f"auth: scheme {name!r} of type {kind!r} is not supported; add it by hand")
    return None


def _combine(name: str, parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Several API keys sent together (same place) as one variant."""
    if len(parts) == 1:
        return parts[0]
    if all(p["type"] == "api_key" for p in parts) and len({p["in"] for p in parts}) == 1:
        fields: dict[str, Any] = {}
        for p in parts:
            fields.update(p["fields"])
        return {
            "name": name,
            "type": "api_key",
            "in": parts[0]["in"],
            "params": [q for p in parts for q in p["params"]],
            "fields": fields,
        }
    return None


def auth_variants(
    doc: Document, requirements: list[dict[str, Any]], todo: list[str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The variants for these requirements, and requirement key -> variant name."""
    schemes = (doc.data.get("components") or {}).get("securitySchemes") or {}
    schemes = {k: doc.resolve(v) for k, v in schemes.items()}
    if not requirements:
        requirements = [{name: []} for name in schemes]
    variants: list[dict[str, Any]] = []
    by_key: dict[str, str] = {}
    made: dict[str, dict[str, Any] | None] = {}
    for req in requirements:
        names = sorted(req)
        key = requirement_key(req)
        if not names or key in by_key:
            continue
        parts = []
        for name in names:
            if name not in made:
                scheme = schemes.get(name)
                made[name] = (
                    _scheme_variant(name, scheme, todo) if isinstance(scheme, dict) else None
                )
            part = made[name]
            if part is not None:
                parts.append(part)
        if len(parts) != len(names):
            continue
        variant = _combine(snake("_and_".join(names)), parts)
        if variant is None:
            todo.append(f"auth: schemes {names} apply together; combine them by hand")
            continue
        if any(v["name"] == variant["name"] for v in variants):
            by_key[key] = variant["name"]
            continue
        variants.append(variant)
        by_key[key] = variant["name"]
    if not variants:
        todo.append("auth: the description declares no usable security scheme; check the docs")
        variants.append(
            {"name": "token", "type": "bearer", "token": "{token}", "fields": _fields("token")}
        )
    return variants, by_key


def requirement_key(req: dict[str, Any]) -> str:
    return "+".join(sorted(req))
