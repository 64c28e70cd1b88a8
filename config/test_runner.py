"""``manage.py test`` runs the pytest suite (the runner pytest-django documents)."""

from __future__ import annotations

import subprocess
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from config.environment import BASE_DIR


def _as_pytest_path(label: str) -> str:
    """Accept Django's dotted labels (``tests.api.test_health``) as well as pytest node ids."""
    if "/" in label or "::" in label or label.endswith(".py"):
        return label
    path = Path(*label.split("."))
    if (BASE_DIR / path).with_suffix(".py").is_file():
        return str(path.with_suffix(".py"))
    return str(path)


class PytestTestRunner:
    """Runs pytest in a fresh interpreter, so the test settings (pytest-env) are loaded."""

    def __init__(
        self, verbosity: int = 1, failfast: bool = False, keepdb: bool = False, **kwargs: Any
    ) -> None:
        self.verbosity = verbosity
        self.failfast = failfast
        self.keepdb = keepdb

    @classmethod
    def add_arguments(cls, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--keepdb", action="store_true", help="Preserve the test DB between runs."
        )

    def run_tests(self, test_labels: list[str], **kwargs: Any) -> int:
        argv = [sys.executable, "-m", "pytest"]
        if self.verbosity == 0:
            argv.append("--quiet")
        elif self.verbosity > 1:
            argv.append("-" + "v" * (self.verbosity - 1))
        if self.failfast:
            argv.append("--exitfirst")
        if self.keepdb:
            argv.append("--reuse-db")
        argv.extend(_as_pytest_path(label) for label in test_labels)
        # The settings this process loaded are the dev ones; pytest must load its own.
        return subprocess.call(argv, cwd=BASE_DIR)  # noqa: S603 - our interpreter, our args
