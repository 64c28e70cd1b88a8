"""A production worker imports what a request needs and nothing on the deny list: started the way
gunicorn's uvicorn worker starts it, after a login and warm reads (config/PERFORMANCE.md,
Worker memory). A failure names each module and the module that imported it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.conf import settings

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fixtures.processes import ROOT, database_url, subprocess_env
from tooling.benchmark.server import production_env

PROBE = "tests.fixtures.worker_probe"

# Loaded only where they are used: never by start-up, a login or a read.
DENIED = {
    "celery": "Celery: imported where a job is queued (the tasks module)",
    "kombu": "Celery's messaging",
    "billiard": "Celery's pool",
    "amqp": "Celery's broker client",
    "httpx": "the providers' HTTP client: imported when a provider is first called",
    "musicbud.connections.providers.spotify": "a provider module (the registry loads it)",
    "musicbud.connections.providers.lastfm": "a provider module (the registry loads it)",
    "confusable_homoglyphs": "the look-alike tables (~17 MB): only for non-ASCII names",
    "daphne": "development's runserver only",
    "twisted": "daphne's",
    "sentry_sdk": "only with SENTRY_DSN",
    "neo4j": "the graph's Neo4j driver: only with NEO4J_URL",
    "neomodel": "the graph's Neo4j models: only with NEO4J_URL",
    "channels_redis": "the chat's channel layer: the first WebSocket loads it",
    "tooling": "development-only",
    "pytest": "tests only",
}


def denied(module: str) -> str | None:
    """The deny-list entry ``module`` falls under (itself or a package it is in), or None."""
    return next(
        (entry for entry in DENIED if module == entry or module.startswith(f"{entry}.")), None
    )


def test_denied_matches_packages_and_their_modules_only() -> None:
    assert denied("celery") == "celery"
    assert denied("celery.app.base") == "celery"
    assert denied("celeryish") is None
    assert denied("musicbud.connections.providers.base") is None
    spotify = "musicbud.connections.providers.spotify"
    assert denied(spotify) == spotify


@pytest.mark.django_db(transaction=True)
def test_the_production_request_path_imports_nothing_denied() -> None:
    username = "probe"
    UserFactory(username=username)
    env = production_env(host="127.0.0.1", workers=1) | {"DATABASE_URL": database_url()}
    if settings.REDIS_URL:
        env["REDIS_URL"] = str(settings.REDIS_URL)
    result = subprocess.run(  # noqa: S603 - our interpreter and probe
        [sys.executable, "-m", PROBE, username, DEFAULT_PASSWORD],
        cwd=ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = ["lifespan.startup.complete", "200", *["200"] * 6, "lifespan.shutdown.complete"]
    assert report["statuses"] == statuses
    imported: dict[str, str] = report["imported"]
    # The modules that should be there are: the probe saw the request path.
    assert "api.cached_answers" in imported
    assert "config.asgi" in imported
    found = sorted(
        f"{module} (imported by {importer}): {DENIED[entry]}"
        for module, importer in imported.items()
        if (entry := denied(module)) is not None and denied(importer) is None
    )
    assert found == [], "the production request path imported:\n" + "\n".join(found)
