"""Connected accounts: connecting and revoking one (OAuth2 with a loopback redirect, or API
keys), tokens refreshed single-flight and stored encrypted, and the IntegrationManager that runs
an action for a stored connection. What one connection holds (``Connection``) is the request's
input and lives in :mod:`patchbay.runtime.http`.

Private modules: ``_connect``,
``_oauth`` (authorize URLs, PKCE, code exchange, token responses), ``_token_provider``
(refresh ahead of expiry), ``_token_store`` (SQLite; PostgreSQL lives in
:mod:`patchbay.runtime.storage`), ``_encryption`` (Fernet at rest), ``_manager``. Bespoke
clients are handed to the manager by the caller; the runtime registers none.
"""

from __future__ import annotations

from patchbay.runtime.accounts._connect import (
    OriginTransport,
    check_stored_connection,
    connect_api_key,
    connect_oauth,
    delete_connection,
    hint_for,
)
from patchbay.runtime.accounts._encryption import (
    Encryptor,
    new_key,
)
from patchbay.runtime.accounts._manager import (
    IntegrationManager,
)
from patchbay.runtime.accounts._oauth import (
    OAuthClient,
    TokenSet,
    authorize_url,
    code_request,
    pkce_pair,
    read_token_response,
)
from patchbay.runtime.accounts._token_store import (
    SQLiteTokenStore,
    StoredConnection,
    TokenStore,
)

__all__ = [
    "Encryptor",
    "IntegrationManager",
    "OAuthClient",
    "OriginTransport",
    "SQLiteTokenStore",
    "StoredConnection",
    "TokenSet",
    "TokenStore",
    "authorize_url",
    "check_stored_connection",
    "code_request",
    "connect_api_key",
    "connect_oauth",
    "delete_connection",
    "hint_for",
    "new_key",
    "pkce_pair",
    "read_token_response",
]
