"""``manage.py provider_sandbox``: one command, and connecting Spotify works end to end over
HTTP against the stand-ins, landing on a real page, the first sync done in the background."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.processes import ROOT, database_url, subprocess_env
from tooling.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[str]:
    """``manage.py provider_sandbox`` in a session of its own (it and its runserver stop
    together); the server's URL once it answers."""
    port, standin_port = free_port(), free_port()
    log_path = tmp_path / "sandbox.log"
    env = subprocess_env(ENVIRONMENT="dev", DATABASE_URL=database_url(), ALLOWED_HOSTS="127.0.0.1")
    command = [
        sys.executable,
        "manage.py",
        "provider_sandbox",
        "--noreload",
        f"--port={port}",
        f"--standin-port={standin_port}",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/health/live", timeout=5).close()  # noqa: S310
                break
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert "Provider sandbox: Spotify and Last.fm stand-ins at" in log_path.read_text()
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _request(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: Any = None
) -> urllib.request.Request:
    data = None if body is None else json.dumps(body).encode()
    headers = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
    return urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310


def _json(opener: urllib.request.OpenerDirector, request: urllib.request.Request) -> Any:
    with opener.open(request, timeout=15) as answer:
        return json.load(answer)


def test_connecting_spotify_in_the_sandbox_lands_on_a_page_and_syncs(sandbox: str) -> None:
    user = UserFactory.create(username="sandboxer")
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    login = _request(
        f"{sandbox}/api/v1/auth/login",
        method="POST",
        body={"username": user.username, "password": DEFAULT_PASSWORD},
    )
    bearer = {"Authorization": f"Bearer {_json(browser, login)['access_token']}"}
    started = _json(
        browser,
        _request(f"{sandbox}/api/v1/connections/spotify/authorize", method="POST", headers=bearer),
    )

    # The browser at the stand-in: granted at once, sent back to the callback, then on.
    with browser.open(_request(started["authorization_url"]), timeout=15) as landed:
        page = landed.read().decode()
        assert landed.status == HTTPStatus.OK
        assert landed.geturl() == f"{sandbox}/connect/done?provider=spotify&status=ok"
        assert landed.headers["Content-Type"].startswith("text/html")
    assert "<h1>Spotify is connected</h1>" in page
    assert "/api/v1/connections/spotify" in page

    deadline = time.monotonic() + 30
    while True:
        connection = _json(
            browser,
            _request(f"{sandbox}/api/v1/connections/spotify", headers=bearer),
        )
        sync = connection["last_sync"]
        if sync["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, sync
        time.sleep(0.2)
    assert connection["status"] == "connected"
    assert (sync["status"], sync["phase"], sync["error"]) == ("succeeded", "done", None)
    # The sandbox's Spotify library: 24 saved tracks, 3 albums, 4 follows, top 10 tracks and
    # 5 artists, 12 plays.
    assert sync["counts"]["like"]["track"]["added"] == 24
    assert sync["counts"]["top"]["track"]["added"] == 10
    likes = _json(
        browser,
        _request(f"{sandbox}/api/v1/me/likes/tracks?limit=100", headers=bearer),
    )
    assert len(likes["items"]) == 24
