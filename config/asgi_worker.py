"""The gunicorn worker class: uvicorn's worker without its access log (the project's structured
request log already writes one JSON line, with the request id, per request)."""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker


class MusicbudUvicornWorker(UvicornWorker):  # type: ignore[misc]
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",  # uvloop (installed with uvicorn[standard])
        "http": "auto",  # httptools
        # No permessage-deflate on WebSockets: each connection's zlib state would cost ~35 KiB
        # of memory (measured: 57 vs 19 MiB per 1,000 idle sockets), to compress chat
        # messages of a few hundred bytes.
        "ws_per_message_deflate": False,
        "access_log": False,
        "server_header": False,
        # "auto": the project's application answers lifespan (a failed start-up stops the
        # worker); the benchmark's stock Django baseline does not speak it, and still runs.
        "lifespan": "auto",
    }
