"""Encryption of secrets at rest (tokens, keys) with Fernet, keys from ``PATCHBAY_SECRET_KEY``.

``PATCHBAY_SECRET_KEY`` holds one or more Fernet keys separated by commas: the first encrypts,
all of them decrypt, so a key can be rotated without losing what was stored with the old one
(``Encryptor.rotate`` re-encrypts under the first key). A missing, malformed or wrong key is a
``config`` error that names the variable; nothing is ever overwritten because of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from patchbay.runtime.errors import ConfigError

KEY_VARIABLE = "PATCHBAY_SECRET_KEY"


def new_key() -> str:
    """A fresh key for ``PATCHBAY_SECRET_KEY``."""
    return Fernet.generate_key().decode()


class Encryptor:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError(
                f"{KEY_VARIABLE} is not set: it must hold a Fernet key "
                "(generate one with `patchbay connections new-key`)"
            )
        fernets = []
        for i, key in enumerate(keys):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except ValueError:
                raise ConfigError(
                    f"{KEY_VARIABLE}: key #{i + 1} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Encryptor:
        env = os.environ if environ is None else environ
        raw = env.get(KEY_VARIABLE, "")
        return cls([k for k in raw.split(",") if k.strip()])

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes, *, what: str = "stored secrets") -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ConfigError(
                f"cannot decrypt {what} with {KEY_VARIABLE}: wrong key, or the key that "
                "encrypted them was removed (keep old keys after the new one while rotating)"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the first (newest) key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise ConfigError(f"cannot re-encrypt: no key in {KEY_VARIABLE} opens it") from None

    def __repr__(self) -> str:
        return "Encryptor(keys=[REDACTED])"
