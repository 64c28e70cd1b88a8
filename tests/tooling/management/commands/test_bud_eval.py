"""``manage.py bud_eval``: the whole command on a tiny planted world whose answer follows from
its construction, both backends alike, and what it refuses."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from tests.factories import UserFactory
from tests.fixtures.processes import ROOT

# Two communities of three; each member likes the whole private pool (3 tracks) and both hits;
# two noise users like only the two hits; no tail, no background. So each member's top buds
# are the two others of their community (6 shared items), then the five others (2 shared):
# precision@k = 2/k, recall@k = 1 and nDCG@k = 1, on every seed, for both rankers.
TINY = [
    "--communities=2",
    "--members=3",
    "--private-pool=3",
    "--private-picks=3",
    "--popular-pool=2",
    "--popular-picks=2",
    "--noise-users=2",
    "--noise-size=2",
    "--noise-popular-share=1",
    "--tail-pool=0",
    "--background-users=0",
    "--seeds=2",
]
TINY_TABLE = [
    "ranker                 k        precision           recall             nDCG",
    "                             mean   worst     mean   worst     mean   worst",
    "raw overlap            5    0.400   0.400    1.000   1.000    1.000   1.000",
    "raw overlap            7    0.286   0.286    1.000   1.000    1.000   1.000",
    "raw overlap           10    0.200   0.200    1.000   1.000    1.000   1.000",
    "project on sql         5    0.400   0.400    1.000   1.000    1.000   1.000",
    "project on sql         7    0.286   0.286    1.000   1.000    1.000   1.000",
    "project on sql        10    0.200   0.200    1.000   1.000    1.000   1.000",
]


def _table(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("ranker"))
    return [line for line in lines[start:] if not line.startswith(("neo4j:", "done in"))]


@pytest.mark.django_db(transaction=True)
def test_the_tiny_world_gives_the_metrics_it_was_built_for() -> None:
    out = io.StringIO()

    call_command("bud_eval", *TINY, "--backends=sql", "--use-current-database", stdout=out)

    assert _table(out.getvalue()) == TINY_TABLE
    assert (
        "bud_eval: 2 communities x 3 members, each liking 3 of a private pool of 3 and 2 of 2 "
        "hits; 2 noise users liking 2 hits and 0 of 0 tail tracks; no background"
    ) in out.getvalue()
    assert "seeds 1-2, 12 members asked for their top 10 buds" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_both_backends_rank_the_tiny_world_identically(bolt_url: str) -> None:
    out = io.StringIO()

    call_command(
        "bud_eval",
        *TINY,
        "--backends=sql,neo4j",
        f"--bolt-url={bolt_url}",
        "--use-current-database",
        stdout=out,
    )

    table = _table(out.getvalue())
    assert table[:8] == TINY_TABLE
    assert table[8:] == [
        line.replace("project on sql  ", "project on neo4j", 1) for line in TINY_TABLE[5:]
    ]
    assert "neo4j: 12 of 12 rankings identical to sql's" in out.getvalue()


@pytest.mark.django_db
def test_an_impossible_world_is_refused() -> None:
    with pytest.raises(CommandError, match="private picks must be between 0 and the private pool"):
        call_command("bud_eval", "--private-picks=41", "--use-current-database")


@pytest.mark.django_db
def test_the_current_database_must_hold_no_users() -> None:
    UserFactory.create()

    with pytest.raises(CommandError, match="needs a database without users"):
        call_command("bud_eval", *TINY, "--backends=sql", "--use-current-database")


def test_by_default_it_builds_in_a_fresh_database() -> None:
    # A process of its own: the command creates, migrates and drops its database around the
    # evaluation (on PostgreSQL "<name>_bud_eval"). On the embedded SQLite default, where that
    # database is in memory and migrates fastest.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CI")}
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "bud_eval", *TINY, "--backends=sql"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert _table(done.stdout) == TINY_TABLE
    assert "on sqlite" in done.stdout
