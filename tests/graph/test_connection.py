"""The Neo4j connection: credentials from the URL, a real ping, the driver loaded where used."""

from __future__ import annotations

import os

from graph.connection import graph_ping, split_bolt_url
from tests.fixtures.processes import run_python


def test_credentials_come_from_the_url_or_the_defaults() -> None:
    assert split_bolt_url("bolt://ann:p%40ss@graph.local:7687", user="x", password="y") == (
        "bolt://graph.local:7687",
        ("ann", "p@ss"),
    )
    assert split_bolt_url("neo4j+s://graph.local", user="x", password="y") == (
        "neo4j+s://graph.local",
        ("x", "y"),
    )


async def test_ping_round_trips(neo4j_graph: str) -> None:
    await graph_ping()


def test_a_process_on_the_sql_backend_never_loads_the_neo4j_driver() -> None:
    # ~30 MB per worker: the driver is imported where it is used, not at start-up.
    script = (
        "import sys, django; django.setup(); import config.urls, config.asgi; "
        "print(sorted(name for name in ('neo4j', 'neomodel') if name in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}}
    result = run_python(script, {**env, "DJANGO_SETTINGS_MODULE": "config.settings"})

    assert result.stdout.strip() == "[]"
