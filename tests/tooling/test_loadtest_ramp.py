"""The load test counts a user level only when every virtual user of it started."""

from __future__ import annotations

from typing import Any

from tooling.loadtest.runner import ramp_problems


def _result(logins: int) -> dict[str, Any]:
    return {
        "routes": [
            {"route": "GET /api/v1/me/profile", "requests": 500},
            {"route": "POST /api/v1/auth/login", "requests": logins},
        ]
    }


def test_a_level_whose_users_all_logged_in_has_no_ramp_problem() -> None:
    assert ramp_problems(_result(50), users=50, spawn_rate=2) == []


def test_a_level_cut_short_by_the_spawn_rate_is_not_passed() -> None:
    assert ramp_problems(_result(60), users=200, spawn_rate=2) == [
        "only 60 of 200 virtual users started (spawn rate 2/s): run longer or spawn faster"
    ]


def test_a_run_without_a_login_started_nobody() -> None:
    assert ramp_problems({"routes": []}, users=1, spawn_rate=0.5) == [
        "only 0 of 1 virtual users started (spawn rate 0.5/s): run longer or spawn faster"
    ]
