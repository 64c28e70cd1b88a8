"""The production server's gunicorn settings: importable, sane, nothing loaded before fork."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from uvicorn_worker import UvicornWorker

from config.environment import BASE_DIR

CONF = BASE_DIR / "docker" / "gunicorn.conf.py"
SERVER_VARIABLES = (
    "WEB_CONCURRENCY",
    "WEB_BIND",
    "WEB_TIMEOUT_SECONDS",
    "WEB_GRACEFUL_TIMEOUT_SECONDS",
    "WEB_MAX_REQUESTS",
    "WEB_MAX_REQUESTS_JITTER",
    "PROMETHEUS_MULTIPROC_DIR",
)


def load_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    module = ModuleType("gunicorn_conf")
    module.__file__ = str(CONF)
    exec(compile(CONF.read_text(), str(CONF), "exec"), module.__dict__)  # noqa: S102 - gunicorn does the same
    return module


def test_defaults_are_production_sane(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load_conf(monkeypatch)

    assert conf.wsgi_app == "config.asgi:application"
    assert conf.workers == len(os.sched_getaffinity(0))
    assert conf.bind == ["0.0.0.0:8000"]
    assert conf.preload_app is False
    assert (conf.timeout, conf.graceful_timeout, conf.keepalive) == (30, 25, 5)
    assert (conf.max_requests, conf.max_requests_jitter) == (10_000, 1_000)
    assert conf.accesslog is None
    assert conf.errorlog == "-"
    assert conf.raw_env == []


def test_worker_class_is_uvicorns_without_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load_conf(monkeypatch)
    module_name, _, class_name = conf.worker_class.rpartition(".")
    worker = getattr(__import__(module_name, fromlist=[class_name]), class_name)

    assert issubclass(worker, UvicornWorker)
    assert worker.CONFIG_KWARGS["access_log"] is False
    assert worker.CONFIG_KWARGS["lifespan"] == "auto"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load_conf(
        monkeypatch,
        WEB_CONCURRENCY="3",
        WEB_BIND="127.0.0.1:8107",
        WEB_TIMEOUT_SECONDS="60",
        WEB_MAX_REQUESTS="0",
    )

    assert conf.workers == 3
    assert conf.bind == ["127.0.0.1:8107"]
    assert conf.timeout == 60
    assert conf.max_requests == 0


def test_prometheus_directory_emptied_at_start_and_dead_workers_marked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_1.db").write_bytes(b"stale")
    conf = load_conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics))

    conf.on_starting(SimpleNamespace())
    assert list(metrics.iterdir()) == []
    assert conf.raw_env == [f"PROMETHEUS_MULTIPROC_DIR={metrics}"]

    (metrics / "gauge_liveall_4242.db").write_bytes(b"")
    (metrics / "counter_4242.db").write_bytes(b"")
    conf.child_exit(SimpleNamespace(), SimpleNamespace(pid=4242))

    # Live gauges of the dead worker go; its counters stay (they still count).
    assert sorted(p.name for p in metrics.iterdir()) == ["counter_4242.db"]


def test_config_loads_no_django_and_gunicorn_accepts_it() -> None:
    env = {**os.environ, "ENVIRONMENT": "test"}
    probe = subprocess.run(  # noqa: S603 - our own interpreter and file
        [
            sys.executable,
            "-c",
            "import runpy, sys; runpy.run_path(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith(('django', 'psycopg', 'redis'))))",
            str(CONF),
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"

    check = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("gunicorn")), "-c", str(CONF), "--check-config"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
