"""The off switch and the package's place: FAST_PATH=false is Django's stock handler and
middleware; the package imports only frameworks."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from django.conf import settings

from tests.fixtures.processes import ROOT, run_python

# The entries that are async-native already, which the fast path keeps as they are.
ASYNC_NATIVE = {
    "api.middleware.RequestContextMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "api.middleware.ErrorEnvelopeMiddleware",
}
PROJECT_PACKAGES = {"api", "config", "musicbud", "graph", "tooling", "tests"}

REPORT = """
import json
from config.asgi import http_application
from django.conf import settings
from musicbud.cache import redis_client
print(json.dumps({
    "fast_path": settings.FAST_PATH,
    "middleware": list(settings.MIDDLEWARE),
    "middleware_type": type(settings.MIDDLEWARE).__name__,
    "front": type(http_application.app).__qualname__,
    "handler": type(getattr(http_application.app, "app", http_application.app)).__module__
    + "."
    + type(getattr(http_application.app, "app", http_application.app)).__qualname__,
}))
"""


def _report(**env: str) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if k not in {"FAST_PATH", "DATABASE_URL"}}
    result = run_python(REPORT, {**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_off_is_djangos_stock_handler_and_middleware() -> None:
    report = _report(FAST_PATH="false")

    assert report == {
        "fast_path": False,
        "middleware": settings.STOCK_MIDDLEWARE,
        "middleware_type": "list",
        "handler": "django.core.handlers.asgi.ASGIHandler",
        "front": "ASGIHandler",  # no lane: the stock handler serves every request
    }


def test_on_swaps_in_the_async_native_middleware_in_the_same_places() -> None:
    report = _report(FAST_PATH="true")

    assert report["handler"] == "fastpath.handler.HopFreeASGIHandler"
    assert report["front"] == "CachedReadLane"
    assert report["middleware_type"] == "MiddlewareSetting"
    # Every other entry is replaced by the fast path's class of the same name, in its place.
    assert report["middleware"] == [
        path if path in ASYNC_NATIVE else f"fastpath.middleware.{path.rsplit('.', 1)[1]}"
        for path in settings.STOCK_MIDDLEWARE
    ]


def test_this_run_uses_the_configured_mode() -> None:
    # The suite runs with the default (on); the Makefile runs tests/api again with it off.
    assert settings.FAST_PATH is (os.environ.get("FAST_PATH", "true").lower() != "false")


def test_the_package_imports_no_project_package() -> None:
    found = []
    for path in sorted((ROOT / "fastpath").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [
                f"{Path(path).name}: {name}"
                for name in names
                if name.split(".")[0] in PROJECT_PACKAGES
            ]
    assert found == []
