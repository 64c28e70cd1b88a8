"""The middleware chain is async-native: no adaptation, no thread hop unless I/O is needed."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, iscoroutinefunction
from csp.constants import NONCE
from csp.utils import build_policy
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.checks import run_checks
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils.module_loading import import_string

from fastpath.chain import MiddlewareSetting
from fastpath.handler import HopFreeASGIHandler
from fastpath.middleware import CSPMiddleware
from tests.fixtures.asgi import HopRecorder, asgi_request

pytestmark = pytest.mark.urls("tests.config.asgi_urls")

CLOSE = "HttpResponseBase.close"
SAVE = "InlineHooksMixin.run_process_response"

STOCK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
EXTRA_MIDDLEWARE = ["fastpath.middleware.GZipMiddleware", "fastpath.middleware.CSPMiddleware"]


def adaptation_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "adapted for" in r.getMessage()]


def test_every_configured_middleware_is_async_capable() -> None:
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        assert getattr(middleware, "async_capable", False) is True, path


@override_settings(DEBUG=True)
def test_chain_loads_without_adapting_any_middleware(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="django.request")

    handler = HopFreeASGIHandler()

    assert adaptation_records(caplog) == []
    view_hooks = handler._view_middleware + handler._template_response_middleware  # type: ignore[attr-defined]
    assert view_hooks  # CSRF's process_view is there, and native
    for hook in view_hooks:
        assert iscoroutinefunction(hook)
        assert not isinstance(hook, SyncToAsync)


@override_settings(DEBUG=True, MIDDLEWARE=STOCK_MIDDLEWARE)
def test_stock_chain_is_adapted(caplog: pytest.LogCaptureFixture) -> None:
    # The check above can fail: Django's own list adapts WhiteNoise (sync-only).
    caplog.set_level(logging.DEBUG, logger="django.request")

    HopFreeASGIHandler()

    assert adaptation_records(caplog) == [
        "Asynchronous handler adapted for middleware whitenoise.middleware.WhiteNoiseMiddleware."
    ]


async def test_live_through_the_configured_chain_makes_no_hop(
    count_sync_hops: HopRecorder,
) -> None:
    app = HopFreeASGIHandler()

    response = await asgi_request(app, reverse("health-live"))

    assert response.status == HTTPStatus.OK
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert count_sync_hops.thread_sensitive == []
    assert count_sync_hops.queries == []


async def test_stock_chain_hops_in_every_hook(count_sync_hops: HopRecorder) -> None:
    with override_settings(MIDDLEWARE=STOCK_MIDDLEWARE):
        app = HopFreeASGIHandler()
        response = await asgi_request(app, reverse("health-live"))

    assert response.status == HTTPStatus.OK
    # WhiteNoise is sync-only, so it and SecurityMiddleware above it run in a thread (the
    # first hop); below it every MiddlewareMixin hook hops, then the close does.
    assert count_sync_hops.thread_sensitive == [
        "convert_exception_to_response.<locals>.inner",
        "SessionMiddleware.process_request",
        "CommonMiddleware.process_request",
        "CsrfViewMiddleware.process_request",
        "AuthenticationMiddleware.process_request",
        "MessageMiddleware.process_request",
        "CsrfViewMiddleware.process_view",
        "XFrameOptionsMiddleware.process_response",
        "MessageMiddleware.process_response",
        "CsrfViewMiddleware.process_response",
        "CommonMiddleware.process_response",
        "SessionMiddleware.process_response",
        CLOSE,
    ]


async def test_gzip_and_csp_are_inline(count_sync_hops: HopRecorder) -> None:
    with override_settings(
        MIDDLEWARE=[*settings.MIDDLEWARE, *EXTRA_MIDDLEWARE],
        CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'self'"]}},
    ):
        app = HopFreeASGIHandler()
        response = await asgi_request(
            app, reverse("asgi-test-big"), headers=[("accept-encoding", "gzip")]
        )

    assert response.status == HTTPStatus.OK
    assert response.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(response.body))["items"][499] == {
        "n": 499,
        "name": "item 499",
    }
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert count_sync_hops.thread_sensitive == []


@pytest.mark.django_db(transaction=True)
async def test_session_saved_in_one_hop_only_when_modified(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    untouched = await asgi_request(hop_free_app, reverse("asgi-test-loop"))
    assert count_sync_hops.thread_sensitive == []
    assert "set-cookie" not in untouched.headers

    written = await asgi_request(hop_free_app, reverse("asgi-test-session"))

    assert count_sync_hops.thread_sensitive == [SAVE, CLOSE]
    cookie = written.headers["set-cookie"]
    session_key = cookie.split(";")[0].removeprefix(f"{settings.SESSION_COOKIE_NAME}=")
    store: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    assert await store.aget("seen") is True


@pytest.mark.django_db(transaction=True)
async def test_messages_stored_in_one_hop_only_when_used(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    response = await asgi_request(hop_free_app, reverse("asgi-test-message"))

    assert response.status == HTTPStatus.OK
    assert count_sync_hops.thread_sensitive == [SAVE, CLOSE]
    assert "messages=" in response.headers["set-cookie"]


async def test_lazy_message_storage_reads_and_clears_stored_messages(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    added = await asgi_request(hop_free_app, reverse("asgi-test-message"))
    cookie = added.headers["set-cookie"].split(";")[0]
    count_sync_hops.clear()

    read = await asgi_request(
        hop_free_app, reverse("asgi-test-message-read"), headers=[("cookie", cookie)]
    )

    assert read.json() == {"messages": ["saved"]}
    # Read messages are removed: the storage clears its cookie, in the one storing hop.
    assert read.headers["set-cookie"].startswith('messages=""; expires=Thu, 01 Jan 1970')
    assert count_sync_hops.thread_sensitive == [SAVE, CLOSE]


async def test_csrf_checks_unsafe_request_in_one_hop(
    hop_free_app: HopFreeASGIHandler, count_sync_hops: HopRecorder
) -> None:
    safe = await asgi_request(hop_free_app, reverse("asgi-test-form"))
    assert safe.status == HTTPStatus.OK
    assert count_sync_hops.thread_sensitive == []

    rejected = await asgi_request(hop_free_app, reverse("asgi-test-form"), method="POST")

    assert rejected.status == HTTPStatus.FORBIDDEN
    assert count_sync_hops.thread_sensitive == ["CsrfViewMiddleware.process_view", CLOSE]


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_static_file_served_by_async_whitenoise(
    tmp_path: Path, count_sync_hops: HopRecorder
) -> None:
    (tmp_path / "robots.txt").write_text("User-agent: *\n")
    with override_settings(WHITENOISE_ROOT=str(tmp_path)):
        app = HopFreeASGIHandler()
    try:
        response = await asgi_request(app, "/robots.txt")
    finally:
        await app.thread_pool.close()

    assert response.status == HTTPStatus.OK
    assert response.body == b"User-agent: *\n"
    assert "WhiteNoiseMiddleware.serve" in count_sync_hops.thread_free


def test_settings_recognise_the_async_subclasses_as_django_middleware() -> None:
    assert "django.middleware.security.SecurityMiddleware" in settings.MIDDLEWARE
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in settings.MIDDLEWARE
    assert "django.middleware.locale.LocaleMiddleware" not in settings.MIDDLEWARE
    assert "no.such.Middleware" not in settings.MIDDLEWARE
    # Found where the subclass is: the chain's order reads the same as with Django's paths.
    assert settings.MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") == (
        settings.MIDDLEWARE.index("fastpath.middleware.SecurityMiddleware")
    )
    with pytest.raises(ValueError, match="LocaleMiddleware"):
        settings.MIDDLEWARE.index("django.middleware.locale.LocaleMiddleware")


def test_django_security_checks_run_against_the_async_subclasses() -> None:
    with override_settings(
        MIDDLEWARE=MiddlewareSetting(settings.MIDDLEWARE),
        SECURE_HSTS_SECONDS=0,
        CSRF_COOKIE_SECURE=False,
    ):
        ids = {message.id for message in run_checks(include_deployment_checks=True)}

    # Present, so not reported missing; and the checks that need them present did run.
    assert {"security.W001", "security.W002", "security.W003"}.isdisjoint(ids)
    assert {"security.W004", "security.W016"} <= ids


def _csp_response(customise: Callable[[HttpRequest, HttpResponse], None] | None = None) -> Any:
    """One request through fastpath.middleware.CSPMiddleware (its sync path), as Django runs it."""

    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("ok")
        if customise is not None:
            customise(request, response)
        return response

    middleware = CSPMiddleware(view)
    return middleware(RequestFactory().get("/page"))


def directives(header: str) -> set[str]:
    # django-csp joins the directives in set order (it varies between processes).
    return {part.strip() for part in header.split(";")}


# NONCE: a request that used a nonce gets it in default-src; one that did not, nothing.
POLICY = {"DIRECTIVES": {"default-src": ["'self'", NONCE], "img-src": ["'self'", "data:"]}}
REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'none'"]}}


@override_settings(CONTENT_SECURITY_POLICY=POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY=REPORT_ONLY)
def test_csp_headers_are_django_csps_and_follow_the_settings() -> None:
    response = _csp_response()

    assert response["Content-Security-Policy"] == build_policy()
    assert directives(response["Content-Security-Policy"]) == {
        "default-src 'self'",
        "img-src 'self' data:",
    }
    assert response["Content-Security-Policy-Report-Only"] == "default-src 'none'"
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        assert _csp_response()["Content-Security-Policy"] == "default-src 'none'"
    with override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY=None):
        assert "Content-Security-Policy-Report-Only" not in _csp_response()


@override_settings(CONTENT_SECURITY_POLICY=POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY=None)
def test_csp_customised_by_the_view_or_a_nonce_is_built_for_that_response() -> None:
    def update(request: HttpRequest, response: HttpResponse) -> None:
        response._csp_update = {"img-src": ["https://cdn.example.org"]}  # type: ignore[attr-defined]

    def use_nonce(request: HttpRequest, response: HttpResponse) -> None:
        response.nonce = str(request.csp_nonce)  # type: ignore[attr-defined]

    def exempt(request: HttpRequest, response: HttpResponse) -> None:
        response._csp_exempt = True  # type: ignore[attr-defined]

    updated = _csp_response(update)
    with_nonce = _csp_response(use_nonce)

    assert directives(updated["Content-Security-Policy"]) == {
        "default-src 'self'",
        "img-src 'self' data: https://cdn.example.org",
    }
    assert directives(with_nonce["Content-Security-Policy"]) == {
        f"default-src 'self' 'nonce-{with_nonce.nonce}'",
        "img-src 'self' data:",
    }
    assert "Content-Security-Policy" not in _csp_response(exempt)
    assert directives(_csp_response()["Content-Security-Policy"]) == {
        "default-src 'self'",
        "img-src 'self' data:",
    }
