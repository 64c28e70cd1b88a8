"""docker/env.example documents every setting; docker/env.prod.example cannot start as is."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from config.environment import PLACEHOLDER, AppEnvironment
from tests.fixtures.processes import ROOT, run_manage

DEV_EXAMPLE = ROOT / "docker" / "env.example"
PROD_EXAMPLE = ROOT / "docker" / "env.prod.example"
COMPOSE_ONLY = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "NEO4J_AUTH"}


def active_values(path: Path) -> dict[str, str]:
    """The uncommented NAME=value lines, as docker compose's env_file reads them."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def documented_names(path: Path) -> set[str]:
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", path.read_text(), re.MULTILINE))


def test_dev_example_documents_every_setting() -> None:
    assert documented_names(DEV_EXAMPLE) == set(AppEnvironment.variable_names())


def test_prod_example_names_only_settings_and_compose_variables() -> None:
    names = documented_names(PROD_EXAMPLE)

    assert names - set(AppEnvironment.variable_names()) == COMPOSE_ONLY
    assert {"SECRET_KEY", "JWT_SECRET_KEYS", "DATABASE_URL", "ALLOWED_HOSTS"} <= names


def test_dev_example_values_are_valid() -> None:
    result = run_manage("check", **active_values(DEV_EXAMPLE))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_prod_example_as_is_refuses_to_start() -> None:
    result = run_manage("check", **active_values(PROD_EXAMPLE))

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "musicbud: invalid configuration: SECRET_KEY, JWT_SECRET_KEYS, DATABASE_URL, "
        f"NEO4J_PASSWORD, PROVIDER_TOKEN_KEYS, EMAIL_URL still hold the placeholder "
        f"{PLACEHOLDER}; "
        "production refuses to start until they are set"
    )


def real_secrets() -> dict[str, str]:
    """The prod example with every placeholder replaced by a fresh secret of its kind."""
    values = {
        name: value.replace(PLACEHOLDER, secrets.token_urlsafe(48))
        for name, value in active_values(PROD_EXAMPLE).items()
    }
    values["PROVIDER_TOKEN_KEYS"] = Fernet.generate_key().decode()
    return values


def test_check_deploy_is_clean_with_the_prod_example_and_real_secrets() -> None:
    values = real_secrets()

    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **values)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_check_deploy_warns_without_hsts_preload() -> None:
    # The control for the test above: the same check does report a weaker setting.
    values = real_secrets()

    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", **{**values, "HSTS_PRELOAD": "false"}
    )

    assert result.returncode == 1
    assert "security.W021" in result.stderr
