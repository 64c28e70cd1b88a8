"""``manage.py seed_demo``: options, progress lines, the login hint and idempotency."""

from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper

from tests.fixtures.processes import run_manage_commands
from tooling.demo import demo_counts
from tooling.management.commands.seed_demo import _Progress

pytestmark = pytest.mark.django_db

ARGS = ("--users", "30", "--items", "150", "--edges", "900", "--seed", "11")


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_prints_progress_and_how_to_log_in() -> None:
    output = seed(*ARGS)

    lines = output.splitlines()
    assert "  taste edges: 900/900" in [line.split(" (")[0] for line in lines]
    assert any(line.startswith("  users: 30/30") for line in lines)
    assert lines[-1] == (
        "Log in as username 'demo' with password 'musicbud-demo-2024' "
        "(every demo account shares that password)."
    )
    assert "Demo data ready" in output
    assert demo_counts() == {
        "users": 30,
        "genres": 3,
        "artists": 12,
        "albums": 30,
        "tracks": 150,
        "edges": 900,
    }


def test_twice_leaves_the_same_counts() -> None:
    seed(*ARGS)
    counts = demo_counts()

    output = seed(*ARGS)

    assert demo_counts() == counts
    assert "Demo data already present (nothing changed)" in output
    assert "taste edges:" not in output


def test_other_parameters_fail_with_a_clear_error_and_reset_replaces() -> None:
    seed(*ARGS)

    with pytest.raises(CommandError, match="--reset"):
        seed("--users", "31", "--items", "150", "--edges", "900", "--seed", "11")
    assert demo_counts()["users"] == 30

    seed("--users", "31", "--items", "150", "--edges", "900", "--seed", "11", "--reset")
    assert demo_counts()["users"] == 31


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        seed("--users", "0")
    assert demo_counts()["users"] == 0


def test_a_terminal_gets_a_progress_bar_per_stage(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    progress = _Progress(OutputWrapper(out), tty=True)

    progress("taste edges", 500, 1000)
    progress("taste edges", 1000, 1000)
    progress.close()

    bar = capsys.readouterr().err
    assert "taste edges: 100%" in bar
    assert "1000/1000" in bar
    assert out.getvalue() == ""  # no plain lines when a bar is drawn


def test_separate_processes_with_the_same_seed_write_the_same_rows(tmp_path: Path) -> None:
    def seeded(name: str, hash_seed: str) -> list[tuple[object, ...]]:
        url = f"sqlite:///{tmp_path / name}"
        # Both commands in one process (its own hash seed), as two manage.py runs would.
        results = run_manage_commands(
            ["migrate", "--noinput"],
            ["seed_demo", *ARGS],
            DATABASE_URL=url,
            PYTHONHASHSEED=hash_seed,
        )
        assert [result.returncode for result in results] == [0, 0], results[-1].stderr
        with closing(sqlite3.connect(tmp_path / name)) as db:
            return db.execute(
                """
                SELECT u.username, e.relation, e.kind,
                       COALESCE(t.spotify_id, a.spotify_id, b.spotify_id, g.spotify_id),
                       COALESCE(t.name, a.name, b.name, g.name),
                       e.rank, e.play_count, e.last_played_at
                FROM musicbud_tasteedge e JOIN musicbud_user u ON u.id = e.user_id
                LEFT JOIN musicbud_track t ON t.id = e.track_id
                LEFT JOIN musicbud_artist a ON a.id = e.artist_id
                LEFT JOIN musicbud_album b ON b.id = e.album_id
                LEFT JOIN musicbud_genre g ON g.id = e.genre_id
                ORDER BY 1, 2, 3, 4
                """
            ).fetchall()

    # Different hash seeds: nothing may depend on set or dict-of-str iteration order.
    first, second = seeded("one.sqlite3", "1"), seeded("two.sqlite3", "2")

    assert len(first) == 900
    assert first == second
