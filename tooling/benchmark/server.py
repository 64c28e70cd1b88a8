"""Start and stop the production server (gunicorn + uvicorn worker) for a benchmark run."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from config.environment import BASE_DIR

GUNICORN_CONF = BASE_DIR / "docker" / "gunicorn.conf.py"
HOP_FREE_APP = "config.asgi:application"
STOCK_APP = "tooling.benchmark.stock_asgi:application"
PEER_APP = "tooling.benchmark.peer:app"


def production_env(*, host: str, workers: int) -> dict[str, str]:
    """The environment of a benchmarked production server: fresh throwaway secrets (production
    refuses the development ones), plain HTTP on loopback, no rate limit in the way."""
    return {
        "ENVIRONMENT": "prod",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SECRET_KEYS": f"bench:{secrets.token_urlsafe(48)}",
        "PROVIDER_TOKEN_KEYS": Fernet.generate_key().decode(),
        # Production refuses console mail; nothing in a benchmark sends any.
        "EMAIL_URL": "smtp://127.0.0.1:25",
        "ALLOWED_HOSTS": host,
        "SECURE_SSL_REDIRECT": "false",  # TLS ends at the proxy
        "RATE_LIMIT_PER_MINUTE": "1000000000",  # measure the server, not the limiter
        "WEB_CONCURRENCY": str(workers),
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker (VmRSS), in MiB."""
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM: workers finish requests and run lifespan shutdown)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    *, app: str, host: str, port: int, app_env: dict[str, str], log_path: Path, workers: int = 1
) -> Server:
    """gunicorn -c docker/gunicorn.conf.py with ``workers`` workers on ``host:port``, ready.

    ``app_env`` reaches the worker through gunicorn's ``--env`` (the master keeps this
    process's environment); worker recycling is off so a run measures the same workers.
    """
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        str(GUNICORN_CONF),
        "--workers",
        str(workers),
        "--bind",
        f"{host}:{port}",
        "--max-requests",
        "0",
    ]
    for name, value in app_env.items():
        command += ["--env", f"{name}={value}"]
    with log_path.open("wb") as log:  # the server writes through its own copy of the file
        process = subprocess.Popen(  # noqa: S603 - our own gunicorn and config
            [*command, app], cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(process=process, host=host, port=port, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start-up; see {log_path}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/health/live", timeout=2) as answer:  # noqa: S310 - our loopback server
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"the server did not answer /health/live within 60 s; see {log_path}")
