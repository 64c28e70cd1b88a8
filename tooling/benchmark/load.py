"""Load generators, wrk when installed, else a small asyncio HTTP/1.1 client: each keeps a fixed
number of keep-alive connections busy for a fixed duration."""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Headers = Sequence[tuple[str, str]]

# wrk counts only status >= 400 as errors; this script counts every non-2xx answer, per
# thread, and prints one JSON line with the percentiles wrk itself does not print (p95).
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
    .. '"non2xx": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), bad, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class LoadResult:
    """What either generator reports: requests/s, latency percentiles, non-2xx answers."""

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    generator: str
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str, *, connections: int, seconds: int, headers: Headers = (), threads: int = 1
) -> LoadResult:
    """GET ``url`` with wrk; socket errors count as non-2xx answers."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
        ]
        for name, value in headers:
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run(  # noqa: S603 - wrk with our own arguments
            [*command, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        Path(script.name).unlink()
    summary = json.loads(output.strip().splitlines()[-1])
    return LoadResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p95_ms=summary["p95_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        non_2xx=summary["non2xx"] + summary["socket_errors"],
        generator="wrk",
    )


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""


# A connection's next request; called with the connection's index and request number.
RequestPlan = Callable[[int, int], Request]
# Told each answer: connection index, request number, the request, its status.
AnswerHook = Callable[[int, int, Request, int], None]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length, chunked, keep_alive = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep_alive = False
    if chunked:
        while size := int((await reader.readline()).strip() or b"0", 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


async def _drive(
    host: str,
    port: int,
    index: int,
    plan: RequestPlan,
    headers: Headers,
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
    on_answer: AnswerHook | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    number = 0
    try:
        # Stop sending at the deadline, but finish the request in flight: every answer is
        # counted, so the writes it caused can be checked exactly afterwards.
        while time.monotonic() < deadline:
            request = plan(index, number)
            writer.write(
                f"{request.method} {request.path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}"
                f"Content-Length: {len(request.body)}\r\n\r\n".encode("latin-1")
                + request.body
            )
            started = time.perf_counter()
            status, keep_alive = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if on_answer is not None:
                on_answer(index, number, request, status)
            number += 1
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


def run_python(
    host: str,
    port: int,
    plan: RequestPlan,
    *,
    connections: int,
    seconds: int,
    headers: Headers = (),
    on_answer: AnswerHook | None = None,
) -> LoadResult:
    """Keep ``connections`` connections busy with ``plan``'s requests for ``seconds``."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def main() -> float:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _drive(host, port, i, plan, headers, deadline, latencies, statuses, on_answer)
                for i in range(connections)
            )
        )
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=cuts[49] * 1000,
        p95_ms=cuts[94] * 1000,
        p99_ms=cuts[98] * 1000,
        non_2xx=sum(n for status, n in statuses.items() if not 200 <= status < 300),
        generator="python",
        statuses=statuses,
    )
