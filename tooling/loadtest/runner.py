"""``manage.py loadtest``: mixed traffic from Locust's virtual users against the production server
(gunicorn + uvicorn workers) on this database and Redis, for a fixed time; then every
acknowledged write is checked in the database, exactly once. ``--find-max`` climbs a ladder
of user counts and reports the highest one with no error and every route's p99 under 1 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command, get_commands
from django.db import connection, transaction
from django.utils import timezone

from config.environment import BASE_DIR
from musicbud.chat.models import Channel, Membership, MembershipState, Message, Role
from musicbud.imports.models import ImportJob, ImportStatus
from musicbud.models import ItemKind, Relation, TasteEdge, Track, User
from tooling.benchmark.server import production_env, start_server

USERNAME_PREFIX = "load"
PASSWORD = "load-correct-horse-battery-42"  # noqa: S105 - throwaway local accounts
ITEM_PREFIX = "load item "
ITEMS_PER_USER = 4
IMPORTS_WAIT_SECONDS = 120  # for the uploads' jobs (run after their answer) to end
ROOM_SIZE = 5  # members per chat channel: each socket hears its room's messages
P99_MAX_MS = 1000.0
Say = Callable[[str], None]


@dataclass
class Options:
    users: int = 50
    spawn_rate: float = 2.0
    seconds: int = 60
    workers: int = 2
    host: str = "127.0.0.1"
    port: int = 8120
    ladder: tuple[int, ...] = ()
    log_dir: Path = BASE_DIR / "var" / "loadtest"


@dataclass
class Verdict:
    result: dict[str, Any]
    writes: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        slow = [row for row in self.result["routes"] if row["p99_ms"] >= P99_MAX_MS]
        return not self.problems and self.result["failures"] == 0 and not slow


def accounts_prepare(count: int, say: Say) -> list[dict[str, Any]]:
    """``count`` load accounts (made once, kept), each with its own items to like (none
    liked at the start) and a chat channel shared with ``ROOM_SIZE - 1`` others."""
    if not Track.objects.exists() and "seed_demo" in get_commands():
        say("seeding: manage.py seed_demo")
        call_command("seed_demo")
    accounts = []
    password_hash = None
    for index in range(count):
        username = f"{USERNAME_PREFIX}{index}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, email=f"{username}@example.org", display_name=username)
            if password_hash is None:
                user.set_password(PASSWORD)
                password_hash = user.password
            user.password = password_hash
            user.save()
        room = index // ROOM_SIZE
        channel, created = Channel.objects.get_or_create(
            name=f"load room {room}", defaults={"creator": user, "visibility": "public"}
        )
        Membership.objects.get_or_create(
            channel=channel,
            user=user,
            defaults={
                "role": Role.ADMIN if created else Role.MEMBER,
                "state": MembershipState.ACTIVE,
                "joined_at": timezone.now(),
            },
        )
        items = []
        for number in range(ITEMS_PER_USER):
            track, _ = Track.objects.get_or_create(name=f"{ITEM_PREFIX}{index}-{number}")
            items.append(track)
        TasteEdge.objects.filter(user=user, relation=Relation.LIKE, track__in=items).delete()
        accounts.append(
            {
                "username": username,
                "password": PASSWORD,
                "channel": str(channel.public_id),
                "items": [str(track.public_id) for track in items],
            }
        )
    return accounts


def writes_verify(result: dict[str, Any]) -> tuple[str, list[str]]:
    """Every acknowledged write in the database exactly once: each item's like as its last
    answer left it (no duplicate edge), each acknowledged message stored once, and no load
    message stored that was not acknowledged."""
    ledger = result["ledger"]
    problems: list[str] = []
    likes_checked = 0
    for username, states in ledger["liked"].items():
        user = User.objects.get(username=username)
        edges = list(
            TasteEdge.objects.filter(
                user=user, relation=Relation.LIKE, kind=ItemKind.TRACK
            ).values_list("track__public_id", flat=True)
        )
        stored = [str(public_id) for public_id in edges]
        if len(stored) != len(set(stored)):
            problems.append(f"{username}: {len(stored) - len(set(stored))} duplicate likes")
        expected = {item for item, liked in states.items() if liked}
        touched = set(states)
        if set(stored) & touched != expected:
            problems.append(
                f"{username}: liked in the DB {sorted(set(stored) & touched)}, "
                f"acknowledged {sorted(expected)}"
            )
        likes_checked += len(states)
    sent = 0
    for username, client_ids in ledger["messages"].items():
        user = User.objects.get(username=username)
        stored_ids = list(
            Message.objects.filter(author=user, client_id__startswith="load-").values_list(
                "client_id", flat=True
            )
        )
        counts = {client_id: stored_ids.count(client_id) for client_id in client_ids}
        missing = [client_id for client_id, n in counts.items() if n != 1]
        extra = set(stored_ids) - set(client_ids)
        if missing:
            problems.append(f"{username}: {len(missing)} acknowledged messages not stored once")
        if extra:
            problems.append(f"{username}: {len(extra)} messages stored, never acknowledged")
        sent += len(client_ids)
    uploads, upload_problems = _imports_verify(ledger.get("imports", {}))
    problems += upload_problems
    summary = (
        f"writes verified: {likes_checked} items' like state as last acknowledged, "
        f"{sent} messages stored exactly once, {uploads} accepted uploads imported once each, "
        f"{ledger['unanswered']} writes unanswered"
    )
    return summary, problems


def _imports_verify(accepted: dict[str, list[int]]) -> tuple[int, list[str]]:
    """Each accepted upload is one import job of its user that ended ``succeeded`` (jobs run
    after their answer: waited for, up to ``IMPORTS_WAIT_SECONDS``), and no other job."""
    deadline = time.monotonic() + IMPORTS_WAIT_SECONDS
    jobs = ImportJob.objects.filter(user__username__startswith=USERNAME_PREFIX)
    while (
        jobs.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).exists()
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    problems = []
    for username, ids in accepted.items():
        stored = dict(jobs.filter(user__username=username).values_list("pk", "status"))
        if sorted(stored) != sorted(ids):
            problems.append(f"{username}: import jobs {sorted(stored)}, accepted {sorted(ids)}")
        unfinished = sorted(pk for pk, status in stored.items() if status != ImportStatus.SUCCEEDED)
        if unfinished:
            problems.append(f"{username}: import jobs {unfinished} did not succeed")
    for username in set(jobs.values_list("user__username", flat=True)) - set(accepted):
        problems.append(f"{username}: import jobs stored, none accepted")
    return sum(len(ids) for ids in accepted.values()), problems


def load_messages_clear() -> None:
    """The previous run's load messages go, so this run's are counted alone."""
    with transaction.atomic():
        Message.objects.filter(client_id__startswith="load-").delete()
        ImportJob.objects.filter(user__username__startswith=USERNAME_PREFIX).delete()


def level_run(options: Options, users: int, accounts: list[dict[str, Any]], say: Say) -> Verdict:
    """One run at ``users`` virtual users against a fresh server."""
    load_messages_clear()
    for account in accounts[:users]:
        TasteEdge.objects.filter(
            user__username=account["username"],
            relation=Relation.LIKE,
            track__name__startswith=ITEM_PREFIX,
        ).delete()
    app_env = production_env(host=options.host, workers=options.workers) | {
        # The limits would count every virtual user as one client (one address): the load
        # test measures the server, not the limiter.
        "RATE_LIMIT_STRICT_PER_MINUTE": "1000000000",
        "RATE_LIMIT_CLIENT_PER_MINUTE": "1000000000",
        "JWT_ACCESS_TTL_SECONDS": "3600",
    }
    options.log_dir.mkdir(parents=True, exist_ok=True)
    connection.close()
    server = start_server(
        app="config.asgi:application",
        host=options.host,
        port=options.port,
        app_env=app_env,
        log_path=options.log_dir / f"server-{users}.log",
        workers=options.workers,
    )
    base_url = server.base_url
    plan = {
        "base_url": base_url,
        "ws_url": base_url.replace("http://", "ws://"),
        "users": users,
        "spawn_rate": options.spawn_rate,
        "seconds": options.seconds,
        "accounts": accounts[:users],
    }
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory() as folder:
            plan_path, result_path = Path(folder) / "plan.json", Path(folder) / "result.json"
            plan_path.write_text(json.dumps(plan))
            say(f"{users} users for {options.seconds}s ({options.workers} workers, {base_url})")
            subprocess.run(  # noqa: S603 - our interpreter and module
                [sys.executable, "-m", "tooling.loadtest.scenario", plan_path, result_path],
                cwd=BASE_DIR,
                check=True,
                timeout=options.seconds + 300,
                stdout=(options.log_dir / f"locust-{users}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            result: dict[str, Any] = json.loads(result_path.read_text())
        result["worker_rss_mb"] = server.worker_rss_mb()
    finally:
        server.stop()
    result["load"] = {"before": load_before, "after": os.getloadavg()}
    writes, problems = writes_verify(result)
    problems += ramp_problems(result, users=users, spawn_rate=options.spawn_rate)
    return Verdict(result=result, writes=writes, problems=problems)


LOGIN_ROUTE = "POST /api/v1/auth/login"


def ramp_problems(result: dict[str, Any], *, users: int, spawn_rate: float) -> list[str]:
    """A level counts only if every virtual user started (each logs in once, first): at a
    modest spawn rate a short run ends before the last ones do, and would pass a user count
    the server never saw."""
    started = sum(row["requests"] for row in result["routes"] if row["route"] == LOGIN_ROUTE)
    if started >= users:
        return []
    return [
        f"only {started} of {users} virtual users started (spawn rate {spawn_rate:g}/s): "
        "run longer or spawn faster"
    ]


def report(verdict: Verdict) -> str:
    result = verdict.result
    lines = [
        f"{result['users']} users, {result['seconds']:.0f} s: {result['requests']} requests, "
        f"{result['rps']:.1f} req/s, {result['failures']} errors",
        f"  {'route':<42} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6}",
    ]
    for row in result["routes"]:
        lines.append(
            f"  {row['route']:<42} {row['requests']:>8} {row['rps']:>7.1f} {row['p50_ms']:>7.0f} "
            f"{row['p95_ms']:>7.0f} {row['p99_ms']:>7.0f} {row['failures']:>6}"
        )
    for error in result["errors"]:
        lines.append(
            f"  error: {error['method']} {error['route']}: {error['error']} x{error['count']}"
        )
    lines.append(f"  {verdict.writes}")
    lines += [f"  WRITE CHECK FAILED: {problem}" for problem in verdict.problems]
    rss = ", ".join(f"{mb:.0f}" for mb in result["worker_rss_mb"])
    load = result["load"]
    lines.append(
        f"  worker RSS {rss} MB; load average {load['before'][0]:.2f} before, "
        f"{load['after'][0]:.2f} after"
    )
    lines.append(
        f"  zero errors and every p99 < {P99_MAX_MS:.0f} ms: "
        f"{'met' if verdict.passed else 'MISSED'}"
    )
    return "\n".join(lines)


def run(options: Options, say: Say) -> str:
    call_command("migrate", verbosity=0)
    levels = options.ladder or (options.users,)
    accounts = accounts_prepare(max(levels), say)
    sections = []
    best: int | None = None
    for users in levels:
        verdict = level_run(options, users, accounts, say)
        sections.append(report(verdict))
        say(sections[-1])
        if not verdict.passed:
            break
        best = users
    if options.ladder:
        sections.append(
            f"highest user count with zero errors and every p99 < {P99_MAX_MS:.0f} ms: "
            + (f"{best}" if best is not None else f"none (the first, {levels[0]}, failed)")
        )
    database = connection.vendor
    cache = "redis" if settings.REDIS_URL else "in-memory"
    sections.append(
        f"machine: {os.cpu_count()} CPUs; database {database}, cache {cache}; "
        f"{options.workers} workers; Locust on the same machine"
    )
    return "\n\n".join(sections)
