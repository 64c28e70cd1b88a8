"""The async Redis client follows REDIS_URL: one client per event loop and URL."""

from __future__ import annotations

from django.test.utils import override_settings

from musicbud.cache import close_redis_clients, redis_client


async def test_a_changed_redis_url_gets_its_own_client() -> None:
    with override_settings(REDIS_URL="redis://127.0.0.1:6391/1"):
        first = redis_client()
        assert redis_client() is first
    with override_settings(REDIS_URL="redis://127.0.0.1:6392/2"):
        second = redis_client()

    assert first.connection_pool.connection_kwargs["port"] == 6391
    assert second.connection_pool.connection_kwargs["port"] == 6392
    assert second.connection_pool.connection_kwargs["db"] == 2
    await close_redis_clients()
    with override_settings(REDIS_URL="redis://127.0.0.1:6391/1"):
        assert redis_client() is not first
    await close_redis_clients()
