"""Prometheus metrics: the collectors, the functions other areas call, and the /metrics view
(with ``PROMETHEUS_MULTIPROC_DIR``, every gunicorn worker's values merged on scrape)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from functools import cache, lru_cache
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from api.errors import error_response
from api.request_context import client_ip
from graph.projection import projection_lag
from graph.writes import projection_queued
from musicbud.cache import async_cache

UNMATCHED_ROUTE = "<unmatched>"

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "musicbud_http_requests_total",
    "HTTP requests by route template, method and status code.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "musicbud_http_request_duration_seconds",
    "Time from the first middleware to the response, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge(
    "musicbud_http_requests_in_flight",
    "Requests being handled right now.",
    multiprocess_mode="livesum",
)
UNHANDLED_ERRORS = Counter(
    "musicbud_http_unhandled_errors_total",
    "Requests that ended in an unhandled exception (500), by route template and method.",
    ["route", "method"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "musicbud_rate_limit_rejections_total",
    "Requests rejected with 429, by rate-limit group and policy.",
    ["group", "policy"],
)
CACHE_LOOKUPS = Counter(
    "musicbud_cache_lookups_total",
    "Cache lookups by cache name and result (hit or miss).",
    ["cache", "result"],
)
LEGACY_REQUESTS = Counter(
    "musicbud_legacy_requests_total",
    "Requests to the legacy API, by legacy route (mount and trailing slash folded), client "
    "family (from the User-Agent) and status code: what still calls it, before it is retired.",
    ["route", "client", "status"],
)
GRAPH_PROJECTION_LAG = Gauge(
    "musicbud_graph_projection_lag_seconds",
    "Age of the oldest taste change not yet applied to the graph store (0 = caught up).",
    multiprocess_mode="mostrecent",
)
GRAPH_PROJECTION_PENDING = Gauge(
    "musicbud_graph_projection_pending",
    "Outbox rows waiting to be applied to the graph store.",
    multiprocess_mode="mostrecent",
)


# Each label set's child, looked up once: ``labels()`` validates its arguments and takes a lock
# on every call (~9 us of a cached read for the two). Bounded like any per-process memo.
@lru_cache(maxsize=1024)
def _requests_child(route: str, method: str, status: int) -> Any:
    return REQUESTS.labels(route=route, method=method, status=str(status))


@lru_cache(maxsize=1024)
def _latency_child(route: str, method: str) -> Any:
    return LATENCY.labels(route=route, method=method)


def request_observed(*, route: str, method: str, status: int, seconds: float) -> None:
    _requests_child(route, method, status).inc()
    _latency_child(route, method).observe(seconds)


@lru_cache(maxsize=1024)
def _legacy_child(route: str, client: str, status: int) -> Any:
    return LEGACY_REQUESTS.labels(route=route, client=client, status=str(status))


def legacy_request_observed(*, route: str, client: str, status: int) -> None:
    _legacy_child(route, client, status).inc()


def unhandled_error(*, route: str, method: str) -> None:
    UNHANDLED_ERRORS.labels(route=route, method=method).inc()


def rate_limit_rejected(*, group: str, policy: str) -> None:
    RATE_LIMIT_REJECTIONS.labels(group=group, policy=policy).inc()


def cache_hit(*, cache: str) -> None:
    """Count a hit in the named cache (``profile``, ``buds``, ...)."""
    CACHE_LOOKUPS.labels(cache=cache, result="hit").inc()


def cache_miss(*, cache: str) -> None:
    """Count a miss in the named cache."""
    CACHE_LOOKUPS.labels(cache=cache, result="miss").inc()


def _cache_lookup(name: str, hit: bool) -> None:
    (cache_hit if hit else cache_miss)(cache=name)


async_cache.add_lookup_listener(_cache_lookup)


def graph_projection_lag_set(*, seconds: float, pending: int) -> None:
    """Report how far the graph projection is behind (the metrics view, at scrape time)."""
    GRAPH_PROJECTION_LAG.set(max(seconds, 0.0))
    GRAPH_PROJECTION_PENDING.set(max(pending, 0))


@cache
def _allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS
    )


def _scrape_allowed(request: HttpRequest) -> bool:
    token: str | None = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    # Bytes: compare_digest refuses non-ASCII str, and a hostile header must not be a 500.
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


def render_metrics() -> bytes:
    """Every process's metrics in Prometheus text format."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=str(settings.PROMETHEUS_MULTIPROC_DIR)
        )
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: a bearer token from settings or an allow-listed network.

    A sync view on purpose: in multiprocess mode a scrape reads every worker's files.
    """
    if not _scrape_allowed(request):
        return error_response(
            request, HTTPStatus.FORBIDDEN, "Metrics are not public", code="permission_denied"
        )
    if request.method not in ("GET", "HEAD"):
        response = error_response(
            request, HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed", code="method_not_allowed"
        )
        response["Allow"] = "GET, HEAD"
        return response
    # The lag is read at scrape time, so it is current whichever process applied the outbox;
    # a database outage must not take the rest of the metrics down with it. Without a
    # projection nothing is queued: the gauges say 0 (whatever they said before).
    try:
        lag = projection_lag() if projection_queued() else None
    except DatabaseError:
        logger.warning("metrics: projection lag unavailable (database error)", exc_info=True)
    else:
        if lag is None:
            graph_projection_lag_set(seconds=0.0, pending=0)
        else:
            graph_projection_lag_set(seconds=lag.oldest_age_seconds or 0.0, pending=lag.pending)
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
