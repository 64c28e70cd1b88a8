"""The benchmark's peer: a small FastAPI app doing the cached reads' work the FastAPI way, with
the project's platform features on these routes (README.md, Performance), served by the same
gunicorn config and worker class (``tooling.benchmark.peer:app``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from prometheus_client import Counter, Histogram
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis import asyncio as aioredis

# Where the runner stores the answer the peer serves for each route.
ANSWER_KEY = "bench-peer:answer:{route}"
RATE_LIMIT_PER_MINUTE = 1_000_000_000  # as the project's servers in the run: out of the way

# KEYS[1] the counter, KEYS[2] the cached answer; ARGV[1] the window's expiry.
_LIMIT_AND_READ = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return {redis.call('INCR', KEYS[1]), redis.call('GET', KEYS[2])}
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
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'",
    "X-XSS-Protection": "0",
}
REQUESTS = Counter("peer_requests_total", "Requests", ["route", "method", "status"])
LATENCY = Histogram("peer_request_duration_seconds", "Latency", ["route", "method"])

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
# Starlette runs the middleware added last outermost: GZip inside CORS inside the headers.
app.add_middleware(GZipMiddleware, minimum_size=200)
app.add_middleware(CORSMiddleware, allow_origins=SETTINGS.CORS_ORIGINS, allow_credentials=True)
redis = aioredis.Redis.from_url(SETTINGS.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
limit_and_read = redis.register_script(_LIMIT_AND_READ)

Next = Callable[[Request], Awaitable[Response]]


@app.middleware("http")
async def security_headers(request: Request, call_next: Next) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@app.middleware("http")
async def request_context(request: Request, call_next: Next) -> Response:
    """Outermost: the request id, and the metrics of every answer."""
    request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
    started = time.perf_counter()
    response = await call_next(request)
    route = getattr(request.scope.get("route"), "path", "unmatched")
    LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    response.headers["X-Request-ID"] = request_id
    return response


def user_id(request: Request) -> int:
    """The access token's subject, the token verified (HS256, issuer, audience, expiry)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "Authentication required")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            SETTINGS.JWT_SECRET,
            algorithms=["HS256"],
            audience=SETTINGS.JWT_AUDIENCE,
            issuer=SETTINGS.JWT_ISSUER,
        )
    except jwt.InvalidTokenError as exc:
        raise HTTPException(401, "Invalid token") from exc
    return int(claims["sub"])


async def cached_answer(route: str, user: int) -> Response:
    window = int(time.time() // 60)
    count, body = await limit_and_read(
        keys=[f"bench-peer:rl:{route}:{user}:{window}", ANSWER_KEY.format(route=route)], args=[65]
    )
    if int(count) > RATE_LIMIT_PER_MINUTE:
        raise HTTPException(429, "Too many requests")
    if body is None:
        raise HTTPException(404, "No cached answer")
    response = Response(body, media_type="application/json")
    response.headers["RateLimit-Limit"] = str(RATE_LIMIT_PER_MINUTE)
    response.headers["RateLimit-Remaining"] = str(max(RATE_LIMIT_PER_MINUTE - int(count), 0))
    return response


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/me/profile")
async def my_profile(user: Annotated[int, Depends(user_id)]) -> Response:
    return await cached_answer("profile", user)


@app.get("/api/v1/me/buds")
async def my_buds(user: Annotated[int, Depends(user_id)]) -> Response:
    return await cached_answer("buds", user)
