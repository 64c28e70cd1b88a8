"""Every project app's migrations go to zero and back, and match the models."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from tests.fixtures.processes import ROOT, run_manage, run_manage_commands
from tooling.benchmark.server import production_env


def project_apps_with_migrations() -> list[str]:
    """Our own apps (not Django's) with migrations, in the order migrate applies them."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    ours = {
        config.label for config in django_apps.get_app_configs() if Path(config.path).parent == ROOT
    }
    ordered: list[str] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for app, _ in loader.graph.forwards_plan(leaf):
            if app in ours and app not in ordered:
                ordered.append(app)
    return ordered


def round_trip(database_url: str) -> None:
    apps = project_apps_with_migrations()
    assert "musicbud" in apps
    # Dependents first: unapplying an app also unapplies what depends on it. One interpreter
    # runs the whole sequence (each command as manage.py would), Django started once.
    commands = [
        ["migrate", "--noinput"],
        *(["migrate", app, "zero", "--noinput"] for app in reversed(apps)),
        ["showmigrations", "--plan"],
        ["migrate", "--noinput"],
        ["showmigrations", "--plan"],
    ]
    results = run_manage_commands(*commands, DATABASE_URL=database_url)
    assert [result.returncode for result in results] == [0] * len(commands), results[-1].stderr

    _, *unapplied, listed_unapplied, _, listed_applied = results
    assert all("Unapplying" in result.stdout for result in unapplied)
    assert applied_state(apps, listed_unapplied.stdout) == {False}
    assert applied_state(apps, listed_applied.stdout) == {True}


def applied_state(apps: list[str], listing: str) -> set[bool]:
    """Whether each migration of ``apps`` is applied, per ``showmigrations --plan``'s output."""
    states = re.findall(r"^\[([X ])\]\s+(\w+)\.", listing, re.MULTILINE)
    ours = [mark == "X" for mark, app in states if app in apps]
    assert ours, listing
    return set(ours)


def test_models_and_migrations_agree() -> None:
    result = run_manage("makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No changes detected"


def test_migrations_round_trip_on_sqlite(tmp_path: Path) -> None:
    round_trip(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")


@pytest.fixture
def throwaway_postgres() -> Iterator[str]:
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL; the SQLite round trip ran instead")
    params = settings.DATABASES["default"]
    name = f"musicbud_migrations_{uuid.uuid4().hex[:12]}"
    server = {
        "host": params["HOST"] or "127.0.0.1",
        "port": params["PORT"] or 5432,
        "user": params["USER"],
        "password": params["PASSWORD"] or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
        yield f"postgres://{auth}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(**server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_migrations_round_trip_on_postgresql(throwaway_postgres: str) -> None:
    round_trip(throwaway_postgres)


def demo_marker_tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Each table that holds the demo dataset's marker, with its rows."""
    with closing(sqlite3.connect(path)) as db:
        names = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%demodataset'"
        ).fetchall()
        return {name: db.execute(f"SELECT * FROM {name}").fetchall() for (name,) in names}  # noqa: S608


def test_the_demo_marker_moves_to_tooling_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "move.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{path}"}
    before = run_manage("migrate", "musicbud", "0005_user_location", "--noinput", **env)
    assert before.returncode == 0, before.stderr
    marker = (1, "users=30 tracks=150 edges=900 seed=11", "2026-12-01 10:00:00")
    with closing(sqlite3.connect(path)) as db:
        db.execute("INSERT INTO musicbud_demodataset VALUES (?, ?, ?)", marker)
        db.commit()

    # Production (tooling not installed): musicbud gives the model up, the table stays as it was.
    prod = run_manage("migrate", "--noinput", **env, **production_env(host="x.invalid", workers=1))
    assert prod.returncode == 0, prod.stderr
    assert "musicbud.0006_demo_dataset_to_tooling" in prod.stdout
    assert "tooling.0001" not in prod.stdout
    assert demo_marker_tables(path) == {"musicbud_demodataset": [marker]}

    # Installing tooling (development) adopts the table and its row.
    dev = run_manage("migrate", "--noinput", **env)
    assert dev.returncode == 0, dev.stderr
    assert "Applying tooling.0001_initial... OK" in dev.stdout
    assert demo_marker_tables(path) == {"tooling_demodataset": [marker]}

    back = run_manage("migrate", "tooling", "zero", "--noinput", **env)
    assert back.returncode == 0, back.stderr
    assert demo_marker_tables(path) == {"musicbud_demodataset": [marker]}
