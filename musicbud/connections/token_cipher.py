"""Encryption at rest of provider tokens: Fernet tokens under ``PROVIDER_TOKEN_KEYS``, the first
key encrypting and every key decrypting (rotated with ``manage.py provider_tokens_rotate``)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from musicbud.errors import MusicbudError


class TokenUnreadable(MusicbudError):
    code = "provider_token_unreadable"


@cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def token_cipher() -> MultiFernet:
    return _cipher(tuple(settings.PROVIDER_TOKEN_KEYS))


def token_encrypt(plaintext: str) -> str:
    """The Fernet token of ``plaintext`` ('' stays '': no token is stored as no token)."""
    if not plaintext:
        return ""
    return token_cipher().encrypt(plaintext.encode()).decode("ascii")


def token_decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return token_cipher().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken:
        # Never echo the value: the message goes to logs and answers.
        raise TokenUnreadable(
            "a stored provider token cannot be decrypted with PROVIDER_TOKEN_KEYS "
            "(was its key removed before rotation?)"
        ) from None


def token_rotate(ciphertext: str) -> str:
    """The same plaintext encrypted under the first key ('' stays '')."""
    if not ciphertext:
        return ""
    return token_cipher().rotate(ciphertext.encode("ascii")).decode("ascii")
