"""``manage.py test`` runs the pytest suite and reports its outcome as the exit status."""

from __future__ import annotations

import pytest

from config.test_runner import _as_pytest_path
from tests.fixtures.processes import run_manage


def test_manage_test_runs_pytest() -> None:
    # The label selects this module's path tests only (selecting the whole module would recurse).
    label = "tests/config/test_test_runner.py::test_labels_become_pytest_paths"

    result = run_manage("test", label, "--verbosity", "2")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "settings: config.settings" in result.stdout
    assert "3 passed" in result.stdout


def test_manage_test_fails_when_pytest_fails() -> None:
    result = run_manage("test", "tests/api/test_health.py::no_such_test")

    assert result.returncode == 1
    assert "not found" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("tests.api.test_health", "tests/api/test_health.py"),
        ("tests.api", "tests/api"),
        (
            "tests/api/test_health.py::test_live_rejects_post",
            "tests/api/test_health.py::test_live_rejects_post",
        ),
    ],
)
def test_labels_become_pytest_paths(label: str, expected: str) -> None:
    assert _as_pytest_path(label) == expected
