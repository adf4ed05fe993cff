"""Hand-written clients for calls a spec cannot express; the IntegrationManager prefers them."""

from __future__ import annotations

from patchbay.runtime.bespoke.salesforce import SalesforceClient

BESPOKE_CLIENTS = {"salesforce": SalesforceClient}

__all__ = ["BESPOKE_CLIENTS", "SalesforceClient"]
