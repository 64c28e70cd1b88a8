"""docker/healthcheck.py: exit 0 when /health/live answers 200, 1 otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fixtures.processes import ROOT, live_server_url
from tooling.ports import free_port

PROBE = ROOT / "docker" / "healthcheck.py"


@pytest.fixture
def live_url() -> Iterator[str]:
    with live_server_url() as url:
        yield url


def probe(url: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "ENVIRONMENT": "test"}
    return subprocess.run(  # noqa: S603 - our interpreter and script
        [sys.executable, str(PROBE), url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_probe_passes_against_a_live_server(live_url: str) -> None:
    result = probe(live_url)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_probe_fails_when_nothing_answers() -> None:
    result = probe(f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy: ")
