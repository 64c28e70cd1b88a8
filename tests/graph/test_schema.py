"""graph_install_labels: the constraints and indexes of the node classes, idempotently."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django.fixtures import Settings as SettingsWrapper

from graph.connection import sync_driver
from graph.schema import schema_rules


def schema_names() -> set[str]:
    with sync_driver().session() as session:
        constraints = [r["name"] for r in session.run("SHOW CONSTRAINTS")]
        indexes = [r["name"] for r in session.run("SHOW INDEXES")]
    return set(constraints) | set(indexes)


# The item kinds' labels, written out: a new kind adds its node's two rules.
LABELS = ("Track", "Artist", "Album", "Genre", "Anime", "Manga")


def test_the_rules_key_every_node_by_its_public_id() -> None:
    names = {rule.name for rule in schema_rules()}

    assert names == {
        *(f"constraint_unique_{label}_public_id" for label in ("User", *LABELS)),
        *(f"index_{label}_sql_id" for label in ("User", *LABELS)),
        "constraint_unique_EdgeState_key",
    }


def test_installing_twice_creates_nothing_the_second_time(neo4j_graph: str) -> None:
    first, second = io.StringIO(), io.StringIO()

    # The session fixture installed them already: this run and the next find them present.
    call_command("graph_install_labels", stdout=first)
    call_command("graph_install_labels", stdout=second)

    assert first.getvalue() == second.getvalue()
    assert second.getvalue().splitlines()[-1] == "0 created, 15 already present"
    assert {rule.name for rule in schema_rules()} <= schema_names()


def test_install_creates_missing_rules(neo4j_graph: str) -> None:
    with sync_driver().session() as session:
        session.run("DROP INDEX `index_Genre_sql_id`").consume()
    out = io.StringIO()

    call_command("graph_install_labels", stdout=out)

    assert "index_Genre_sql_id: created" in out.getvalue().splitlines()
    assert out.getvalue().splitlines()[-1] == "1 created, 14 already present"
    assert "index_Genre_sql_id" in schema_names()


def test_install_needs_a_graph_store(settings: SettingsWrapper) -> None:
    settings.NEO4J_URL = None

    with pytest.raises(CommandError, match="NEO4J_URL is not set"):
        call_command("graph_install_labels")
