"""Operations that answer from shared cached values, declared with one decorator: their cache
reads go ahead with the rate limit's counter, and their bodies are rendered once per answer."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import resolve, reverse
from ninja.errors import ConfigError
from ninja.operation import Operation
from ninja.renderers import JSONRenderer
from ninja.utils import contribute_operation_callback
from pydantic import BaseModel
from redis.exceptions import NoScriptError, RedisError
from redis.typing import EncodableT

from api import metrics
from api.request_context import (
    client_ip_of,
    request_id_from_header,
    request_id_var,
    sentry_request_tag,
)
from api.throttling import COUNTED_AHEAD, PlannedHit, operation_group, standard_hit_plan
from fastpath.handler import Scope
from fastpath.lane import Counted, Planner
from fastpath.read_ahead import CacheRead, ReadsAhead, reads_ahead
from fastpath.rendered import rendered_response
from musicbud.cache import async_cache, cache_name, shared_redis, stored_bytes
from musicbud.selectors.users import user_credential_key
from musicbud.services.tokens import TokenClaims, TokenRejected, access_token_decode
from musicbud.token_store import ACTIVE_STORED, family_cache_key

Handler = Callable[..., Awaitable[Any]]
# Ninja's default, which every NinjaAPI of the project renders with (tests compare the bytes).
RENDERER = JSONRenderer()
access_logger = logging.getLogger("musicbud.access")


def cached_answer(reads: ReadsAhead) -> Callable[[Handler], Handler]:
    """An async operation whose answer is made of shared cached values (immutable by contract,
    as ``cached_query(..., shared=True)`` returns them), plus dicts and scalars around them.

    ``reads(request, **operation_kwargs)`` names the cache reads the operation makes: the
    standard rate limit sends them with its counter, so a warm read costs no round trip of its
    own. With ``FAST_PATH`` the body is rendered once per equal answer under the operation's
    ``response`` schema (``fastpath.rendered``); without, Ninja renders it as usual. The view
    stays a plain one (parse, call the selector, return the data); put this under the
    router's decorator.
    """

    def decorate(view: Handler) -> Handler:
        contribute_operation_callback(view, _rendered_once)
        return reads_ahead(reads)(view)

    return decorate


def _rendered_once(operation: Operation) -> None:
    """Called by Ninja as it makes each operation of the view (its signature already read):
    the operation's view answers through ``fastpath.rendered`` under its own 200 schema."""
    model = operation.response_models.get(200)
    if model is None or not hasattr(model, "model_fields"):
        raise ConfigError(f"{operation.view_func.__qualname__}: a cached answer needs a schema")
    # Ninja wraps the schema in a model of one field, "response".
    schema: type[BaseModel] = model.model_fields["response"].annotation
    view = operation.view_func

    @functools.wraps(view)
    async def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        answer = await view(request, *args, **kwargs)
        if not settings.FAST_PATH:
            return answer
        return rendered_response(RENDERER, request, schema, answer)

    operation.view_func = answered


# The cached-read lane (fastpath.lane): a warm read of a lane route answered at the ASGI level
# after this script, the read's one Redis round trip. KEYS[1] the token family's state,
# KEYS[2] the user's credential, KEYS[3] the rate-limit counter; ARGV[1] the stored "active",
# ARGV[2] the stored stamp the token carries, ARGV[3] the limit, ARGV[4] the counter's expiry,
# then the reads (fastpath.read_ahead: three ARGVs each). Anything but the plain warm case — a
# family not active (revoked, or not cached), a credential not the token's (another password,
# an inactive user, not cached), a budget spent, an answer not cached — answers {0} having
# counted nothing: the full path then answers (and counts) as it always does.
LANE_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return {0} end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[3]) then return {0} end
local result = {0}
for i = 5, #ARGV, 3 do
    local generation = ''
    if ARGV[i] ~= '' then
        generation = redis.call('GET', ARGV[i]) or '0'
    end
    local value = redis.call('GET', ARGV[i + 1] .. generation .. ARGV[i + 2])
    if not value then return {0} end
    result[#result + 1] = generation
    result[#result + 1] = value
end
redis.call('SET', KEYS[3], 0, 'EX', ARGV[4], 'NX')
result[1] = redis.call('INCR', KEYS[3])
return result
"""
LANE_SCRIPT_SHA = hashlib.sha1(LANE_SCRIPT.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class LaneRoute:
    """A cached-answer operation the lane serves when its request has no query string:
    its rate-limit group, its route template (metrics, log), its reads for a user and, for a
    legacy route, its usage metric (``observed(user_agent, status)``)."""

    group: str
    route: str
    reads: Callable[[int], Sequence[CacheRead]]
    observed: Callable[[str, int], None] | None = None


def lane_routes() -> dict[str, LaneRoute]:
    """Path -> lane route: ``GET /api/v1/me/profile``, ``GET /api/v1/me/buds`` (the first
    page, default filters) and, while the legacy API is mounted, the legacy profile
    (``/me/profile`` and ``/v1/me/profile``, each with and without the trailing slash). Read
    when the first request arrives (the URLconf is loaded)."""
    from api.buds.router import my_buds, my_buds_cache_reads, page_arguments
    from api.buds.schemas import BudsParams
    from api.legacy.me import me_profile
    from api.legacy.operations import ROUTES, legacy_observed
    from api.users.router import my_profile
    from musicbud.selectors.profile import profile_reads

    defaults = page_arguments(BudsParams.model_validate({}))

    def profile(user_id: int) -> Sequence[CacheRead]:
        return profile_reads(user_id=user_id)

    def buds(user_id: int) -> Sequence[CacheRead]:
        return my_buds_cache_reads(user_id=user_id, arguments=defaults)

    served: list[tuple[str, Handler, Callable[[int], Sequence[CacheRead]], Any]] = [
        (reverse("api-v1:my-profile"), my_profile, profile, None),
        (reverse("api-v1:my-buds"), my_buds, buds, None),
    ]
    if settings.LEGACY_API_ENABLED:  # otherwise not mounted (config.urls)
        legacy = ROUTES["me/profile"]
        served += [
            (f"/{prefix}{legacy.path}{slash}", me_profile, profile, legacy)
            for prefix in ("", "v1/")
            for slash in ("", "/")
        ]
    routes: dict[str, LaneRoute] = {}
    for path, view, reads, legacy_route in served:
        match = resolve(path)
        routes[path] = LaneRoute(
            group=operation_group(view),
            route="/" + str(match.route).lstrip("^").rstrip("$"),
            reads=reads,
            observed=None
            if legacy_route is None
            else functools.partial(legacy_observed, legacy_route),
        )
    return routes


def lane_planners() -> dict[str, Planner]:
    """The lane's planners, one per lane route (``config.asgi`` installs the lane)."""
    return {
        path: functools.partial(plan_cached_read, route) for path, route in lane_routes().items()
    }


@dataclass(frozen=True, slots=True)
class LaneCall:
    """The lane script's call for one token on one route in one rate-limit window: its reads,
    its arguments after the script and the EVALSHA command packed for the wire."""

    reads: tuple[CacheRead, ...]
    args: tuple[EncodableT, ...]
    packed: bytes


# Lane calls by (route, token, counter key): a client's token is the same on every request
# until it expires, and the call is a pure function of the token's claims, the window's
# counter and the settings. Bounded (emptied when full); forgotten when a setting changes.
_LANE_CALLS_MAX = 1024
_lane_calls: dict[tuple[str, str, str], LaneCall] = {}


@receiver(setting_changed)
def _forget_lane_calls(**kwargs: Any) -> None:
    _lane_calls.clear()


def _remember_lane_call(key: tuple[str, str, str], call: LaneCall) -> None:
    if len(_lane_calls) >= _LANE_CALLS_MAX:
        _lane_calls.clear()
    _lane_calls[key] = call


def _lane_call(route: LaneRoute, claims: TokenClaims, hit: PlannedHit) -> LaneCall | None:
    """The call of ``LANE_SCRIPT`` for this token, route and window; None when a read cannot
    be made ahead (a key function that does not keep keys verbatim)."""
    reads = tuple(route.reads(claims.user_id))
    parts = [async_cache.read_parts(read) for read in reads]
    if any(part is None for part in parts):
        return None
    args: tuple[EncodableT, ...] = (
        3,
        async_cache.make_key(family_cache_key(claims.family_id)),
        async_cache.make_key(user_credential_key(claims.user_id)),
        hit.counter_key,
        ACTIVE_STORED,
        stored_bytes(claims.password_stamp),
        hit.limit,
        hit.expire,
        *(piece for part in parts if part is not None for piece in part),
    )
    packed = shared_redis().pack("EVALSHA", LANE_SCRIPT_SHA, *args)
    return LaneCall(reads=reads, args=args, packed=packed)


_LANE_HEADERS = frozenset({b"authorization", b"x-request-id", b"x-forwarded-for", b"user-agent"})
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


async def plan_cached_read(route: LaneRoute, scope: Scope) -> Counted | None:
    """Check, count and read one request of ``route`` in one round trip; None (nothing
    counted, nothing changed) for anything the full path must answer."""
    if scope.get("query_string") or scope.get("root_path") or not async_cache.uses_redis:
        return None
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _LANE_HEADERS:
            if name in found:
                return None  # repeated: Django would join them
            found[name] = value
        elif name in _BODY_HEADERS:
            return None
    scheme, _, token = found.get(b"authorization", b"").decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = access_token_decode(token=token)
    except TokenRejected:
        return None
    user_id = claims.user_id
    hit = standard_hit_plan(group=route.group, identity=f"user:{user_id}")
    remembered = (route.route, token, hit.counter_key)
    call = _lane_calls.get(remembered)
    if call is None:
        call = _lane_call(route, claims, hit)
        if call is None:
            return None
        _remember_lane_call(remembered, call)
    reads = call.reads
    connection = shared_redis()
    try:
        try:
            result = await connection.execute_packed(call.packed)
        except NoScriptError:  # first use on this server (or after SCRIPT FLUSH)
            result = await connection.execute("EVAL", LANE_SCRIPT, *call.args)
    except (RedisError, OSError):
        return None  # the full path meets the outage and answers as its policy says
    count = int(result[0])
    if count == 0:
        return None
    state = hit.state(count)
    values = {read: (result[1 + 2 * i], result[2 + 2 * i]) for i, read in enumerate(reads)}
    request_id = request_id_from_header(
        found[b"x-request-id"].decode("latin-1") if b"x-request-id" in found else None
    )
    sentry_request_tag(request_id)
    client = scope.get("client")
    client_address = client_ip_of(
        remote_addr=str(client[0]) if client else "",
        forwarded=found.get(b"x-forwarded-for", b"").decode("latin-1"),
    )

    def finish(status: int, seconds: float) -> None:
        context = request_id_var.set(request_id)
        try:
            for read in reads:
                async_cache.lookup_observed(cache_name(read.key), hit=True)
            metrics.request_observed(
                route=route.route, method="GET", status=status, seconds=seconds
            )
            if route.observed is not None:
                route.observed(found.get(b"user-agent", b"").decode("latin-1"), status)
            access_logger.info(
                "%s %s %s",
                "GET",
                route.route,
                status,
                extra={
                    "method": "GET",
                    "route": route.route,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "user_id": user_id,
                    "client_ip": client_address,
                },
            )
        finally:
            metrics.IN_FLIGHT.dec()
            request_id_var.reset(context)

    return Counted(
        answer=tuple(value for _, value in values.values()),
        headers={
            b"x-request-id": request_id.encode(),
            **{name.lower().encode(): value.encode() for name, value in state.headers().items()},
        },
        handoff={COUNTED_AHEAD: (route.group, state, values)},
        begin=metrics.IN_FLIGHT.inc,
        finish=finish,
    )
