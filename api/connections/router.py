"""Connections endpoints: list, authorize, the provider's callback, sync, disconnect."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from ninja import Query, Router, Status

from api.auth import AuthenticatedRequest, auth
from api.connections.browser_cookie import (
    authorization_cookie_clear,
    authorization_cookie_read,
    authorization_cookie_set,
)
from api.connections.schemas import (
    AuthorizationOut,
    CallbackOut,
    CallbackQuery,
    ConnectionOut,
    ConnectionsOut,
)
from api.openapi import also_answers
from musicbud.connections.selectors import ConnectionView, connection_get, connections_list
from musicbud.connections.services import AuthorizationOut as Authorization
from musicbud.connections.services import (
    CallbackFailed,
    connection_authorize,
    connection_callback,
    connection_disconnect,
    connection_sync_request,
)

router = Router(tags=["connections"], auth=auth)

_NOT_CONFIGURED = (
    "A provider this server has no client credentials for answers 409 "
    "`provider_not_configured`: a permanent state of the server's configuration, not an "
    "outage to retry."
)


@router.get(
    "/connections",
    response=ConnectionsOut,
    url_name="connections",
    summary="My music-service connections",
)
async def connections(request: AuthenticatedRequest) -> dict[str, list[ConnectionView]]:
    """One row per provider the server knows: `unconfigured` (the server has no credentials for
    it), `available`, `connected` or `needs_reauth`, with the account and the last sync (status,
    phase, progress of total, counts). Never a token."""
    return {"items": await connections_list(user_id=request.auth.pk)}


@router.get(
    "/connections/{provider}",
    response=ConnectionOut,
    url_name="connection",
    summary="One music-service connection",
)
async def connection(request: AuthenticatedRequest, provider: str) -> ConnectionView:
    """As in the list: status, account and last sync (poll it to follow a sync's phase and
    progress). 404 for an unknown provider."""
    return await connection_get(user_id=request.auth.pk, provider=provider)


@router.delete(
    "/connections/{provider}",
    response={HTTPStatus.NO_CONTENT: None},
    url_name="connection",
    summary="Disconnect: tokens deleted, the taste that came from the provider removed",
    description="404 when the provider is not connected.",
)
async def disconnect(request: AuthenticatedRequest, provider: str) -> Status[None]:
    await connection_disconnect(user=request.auth, provider=provider)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/connections/{provider}/authorize",
    response=AuthorizationOut,
    url_name="connection-authorize",
    summary="Start connecting: where to send the browser (OAuth 2 with PKCE; Last.fm: web auth)",
    description=(
        "Also sets a cookie (HttpOnly, SameSite=Lax, scoped to the callback's path, valid as "
        "long as the state): the callback is refused in a browser without it. " + _NOT_CONFIGURED
    ),
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def authorize(
    request: AuthenticatedRequest, provider: str, response: HttpResponse
) -> Authorization:
    authorization = await connection_authorize(user=request.auth, provider=provider)
    authorization_cookie_set(response, provider=provider, authorization=authorization)
    return authorization


@router.get(
    "/connections/{provider}/callback",
    auth=None,
    response={HTTPStatus.OK: CallbackOut, HTTPStatus.FOUND: None},
    url_name="connection-callback",
    summary="Where the provider sends the browser back (the state names the user)",
    openapi_extra=also_answers(HTTPStatus.BAD_GATEWAY, HTTPStatus.CONFLICT),
    description=(
        "Answers 302 to `CONNECT_DONE_URL?provider=…&status=ok|error`, or JSON when the "
        "request accepts `application/json`, at once: the first sync is queued, not run "
        "inside this request (follow it on the connection). A forged, expired or already "
        "used state is a 400 `invalid_state`, and a browser without the cookie the "
        "authorize request set a 400 `authorization_other_browser`; both store nothing. "
        + _NOT_CONFIGURED
    ),
)
async def callback(
    request: HttpRequest, provider: str, query: Query[CallbackQuery], response: HttpResponse
) -> HttpResponse | dict[str, object]:
    wants_json = request.accepts("application/json") and not request.accepts("text/html")
    try:
        view = await connection_callback(
            provider=provider,
            params=query.params(),
            browser_key=authorization_cookie_read(request, provider=provider),
        )
    except CallbackFailed:
        if wants_json:
            raise
        return _done_redirect(request, provider, "error")
    if wants_json:
        authorization_cookie_clear(response, request=request, provider=provider)
        return {"provider": provider, "status": "ok", "connection": view}
    return _done_redirect(request, provider, "ok")


def _done_redirect(request: HttpRequest, provider: str, status: str) -> HttpResponseRedirect:
    base = settings.CONNECT_DONE_URL
    joiner = "&" if "?" in base else "?"
    redirect = HttpResponseRedirect(
        f"{base}{joiner}{urlencode({'provider': provider, 'status': status})}"
    )
    # The state is spent, so is the cookie that went with it.
    authorization_cookie_clear(redirect, request=request, provider=provider)
    return redirect


@router.post(
    "/connections/{provider}/sync",
    response={HTTPStatus.ACCEPTED: ConnectionOut},
    url_name="connection-sync",
    summary="Queue a sync (or answer the one already queued or running)",
    description=(
        "Answers 202 with the connection and its sync as it was queued (`queued`, phase "
        "`waiting`) or as it runs: never a sync that already ended. Follow it with `GET "
        "/api/v1/connections/{provider}`: `phase` goes fetching → applying → done, `progress` "
        "counts the items fetched of `total`. 409 `not_connected` or `needs_reauth`; 503 when "
        "the task runner's broker did not take the job. " + _NOT_CONFIGURED
    ),
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
)
async def sync(request: AuthenticatedRequest, provider: str) -> Status[ConnectionView]:
    view = await connection_sync_request(user=request.auth, provider=provider)
    return Status(HTTPStatus.ACCEPTED, view)
