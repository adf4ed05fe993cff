"""The connector spec format: the pydantic model, loading (JSON, then the JSON Schema, then the
model, then whole-document checks), finding specs by name, and the schema helpers codegen and the
mocks share.

Private modules, one noun each: ``_model`` (the format), ``_loading`` (file to model, with
problems that name file and JSON pointer), ``_checks`` (rules that need the whole document),
``_registry`` (a project's ``specs/`` first, then the bundled ones).
"""

from __future__ import annotations

from patchbay.runtime.spec._checks import (
    resolve_schema,
    schema_at_path,
)
from patchbay.runtime.spec._loading import (
    SpecInvalid,
    SpecProblem,
    check_spec_data,
    check_spec_file,
    load_spec,
    parse_spec,
)
from patchbay.runtime.spec._model import (
    NAME_PATTERN,
    Action,
    ApiKeyAuth,
    AuthVariant,
    BasicAuth,
    BearerAuth,
    Body,
    Condition,
    ConnectorSpec,
    ContinueEndpointPagination,
    CursorPagination,
    ErrorRule,
    JsonSchema,
    LinkHeaderPagination,
    ManualRegistration,
    NextUrlPagination,
    OAuth2Auth,
    OffsetPagination,
    PagePagination,
    Parameter,
    ResourceEffect,
    Variable,
    Webhook,
    connector_json_schema,
)
from patchbay.runtime.spec._registry import (
    BUNDLED_SPECS_DIR,
    SCHEMA_FILE,
    SpecRegistry,
    spec_files,
)

__all__ = [
    "BUNDLED_SPECS_DIR",
    "NAME_PATTERN",
    "SCHEMA_FILE",
    "Action",
    "ApiKeyAuth",
    "AuthVariant",
    "BasicAuth",
    "BearerAuth",
    "Body",
    "Condition",
    "ConnectorSpec",
    "ContinueEndpointPagination",
    "CursorPagination",
    "ErrorRule",
    "JsonSchema",
    "LinkHeaderPagination",
    "ManualRegistration",
    "NextUrlPagination",
    "OAuth2Auth",
    "OffsetPagination",
    "PagePagination",
    "Parameter",
    "ResourceEffect",
    "SpecInvalid",
    "SpecProblem",
    "SpecRegistry",
    "Variable",
    "Webhook",
    "check_spec_data",
    "check_spec_file",
    "connector_json_schema",
    "load_spec",
    "parse_spec",
    "resolve_schema",
    "schema_at_path",
    "spec_files",
]
