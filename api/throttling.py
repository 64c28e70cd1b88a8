"""Rate limits for async views: django-ratelimit's windows and keys, each hit counted with one
atomic ``INCR`` + ``EXPIRE NX`` through ``musicbud.cache.async_cache`` (api/PLATFORM.md)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from asgiref.sync import async_to_sync, iscoroutinefunction
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate
from ninja import NinjaAPI
from redis.exceptions import RedisError

from api.errors import OUTAGE_MESSAGE
from api.metrics import rate_limit_rejected
from api.request_context import client_ip
from fastpath.read_ahead import CacheRead, declared_reads
from fastpath.read_ahead import keep as read_ahead_keep
from musicbud.cache import async_cache
from musicbud.errors import RateLimited, ServiceUnavailable

logger = logging.getLogger(__name__)

Policy = Literal["standard", "strict", "client"]
# The policies that guard credentials: they fail closed (see _count_hit).
AUTHENTICATION_POLICIES: frozenset[Policy] = frozenset({"strict", "client"})

# The request attribute holding the tightest budget seen while handling the request.
REQUEST_ATTRIBUTE = "rate_limit"


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """One counted hit: the policy's limit, what is left of it and seconds until it resets."""

    group: str
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


def policy_rate(policy: Policy) -> str:
    """The policy as a django-ratelimit rate string (``"60/m"``), read from settings."""
    if policy == "strict":
        return f"{settings.RATE_LIMIT_STRICT_PER_MINUTE}/m"
    if policy == "client":
        return f"{settings.RATE_LIMIT_CLIENT_PER_MINUTE}/m"
    return f"{settings.RATE_LIMIT_PER_MINUTE}/m"


def _loaded_user(candidate: Any) -> Any:
    # Evaluating a lazy ``request.user`` would hit the session store synchronously; only a
    # user that authentication already loaded counts.
    if type(candidate) is SimpleLazyObject:
        wrapped = getattr(candidate, "_wrapped", empty)
        return None if wrapped is empty else wrapped
    return candidate


def request_user_id(request: HttpRequest) -> int | str | None:
    """The authenticated user's id if authentication already ran, without any I/O."""
    for attribute in ("auth", "user"):
        user = _loaded_user(request.__dict__.get(attribute))
        if getattr(user, "is_authenticated", False) is True and getattr(user, "pk", None):
            pk: int | str = user.pk
            return pk
    return None


def client_key(request: HttpRequest) -> str:
    """The client address a limit counts against: IPv4 as is, IPv6 by its /64.

    One IPv6 subscriber is routinely given a whole /64; counting each of its 2**64
    addresses separately would give it as many budgets.
    """
    address = client_ip(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


def _identity(request: HttpRequest, key: str | None) -> str:
    if key is not None:
        return f"key:{key}"
    user_id = request_user_id(request)
    if user_id is not None:
        return f"user:{user_id}"
    return f"ip:{client_key(request)}"


def _record(request: HttpRequest, state: RateLimitState) -> None:
    # Several limits may apply to one request (auth: per account and per IP); the
    # response reports the tightest.
    current: RateLimitState | None = getattr(request, REQUEST_ATTRIBUTE, None)
    if current is None or state.remaining < current.remaining:
        setattr(request, REQUEST_ATTRIBUTE, state)


def operation_group(view_func: Callable[..., Any]) -> str:
    """The rate-limit group of an operation under the standard policy (one per operation)."""
    return f"{view_func.__module__}.{view_func.__qualname__}"


@dataclass(frozen=True, slots=True)
class PlannedHit:
    """Where one standard-policy hit of ``identity`` is counted now: the counter's full Redis
    key, the limit, the window's expiry and its end (``time.time()`` based)."""

    group: str
    counter_key: str
    limit: int
    expire: int
    window: int

    def state(self, count: int) -> RateLimitState:
        """The state ``_count_hit`` reports for ``count`` hits (the same reset rule)."""
        period = self.expire - EXPIRATION_FUDGE
        reset = min(max(self.window - int(time.time()), 1), period)
        return RateLimitState(
            group=self.group, limit=self.limit, remaining=max(self.limit - count, 0), reset=reset
        )


# Planned hits by (group, identity, rate, window): a reader's counter key (two hashes) is
# made once per window, not per request. Bounded (emptied when full); forgotten when a
# setting changes (the key depends on the cache's and django-ratelimit's settings).
_PLANNED_MAX = 4096
_planned: dict[tuple[str, str, str, int], PlannedHit] = {}


@receiver(setting_changed)
def _forget_planned_hits(**kwargs: Any) -> None:
    _planned.clear()


def standard_hit_plan(*, group: str, identity: str) -> PlannedHit:
    """The counter ``enforce_rate_limit(policy="standard")`` would count ``identity``'s hit of
    ``group`` in, so a script elsewhere (the cached-read lane) can count it the same way."""
    rate = policy_rate("standard")
    limit, period = _split_rate(rate)
    window = _get_window(identity, period)
    remembered = (group, identity, rate, window)
    hit = _planned.get(remembered)
    if hit is None:
        key = async_cache.make_key(_make_cache_key(group, window, rate, identity, None))
        hit = PlannedHit(
            group=group,
            counter_key=key,
            limit=limit,
            expire=period + EXPIRATION_FUDGE,
            window=window,
        )
        if len(_planned) >= _PLANNED_MAX:
            _planned.clear()
        _planned[remembered] = hit
    return hit


# Set in a request's ASGI scope by the cached-read lane (api.cached_answers) when it has
# already counted the request's standard hit and read its cache reads in its one script:
# (group, RateLimitState, {CacheRead: (generation, stored value)}). The limiter then records
# that state instead of counting again, and the view takes those values.
COUNTED_AHEAD = "musicbud.counted_ahead"


def _counted_ahead(request: HttpRequest, group: str) -> tuple[RateLimitState, Any] | None:
    scope = getattr(request, "scope", None)
    handed = scope.get(COUNTED_AHEAD) if isinstance(scope, dict) else None
    if handed is None or handed[0] != group:
        return None
    return handed[1], handed[2]


async def _count_hit(
    *, group: str, policy: Policy, identity: str, reads: Sequence[CacheRead] = ()
) -> tuple[RateLimitState, bool] | None:
    """Count one hit: the state and whether it is over the limit; None when the counter
    store failed and the policy fails open. Failing closed raises: the authentication
    policies (strict, client) always do, with the 503 of an outage (``ServiceUnavailable``);
    the standard policy does with ``RATE_LIMIT_FAIL_OPEN`` off, with a 429."""
    rate = policy_rate(policy)
    limit, period = _split_rate(rate)
    window = _get_window(identity, period)
    cache_key = _make_cache_key(group, window, rate, identity, None)
    try:
        count = await async_cache.increment(
            cache_key, 1, expire=period + EXPIRATION_FUDGE, reads=reads
        )
    except (RedisError, OSError) as exc:
        # The authentication policies guard credentials: without their counters a login would
        # be an unlimited oracle (and the token store behind it fails only for the right
        # password).
        fail_open: bool = settings.RATE_LIMIT_FAIL_OPEN and policy not in AUTHENTICATION_POLICIES
        logger.exception(
            "rate limit counter unavailable; failing %s",
            "open" if fail_open else "closed",
            extra={"group": group, "policy": policy, "error": type(exc).__name__},
        )
        if fail_open:
            return None
        if policy in AUTHENTICATION_POLICIES:
            raise ServiceUnavailable(OUTAGE_MESSAGE) from exc
        raise RateLimited(
            "Rate limiting is unavailable; try again shortly",
            retry_after=period,
            limit=limit,
            reset=period,
        ) from exc
    # Seconds until the counted window ends: at least 1, even when the window ended while the
    # increment was in flight (a reset of 0 told clients "now" for a counter still standing).
    reset = min(max(window - int(time.time()), 1), period)
    state = RateLimitState(group=group, limit=limit, remaining=max(limit - count, 0), reset=reset)
    return state, count > limit


def _reject(state: RateLimitState, *, policy: Policy) -> None:
    rate_limit_rejected(group=state.group, policy=policy)
    raise RateLimited(
        "Too many requests; slow down",
        retry_after=max(state.reset, 1),
        limit=state.limit,
        reset=state.reset,
    )


async def enforce_rate_limit(
    request: HttpRequest,
    *,
    group: str,
    policy: Policy,
    key: str | None = None,
    reads: Sequence[CacheRead] = (),
) -> None:
    """Count one hit for ``group`` and (``key`` or the user / client IP) under ``policy``.

    Raises :class:`RateLimited` when over the limit. When the counter store fails, a strict
    request is refused (503), a standard one passes or is rejected according to
    ``RATE_LIMIT_FAIL_OPEN`` (logged either way).
    ``reads``: cache reads the view is about to make, sent with the counter (see
    ``AsyncCache.increment``); a rejected request's are dropped unread.
    """
    counted = await _count_hit(
        group=group, policy=policy, identity=_identity(request, key), reads=reads
    )
    if counted is None:
        return
    state, exceeded = counted
    _record(request, state)
    if exceeded:
        _reject(state, policy=policy)


async def enforce_user_rate_limit(*, user_id: int, group: str, policy: Policy) -> None:
    """The same limit outside an HTTP request (a WebSocket frame), counted per user."""
    counted = await _count_hit(group=group, policy=policy, identity=f"user:{user_id}")
    if counted is not None and counted[1]:
        _reject(counted[0], policy=policy)


def standard_rate_limit(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """Ninja operation decorator: the standard policy, one group per operation.

    Applied in "operation" mode, so it runs after authentication (the key is the user when
    there is one) and parameter validation, for sync and async operations alike.
    """
    group = operation_group(view_func)

    if iscoroutinefunction(view_func):
        planned_reads = declared_reads(view_func)

        @functools.wraps(view_func)
        async def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            handed = _counted_ahead(request, group)
            if handed is not None:
                # Counted (under the limit) by the lane's script, with its reads: the same
                # state, no second hit.
                state, values = handed
                _record(request, state)
                with async_cache.read_ahead():
                    for read, (generation, value) in values.items():
                        read_ahead_keep(read, generation, value)
                    return await view_func(request, *args, **kwargs)
            if planned_reads is None or not settings.FAST_PATH:
                await enforce_rate_limit(request, group=group, policy="standard")
                return await view_func(request, *args, **kwargs)
            reads = planned_reads(request, **kwargs)
            with async_cache.read_ahead():
                await enforce_rate_limit(request, group=group, policy="standard", reads=reads)
                return await view_func(request, *args, **kwargs)

        return limited

    @functools.wraps(view_func)
    def limited_sync(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        async_to_sync(enforce_rate_limit)(request, group=group, policy="standard")
        return view_func(request, *args, **kwargs)

    return limited_sync


def install_rate_limits(api: NinjaAPI) -> None:
    """Apply the standard policy to every operation of ``api`` (routers added later too)."""
    api.add_decorator(standard_rate_limit, mode="operation")
