"""Container health probe: GET /health/live as the proxy would send it (an allowed host, HTTPS
forwarded); exit status 0 = healthy."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.environment import load_environment

# gunicorn binds here (docker/gunicorn.conf.py); an argument overrides it (tests).
DEFAULT_URL = "http://127.0.0.1:8000"


def main(base_url: str) -> int:
    environment = load_environment()
    host = next(
        (name.lstrip(".") for name in environment.ALLOWED_HOSTS if name != "*"), "localhost"
    )
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL we build ourselves
        f"{base_url.rstrip('/')}/health/live",
        headers={"Host": host, "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            healthy = response.status == 200
    except (urllib.error.URLError, TimeoutError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)  # noqa: T201 - docker shows the probe output
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL))
