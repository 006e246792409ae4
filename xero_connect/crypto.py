"""Encryption of Xero tokens at rest.

Keys come from settings.TOKEN_ENCRYPTION_KEYS (newest first). MultiFernet encrypts with the
first key and decrypts with any, so a key can be rotated: add the new key in front, run
`manage.py rotate_token_keys`, then drop the old one. In DEBUG with no key configured, a
demo-only key is derived from SECRET_KEY so the demo runs with zero set-up.
"""
import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class TokenDecryptionError(Exception):
    """A stored token cannot be decrypted with any configured key."""


def _configured_keys() -> tuple[str, ...]:
    keys = tuple(k for k in settings.TOKEN_ENCRYPTION_KEYS if k)
    if keys:
        return keys
    if settings.DEBUG:
        digest = hashlib.sha256(("token-encryption:" + settings.SECRET_KEY).encode()).digest()
        return (base64.urlsafe_b64encode(digest).decode(),)
    raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS must be set when DEBUG is off.")


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def fernet() -> MultiFernet:
    return _fernet_for(_configured_keys())


def encrypt(plaintext: str) -> str:
    if plaintext in (None, ""):
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError("stored token cannot be decrypted with the configured keys") from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate)."""
    if not ciphertext:
        return ""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError("stored token cannot be decrypted with the configured keys") from exc
