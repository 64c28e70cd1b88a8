"""factory-boy factories for the domain models."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

import factory
import jwt
from django.conf import settings
from django.contrib.auth.hashers import make_password

from musicbud.models import Album, Anime, Artist, Genre, Manga, Track, User
from musicbud.selectors.users import password_stamp

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


@functools.cache
def default_password_hash() -> str:
    """Hashing is slow on purpose (Argon2); hash the shared test password once."""
    return make_password(DEFAULT_PASSWORD)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    display_name = factory.LazyAttribute(lambda o: o.username.title())
    password = factory.LazyFunction(default_password_hash)


class GenreFactory(factory.django.DjangoModelFactory[Genre]):
    class Meta:
        model = Genre

    name = factory.Sequence(lambda n: f"Genre {n}")


class AnimeFactory(factory.django.DjangoModelFactory[Anime]):
    class Meta:
        model = Anime

    name = factory.Sequence(lambda n: f"Anime {n}")
    mal_id = factory.Sequence(lambda n: str(100_000 + n))


class MangaFactory(factory.django.DjangoModelFactory[Manga]):
    class Meta:
        model = Manga

    name = factory.Sequence(lambda n: f"Manga {n}")
    mal_id = factory.Sequence(lambda n: str(200_000 + n))


class ArtistFactory(factory.django.DjangoModelFactory[Artist]):
    class Meta:
        model = Artist

    name = factory.Sequence(lambda n: f"Artist {n}")


class AlbumFactory(factory.django.DjangoModelFactory[Album]):
    class Meta:
        model = Album

    name = factory.Sequence(lambda n: f"Album {n}")


class TrackFactory(factory.django.DjangoModelFactory[Track]):
    class Meta:
        model = Track

    name = factory.Sequence(lambda n: f"Track {n}")


def forged_token(
    *,
    user_id: int,
    typ: str = "access",
    key: tuple[str, str] | None = None,
    algorithm: str | None = None,
    drop: tuple[str, ...] = (),
    drop_header: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A token built outside the service, to present what an attacker or a bug could send.

    Defaults give a valid access token under the current settings for the user as stored
    now; ``claims`` override or add claims, ``drop`` removes them (``drop_header`` removes
    header fields), ``key`` is ``(kid, secret)``.
    """
    now = int(time.time())
    stored = User.objects.filter(pk=user_id).values_list("password", flat=True).first()
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "typ": typ,
        "jti": secrets.token_urlsafe(16),
        "fam": str(uuid.uuid4()),
        "pwv": password_stamp(stored or ""),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        **claims,
    }
    for name in drop:
        payload.pop(name)
    kid, secret = key or settings.JWT_KEYS[0]
    algorithm = algorithm or settings.JWT_ALGORITHM
    if algorithm == "none" or (algorithm.startswith("HS") and "-----BEGIN" in secret):
        # What an attacker sends and PyJWT refuses to build: an unsigned token, or an HMAC
        # keyed with a published public key (the algorithm-confusion attack).
        header = {"alg": algorithm, "typ": "JWT", "kid": kid}
        signing_input = ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
            for part in (header, payload)
        )
        signature = b""
        if algorithm != "none":
            digest = getattr(hashlib, f"sha{algorithm[2:]}")
            signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
        return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    headers = {name: value for name, value in {"kid": kid}.items() if name not in drop_header}
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)
