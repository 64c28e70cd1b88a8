"""The token services and their source of truth: families in the database, cached in Redis
or (without Redis) in process memory."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.test import override_settings

from musicbud.cache import redis_client
from musicbud.models import TokenFamily, User
from musicbud.services.tokens import (
    TokenPair,
    TokenRejected,
    TokenType,
    token_access_renew,
    token_authenticate,
    token_decode,
    token_family_revoke,
    token_pair_issue,
    token_refresh,
    token_user_revoke_all,
)
from musicbud.token_store import (
    ACTIVE,
    REVOKED,
    family_cache_key,
    family_state_load,
    family_state_remember,
)
from tests.conftest import require_service
from tests.factories import UserFactory

STORES = ["memory", "redis"]
REVOKED_TTL = settings.JWT_ACCESS_TTL_SECONDS + settings.JWT_LEEWAY_SECONDS


@pytest.fixture(params=STORES)
def store_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test once per cache (Redis, process memory); the Redis run needs REDIS_URL."""
    if request.param == "redis":
        if not settings.REDIS_URL:
            require_service("Redis", "REDIS_URL is not set")
        yield "redis"
        return
    with override_settings(REDIS_URL=None):
        yield "memory"


def issue(user: User) -> TokenPair:
    return async_to_sync(token_pair_issue)(user=user)


def claim_of(token: str, claim: str) -> Any:
    return jwt.decode(token, options={"verify_signature": False})[claim]


def family_of(token: str) -> str:
    return str(claim_of(token, "fam"))


def flush_cache(store_backend: str) -> None:
    """What a Redis restart without persistence (or FLUSHDB) does; without Redis, what a
    process restart does to the in-process cache."""
    if store_backend == "redis":

        async def flushdb() -> None:
            await redis_client().flushdb()

        async_to_sync(flushdb)()
    else:
        cache.clear()


def cached_state(family_id: str) -> tuple[Any, int]:
    """The cached state of a family (None when absent) and its remaining time to live."""
    key = family_cache_key(family_id)
    if hasattr(cache, "ttl"):  # django-redis (async_cache shares its keys and encoding)
        return cache.get(key), cache.ttl(key)
    expiry = cache._expire_info[cache.make_key(key)]  # type: ignore[attr-defined]
    return cache.get(key), round(expiry - time.time())


def authenticated(access_token: str) -> int:
    user, _ = async_to_sync(token_authenticate)(token=access_token)
    return user.pk


def rejection(access_token: str) -> str:
    with pytest.raises(TokenRejected) as rejected:
        async_to_sync(token_authenticate)(token=access_token)
    return rejected.value.code


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
def test_the_database_records_rotation_and_reuse(store_backend: str) -> None:
    user = UserFactory.create()
    pair = issue(user)
    family = TokenFamily.objects.get(id=family_of(pair.refresh_token))
    first_jti = family.current_jti
    assert family.user_id == user.pk
    assert family.revoked_at is None
    assert first_jti == claim_of(pair.refresh_token, "jti")

    rotated = async_to_sync(token_refresh)(refresh_token=pair.refresh_token)
    family.refresh_from_db()
    assert family.current_jti == claim_of(rotated.refresh_token, "jti") != first_jti
    assert family.revoked_at is None

    with pytest.raises(TokenRejected) as reused:
        async_to_sync(token_refresh)(refresh_token=pair.refresh_token)
    assert reused.value.code == "token_reused"
    assert TokenFamily.objects.get(id=family.id).revoked_at is not None
    assert cached_state(str(family.id)) == (REVOKED, REVOKED_TTL)


@pytest.mark.django_db
def test_the_cache_holds_the_state_as_long_as_it_is_true(store_backend: str) -> None:
    pair = issue(UserFactory.create())
    family_id = family_of(pair.refresh_token)
    assert cached_state(family_id) == (ACTIVE, settings.JWT_REFRESH_TTL_SECONDS)

    async_to_sync(token_family_revoke)(family_id=family_id)

    # Only access tokens read the cached state; a revocation outlives them there.
    assert cached_state(family_id) == (REVOKED, REVOKED_TTL)


@pytest.mark.django_db
def test_a_refresh_makes_the_cached_state_last_as_long_as_the_row(
    store_backend: str, django_assert_num_queries: Any
) -> None:
    user = UserFactory.create()
    pair = issue(user)
    family_id = family_of(pair.refresh_token)
    # Nearly a refresh lifetime later, the state cached at login has a second left.
    cache.touch(family_cache_key(family_id), 1)

    rotated = async_to_sync(token_refresh)(refresh_token=pair.refresh_token)

    expires_at = TokenFamily.objects.get(id=family_id).expires_at
    assert round((expires_at - datetime.now(UTC)).total_seconds()) == (
        settings.JWT_REFRESH_TTL_SECONDS
    )
    assert cached_state(family_id) == (ACTIVE, settings.JWT_REFRESH_TTL_SECONDS)
    time.sleep(1.1)
    # Past the login's second: the hot path still reads the state from the cache, not the row.
    with django_assert_num_queries(0):
        assert authenticated(rotated.access_token) == user.pk


@pytest.mark.django_db
def test_losing_the_cache_logs_nobody_out_and_revives_no_revoked_token(
    store_backend: str,
) -> None:
    user, changed = UserFactory.create(), UserFactory.create()
    live, logged_out, reused, spent = issue(user), issue(user), issue(user), issue(user)
    async_to_sync(token_family_revoke)(family_id=family_of(logged_out.refresh_token))
    async_to_sync(token_refresh)(refresh_token=reused.refresh_token)
    with pytest.raises(TokenRejected):
        async_to_sync(token_refresh)(refresh_token=reused.refresh_token)
    rotated = async_to_sync(token_refresh)(refresh_token=spent.refresh_token)
    old_password = issue(changed)
    changed.set_password("another-long-passphrase-31")
    changed.save()

    flush_cache(store_backend)

    assert authenticated(live.access_token) == user.pk
    assert authenticated(rotated.access_token) == user.pk
    for revoked in (logged_out, reused):
        assert rejection(revoked.access_token) == "token_revoked"
    assert rejection(old_password.access_token) == "token_revoked"
    # The states read from the rows are cached again.
    assert cached_state(family_of(live.refresh_token))[0] == ACTIVE
    assert cached_state(family_of(logged_out.refresh_token)) == (REVOKED, REVOKED_TTL)
    # Refreshes ask the rows: the live family rotates, the dead ones stay dead.
    assert (
        authenticated(async_to_sync(token_refresh)(refresh_token=live.refresh_token).access_token)
        == user.pk
    )
    for dead in (logged_out.refresh_token, reused.refresh_token):
        with pytest.raises(TokenRejected) as refused:
            async_to_sync(token_refresh)(refresh_token=dead)
        assert refused.value.code == "token_revoked"
    with pytest.raises(TokenRejected) as spent_again:
        async_to_sync(token_refresh)(refresh_token=spent.refresh_token)
    assert spent_again.value.code == "token_reused"


@pytest.mark.django_db
def test_a_reload_racing_a_revocation_never_puts_active_back(store_backend: str) -> None:
    pair = issue(UserFactory.create())
    family_id = family_of(pair.refresh_token)
    flush_cache(store_backend)

    # A cold request read the row while the family was live ...
    state = family_state_load(family_id=family_id)
    assert state.active is True
    # ... then the logout committed and cached its state before the request cached its own.
    async_to_sync(token_family_revoke)(family_id=family_id)
    async_to_sync(family_state_remember)(family_id=family_id, state=state)

    assert cached_state(family_id) == (REVOKED, REVOKED_TTL)
    assert rejection(pair.access_token) == "token_revoked"


@pytest.mark.django_db
def test_a_login_drops_the_users_expired_families_only(store_backend: str) -> None:
    user, other = UserFactory.create(), UserFactory.create()
    expired, live, bystander = issue(user), issue(user), issue(other)
    TokenFamily.objects.filter(
        id__in=[family_of(expired.refresh_token), family_of(bystander.refresh_token)]
    ).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))

    newest = issue(user)

    assert set(TokenFamily.objects.values_list("id", flat=True)) == {
        uuid.UUID(family_of(pair.refresh_token)) for pair in (live, bystander, newest)
    }


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
