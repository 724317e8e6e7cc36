"""Encryption of secrets Cursive must read again (mailbox passwords): Fernet (AES-128-CBC + HMAC-SHA256) from
`cryptography`, keyed by FIELD_ENCRYPTION_KEYS. Several keys rotate: the first encrypts, all of them decrypt.
See docs/self-hosting.md ("Secrets and keys")."""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret no configured key opens (the keys changed): the user must enter it again."""


@functools.cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if keys:
        try:
            return MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as error:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS must hold Fernet keys (python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')."
            ) from error
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"cursive.field-encryption").derive(secret_key.encode())
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def _keys() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("The stored secret cannot be decrypted with the configured keys.") from error


def reencrypt(token: str) -> str:
    """The token under the newest key (for rotating FIELD_ENCRYPTION_KEYS)."""
    return _keys().rotate(token.encode()).decode()
