"""The chat benchmark (``manage.py chat_bench``): fan-out latency to 40 and 500 listeners and
memory per 1,000 idle sockets, through the production server (gunicorn, two uvicorn workers,
Redis pub/sub between them); the scenarios are described in README.md, Performance."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import resource
import secrets
import statistics
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvloop
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from musicbud.chat.models import Channel, Membership, MembershipState, Role
from musicbud.chat.tickets import chat_ticket_issue
from musicbud.models import User
from tooling.benchmark.server import HOP_FREE_APP, Server, production_env, start_server

Say = Callable[[str], None]
T = TypeVar("T")
MESSAGES = 20
LISTENER_COUNTS = (40, 500)
IDLE_SOCKETS = 1000
USERNAME_PREFIX = "chatbench"
CHANNEL_NAME = "chat-bench"


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8300
    workers: int = 2
    messages: int = MESSAGES
    listeners: tuple[int, ...] = LISTENER_COUNTS
    idle_sockets: int = IDLE_SOCKETS
    base_sockets: int = 500  # open before the memory baseline (see idle_memory)
    pace_seconds: float = 0.05
    log_dir: Path = field(default_factory=lambda: Path("/tmp/musicbud-chat-bench"))  # noqa: S108


@dataclass
class FanOut:
    listeners: int
    latencies_ms: list[float]
    lost: int
    duplicated: int
    out_of_order: int
    per_worker: dict[int, int]
    ack_p50_ms: float  # send -> ack: the server's check, rate limit, store and publish

    def percentile(self, share: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- set-up -----------------------------------------------------------------------------------


def seed(count: int) -> tuple[User, list[User], int]:
    """A poster and ``count`` listeners, all active members of the bench channel (kept
    between runs: only what is missing is created)."""
    password = make_password(secrets.token_urlsafe(16))
    wanted = [f"{USERNAME_PREFIX}{index}" for index in range(count + 1)]
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    User.objects.bulk_create(
        [
            User(username=name, email=f"{name}@bench.invalid", password=password)
            for name in wanted
            if name not in existing
        ],
        batch_size=500,
    )
    users = {user.username: user for user in User.objects.filter(username__in=wanted)}
    poster, listeners = users[wanted[0]], [users[name] for name in wanted[1:]]
    channel, _ = Channel.objects.get_or_create(name=CHANNEL_NAME, defaults={"creator": poster})
    members = set(Membership.objects.filter(channel=channel).values_list("user_id", flat=True))
    Membership.objects.bulk_create(
        [
            Membership(
                channel=channel,
                user=user,
                role=Role.ADMIN if user is poster else Role.MEMBER,
                state=MembershipState.ACTIVE,
            )
            for user in [poster, *listeners]
            if user.pk not in members
        ],
        batch_size=500,
    )
    return poster, listeners, channel.pk


def socket_owners(server: Server) -> dict[int, int]:
    """Client port -> pid of the worker holding that connection (Linux /proc)."""
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == server.port and fields[3] == "01":  # ESTABLISHED
                    inodes[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    owners: dict[int, int] = {}
    for pid in server.worker_pids():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = fd.readlink().name
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    owners[inodes[target[8:-1]]] = pid
    return owners


# --- the load ---------------------------------------------------------------------------------


class Listener:
    def __init__(self, socket: ClientConnection, expected: int) -> None:
        self.socket = socket
        self.expected = expected
        self.arrivals: list[tuple[int, float]] = []
        self.complete = asyncio.Event()

    async def listen(self) -> None:
        with contextlib.suppress(Exception):  # the socket closing ends the listening
            async for text in self.socket:
                arrived = time.perf_counter()
                # Only message events are decoded: the load generator's own time is kept out
                # of the figures as far as it can be.
                if isinstance(text, str) and text.startswith('{"type":"message"'):
                    content = json.loads(text)["message"]["content"]
                    self.arrivals.append((int(content.rsplit(" ", 1)[1]), arrived))
                    if len(self.arrivals) >= self.expected:
                        self.complete.set()


async def open_sockets(
    server: Server, users: list[User], *, concurrency: int = 50
) -> list[ClientConnection]:
    gate = asyncio.Semaphore(concurrency)

    async def one(user: User) -> ClientConnection:
        async with gate:
            for attempt in range(3):  # an overloaded machine may answer 1013 (try again)
                ticket = await chat_ticket_issue(user=user, family_id=None, session_key=None)
                socket = await connect(
                    f"ws://{server.host}:{server.port}/ws/chat/?ticket={ticket}",
                    open_timeout=30,
                    max_queue=None,
                )
                try:
                    hello = json.loads(await socket.recv())
                except ConnectionClosed:
                    if attempt == 2:
                        raise
                    await asyncio.sleep(1)
                    continue
                if hello.get("type") != "hello":
                    raise RuntimeError(f"the socket did not open: {hello}")
                return socket
            raise AssertionError("unreachable")

    return list(await asyncio.gather(*(one(user) for user in users)))


async def close_sockets(sockets: list[ClientConnection]) -> None:
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)


async def fan_out(
    server: Server,
    *,
    poster: User,
    listeners: list[User],
    channel_id: int,
    options: Options,
) -> FanOut:
    sockets = await open_sockets(server, listeners)
    owners = socket_owners(server)
    per_worker: dict[int, int] = {}
    for socket in sockets:
        pid = owners.get(socket.local_address[1], 0)
        per_worker[pid] = per_worker.get(pid, 0) + 1
    audience = [Listener(socket, options.messages) for socket in sockets]
    tasks = [asyncio.create_task(listener.listen()) for listener in audience]
    (sender,) = await open_sockets(server, [poster])
    run = secrets.token_hex(4)
    sent: dict[int, float] = {}
    acks_ms: list[float] = []
    for index in range(options.messages):
        sent[index] = time.perf_counter()
        await sender.send(
            json.dumps(
                {
                    "type": "send",
                    "channel": channel_id,
                    "content": f"bench {run} {index}",
                    "client_id": f"bench-{run}-{index}",
                }
            )
        )
        while json.loads(await sender.recv()).get("type") != "ack":
            pass  # the poster's own copy of an earlier message
        acks_ms.append((time.perf_counter() - sent[index]) * 1000)
        await asyncio.sleep(options.pace_seconds)
    with contextlib.suppress(TimeoutError):  # what has not arrived by then counts as lost
        await asyncio.wait_for(
            asyncio.gather(*(listener.complete.wait() for listener in audience)), 15
        )
    await close_sockets([*sockets, sender])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    latencies, lost, duplicated, out_of_order = [], 0, 0, 0
    for listener in audience:
        indexes = [index for index, _ in listener.arrivals]
        lost += len(set(range(options.messages)) - set(indexes))
        duplicated += len(indexes) - len(set(indexes))
        out_of_order += sum(1 for a, b in itertools.pairwise(indexes) if b < a)
        latencies += [(arrival - sent[index]) * 1000 for index, arrival in listener.arrivals]
    return FanOut(
        listeners=len(listeners),
        latencies_ms=latencies,
        lost=lost,
        duplicated=duplicated,
        out_of_order=out_of_order,
        per_worker=per_worker,
        ack_p50_ms=statistics.median(acks_ms),
    )


async def idle_memory(
    server: Server, users: list[User], *, already_open: int
) -> tuple[float, float, dict[int, int]]:
    """(RSS of all workers before, after opening ``users`` more idle sockets), MiB, and
    the sockets each worker held at the end.

    ``already_open`` sockets are opened first and kept: the figure is what sockets cost at
    that scale, not the first sockets' one-time imports, caches and allocator pools.
    """
    base = await open_sockets(server, users[:already_open])
    await asyncio.sleep(2)
    before = sum(server.worker_rss_mb())
    sockets = await open_sockets(server, users[already_open:])
    await asyncio.sleep(3)
    after = sum(server.worker_rss_mb())
    per_worker: dict[int, int] = {}
    for pid in socket_owners(server).values():
        per_worker[pid] = per_worker.get(pid, 0) + 1
    await close_sockets([*base, *sockets])
    return before, after, per_worker


# --- the run ----------------------------------------------------------------------------------


def _run_on_uvloop(coroutine: Coroutine[Any, Any, T]) -> T:
    """The load generator on uvloop, as the server's workers run (installed with uvicorn)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _raise_file_limit() -> None:
    # 1,000+ sockets on each side of loopback: more descriptors than the usual soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def run(options: Options, say: Say) -> str:
    if not settings.REDIS_URL:
        raise RuntimeError("the chat benchmark needs REDIS_URL (workers share events through it)")
    _raise_file_limit()
    call_command("migrate", verbosity=0)
    needed = max(options.idle_sockets + options.base_sockets, *options.listeners)
    say(f"seeding a poster and {needed} listeners")
    poster, listeners, channel_id = seed(needed)
    app_env = production_env(host=options.host, workers=options.workers)
    options.log_dir.mkdir(parents=True, exist_ok=True)
    connection.close()
    load_before = os.getloadavg()
    server = start_server(
        app=HOP_FREE_APP,
        host=options.host,
        port=options.port,
        app_env=app_env,
        log_path=options.log_dir / "server.log",
        workers=options.workers,
    )
    try:
        time.sleep(2)  # both workers up
        say(f"{options.idle_sockets} idle sockets on top of {options.base_sockets}")
        before, after, idle_split = _run_on_uvloop(
            idle_memory(
                server,
                listeners[: options.base_sockets + options.idle_sockets],
                already_open=options.base_sockets,
            )
        )
        results = []
        for count in options.listeners:
            say(f"fan-out of {options.messages} messages to {count} listeners")
            results.append(
                _run_on_uvloop(
                    fan_out(
                        server,
                        poster=poster,
                        listeners=listeners[:count],
                        channel_id=channel_id,
                        options=options,
                    )
                )
            )
    finally:
        server.stop()
    return report(results, before, after, idle_split, options, load_before)


def report(
    results: list[FanOut],
    rss_before: float,
    rss_after: float,
    idle_split: dict[int, int],
    options: Options,
    load_before: tuple[float, float, float],
) -> str:
    lines = [
        f"{'listeners':>9} {'deliveries':>10} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'lost':>5} {'dup':>4} {'order':>5} {'ack p50':>7}  per worker"
    ]
    for result in results:
        split = "/".join(str(n) for _, n in sorted(result.per_worker.items()))
        lines.append(
            f"{result.listeners:>9} {len(result.latencies_ms):>10} {result.percentile(0.5):>7.1f} "
            f"{result.percentile(0.95):>7.1f} {max(result.latencies_ms, default=0):>7.1f} "
            f"{result.lost:>5} {result.duplicated:>4} {result.out_of_order:>5} "
            f"{result.ack_p50_ms:>7.1f}  {split}"
        )
    per_thousand = (rss_after - rss_before) * 1000 / max(options.idle_sockets, 1)
    split = "/".join(str(n) for _, n in sorted(idle_split.items()))
    lines += [
        "",
        f"idle sockets: {options.idle_sockets} more on top of {options.base_sockets} "
        f"({split} per worker at the end); workers' RSS "
        f"{rss_before:.0f} -> {rss_after:.0f} MiB: {per_thousand:.1f} MiB per 1,000 sockets",
        "",
        "targets:",
    ]
    largest = max(results, key=lambda result: result.listeners)
    p95 = largest.percentile(0.95)
    intact = all(r.lost == 0 and r.out_of_order == 0 and r.duplicated == 0 for r in results)
    lines += [
        f"  p95 <= 250 ms at {largest.listeners} listeners: "
        f"{'met' if p95 <= 250 else 'MISSED'} ({p95:.1f} ms)",
        f"  zero lost, duplicated or out-of-order: {'met' if intact else 'MISSED'}",
        f"  <= 50 MB per 1,000 idle sockets: "
        f"{'met' if per_thousand <= 50 else 'MISSED'} ({per_thousand:.1f} MiB)",
        "",
        f"machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {connection.vendor}, "
        f"{options.workers} workers; load average before: "
        + " ".join(f"{value:.2f}" for value in load_before),
        f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "mean latency over all deliveries: "
        + ", ".join(
            f"{r.listeners}: {statistics.fmean(r.latencies_ms):.1f} ms"
            for r in results
            if r.latencies_ms
        ),
    ]
    return "\n".join(lines)
