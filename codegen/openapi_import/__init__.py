"""``patchbay import openapi``: connector specs from a vendor's OpenAPI or Swagger description.

Reading and normalizing (``document``), choosing operations (``selection``), schemas and
``$defs`` (``schemas``), parameters and bodies (``parameters``), responses, paging and error
hints (``responses``), auth (``auth``), servers (``servers``), documented examples as fixtures
(``examples``), merging into a hand-kept spec (``merge``), and field shares (``fields``).
"""

from __future__ import annotations

from patchbay.codegen.openapi_import.document import (
    DescriptionError,
    Document,
    load_document,
    load_examples,
    parse_document,
)
from patchbay.codegen.openapi_import.fields import FieldShare, field_paths, field_share
from patchbay.codegen.openapi_import.importer import ImportOptions, ImportResult, import_openapi
from patchbay.codegen.openapi_import.merge import dump_spec, merge_spec
from patchbay.codegen.openapi_import.selection import Selection

__all__ = [
    "DescriptionError",
    "Document",
    "FieldShare",
    "ImportOptions",
    "ImportResult",
    "Selection",
    "dump_spec",
    "field_paths",
    "field_share",
    "import_openapi",
    "load_document",
    "load_examples",
    "merge_spec",
    "parse_document",
]
