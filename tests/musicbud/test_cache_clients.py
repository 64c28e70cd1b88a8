"""The async Redis clients: one per event loop and URL (following REDIS_URL), and the shared
connection's TCP keepalive."""

from __future__ import annotations

import socket

from django.conf import settings
from django.test.utils import override_settings

from musicbud.cache import close_redis_clients, redis_client, shared_redis
from tests.conftest import require_service


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


async def test_the_shared_connection_finds_a_silently_dropped_peer_by_tcp_keepalive() -> None:
    """An idle shared connection is never PINGed: a peer gone without a FIN or RST (a NAT or
    firewall dropping the flow) is found by the kernel's keepalive probes, 30 s idle then 3
    probes 5 s apart (redis-py's defaults, kept), and its reader then fails and drops it,
    rather than by the next request's timeout."""
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is not set")
    connection = shared_redis()
    assert await connection.execute("PING") == b"PONG"
    try:
        raw = connection._connection._writer.get_extra_info("socket")  # type: ignore[union-attr]
        options = [
            raw.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        ]
    finally:
        await close_redis_clients()

    assert options == [1, 30, 5, 3]
