"""Request ids, security headers, CORS and GZip on every response, through the full chain."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import uuid
from http import HTTPStatus
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse
from django.utils.deprecation import MiddlewareMixin

from api.middleware import ErrorEnvelopeMiddleware, RequestContextMiddleware
from tests.fixtures.processes import run_python

pytestmark = pytest.mark.urls("tests.api.probe")

CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'"
ORIGIN = "https://app.example.org"


def _csp_directives(header: str) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1]
        for part in (p.strip() for p in header.split(";"))
    }


def assert_security_headers(response: Any) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-XSS-Protection"] == "0"
    assert _csp_directives(response["Content-Security-Policy"]) == _csp_directives(CSP)
    # Development and test settings: no HSTS (it is a production-only header).
    assert "Strict-Transport-Security" not in response


# --- request ids ----------------------------------------------------------------------------


def test_sane_request_id_is_echoed(client: Client) -> None:
    response = client.get(reverse("probe:probe-work"), HTTP_X_REQUEST_ID="abc-123_4.5:6")

    assert response["X-Request-ID"] == "abc-123_4.5:6"
    assert response.json() == {"request_id": "abc-123_4.5:6"}


@pytest.mark.parametrize(
    "incoming",
    ["short", "x" * 129, "has space inside", "new\nline-injected", "<script>alert(1)</script>", ""],
)
def test_insane_request_id_is_replaced_by_a_uuid4(client: Client, incoming: str) -> None:
    response = client.get(reverse("probe:probe-work"), HTTP_X_REQUEST_ID=incoming)

    generated = response["X-Request-ID"]
    assert generated != incoming
    assert uuid.UUID(generated).version == 4
    assert response.json() == {"request_id": generated}


def test_every_response_gets_its_own_request_id(client: Client) -> None:
    ids = {client.get(reverse("health-live"))["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5


async def test_request_ids_stay_with_their_request_under_concurrency(
    async_client: AsyncClient, json_logs: Any
) -> None:
    sent = [f"concurrent-{n:04d}" for n in range(12)]
    # Descending pauses make the requests finish in the reverse of their start order.
    responses = await asyncio.gather(
        *(
            async_client.get(
                reverse("probe:probe-work"),
                {"pause": str((12 - n) / 200)},
                headers={"X-Request-ID": request_id},
            )
            for n, request_id in enumerate(sent)
        )
    )

    assert [r["X-Request-ID"] for r in responses] == sent
    assert [r.json()["request_id"] for r in responses] == sent
    lines = json_logs()
    for request_id in sent:
        mine = [line for line in lines if line.get("request_id") == request_id]
        assert sorted(line["message"] for line in mine) == sorted(
            [
                "probe work started",
                "probe work in a thread",
                "GET /api/v1/probe-api/probe/work 200",
            ]
        )


# --- security headers -----------------------------------------------------------------------


def test_security_headers_on_a_200(client: Client) -> None:
    response = client.get(reverse("health-live"))

    assert response.status_code == HTTPStatus.OK
    assert_security_headers(response)


def test_security_headers_on_a_404(client: Client) -> None:
    response = client.get("/missing")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert_security_headers(response)


async def test_security_headers_on_async_api_responses_and_errors(
    async_client: AsyncClient,
) -> None:
    ok = await async_client.get(reverse("probe:probe-async"))
    invalid = await async_client.get(reverse("probe:probe-search"))

    assert (ok.status_code, invalid.status_code) == (HTTPStatus.OK, 422)
    assert_security_headers(ok)
    assert_security_headers(invalid)


@override_settings(X_XSS_PROTECTION="1; mode=block")
def test_x_xss_protection_follows_the_setting(client: Client) -> None:
    assert client.get(reverse("health-live"))["X-XSS-Protection"] == "1; mode=block"


@override_settings(
    SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SECURE_SSL_REDIRECT=True
)
def test_production_security_redirects_to_https_and_sends_hsts(client: Client) -> None:
    plain = client.get(reverse("health-live"))
    secure = client.get(reverse("health-live"), secure=True)
    secure_404 = client.get("/missing", secure=True)

    assert plain.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert plain["Location"] == "https://testserver/health/live"
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert secure_404["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_production_environment_turns_on_https_hsts_and_trusted_hosts() -> None:
    # Settings are built once at import; a fresh interpreter with prod variables shows them.
    script = (
        "import django; from django.conf import settings; django.setup(); import json; "
        "print(json.dumps([settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
        "settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SECURE_PROXY_SSL_HEADER, "
        "settings.ALLOWED_HOSTS, settings.SESSION_COOKIE_SECURE, settings.DEBUG]))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ENVIRONMENT": "prod",
        "SECRET_KEY": "Zq8v!" + "".join(chr(65 + (i * 7) % 26) for i in range(60)),
        "JWT_SECRET_KEYS": "k1:" + "".join(chr(97 + (i * 5) % 26) for i in range(40)),
        "ALLOWED_HOSTS": "api.musicbud.example",
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # prod shares state through Redis
        "PROVIDER_TOKEN_KEYS": "Nv2f1u0VbIx1mXzZt2l5v3yP0bQy6Zr3d8E1wH9kS4c=",
        "EMAIL_URL": "smtp+tls://mail.musicbud.example:587",  # prod refuses console mail
    }
    result = run_python(script, env)

    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        True,
        31_536_000,
        True,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        ["api.musicbud.example"],
        True,
        False,
    ]


def test_docs_page_loads_only_same_origin_scripts(client: Client) -> None:
    response = client.get(reverse("api-docs"))

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    sources = [re.search(r'src="([^"]+)"', attrs) for attrs in scripts]
    external = [m.group(1) for m in sources if m]
    inline = [attrs for attrs, m in zip(scripts, sources, strict=True) if m is None]
    assert external == ["/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js"]
    # The only inline block is JSON data, which CSP does not execute.
    assert [attrs.strip() for attrs in inline] == ['type="application/json" id="swagger-settings"']
    for path in external:
        assert finders.find(path.removeprefix("/static/")) is not None
    assert "Content-Security-Policy" in response


# --- CORS -----------------------------------------------------------------------------------


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_preflight_from_an_allowed_origin_is_answered(client: Client) -> None:
    response = client.options(
        reverse("probe:probe-items"),
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, authorization",
    )

    assert response.status_code == HTTPStatus.OK
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response["Access-Control-Allow-Methods"].split(", ")
    allowed_headers = response["Access-Control-Allow-Headers"].split(", ")
    assert {"content-type", "authorization"} <= set(allowed_headers)


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_other_origins_get_no_cors_headers(client: Client) -> None:
    preflight = client.options(
        reverse("probe:probe-items"),
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    simple = client.get(reverse("probe:probe-async"), HTTP_ORIGIN="https://evil.example.com")

    for response in (preflight, simple):
        assert not [name for name in response.headers if name.lower().startswith("access-")]


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_allowed_origin_gets_cors_headers_on_responses_and_errors(client: Client) -> None:
    ok = client.get(reverse("probe:probe-async"), HTTP_ORIGIN=ORIGIN)
    missing = client.get("/api/v1/missing", HTTP_ORIGIN=ORIGIN)

    for response in (ok, missing):
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        assert response["Access-Control-Allow-Credentials"] == "true"


# --- GZip -----------------------------------------------------------------------------------


def test_large_responses_are_gzipped(client: Client) -> None:
    response = client.get(reverse("probe:probe-big"), HTTP_ACCEPT_ENCODING="gzip")

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert json.loads(gzip.decompress(response.content)) == {"data": "musicbud " * 100}


def test_small_or_unaccepted_responses_are_not_gzipped(client: Client) -> None:
    small = client.get(reverse("probe:probe-async"), HTTP_ACCEPT_ENCODING="gzip")
    unaccepted = client.get(reverse("probe:probe-big"))

    assert "Content-Encoding" not in small
    assert small.json() == {"mode": "async"}
    assert "Content-Encoding" not in unaccepted
    assert unaccepted.json() == {"data": "musicbud " * 100}


# --- the middleware themselves --------------------------------------------------------------


@pytest.mark.parametrize("middleware", [RequestContextMiddleware, ErrorEnvelopeMiddleware])
async def test_project_middleware_is_async_native(middleware: Any) -> None:
    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("async")

    def sync_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("sync")

    assert not issubclass(middleware, MiddlewareMixin)
    assert (middleware.sync_capable, middleware.async_capable) == (True, True)
    on_async = middleware(async_view)
    on_sync = middleware(sync_view)
    assert iscoroutinefunction(on_async)
    assert not iscoroutinefunction(on_sync)

    from django.test import RequestFactory

    request = RequestFactory().get("/health/live")
    assert (await on_async(request)).content == b"async"
    assert on_sync(RequestFactory().get("/health/live")).content == b"sync"


def test_project_middleware_is_in_the_chain() -> None:
    chain = settings.MIDDLEWARE
    assert chain[0] == "api.middleware.RequestContextMiddleware"
    envelope = chain.index("api.middleware.ErrorEnvelopeMiddleware")
    for outer in (
        "django.middleware.security.SecurityMiddleware",
        "csp.middleware.CSPMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "django.middleware.gzip.GZipMiddleware",
        "corsheaders.middleware.CorsMiddleware",
    ):
        assert chain.index(outer) < envelope
