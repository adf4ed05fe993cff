"""The vendors' official SDKs, unchanged, against the spec-driven mocks over real HTTP.

Each SDK runs a realistic scenario (create, retrieve, update, list with its own auto-paging,
delete, the deleted and an unknown id, a typed vendor error); :func:`run` serves the mocks
exactly as ``patchbay mock serve`` does (or uses a server already running at ``origin``) and
returns each SDK's steps for ``patchbay conformance`` to print.
"""

from __future__ import annotations

from patchbay.mocks.conformance._runner import SDKS, run
from patchbay.mocks.conformance.steps import Step, Steps

__all__ = ["SDKS", "Step", "Steps", "run"]
