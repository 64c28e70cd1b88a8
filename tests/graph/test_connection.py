"""The Neo4j helpers: parameterised reads as dicts, merging a user, creating a relationship."""

from __future__ import annotations

import os

import pytest

from graph.connection import (
    cypher_read,
    cypher_write,
    graph_ping,
    relationship_create,
    split_bolt_url,
    user_merge,
)
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


async def test_user_merge_creates_once_and_updates(neo4j_graph: str) -> None:
    await user_merge(user_pk=7, public_id="u-1", username="ann", display_name="Ann")
    merged = await user_merge(user_pk=7, public_id="u-1", username="ann2", display_name="Ann B")

    assert merged == {"public_id": "u-1", "username": "ann2"}
    assert await cypher_read("MATCH (u:User) RETURN u.sql_id AS pk, u.display_name AS name") == [
        {"pk": 7, "name": "Ann B"}
    ]


async def test_relationship_create_links_existing_nodes_only(neo4j_graph: str) -> None:
    await user_merge(user_pk=1, public_id="u-1", username="ann", display_name="")
    await cypher_write("CREATE (:Track {public_id: 't-1', name: 'So What'})")

    created = await relationship_create(
        from_label="User",
        from_id="u-1",
        rel_type="LIKES",
        to_label="Track",
        to_id="t-1",
        properties={"version": 3},
    )
    missing = await relationship_create(
        from_label="User", from_id="u-1", rel_type="LIKES", to_label="Track", to_id="nope"
    )

    assert (created, missing) == (True, False)
    assert await cypher_read(
        "MATCH (:User {public_id: $u})-[r:LIKES]->(t:Track) RETURN t.name AS name, r.version AS v",
        {"u": "u-1"},
    ) == [{"name": "So What", "v": 3}]


async def test_relationship_create_refuses_unknown_labels() -> None:
    with pytest.raises(ValueError, match="unknown label or relationship type"):
        await relationship_create(
            from_label="User) DETACH DELETE (n",
            from_id="x",
            rel_type="LIKES",
            to_label="Track",
            to_id="y",
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
