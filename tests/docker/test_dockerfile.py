"""The production Dockerfile: multi-stage, non-root, no build tools in the final stage."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.fixtures.processes import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


def stages() -> dict[str, list[str]]:
    """Instructions per stage name, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            current = result.setdefault(line.split(" AS ")[-1], [])
        current.append(line)
    return result


def test_two_stages_on_python_3_11_slim() -> None:
    found = stages()

    assert list(found) == ["build", "final"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in DOCKERFILE.read_text()
    assert found["final"][0] == "FROM ${PYTHON_IMAGE} AS final"


def test_build_tools_stay_in_the_build_stage() -> None:
    found = stages()

    assert any("build-essential" in line for line in found["build"])
    assert not any("apt-get" in line or "build-essential" in line for line in found["final"])
    assert "COPY --from=build /opt/venv /opt/venv" in found["final"]
    assert any("-r /tmp/requirements-prod.txt" in line for line in found["build"])


def test_final_stage_runs_gunicorn_as_a_non_root_user_with_a_health_check() -> None:
    final = stages()["final"]

    user_lines = [line for line in final if line.startswith("USER ")]
    assert user_lines == ["USER musicbud"]
    assert any("useradd --system --uid 10001" in line for line in final)
    assert any("manage.py collectstatic --noinput" in line for line in final)
    # Static files are collected before dropping root, so the app user cannot change them.
    collect = next(i for i, line in enumerate(final) if "collectstatic" in line)
    assert collect < final.index("USER musicbud")
    healthcheck = next(line for line in final if line.startswith("HEALTHCHECK"))
    assert healthcheck.endswith('CMD ["python", "docker/healthcheck.py"]')
    cmd = next(line for line in final if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == [
        "gunicorn",
        "-c",
        "docker/gunicorn.conf.py",
        "config.asgi:application",
    ]


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())

    assert {".git", ".venv", ".env", "docker/env.prod", "db.sqlite3*", "tests"} <= ignored


def test_the_image_ships_no_tooling_and_production_runs_none_of_its_commands() -> None:
    # tooling/ is the development-only app (config/settings.py leaves it out when
    # ENVIRONMENT=prod): the image, the stack and the operations guide's docker commands run
    # production commands only (seed_demo, bench, bud_eval... are tooling's).
    assert "tooling" in (ROOT / ".dockerignore").read_text().split()
    operations = (ROOT / "docker" / "OPERATIONS.md").read_text().splitlines()
    run = {
        *re.findall(r"manage\.py (\w+)", DOCKERFILE.read_text()),
        *re.findall(r'"manage\.py", "(\w+)"', (ROOT / "docker" / "compose.yaml").read_text()),
        *(
            command
            for line in operations
            if line.startswith("docker compose")
            for command in re.findall(r"manage\.py (\w+)", line)
        ),
    }

    assert run == {
        "check",
        "collectstatic",
        "createsuperuser",
        "graph_rebuild",
        "graph_worker",
        "migrate",
    }


def test_the_collectstatic_step_starts_with_the_settings_it_is_given(tmp_path: Path) -> None:
    # The image's one step that loads production settings, run as the build runs it: with
    # only the variables the step sets (and the venv's python first on PATH), collecting into
    # a scratch folder. Production refuses to start without each secret and setting it needs.
    step = next(line for line in stages()["final"] if "collectstatic" in line)
    command = step.removeprefix("RUN ") + f" --dry-run && echo collected-into {tmp_path}"
    python_bin = Path(sys.executable).parent

    result = subprocess.run(  # noqa: S603 - the repository's own Dockerfile
        ["/bin/bash", "-c", command],
        cwd=ROOT,
        env={"PATH": f"{python_bin}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == f"collected-into {tmp_path}"
