"""factory-boy factories for the domain models."""

from __future__ import annotations

import functools

import factory
from django.contrib.auth.hashers import make_password

from musicbud.models import Album, Artist, Genre, Track, User

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
