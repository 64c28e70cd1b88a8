"""Legacy auth: log in (JSON or form), register, refresh without rotation, log out."""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth import alogout
from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.auth.security import auth, login_rate_limits, refresh_rate_limit, register_rate_limit
from api.legacy.operations import (
    legacy_input,
    legacy_operation,
    legacy_response,
)
from api.legacy.schemas import (
    AccessOut,
    LoginIn,
    LoginOut,
    LogoutIn,
    MessageOut,
    RefreshIn,
    RegisterIn,
    RegisterOut,
)
from musicbud.services.tokens import token_access_renew, token_logout, token_pair_issue
from musicbud.services.users import user_authenticate, user_register

router = Router(tags=["legacy: auth"])


@legacy_operation(
    router,
    "login/",
    methods=("POST",),
    auth=None,
    response={HTTPStatus.OK: LoginOut},
    summary="Log in with username (or email) and password, as JSON or a form",
    successor="/api/v1/auth/login",
    body=LoginIn,
    errors=(HTTPStatus.UNAUTHORIZED,),
)
async def login(request: HttpRequest) -> HttpResponse:
    payload = legacy_input(request, LoginIn)
    attempt = await login_rate_limits(request, login=payload.username)
    user = await user_authenticate(attempt=attempt, password=payload.password)
    pair = await token_pair_issue(user=user)
    return legacy_response(
        request,
        LoginOut,
        {
            "success": True,
            "message": "Login successful",
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "access": pair.access_token,
            "refresh": pair.refresh_token,
            "expires_in": pair.expires_in,
        },
    )


@legacy_operation(
    router,
    "register/",
    methods=("POST",),
    auth=None,
    response={HTTPStatus.CREATED: RegisterOut},
    summary="Create an account",
    successor="/api/v1/auth/register",
    body=RegisterIn,
    errors=(HTTPStatus.CONFLICT,),
)
async def register(request: HttpRequest) -> HttpResponse:
    payload = legacy_input(request, RegisterIn)
    await register_rate_limit(request)
    user = await user_register(
        username=payload.username, email=payload.email, password=payload.password
    )
    return legacy_response(
        request,
        RegisterOut,
        {"success": True, "message": "Registration successful", "user_id": user.public_id.hex},
        status=HTTPStatus.CREATED,
    )


@legacy_operation(
    router,
    "token/refresh",
    methods=("POST",),
    auth=None,
    response={HTTPStatus.OK: AccessOut},
    summary="A new access token; the refresh token is NOT rotated (see the legacy README)",
    successor="/api/v1/auth/refresh",
    body=RefreshIn,
    errors=(HTTPStatus.UNAUTHORIZED,),
)
async def token_refresh(request: HttpRequest) -> HttpResponse:
    payload = legacy_input(request, RefreshIn)
    await refresh_rate_limit(request)
    access = await token_access_renew(refresh_token=payload.given())
    return legacy_response(
        request,
        AccessOut,
        {
            "access": access.access_token,
            "access_token": access.access_token,
            "expires_in": access.expires_in,
        },
    )


@legacy_operation(
    router,
    "logout",
    auth=auth,
    response={HTTPStatus.OK: MessageOut},
    summary="End this login: every token of its family is revoked, or the session ends",
    successor="/api/v1/auth/logout",
    body=LogoutIn,
)
async def logout(request: HttpRequest) -> HttpResponse:
    payload = legacy_input(request, LogoutIn)
    await token_logout(
        refresh_token=payload.token, access_claims=getattr(request, "token_claims", None)
    )
    # As v1's logout: the session it was called with ends too (nothing to end for a bearer).
    await alogout(request)
    return legacy_response(request, MessageOut, {"message": "Logged out successfully"})
