"""The cached principal of the bearer hot path."""

from __future__ import annotations

import pickle
import re

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from musicbud.errors import NotFound
from musicbud.selectors.users import (
    active_user_id_get,
    password_stamp,
    principal_get_cached,
    user_cache_key,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_cached_principal_never_holds_the_password_hash() -> None:
    user = UserFactory.create()

    principal = async_to_sync(principal_get_cached)(user_id=user.pk)

    assert principal is not None
    assert principal.user.pk == user.pk
    assert principal.password_stamp == password_stamp(user.password)
    assert principal.password_stamp != password_stamp("argon2$other")
    assert "password" in principal.user.get_deferred_fields()
    stored = cache.get(user_cache_key(user.pk))
    assert stored == principal
    assert user.password.encode() not in pickle.dumps(stored)


@pytest.mark.parametrize("change", ["save", "delete"])
def test_saving_or_deleting_a_user_drops_the_cached_principal(change: str) -> None:
    user = UserFactory.create()
    async_to_sync(principal_get_cached)(user_id=user.pk)
    assert cache.get(user_cache_key(user.pk)) is not None

    getattr(user, change)()

    assert cache.get(user_cache_key(user.pk)) is None


def test_an_unknown_user_is_none_and_not_cached() -> None:
    assert async_to_sync(principal_get_cached)(user_id=987654) is None
    assert cache.get(user_cache_key(987654)) is None


def test_the_cache_key_names_the_user_model_schema() -> None:
    key = user_cache_key(42)

    prefix, digest, user_id = key.split(":")
    assert (prefix, user_id) == ("user", "42")
    assert re.fullmatch(r"[0-9a-f]{8}", digest)
    assert user_cache_key(42) == key  # stable within a deploy


def test_the_active_user_by_username_ignores_case_and_refuses_inactive_ones() -> None:
    ann = UserFactory.create(username="Ann")
    UserFactory.create(username="gone", is_active=False)

    assert async_to_sync(active_user_id_get)(username="aNN") == ann.pk
    with pytest.raises(NotFound, match="No user named 'gone'"):
        async_to_sync(active_user_id_get)(username="gone")
    with pytest.raises(NotFound, match="No user named 'nobody'"):
        async_to_sync(active_user_id_get)(username="nobody")
