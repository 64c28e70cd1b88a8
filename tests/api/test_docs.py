"""The API docs render offline: Swagger UI comes from our own static files, under our CSP."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from http import HTTPStatus

import pytest
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from tests.fixtures.browser import browser_page
from tests.fixtures.processes import live_server_url

# The policy the platform branch serves; the docs must work under it.
PLATFORM_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
}
NO_SCRIPTS_CSP = {**PLATFORM_CSP, "script-src": ["'none'"]}


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script_type: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.assets.append(found["src"] or "")
            else:
                self._in_script_type = found.get("type") or "text/javascript"
        elif tag == "link" and found.get("href"):
            self.assets.append(found["href"] or "")
        elif tag in {"img", "iframe"} and found.get("src"):
            self.assets.append(found["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script_type = None

    def handle_data(self, data: str) -> None:
        if self._in_script_type is not None and data.strip():
            self.inline_scripts.append(self._in_script_type)


def test_openapi_json_describes_the_api(client: Client) -> None:
    response = client.get(reverse("api-v1:openapi-json"))

    assert response.status_code == HTTPStatus.OK
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"] == {
        "title": settings.API_TITLE,
        "version": settings.API_VERSION,
        "description": settings.API_DESCRIPTION,
    }


def test_docs_reference_only_same_origin_static_assets(client: Client) -> None:
    response = client.get(reverse("api-docs"))

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    parser = _AssetCollector()
    parser.feed(html)
    assert "http://" not in html
    assert "https://" not in html
    assert sorted(parser.assets) == [
        "/static/ninja/favicon.png",
        "/static/ninja/favicon.svg",
        "/static/ninja/swagger-ui-bundle.js",
        "/static/ninja/swagger-ui-init.js",
        "/static/ninja/swagger-ui.css",
    ]
    # The only inline script is data (not executed, so script-src 'self' allows the page).
    assert parser.inline_scripts == ["application/json"]
    for asset in parser.assets:
        served = client.get(asset)
        assert served.status_code == HTTPStatus.OK, asset
        assert b"".join(served.streaming_content)  # type: ignore[attr-defined]


def test_docs_settings_point_at_our_schema_and_no_validator(client: Client) -> None:
    html = client.get(reverse("api-docs")).content.decode()
    start = html.index('id="swagger-settings">') + len('id="swagger-settings">')
    swagger_settings = json.loads(html[start : html.index("</script>", start)])

    assert swagger_settings["url"] == reverse("api-v1:openapi-json")
    assert swagger_settings["validatorUrl"] is None


@pytest.fixture
def docs_server(request: pytest.FixtureRequest) -> Iterator[str]:
    directives: dict[str, list[str]] = request.param
    with (
        override_settings(
            MIDDLEWARE=[*settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"],
            CONTENT_SECURITY_POLICY={"DIRECTIVES": directives},
        ),
        live_server_url() as url,
    ):
        yield url


@pytest.fixture
def chromium() -> Callable[..., str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium); not a CI service")

    def dump_dom(url: str) -> str:
        result = subprocess.run(  # noqa: S603 - a fixed browser binary and flags
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--virtual-time-budget=15000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout

    return dump_dom


@pytest.mark.parametrize("docs_server", [PLATFORM_CSP], indirect=True)
def test_docs_render_in_a_headless_browser_under_the_csp(
    docs_server: str, chromium: Callable[[str], str]
) -> None:
    with urllib.request.urlopen(docs_server + reverse("api-docs")) as page:  # noqa: S310
        served_policy = sorted(page.headers["Content-Security-Policy"].split("; "))
    assert served_policy == [
        "default-src 'self'",
        "img-src 'self' data:",  # Swagger UI's icons, on this page only
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
    ]

    dom = chromium(docs_server + reverse("api-docs"))

    # Swagger UI ran, fetched /api/v1/openapi.json and rendered its title and version.
    assert f'class="title">{settings.API_TITLE}' in dom
    assert f'<pre class="version"> {settings.API_VERSION} </pre>' in dom
    assert reverse("api-v1:openapi-json") in dom


@pytest.mark.parametrize("docs_server", [NO_SCRIPTS_CSP], indirect=True)
def test_browser_check_fails_when_the_csp_blocks_the_docs(
    docs_server: str, chromium: Callable[[str], str]
) -> None:
    # The control: the same check sees an empty page when scripts are not allowed.
    dom = chromium(docs_server + reverse("api-docs"))

    assert 'id="swagger-ui"' in dom
    assert f'class="title">{settings.API_TITLE}' not in dom


def test_only_the_docs_page_allows_data_images(client: Client) -> None:
    with override_settings(
        MIDDLEWARE=[*settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"],
        CONTENT_SECURITY_POLICY={"DIRECTIVES": PLATFORM_CSP},
    ):
        docs = client.get(reverse("api-docs"))
        landing = client.get(reverse("landing"))

    assert "img-src 'self' data:" in docs["Content-Security-Policy"]
    assert "img-src" not in landing["Content-Security-Policy"]


@pytest.mark.django_db
@pytest.mark.parametrize("docs_server", [PLATFORM_CSP], indirect=True)
def test_docs_render_fully_under_the_csp_icons_examples_and_auth_included(
    docs_server: str, client: Client
) -> None:
    """In a real browser: every operation, an operation opened (its icons are data: SVGs in
    Swagger's stylesheet, blank under a policy without them) with its example answer, and
    the Authorize dialog explaining both ways in; no CSP violation on the way."""
    operations = sum(
        1
        for item in client.get(reverse("api-v1:openapi-json")).json()["paths"].values()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    )
    with browser_page() as page:
        page.open(docs_server + reverse("api-docs"))

        rendered = page.wait_for("document.querySelectorAll('.opblock').length")
        page.evaluate(
            "document.querySelector('#operations-auth-api_auth_router_login"
            " .opblock-summary-control').click()"
        )
        example = page.wait_for(
            "document.querySelector('#operations-auth-api_auth_router_login .example')?.textContent"
        )
        selects = page.wait_for("document.querySelectorAll('.opblock.is-open select').length")
        page.evaluate("document.querySelector('.btn.authorize').click()")
        dialog = page.wait_for(
            "document.querySelector('.auth-container')?.parentElement.textContent"
        )
        violations = page.csp_violations()

    assert rendered == operations
    assert '"token_type": "bearer"' in example
    assert selects >= 1  # drawn with their data: SVG arrow
    assert "bearerAuth" in dialog
    assert "An access token, for apps and scripts" in dialog
    assert "sessionAuth" in dialog
    assert "csrfToken" in dialog
    assert violations == []
