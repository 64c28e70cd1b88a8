"""Legacy service connections: the authorization link, the providers' callbacks, whether a
connection exists, and a sync; the connections API's services and its callback."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from ninja import Router

from api.auth import AuthenticatedRequest, auth
from api.connections.browser_cookie import authorization_cookie_set
from api.connections.router import callback as v1_callback
from api.connections.schemas import CallbackOut, CallbackQuery
from api.legacy.operations import legacy_input, legacy_operation, legacy_response
from api.legacy.schemas import (
    AuthorizationLinkOut,
    ConnectionAnswerOut,
    LikesUpdateIn,
    ServiceIn,
    SyncAnswerOut,
)
from musicbud.connections.models import ConnectionStatus
from musicbud.connections.providers.registry import PROVIDER_NAMES
from musicbud.connections.selectors import connection_get, connections_list
from musicbud.connections.services import connection_authorize, connection_sync_request
from musicbud.errors import NotFound

router = Router(tags=["legacy: connections"], auth=auth)

# A connection that exists, whether or not its grant still works.
EXISTING = frozenset({ConnectionStatus.CONNECTED, ConnectionStatus.NEEDS_REAUTH})


def _service(request: HttpRequest) -> str:
    service: str = legacy_input(request, ServiceIn).given()
    return service


def _answer(message: str, data: object, status: int = HTTPStatus.OK) -> dict[str, object]:
    return {"message": message, "code": status, "successful": True, "data": data}


@legacy_operation(
    router,
    "service/login",
    response={HTTPStatus.OK: AuthorizationLinkOut},
    summary="Where to send the browser to connect a streaming service",
    body=ServiceIn,
    errors=(HTTPStatus.CONFLICT,),
)
async def service_login(request: AuthenticatedRequest) -> HttpResponse:
    provider = _service(request)
    authorization = await connection_authorize(user=request.auth, provider=provider)
    link = {"authorization_link": authorization.authorization_url}
    response = legacy_response(
        request, AuthorizationLinkOut, _answer("Authorization link generated.", link)
    )
    # The callback is refused in a browser without it (as the v1 flow).
    authorization_cookie_set(response, provider=provider, authorization=authorization)
    return response


@legacy_operation(
    router,
    "me/likes/update",
    methods=("POST",),
    response={HTTPStatus.ACCEPTED: SyncAnswerOut},
    summary="Sync my taste from a connected service, or every one (queued; answers at once)",
    body=LikesUpdateIn,
    errors=(HTTPStatus.CONFLICT,),
)
async def likes_update(request: AuthenticatedRequest) -> HttpResponse:
    service = legacy_input(request, LikesUpdateIn).service
    data: object
    if service is not None:
        data = await connection_sync_request(user=request.auth, provider=service)
        message = "Sync started."
    else:
        # The app's "refresh my likes" names no service: every connected one (a connection
        # needing re-authorization cannot sync until the user connects again).
        data = [
            await connection_sync_request(user=request.auth, provider=view.provider)
            for view in await connections_list(user_id=request.auth.pk)
            if view.status == ConnectionStatus.CONNECTED
        ]
        message = "Sync started." if data else "No connected service to sync."
    return legacy_response(
        request,
        SyncAnswerOut,
        _answer(message, data, HTTPStatus.ACCEPTED),
        status=HTTPStatus.ACCEPTED,
    )


def _provider_routes(provider: str) -> None:
    @legacy_operation(
        router,
        f"{provider}/connect",
        response={HTTPStatus.OK: ConnectionAnswerOut},
        summary=f"My {provider} connection: 200 when it exists, 404 when it does not",
        successor=f"/api/v1/connections/{provider}",
        errors=(HTTPStatus.NOT_FOUND,),
    )
    async def connected(request: AuthenticatedRequest) -> HttpResponse:
        view = await connection_get(
            user_id=request.auth.pk,
            provider=provider,
        )
        if view.status not in EXISTING:
            raise NotFound(f"{provider} is not connected", code="connection_not_found")
        return legacy_response(
            request, ConnectionAnswerOut, _answer(f"{provider} is connected.", view)
        )

    @legacy_operation(
        router,
        f"{provider}/callback",
        methods=("GET",),
        auth=None,
        response={HTTPStatus.OK: CallbackOut, HTTPStatus.FOUND: None},
        summary=f"Where {provider} sends the browser back: as the v1 callback",
        successor=f"/api/v1/connections/{provider}/callback",
        body=CallbackQuery,
        errors=(HTTPStatus.BAD_GATEWAY, HTTPStatus.CONFLICT),
    )
    async def callback(request: HttpRequest) -> HttpResponseBase:
        # The cookies v1 sets on its answer (the spent authorization cookie's removal).
        cookies = HttpResponse()
        answer = await v1_callback(request, provider, legacy_input(request, CallbackQuery), cookies)
        if isinstance(answer, HttpResponseBase):
            return answer
        response = legacy_response(request, CallbackOut, answer)
        response.cookies.update(cookies.cookies)
        return response


for _provider in PROVIDER_NAMES:
    _provider_routes(_provider)
