"""The /api/v1 and legacy OpenAPI documents held to the served API by schemathesis."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client
from schemathesis.config import WarningsConfig

from config.asgi import build_application
from musicbud.models import User
from musicbud.services.tokens import token_pair_issue
from tests.api.test_openapi import operations
from tests.factories import TrackFactory, UserFactory
from tooling.standins import ProviderStandIn


@dataclass(frozen=True)
class ApiDocument:
    url: str  # where the document is served
    known_exceptions: Path
    logout_operations: tuple[str, ...]  # each gets a token of its own (logging out revokes it)
    examples_share: int  # the run's examples per operation: --contract-examples // this


V1 = ApiDocument(
    url="/api/v1/openapi.json",
    known_exceptions=Path(__file__).with_name("schemathesis_exceptions.toml"),
    logout_operations=("POST /api/v1/auth/logout",),
    examples_share=1,
)
LEGACY = ApiDocument(
    url="/api/legacy/openapi.json",
    known_exceptions=Path(__file__).with_name("schemathesis_legacy_exceptions.toml"),
    logout_operations=("GET /logout", "POST /logout"),
    examples_share=3,
)
SEED = 20261201
# The statuses schemathesis accepts for schema-valid data unless told otherwise.
POSITIVE_DATA_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


@dataclass(frozen=True)
class ServedApi:
    url: str
    access_token: str
    bystander: User  # logging out revokes the token it is sent with: logout gets theirs

    def logout_token(self) -> str:
        """A token of a login of its own (one per logout operation)."""
        return async_to_sync(token_pair_issue)(user=self.bystander).access_token


@pytest.fixture
def served_api(
    transactional_db: None, settings: Any, standin: ProviderStandIn
) -> Iterator[ServedApi]:
    """The project's ASGI app under uvicorn on a free port, with a user to fuzz as, and the
    music services configured (on their stand-in) so the connection endpoints answer as in
    production rather than "unconfigured"."""
    # The run makes thousands of requests in a minute: the budgets are not under test here.
    settings.RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.RATE_LIMIT_STRICT_PER_MINUTE = 1_000_000
    settings.RATE_LIMIT_CLIENT_PER_MINUTE = 1_000_000
    user = UserFactory.create(username="fuzzer")
    # Every operation answers it, the permission-guarded ones too.
    user.user_permissions.add(Permission.objects.get(codename="view_stats"))
    bystander = UserFactory.create(username="bystander")
    TrackFactory.create_batch(3)
    app = build_application()  # in the configured FAST_PATH mode
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="schemathesis-target", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield ServedApi(
            url=f"http://127.0.0.1:{port}",
            access_token=async_to_sync(token_pair_issue)(user=user).access_token,
            bystander=bystander,
        )
    finally:
        server.should_exit = True
        thread.join(10)

        # The request threads hand their connections back, so the database can be flushed.
        async def before_shutdown() -> None:
            for hook in app.before_shutdown:
                await hook()

        asyncio.run(before_shutdown())
        connections.close_all()


def _toml_value(value: Any) -> str:
    # JSON strings, numbers, booleans and arrays of them are TOML too.
    return json.dumps(value)


def _operation_names(entry: dict[str, Any], document: dict[str, Any]) -> list[str]:
    if "operation" in entry:
        return [entry["operation"]]
    if "operations_matching" in entry:
        return [
            name
            for name, _ in operations(document)
            if re.fullmatch(entry["operations_matching"], name)
        ]
    return [
        name
        for name, operation in operations(document)
        if any(
            parameter["in"] == "query" and parameter["name"] == entry["with_parameter"]
            for parameter in operation.get("parameters", ())
        )
    ]


def _config(
    exceptions: dict[str, Any], document: dict[str, Any], *, logout_tokens: dict[str, str]
) -> str:
    """A schemathesis.toml: the known exceptions (reasons dropped) and the run's settings."""
    lines = [
        "[generation]",
        *(
            f"{key} = {_toml_value(value)}"
            for key, value in exceptions.get("generation", {}).items()
            if key != "reason"
        ),
        "deterministic = true",
        "",
    ]
    for entry in exceptions.get("operation", []):
        if "check" in entry:
            statuses = [*POSITIVE_DATA_STATUSES, *map(str, entry["also_expected"])]
            setting = f"checks.{entry['check']}.expected-statuses = {_toml_value(statuses)}"
        else:  # a warning that cannot apply to the operation
            shown = [w.value for w in WarningsConfig().display if w.value not in entry["quiet"]]
            setting = f"warnings = {_toml_value(shown)}"
        for name in _operation_names(entry, document):
            lines += ["[[operations]]", f"include-name = {_toml_value(name)}", setting, ""]
    for name, token in logout_tokens.items():
        lines += [
            "[[operations]]",
            f"include-name = {_toml_value(name)}",
            f"headers = {{ Authorization = {_toml_value('Bearer ' + token)} }}",
            "",
        ]
    return "\n".join(lines)


def _run(
    served: ServedApi,
    api: ApiDocument,
    document: dict[str, Any],
    tmp_path: Path,
    examples: int,
    *,
    authenticated: bool,
) -> str:
    exceptions = tomllib.loads(api.known_exceptions.read_text())
    logout_tokens = (
        {name: served.logout_token() for name in api.logout_operations} if authenticated else {}
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(exceptions, document, logout_tokens=logout_tokens))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{served.url}{api.url}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(examples),
        "--seed",
        str(SEED),
        # One generation thread. Python 3.11's ast module is not thread-safe (cpython#106905):
        # two workers parsing lambdas' sources at once (hypothesis describing strategies) fail
        # the run with "AST constructor recursion depth mismatch" — seen in both documents' runs.
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    if authenticated:
        command += ["--header", f"Authorization: Bearer {served.access_token}"]
    result = subprocess.run(  # noqa: S603 - our own interpreter's schemathesis, fixed arguments
        command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.mark.parametrize("api", [V1, LEGACY], ids=["v1", "legacy"])
def test_known_exceptions_each_have_a_reason_and_name_a_documented_operation(
    client: Client, api: ApiDocument
) -> None:
    exceptions = tomllib.loads(api.known_exceptions.read_text())
    document = client.get(api.url).json()
    documented = {name for name, _ in operations(document)}

    entries = [exceptions["generation"], *exceptions.get("operation", [])]
    assert all(len(entry["reason"]) > 40 for entry in entries)
    for entry in exceptions.get("operation", []):
        # A stale entry (an operation gone, a parameter no list takes) must go.
        assert _operation_names(entry, document), entry
        assert set(_operation_names(entry, document)) <= documented
    assert set(api.logout_operations) <= documented


@pytest.mark.parametrize(
    ("api", "authenticated"),
    [(V1, True), (V1, False), (LEGACY, True)],
    ids=["v1-bearer", "v1-anonymous", "legacy-bearer"],
)
def test_schemathesis_finds_nothing(
    served_api: ServedApi,
    client: Client,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    api: ApiDocument,
    authenticated: bool,
) -> None:
    """schemathesis' own command line (every check; phases examples, coverage, fuzzing,
    stateful) drives the app served in this process (so on the test database): /api/v1 with a
    bearer token and without, the legacy document with one (its login, registration and
    refresh take none, and every check also calls without it). The run must report no failure
    at all, apart from the known exceptions. ``--contract-examples N`` sets the examples per
    operation; the legacy document's ~90 operations, mostly variants of a few handlers, run
    at a third of that (at least 1)."""
    examples = max(1, request.config.getoption("contract_examples") // api.examples_share)
    document = client.get(api.url).json()

    output = _run(served_api, api, document, tmp_path, examples, authenticated=authenticated)

    summary = output.rpartition("SUMMARY")[2]
    assert "Failures:" not in summary, output
    assert f"Tested: {sum(1 for _ in operations(document))}\n" in summary, output
    if authenticated:
        # A token revoked mid-run would quietly turn this into the anonymous run.
        assert "Authentication failed" not in summary, output
