"""Hand-written clients for calls a spec cannot express, kept outside the runtime.

The runtime never looks one up: hand them to the manager, e.g.
``IntegrationManager(registry, bespoke=BESPOKE_CLIENTS)`` or ``register_bespoke(name, factory)``.
"""

from __future__ import annotations

from patchbay.bespoke.salesforce import SalesforceClient

BESPOKE_CLIENTS = {"salesforce": SalesforceClient}

__all__ = ["BESPOKE_CLIENTS", "SalesforceClient"]
