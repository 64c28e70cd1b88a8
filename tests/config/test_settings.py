"""The development-only apps (daphne, tooling) are installed outside production only."""

from __future__ import annotations

import json

from tests.fixtures.processes import run_python, subprocess_env
from tooling.benchmark.server import production_env

# Settings are built once at import: a fresh interpreter per environment shows them.
SCRIPT = (
    "import django, json; from django.conf import settings; django.setup(); "
    "from django.core.management import get_commands; commands = get_commands(); "
    "print(json.dumps([[app for app in settings.INSTALLED_APPS if app in ('daphne', 'tooling')], "
    "{name: commands[name] for name in ('bench', 'bud_eval', 'chat_bench', 'graph_bench', "
    "'seed_demo', 'sync_bench') if name in commands}]))"
)


def installed(env: dict[str, str]) -> list[object]:
    result = run_python(SCRIPT, subprocess_env(DJANGO_SETTINGS_MODULE="config.settings", **env))
    found: list[object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_development_installs_tooling_and_its_commands() -> None:
    assert installed({"ENVIRONMENT": "dev"}) == [
        ["daphne", "tooling"],
        {
            "bench": "tooling",
            "bud_eval": "tooling",
            "chat_bench": "tooling",
            "graph_bench": "tooling",
            "seed_demo": "tooling",
            "sync_bench": "tooling",
        },
    ]


def test_production_has_neither_the_apps_nor_the_commands() -> None:
    assert installed(production_env(host="api.example.org", workers=1)) == [[], {}]
