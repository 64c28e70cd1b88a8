"""/api/v1/auth/: register, log in (tokens, optionally a session), refresh, log out, password."""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth import alogin, alogout, aupdate_session_auth_hash
from django.http import HttpRequest
from django.middleware.csrf import get_token
from ninja import Router, Status

from api.auth.schemas import (
    AcceptedOut,
    CsrfOut,
    EmailChangeIn,
    EmailVerifyIn,
    LoginIn,
    LogoutIn,
    MeOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    PublicUserOut,
    RefreshIn,
    RegisterIn,
    TokenPairOut,
)
from api.auth.security import (
    AuthenticatedRequest,
    auth,
    login_rate_limits,
    refresh_rate_limit,
    register_rate_limit,
    require_csrf,
)
from api.openapi import also_answers
from api.throttling import client_key, enforce_rate_limit
from musicbud.accounts.services import (
    email_change,
    email_verification_resend,
    email_verify,
    password_reset_confirm,
    password_reset_request,
)
from musicbud.email_address import email_normalize_lenient
from musicbud.errors import AuthenticationFailed
from musicbud.models import User
from musicbud.services.tokens import (
    TokenPair,
    token_logout,
    token_pair_issue,
    token_refresh,
)
from musicbud.services.users import user_authenticate, user_password_change, user_register

router = Router(tags=["auth"])


def _pair_out(pair: TokenPair) -> TokenPairOut:
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post(
    "/register",
    auth=None,
    response={HTTPStatus.CREATED: PublicUserOut},
    url_name="auth-register",
    openapi_extra=also_answers(HTTPStatus.CONFLICT),
    summary="Create an account",
)
async def register(request: HttpRequest, payload: RegisterIn) -> Status[User]:
    """Registers a user with a username, an email and a password, mails a verification link
    to the address and answers the public user (201). A taken username (case-insensitively) is
    a 409 `username_taken`; an address that already has an account is never said to be taken:
    the answer looks the same, nothing is created, and the address's owner gets a mail. A weak
    password or a malformed field is a 422 naming it. Log in afterwards with
    `POST /api/v1/auth/login`. Limited per client address (the `client` policy)."""
    await register_rate_limit(request)
    user = await user_register(
        username=payload.username, email=payload.email, password=payload.password
    )
    return Status(HTTPStatus.CREATED, user)


@router.get(
    "/csrf",
    auth=None,
    response=CsrfOut,
    url_name="auth-csrf",
    summary="Get a CSRF token (browsers using the session)",
)
async def csrf(request: HttpRequest) -> CsrfOut:
    """Sets the ``csrftoken`` cookie; browsers send its value as ``X-CSRFToken``."""
    return CsrfOut(csrf_token=get_token(request))


@router.post(
    "/login",
    auth=None,
    response=TokenPairOut,
    url_name="auth-login",
    # 401: wrong credentials; 403: a session login without its CSRF token.
    openapi_extra=also_answers(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN),
    summary="Log in: a token pair (and a session if asked)",
)
async def login(request: HttpRequest, payload: LoginIn) -> TokenPairOut:
    """Checks a username (or email) and password and answers an access token and a refresh
    token. Send the access token as `Authorization: Bearer <token>`; when it expires, trade the
    refresh token at `POST /api/v1/auth/refresh`. With `"session": true` a session cookie is set
    too, and the request itself needs the CSRF token (403 `csrf_failed` without). Wrong
    credentials, an unknown or inactive user are one 401 `invalid_credentials`. Limited per
    account and per client address."""
    attempt = await login_rate_limits(request, login=payload.username)
    if payload.session:
        # A login that sets a session cookie is CSRF-protected like Django's LoginView, so
        # no other site can log a browser into an account of its choosing.
        require_csrf(request)
    user = await user_authenticate(attempt=attempt, password=payload.password)
    pair = await token_pair_issue(user=user)
    if payload.session:
        await alogin(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return _pair_out(pair)


@router.post(
    "/refresh",
    auth=None,
    response=TokenPairOut,
    url_name="auth-refresh",
    openapi_extra=also_answers(HTTPStatus.UNAUTHORIZED),
    summary="Trade a refresh token for a new token pair",
)
async def refresh(request: HttpRequest, payload: RefreshIn) -> TokenPairOut:
    """The refresh token is spent: the answer carries a new pair. Using a spent refresh token
    again revokes its whole family (every token of that login), as a stolen token would be used:
    401 with the reason. Limited per client address."""
    await refresh_rate_limit(request)
    return _pair_out(await token_refresh(refresh_token=payload.refresh_token))


@router.post(
    "/logout",
    auth=None,
    response={HTTPStatus.NO_CONTENT: None},
    url_name="auth-logout",
    # It authenticates itself when credentials are sent (a session needs its CSRF token).
    openapi_extra=also_answers(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN),
    summary="Log out: revoke this login's tokens, end the session",
)
async def logout(request: HttpRequest, payload: LogoutIn | None = None) -> Status[None]:
    """Revokes the family of the refresh token sent in the body and of the bearer token sent in
    the header (either may be left out), and ends the session cookie's session. 204 once done;
    401 with no credentials at all."""
    refresh_token = payload.refresh_token if payload else None
    # Authenticates when credentials are sent; an invalid bearer or missing CSRF token fails.
    user = await auth(request)
    if refresh_token is None and user is None:
        raise AuthenticationFailed("Authentication required")
    await token_logout(
        refresh_token=refresh_token, access_claims=getattr(request, "token_claims", None)
    )
    await alogout(request)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.get(
    "/me",
    auth=auth,
    response=MeOut,
    url_name="auth-me",
    summary="Who I am (with my email and staff flag)",
)
async def me(request: AuthenticatedRequest) -> User:
    """The authenticated user, as the login knows it: the public fields, the email and whether
    the account is staff. `GET /api/v1/me/profile` has the full profile."""
    return request.auth


@router.post(
    "/password",
    auth=auth,
    response={HTTPStatus.NO_CONTENT: None},
    url_name="auth-password",
    summary="Change my password (every token is revoked)",
)
async def password_change(request: AuthenticatedRequest, payload: PasswordChangeIn) -> Status[None]:
    """Takes the current password and a new one. 204 once changed: every token of the user is
    revoked (log in again in the apps); a session-authenticated caller keeps its own session. A
    wrong current password is a 422 `wrong_password`. Limited per user."""
    current = request.auth
    # A stolen access token must not become a fast oracle for the current password.
    await enforce_rate_limit(request, group="auth.password", policy="strict")
    user = await user_password_change(
        user_id=current.pk, old_password=payload.old_password, new_password=payload.new_password
    )
    if request.token_claims is None:
        # Session-authenticated: keep this session, as Django's own password change view does.
        await aupdate_session_auth_hash(request, user)
    return Status(HTTPStatus.NO_CONTENT, None)


ACCEPTED_RESET = "If the address has an account, a mail with a reset link is on its way."


@router.post(
    "/email/verify",
    auth=None,
    response={HTTPStatus.NO_CONTENT: None},
    url_name="auth-email-verify",
    summary="Verify an email address (the link's token)",
    description=(
        "Opens a verification link: the address is marked verified, or a pending new address "
        "replaces the old one (whose owner is told by mail). 400 `email_verification_invalid` "
        "(forged or already used) or `email_verification_expired`; 409 `email_taken` when a "
        "pending address was taken meanwhile."
    ),
    openapi_extra=also_answers(HTTPStatus.BAD_REQUEST, HTTPStatus.CONFLICT),
)
async def verify_email(request: HttpRequest, payload: EmailVerifyIn) -> Status[None]:
    await enforce_rate_limit(request, group="auth.email.verify", policy="client")
    await email_verify(token=payload.token)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/email/verify/resend",
    auth=auth,
    response={HTTPStatus.ACCEPTED: AcceptedOut},
    url_name="auth-email-verify-resend",
    summary="Send the verification link again",
    description="Mails a new link to the address awaiting verification (rate limited).",
)
async def resend_verification(request: AuthenticatedRequest) -> Status[AcceptedOut]:
    await enforce_rate_limit(request, group="auth.email.resend", policy="strict")
    sent = await email_verification_resend(user_id=request.auth.pk)
    detail = "A verification mail is on its way." if sent else "The address is already verified."
    return Status(HTTPStatus.ACCEPTED, AcceptedOut(detail=detail))


@router.post(
    "/email",
    auth=auth,
    response={HTTPStatus.ACCEPTED: AcceptedOut},
    url_name="auth-email-change",
    summary="Change the email address",
    description=(
        "Needs the current password (422 `wrong_password`). The new address gets a "
        "verification link and replaces the old one only once the link is opened."
    ),
)
async def change_email(
    request: AuthenticatedRequest, payload: EmailChangeIn
) -> Status[AcceptedOut]:
    await enforce_rate_limit(request, group="auth.email.change", policy="strict")
    await email_change(user_id=request.auth.pk, password=payload.password, email=payload.email)
    return Status(
        HTTPStatus.ACCEPTED,
        AcceptedOut(detail="A verification mail is on its way to the new address."),
    )


@router.post(
    "/password/reset",
    auth=None,
    response={HTTPStatus.ACCEPTED: AcceptedOut},
    url_name="auth-password-reset",
    summary="Ask for a password reset link",
    description=(
        "Always 202 with the same body, whether the address has an account or not; a mail "
        "with a single-use link leaves only for an account's address. Rate limited per "
        "address and per client."
    ),
)
async def password_reset(request: HttpRequest, payload: PasswordResetIn) -> Status[AcceptedOut]:
    address = email_normalize_lenient(payload.email.strip()).lower()
    await enforce_rate_limit(
        request, group="auth.password.reset.address", policy="strict", key=f"email:{address}"
    )
    await enforce_rate_limit(
        request, group="auth.password.reset.ip", policy="client", key=client_key(request)
    )
    await password_reset_request(email=payload.email)
    return Status(HTTPStatus.ACCEPTED, AcceptedOut(detail=ACCEPTED_RESET))


@router.post(
    "/password/reset/confirm",
    auth=None,
    response={HTTPStatus.NO_CONTENT: None},
    url_name="auth-password-reset-confirm",
    summary="Set a new password with a reset link",
    description=(
        "Applies the password rules (422 `validation_error`), sets the password and ends "
        "every session and token of the account (old refresh tokens are refused). 400 "
        "`password_reset_invalid` (forged or already used) or `password_reset_expired`."
    ),
    openapi_extra=also_answers(HTTPStatus.BAD_REQUEST),
)
async def password_reset_confirm_view(
    request: HttpRequest, payload: PasswordResetConfirmIn
) -> Status[None]:
    await enforce_rate_limit(request, group="auth.password.reset.confirm", policy="client")
    await password_reset_confirm(
        uid=payload.uid, token=payload.token, new_password=payload.new_password
    )
    return Status(HTTPStatus.NO_CONTENT, None)
