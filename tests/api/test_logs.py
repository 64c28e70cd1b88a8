"""Structured JSON logs: one access line per request, app lines alike, and never a secret."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from api.logs import REDACTED, RedactingJsonFormatter, RedactingTextFormatter
from tests.conftest import require_service
from tests.factories import UserFactory
from tests.fixtures.processes import ROOT, database_url, run_python, subprocess_env
from tooling.benchmark.server import HOP_FREE_APP, start_server
from tooling.ports import free_port

pytestmark = pytest.mark.urls("tests.api.probe")

PASSWORD = "Pw-Tr0ub4dor-and-3"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXNlY3JldA"
REFRESH = "refresh-Zx81-secret-value"
SESSION_COOKIE = "sessioncookievalue0123456789abcdef"
CSRF_COOKIE = "csrfcookievalue0123456789abcdefABCDEF"
SECRETS = (PASSWORD, TOKEN, REFRESH, SESSION_COOKIE, CSRF_COOKIE, "hunter2")


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "musicbud.access"]


def test_one_access_line_per_request_with_its_fields(client: Client, json_logs: Any) -> None:
    response = client.get(
        reverse("probe:probe-item", args=[7]),
        HTTP_X_REQUEST_ID="access-line-0001",
        REMOTE_ADDR="198.51.100.23",
    )

    assert response.status_code == HTTPStatus.OK
    [line] = access_lines(json_logs())
    assert isinstance(line.pop("duration_ms"), float)
    assert isinstance(line.pop("ts"), str)
    assert line == {
        "level": "INFO",
        "logger": "musicbud.access",
        "message": "GET /api/v1/probe-api/probe/items/<item_id> 200",
        "method": "GET",
        "route": "/api/v1/probe-api/probe/items/<item_id>",
        "path": "/api/v1/probe-api/probe/items/7",
        "status": 200,
        "user_id": None,
        "client_ip": "198.51.100.23",
        "request_id": "access-line-0001",
    }


@pytest.mark.django_db
def test_access_line_names_the_authenticated_user(client: Client, json_logs: Any) -> None:
    user = UserFactory.create()
    client.force_login(user)

    client.get(reverse("probe:probe-private"))

    [line] = access_lines(json_logs())
    assert (line["status"], line["user_id"]) == (200, user.pk)


def test_application_logs_share_the_format_and_request_id(client: Client, json_logs: Any) -> None:
    client.get(reverse("probe:probe-work"), HTTP_X_REQUEST_ID="app-lines-0001")

    lines = json_logs()
    app = [line for line in lines if line["logger"] == "tests.probe"]
    assert [(line["message"], line["level"], line["request_id"]) for line in app] == [
        ("probe work started", "INFO", "app-lines-0001"),
        ("probe work in a thread", "INFO", "app-lines-0001"),
    ]
    assert len(access_lines(lines)) == 1


def _hostile_requests(client: Client) -> list[int]:
    """Login-like traffic carrying credentials in every place a log could pick them up."""
    headers: Any = {
        "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
        "HTTP_COOKIE": f"sessionid={SESSION_COOKIE}; csrftoken={CSRF_COOKIE}",
    }
    url = reverse("probe:probe-items")
    body = {"name": "login", "count": 1, "password": PASSWORD, "token": TOKEN}
    statuses = [
        # accepted
        client.post(url, json.dumps(body), content_type="application/json", **headers),
        # validation error (422) echoing nothing of the input
        client.post(
            url,
            json.dumps({**body, "count": -1, "name": ""}),
            content_type="application/json",
            **headers,
        ),
        # malformed JSON (400)
        client.post(url, f'{{"password": "{PASSWORD}", "refresh": "{REFRESH}"', "application/json"),
        # wrong media type (415)
        client.post(url, f"password={PASSWORD}&token={TOKEN}", "application/x-www-form-urlencoded"),
        # credentials in the query string, on a 404 and on a 401
        client.get(f"/nope?token={TOKEN}&password={PASSWORD}", **headers),
        client.get(f"{reverse('probe:probe-private')}?refresh={REFRESH}", **headers),
        # unhandled exception whose message carries a password
        Client(raise_request_exception=False).get(reverse("probe:probe-boom"), **headers),
    ]
    return [response.status_code for response in statuses]


@pytest.mark.django_db
def test_credentials_never_reach_the_logs(client: Client, json_logs: Any) -> None:
    statuses = _hostile_requests(client)

    assert statuses == [200, 422, 400, 415, 404, 401, 500]
    lines = json_logs()
    raw = "\n".join(json.dumps(line) for line in lines)
    assert len(access_lines(lines)) == 7
    for secret in SECRETS:
        assert secret not in raw
    assert "Authorization" not in raw
    assert "Cookie" not in raw
    # The traceback is still there, with the credential scrubbed out of it.
    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert "RuntimeError: kaboom with password=" + REDACTED in error["exc_info"]


def test_log_level_comes_from_the_environment() -> None:
    # LOGGING is configured at start-up; a fresh interpreter shows the level applied.
    script = (
        "import django; django.setup(); from django.test import Client; c = Client(); "
        "c.get('/health/live'); c.get('/missing')"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    result = run_python(script, env)

    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("WARNING", "django.request", "Not Found: /missing")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /api/v1/me/profile 200", "GET /api/v1/me/profile 200"),
        ("user 42 liked track 7 (basic plan)", "user 42 liked track 7 (basic plan)"),
        ("password=hunter2", f"password={REDACTED}"),
        ("PASSWD: 'x y'", f"PASSWD: {REDACTED}"),
        ("X-Api-Key=abc123", f"X-Api-Key={REDACTED}"),
        ("sessionid=abc; csrftoken=def", f"sessionid={REDACTED}; csrftoken={REDACTED}"),
        ('MY_SECRET_value: "s3 cr"', f"MY_SECRET_value: {REDACTED}"),
        ("Token QWERTYUIOP", f"Token {REDACTED}"),
        ("Authorization: Bearer abcdefgh1234", f"Authorization: {REDACTED} {REDACTED}"),
        (f"got {TOKEN} here", f"got {REDACTED} here"),
        # Secrets in query strings, as servers log a request line.
        (
            '127.0.0.1:5 - "WebSocket /ws/chat/?ticket=Tk-9_x.y~z" [accepted]',
            f'127.0.0.1:5 - "WebSocket /ws/chat/?ticket={REDACTED}" [accepted]',
        ),
        (
            "GET /spotify/callback?code=AQB-12&state=s1.s2 HTTP/1.1",
            f"GET /spotify/callback?code={REDACTED}&state={REDACTED} HTTP/1.1",
        ),
        (
            "/v1/x?page=2&access_token=abc;refresh=def&id_token=ghi&sk=s&api_sig=g",
            f"/v1/x?page=2&access_token={REDACTED};refresh={REDACTED}&id_token={REDACTED}"
            f"&sk={REDACTED}&api_sig={REDACTED}",
        ),
        ("/a?Ticket=x&q=jazz&Key=k", f"/a?Ticket={REDACTED}&q=jazz&Key={REDACTED}"),
        ("/search?q=barcode=1&sort=state", "/search?q=barcode=1&sort=state"),
        # Case aside: upper case, and the non-ASCII letters the key patterns fold to ASCII
        # ones (the long s, the Kelvin sign).
        ("TOKEN: abc", f"TOKEN: {REDACTED}"),
        ("pa\u017fsword: hunter2", f"pa\u017fsword: {REDACTED}"),
        ("to\u212aen: abc", f"to\u212aen: {REDACTED}"),
    ],
)
def test_log_text_is_redacted_and_harmless_text_kept(text: str, expected: str) -> None:
    formatter_config = settings.LOGGING["formatters"]["json"]
    formatter = RedactingJsonFormatter(
        fmt=formatter_config["fmt"], rename_fields=formatter_config["rename_fields"]
    )
    record = logging.LogRecord("musicbud.test", logging.INFO, __file__, 1, text, None, None)
    record.detail = text  # an extra field takes the same path as the message

    # Twice: harmless texts are remembered, and a remembered verdict must be the same one.
    for _ in range(2):
        line = json.loads(formatter.format(record))

        assert line["message"] == expected
        assert line["detail"] == expected


@pytest.mark.django_db(transaction=True)
def test_the_production_server_logs_no_secret_of_a_url(tmp_path: Path) -> None:
    """gunicorn with its uvicorn worker, as deployed: uvicorn's error logger writes each
    WebSocket's request line, query string included; Django's and gunicorn's write theirs."""
    if not settings.REDIS_URL:
        require_service("Redis", "REDIS_URL is unset; socket tickets live in Redis")
    host, ticket, token = "127.0.0.1", secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    log_path = tmp_path / "server.log"
    server = start_server(
        app=HOP_FREE_APP,
        host=host,
        port=free_port(),
        log_path=log_path,
        app_env={
            "DATABASE_URL": database_url(),
            "REDIS_URL": str(settings.REDIS_URL),
            "ALLOWED_HOSTS": host,
            "LOG_LEVEL": "INFO",
        },
    )
    try:
        with (
            connect(f"ws://{host}:{server.port}/ws/chat/?ticket={ticket}", open_timeout=10) as ws,
            pytest.raises(ConnectionClosed),
        ):
            ws.recv(timeout=10)  # an unknown ticket: accepted, then closed
        for path in (f"/nope?access_token={token}", f"/api/v1/auth/me?token={token}"):
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(f"{server.base_url}{path}", timeout=10)  # noqa: S310
    finally:
        server.stop()

    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    socket_lines = [line for line in lines if "WebSocket /ws/chat/" in line["message"]]
    assert ticket not in text
    assert token not in text
    assert [(line["logger"], line["message"].split(" - ", 1)[1]) for line in socket_lines] == [
        ("uvicorn.error", f'"WebSocket /ws/chat/?ticket={REDACTED}" [accepted]')
    ]
    assert {line["message"] for line in lines if line["logger"] == "django.request"} == {
        "Not Found: /nope",
        "Unauthorized: /api/v1/auth/me",
    }


def _get(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our loopback server
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_the_development_server_logs_each_request_once_as_one_readable_line(
    tmp_path: Path,
) -> None:
    """`make run`: runserver (daphne's) with ENVIRONMENT=dev. Its own request line and
    Django's warning for each 4xx would repeat the access line."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "runserver.log"
    env = subprocess_env(ENVIRONMENT="dev", DATABASE_URL=database_url(), ALLOWED_HOSTS="127.0.0.1")
    with log_path.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/health/live") == HTTPStatus.OK:
                    break
            except OSError:
                pass
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        answers = [
            _get(f"{base}/health/live", **{"X-Request-ID": "dev-line-ok"}),
            _get(f"{base}/missing?token=s3cret-value", **{"X-Request-ID": "dev-line-404"}),
            _get(f"{base}/api/v1/me/profile", **{"X-Request-ID": "dev-line-401"}),
        ]
    finally:
        server.terminate()
        server.wait(10)

    assert answers == [HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED]
    text = log_path.read_text()
    lines = text.splitlines()
    assert "s3cret-value" not in text
    assert not [line for line in lines if line.startswith("{")]
    time_ms = r"\d\d:\d\d:\d\d (.*) \d+\.\d+ ms"
    mentioned = {
        word: [re.sub(time_ms, r"\1", line) for line in lines if word in line]
        for word in ("dev-line-ok", "/missing", "/api/v1/me/profile")
    }
    assert mentioned == {
        "dev-line-ok": ["GET /health/live 200 id=dev-line-ok"],
        "/missing": ["GET /missing 404 id=dev-line-404"],
        "/api/v1/me/profile": ["GET /api/v1/me/profile 401 id=dev-line-401"],
    }


def test_a_text_line_is_redacted_and_keeps_the_extras() -> None:
    formatter = RedactingTextFormatter()
    record = logging.LogRecord(
        "musicbud.connections.sync", logging.INFO, __file__, 1, "sync failed %s", ("x",), None
    )
    record.created = 0.0
    record.job_id = 7
    record.access_token = "abc"
    record.detail = "password=hunter2"
    record.request_id = "req-1"

    line = formatter.format(record)

    assert line == (
        "00:00:00 INFO musicbud.connections.sync: sync failed x job_id=7 "
        f"access_token={REDACTED} detail=password={REDACTED} id=req-1"
    )


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_lines_emitted_in_one_loop_turn_are_written_together_in_order() -> None:
    from api.logs import LoopBatchedStreamHandler

    stream = CountingStream()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = functools.partial(logging.makeLogRecord)

    async def turn() -> list[str]:
        handler.handle(record({"msg": "one"}))
        handler.handle(record({"msg": "two"}))
        written_before_the_next_turn = list(stream.writes)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return written_before_the_next_turn

    assert asyncio.run(turn()) == []
    assert stream.writes == ["one\ntwo\n"]
    handler.handle(record({"msg": "off the loop"}))  # no loop: written at once
    assert stream.writes == ["one\ntwo\n", "off the loop\n"]


def test_a_line_pending_when_the_loop_ends_is_written_by_flush() -> None:
    from api.logs import LoopBatchedStreamHandler

    stream = CountingStream()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))

    async def emit_and_leave() -> None:
        handler.handle(logging.makeLogRecord({"msg": "last"}))

    loop = asyncio.new_event_loop()
    loop.run_until_complete(emit_and_leave())  # the loop stops before its next turn
    loop.close()
    handler.flush()  # as logging.shutdown does

    assert stream.getvalue() == "last\n"
