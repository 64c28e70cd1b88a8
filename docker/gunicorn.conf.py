"""gunicorn settings for production: uvicorn workers serving config.asgi:application, values from
config.environment; no preload, so no connection is ever shared between processes."""

from __future__ import annotations

import os
import shutil
from typing import Any

from config.environment import load_environment

ENV = load_environment()


def usable_cpus() -> int:
    """CPUs this process may run on (respects taskset/cpusets, unlike os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


wsgi_app = "config.asgi:application"
worker_class = "config.asgi_worker.MusicbudUvicornWorker"
# One event loop per core: an async worker keeps its core busy on its own (the sync-worker
# rule of 2 * cores + 1 is for workers that block).
workers = ENV.WEB_CONCURRENCY or usable_cpus()
bind = [ENV.WEB_BIND]
preload_app = False

timeout = ENV.WEB_TIMEOUT_SECONDS
graceful_timeout = ENV.WEB_GRACEFUL_TIMEOUT_SECONDS
keepalive = ENV.WEB_KEEPALIVE_SECONDS
# Recycle workers now and then (bounds slow leaks); the jitter keeps them from all
# restarting at the same moment.
max_requests = ENV.WEB_MAX_REQUESTS
max_requests_jitter = ENV.WEB_MAX_REQUESTS_JITTER

accesslog = None  # the structured request log (JSON, with request ids) replaces it
errorlog = "-"
loglevel = ENV.LOG_LEVEL.lower()
capture_output = False
proc_name = "musicbud"
# uvicorn must not rewrite the client address from X-Forwarded-For: the project reads it
# itself, trusting exactly TRUSTED_PROXY_COUNT proxies.
forwarded_allow_ips = ""

PROMETHEUS_MULTIPROC_DIR = ENV.PROMETHEUS_MULTIPROC_DIR
raw_env = (
    [f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR}"] if PROMETHEUS_MULTIPROC_DIR else []
)


def on_starting(server: Any) -> None:
    """Start every run with an empty metrics directory: old workers' files would be summed."""
    if PROMETHEUS_MULTIPROC_DIR is None:
        return
    if PROMETHEUS_MULTIPROC_DIR.exists():
        shutil.rmtree(PROMETHEUS_MULTIPROC_DIR)
    PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the multi-process metrics."""
    if PROMETHEUS_MULTIPROC_DIR is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, path=str(PROMETHEUS_MULTIPROC_DIR))  # type: ignore[no-untyped-call]
