"""The benchmark's peer: the cached reads as a FastAPI engineer tuning for speed would write
them, with every platform feature the project's read has (config/PERFORMANCE.md, Benchmark),
served by the same gunicorn config and worker class (``tooling.benchmark.peer:app``).

What it does per request, like the project: a request id (the client's, or a new one) echoed
back; the security headers; CORS; GZip; a Prometheus counter and histogram per route; HS256
verification of the bearer token with issuer, audience and expiry (a token that verified is
remembered per process, expiry re-checked on every use, as the project does); the token
family's revocation state, the rate-limit counter and the cached answer in **one** Redis
round trip (a script that counts nothing for a revoked family); ``RateLimit-*`` headers.

How it is made fast: one pure-ASGI middleware for the request id, headers and metrics (no
``BaseHTTPMiddleware``: no task, no stream per request), Starlette's CORS and GZip (both pure
ASGI), plain Starlette routes (``add_route``: no dependency solving, no response model), the
security headers encoded once, the liveness body rendered once, the metrics' label children
bound once per route.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import jwt
from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis import asyncio as aioredis
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response

# Where the runner stores the answer the peer serves for each route, and a family's state.
ANSWER_KEY = "bench-peer:answer:{route}"
FAMILY_KEY = "bench-peer:family:{family}"
FAMILY_ACTIVE = b"active"
RATE_LIMIT_PER_MINUTE = 1_000_000_000  # as the project's servers in the run: out of the way

# KEYS[1] the family's state, KEYS[2] the counter, KEYS[3] the cached answer; ARGV[1] the
# window's expiry. A revoked (or unknown) family spends nothing: {state} alone.
_FAMILY_LIMIT_AND_READ = """
local family = redis.call('GET', KEYS[1])
if family ~= 'active' then return {family or false} end
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
return {family, redis.call('INCR', KEYS[2]), redis.call('GET', KEYS[3])}
"""


class PeerSettings(BaseSettings):
    """The peer's configuration, given by the benchmark runner (``PEER_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="PEER_")

    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    JWT_SECRET: str = ""
    JWT_ISSUER: str = "musicbud"
    JWT_AUDIENCE: str = "musicbud-api"
    CORS_ORIGINS: list[str] = []


SETTINGS = PeerSettings()
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (name.lower().encode(), value.encode())
    for name, value in {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
        "'unsafe-inline'",
        "X-XSS-Protection": "0",
    }.items()
]
REQUESTS = Counter("peer_requests_total", "Requests", ["route", "method", "status"])
LATENCY = Histogram("peer_request_duration_seconds", "Latency", ["route", "method"])
UNMATCHED = "unmatched"
LIVENESS_BODY = b'{"status":"ok"}'

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@functools.cache
def _latency(route: str, method: str) -> Any:
    return LATENCY.labels(route, method)


@functools.cache
def _requests(route: str, method: str, status: int) -> Any:
    return REQUESTS.labels(route, method, str(status))


class RequestContext:
    """Outermost, pure ASGI: the request id, the security headers, the metrics."""

    def __init__(self, app: ASGIApp, routes: frozenset[str]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
                break
        if not request_id:
            request_id = uuid.uuid4().hex.encode()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id))
                headers.extend(SECURITY_HEADERS)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            path = scope["path"]
            route = path if path in self.routes else UNMATCHED
            method = scope["method"]
            _latency(route, method).observe(time.perf_counter() - started)
            _requests(route, method, status).inc()


redis = aioredis.Redis.from_url(SETTINGS.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
family_limit_and_read = redis.register_script(_FAMILY_LIMIT_AND_READ)


class Unauthorized(Exception):
    pass


@functools.lru_cache(maxsize=4096)
def _verified(token: str) -> tuple[int, str, int]:
    """(subject, family, expiry) of a token whose signature, issuer and audience verified."""
    claims: dict[str, Any] = jwt.decode(
        token,
        SETTINGS.JWT_SECRET,
        algorithms=["HS256"],
        audience=SETTINGS.JWT_AUDIENCE,
        issuer=SETTINGS.JWT_ISSUER,
        options={"require": ["exp", "sub", "fam"], "verify_sub": False},
    )
    return int(claims["sub"]), str(claims["fam"]), int(claims["exp"])


def _bearer_claims(request: Request) -> tuple[int, str]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized
    try:
        user, family, expires = _verified(token)
    except (jwt.InvalidTokenError, KeyError, ValueError) as exc:
        raise Unauthorized from exc
    if expires <= time.time():
        raise Unauthorized
    return user, family


def _problem(status: int, message: str) -> Response:
    return Response(
        b'{"detail":"' + message.encode() + b'"}', status, media_type="application/json"
    )


def cached_read(route: str) -> Callable[[Request], Awaitable[Response]]:
    answer_key = ANSWER_KEY.format(route=route)

    async def endpoint(request: Request) -> Response:
        try:
            user, family = _bearer_claims(request)
        except Unauthorized:
            return _problem(401, "Invalid token")
        window = int(time.time() // 60)
        result = await family_limit_and_read(
            keys=[
                FAMILY_KEY.format(family=family),
                f"bench-peer:rl:{route}:{user}:{window}",
                answer_key,
            ],
            args=[65],
        )
        if result[0] != FAMILY_ACTIVE:
            return _problem(401, "Token revoked")
        count, body = int(result[1]), result[2]
        if count > RATE_LIMIT_PER_MINUTE:
            return _problem(429, "Too many requests")
        if body is None:
            return _problem(404, "No cached answer")
        return Response(
            body,
            media_type="application/json",
            headers={
                "RateLimit-Limit": str(RATE_LIMIT_PER_MINUTE),
                "RateLimit-Remaining": str(max(RATE_LIMIT_PER_MINUTE - count, 0)),
            },
        )

    return endpoint


async def live(request: Request) -> Response:
    return Response(LIVENESS_BODY, media_type="application/json")


ROUTES: dict[str, Callable[[Request], Awaitable[Response]]] = {
    "/health/live": live,
    "/api/v1/me/profile": cached_read("profile"),
    "/api/v1/me/buds": cached_read("buds"),
}

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
for _path, _endpoint in ROUTES.items():
    app.add_route(_path, _endpoint, methods=["GET"])
# Starlette runs the middleware added last outermost: GZip inside CORS inside the context.
app.add_middleware(GZipMiddleware, minimum_size=200)
app.add_middleware(CORSMiddleware, allow_origins=SETTINGS.CORS_ORIGINS, allow_credentials=True)
app.add_middleware(RequestContext, routes=frozenset(ROUTES))
