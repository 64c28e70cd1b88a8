"""The token services and both revocation stores (Redis and the database)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, connections
from django.test import override_settings

from musicbud.cache import async_cache, redis_client
from musicbud.models import TokenFamily, User
from musicbud.services.tokens import (
    TokenPair,
    TokenRejected,
    TokenType,
    token_access_renew,
    token_decode,
    token_family_revoke,
    token_pair_issue,
    token_refresh,
    token_user_revoke_all,
)
from musicbud.token_store import DatabaseTokenStore, RedisTokenStore, token_store
from tests.conftest import require_service
from tests.factories import UserFactory

STORES = ["database", "redis"]


@pytest.fixture(params=STORES)
def store_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test once per store; the Redis run needs REDIS_URL."""
    if request.param == "redis":
        if not settings.REDIS_URL:
            require_service("Redis", "REDIS_URL is not set")
        yield "redis"
        return
    with override_settings(REDIS_URL=None):
        yield "database"


def issue(user: User) -> TokenPair:
    return async_to_sync(token_pair_issue)(user=user)


def family_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["fam"])


@pytest.mark.django_db
def test_the_store_follows_the_settings(store_backend: str) -> None:
    expected = RedisTokenStore if store_backend == "redis" else DatabaseTokenStore

    assert type(token_store()) is expected


@pytest.mark.django_db
def test_issued_tokens_decode_to_their_claims(store_backend: str) -> None:
    user = UserFactory.create()
    before = int(time.time())

    pair = issue(user)

    access = token_decode(token=pair.access_token, expected_type=TokenType.ACCESS)
    refresh = token_decode(token=pair.refresh_token, expected_type=TokenType.REFRESH)
    assert access.user_id == refresh.user_id == user.pk
    assert access.family_id == refresh.family_id
    assert access.jti != refresh.jti
    assert before <= access.issued_at <= int(time.time())
    assert access.expires_at - access.issued_at == settings.JWT_ACCESS_TTL_SECONDS
    assert refresh.expires_at - refresh.issued_at == settings.JWT_REFRESH_TTL_SECONDS


@pytest.mark.django_db
def test_database_store_records_rotation_and_reuse() -> None:
    user = UserFactory.create()
    with override_settings(REDIS_URL=None):
        pair = issue(user)
        family = TokenFamily.objects.get(id=family_of(pair.refresh_token))
        first_jti = family.current_jti
        assert family.user_id == user.pk
        assert family.revoked_at is None

        rotated = async_to_sync(token_refresh)(refresh_token=pair.refresh_token)
        family.refresh_from_db()
        assert family.current_jti != first_jti
        assert (
            family.current_jti
            == jwt.decode(rotated.refresh_token, options={"verify_signature": False})["jti"]
        )
        assert family.revoked_at is None

        with pytest.raises(TokenRejected) as reused:
            async_to_sync(token_refresh)(refresh_token=pair.refresh_token)
        assert reused.value.code == "token_reused"
        family.refresh_from_db()
        assert family.revoked_at is not None


@pytest.mark.django_db
def test_redis_state_lives_as_long_as_the_newest_refresh_token() -> None:
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set")
    user = UserFactory.create()
    pair = issue(user)
    key = async_cache.make_key(f"tokens:family:{family_of(pair.refresh_token)}")

    async def ttl_and_value() -> tuple[int, Any]:
        client = redis_client()
        return await client.ttl(key), await client.get(key)

    ttl, value = async_to_sync(ttl_and_value)()
    assert settings.JWT_REFRESH_TTL_SECONDS - 5 <= ttl <= settings.JWT_REFRESH_TTL_SECONDS
    assert (
        value == jwt.decode(pair.refresh_token, options={"verify_signature": False})["jti"].encode()
    )

    async_to_sync(token_family_revoke)(family_id=family_of(pair.refresh_token))

    ttl_after, value_after = async_to_sync(ttl_and_value)()
    assert value_after == b"revoked"
    assert ttl_after > settings.JWT_REFRESH_TTL_SECONDS - 10  # KEEPTTL: still the lifetime


@pytest.mark.django_db
def test_family_revoke_reports_whether_it_was_live(store_backend: str) -> None:
    pair = issue(UserFactory.create())
    family_id = family_of(pair.refresh_token)

    assert async_to_sync(token_family_revoke)(family_id=family_id) is True
    assert async_to_sync(token_family_revoke)(family_id=family_id) is False


@pytest.mark.django_db
def test_user_revoke_all_revokes_only_that_users_live_families(store_backend: str) -> None:
    user, other = UserFactory.create(), UserFactory.create()
    first, second = issue(user), issue(user)
    async_to_sync(token_family_revoke)(family_id=family_of(second.refresh_token))
    third = issue(user)
    bystander = issue(other)

    assert async_to_sync(token_user_revoke_all)(user_id=user.pk) == 2
    assert async_to_sync(token_user_revoke_all)(user_id=user.pk) == 0

    for pair in (first, second, third):
        with pytest.raises(TokenRejected) as rejected:
            async_to_sync(token_refresh)(refresh_token=pair.refresh_token)
        assert rejected.value.code == "token_revoked"
    assert async_to_sync(token_refresh)(refresh_token=bystander.refresh_token).refresh_token


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_in_threads_yield_exactly_one_pair(store_backend: str) -> None:
    if store_backend == "database" and connection.vendor == "sqlite":
        require_service("PostgreSQL", "SQLite's in-memory test database refuses parallel writers")
    pair = issue(UserFactory.create())
    racers = 6
    start = threading.Barrier(racers)

    def race() -> str:
        start.wait()
        try:
            async_to_sync(token_refresh)(refresh_token=pair.refresh_token)
        except TokenRejected as exc:
            return exc.code
        finally:
            connections.close_all()  # this thread's connection goes back to the pool
        return "rotated"

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = list(pool.map(lambda _: race(), range(racers)))

    assert outcomes.count("rotated") == 1
    assert set(outcomes) - {"rotated"} <= {"token_reused", "token_revoked"}
    assert "token_reused" in outcomes


@pytest.mark.django_db
def test_access_renewal_keeps_the_refresh_token_and_its_family(store_backend: str) -> None:
    pair = issue(UserFactory.create())

    first = async_to_sync(token_access_renew)(refresh_token=pair.refresh_token)
    second = async_to_sync(token_access_renew)(refresh_token=pair.refresh_token)

    claims = [
        token_decode(token=renewed.access_token, expected_type=TokenType.ACCESS)
        for renewed in (first, second)
    ]
    assert {c.family_id for c in claims} == {family_of(pair.refresh_token)}
    assert claims[0].jti != claims[1].jti
    assert first.expires_in == second.expires_in == settings.JWT_ACCESS_TTL_SECONDS
    # Still the family's current token: a v1 rotation accepts it (and spends it).
    assert async_to_sync(token_refresh)(refresh_token=pair.refresh_token).refresh_token


@pytest.mark.django_db
def test_access_renewal_with_a_rotated_token_is_reuse_and_revokes_the_family(
    store_backend: str,
) -> None:
    pair = issue(UserFactory.create())
    rotated = async_to_sync(token_refresh)(refresh_token=pair.refresh_token)

    with pytest.raises(TokenRejected) as rejected:
        async_to_sync(token_access_renew)(refresh_token=pair.refresh_token)

    assert rejected.value.code == "token_reused"
    with pytest.raises(TokenRejected) as after:
        async_to_sync(token_access_renew)(refresh_token=rotated.refresh_token)
    assert after.value.code == "token_revoked"


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["logout", "password_change", "deactivation"])
def test_access_renewal_stops_when_the_login_ends(store_backend: str, ending: str) -> None:
    user = UserFactory.create()
    pair = issue(user)
    async_to_sync(token_access_renew)(refresh_token=pair.refresh_token)

    if ending == "logout":
        async_to_sync(token_family_revoke)(family_id=family_of(pair.refresh_token))
        expected = "token_revoked"
    elif ending == "password_change":
        user.set_password("another-long-passphrase")
        user.save()
        async_to_sync(token_user_revoke_all)(user_id=user.pk)
        expected = "token_revoked"
    else:
        user.is_active = False
        user.save()
        expected = "user_inactive"

    with pytest.raises(TokenRejected) as rejected:
        async_to_sync(token_access_renew)(refresh_token=pair.refresh_token)
    assert rejected.value.code == expected


@pytest.mark.django_db
def test_access_renewal_refuses_an_access_token(store_backend: str) -> None:
    pair = issue(UserFactory.create())

    with pytest.raises(TokenRejected) as rejected:
        async_to_sync(token_access_renew)(refresh_token=pair.access_token)

    assert rejected.value.code == "token_wrong_type"
