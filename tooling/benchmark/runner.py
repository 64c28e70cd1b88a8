"""The benchmark run: seed, start each server, drive the hot endpoints, verify, print a table."""

from __future__ import annotations

import json
import os
import platform
import random
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse

from config.environment import BASE_DIR
from musicbud.models import ItemKind, Relation, TasteEdge, Track, User
from musicbud.services.taste import taste_edge_remove, taste_edge_set
from tooling.benchmark.load import LoadResult, Request, run_python, run_wrk, wrk_available
from tooling.benchmark.peer import ANSWER_KEY, FAMILY_ACTIVE, FAMILY_KEY
from tooling.benchmark.server import (
    HOP_FREE_APP,
    PEER_APP,
    STOCK_APP,
    Server,
    production_env,
    start_server,
)

BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench-correct-horse-battery-42"  # noqa: S105 - a throwaway local account
WRITE_ITEM_PREFIX = "bench write "
# URL names: an endpoint whose name does not resolve is reported as skipped.
LIVE = "health-live"
LOGIN = "api-v1:auth-login"
PROFILE = "api-v1:my-profile"
BUDS = "api-v1:my-buds"
LIKE = "api-v1:my-like"
# The legacy API's twin of PROFILE (one URL table for all its routes, so a path, not a name).
LEGACY_PROFILE = "/me/profile"
# A cached legacy read may cost at most this much more than its v1 twin.
LEGACY_OVERHEAD_MAX = 0.10
# The targets (issue 24): the cached reads' throughput against the FastAPI peer, their p99
# against the mean latency, and a worker's RSS after the writes.
PEER_RATIO_MIN = 1.05
P99_OVER_MEAN_MAX = 2.5
WORKER_RSS_MAX_MB = 110

Say = Callable[[str], None]


@dataclass
class Options:
    seconds: int = 15
    warmup_seconds: int = 3
    connections: int = 64
    host: str = "127.0.0.1"
    port: int = 8106
    stock: bool = True
    peer: bool = True
    scenarios: tuple[str, ...] = ("liveness", "profile", "legacy-profile", "buds", "writes")
    log_dir: Path = BASE_DIR / "var" / "bench"


@dataclass
class Row:
    scenario: str
    server: str
    result: LoadResult | None
    rss_mb: float | None = None
    note: str = ""


@dataclass
class WriteCheck:
    puts: int = 0
    deletes: int = 0
    unexpected: dict[str, int] = field(default_factory=dict)
    last_put: dict[int, bool] = field(default_factory=dict)

    def record(self, index: int, number: int, request: Request, status: int) -> None:
        expected = 201 if request.method == "PUT" else 204
        if request.method == "PUT":
            self.puts += 1
        else:
            self.deletes += 1
        if status != expected:
            key = f"{request.method} {status}"
            self.unexpected[key] = self.unexpected.get(key, 0) + 1
        self.last_put[index] = request.method == "PUT"


# --- data -------------------------------------------------------------------------------------


def seed(*, connections: int, say: Say) -> tuple[User, list[Track]]:
    """Demo data (seed_demo when the project has it), the bench user and its write items."""
    if "seed_demo" in get_commands():
        say("seeding: manage.py seed_demo")
        call_command("seed_demo")
    else:
        say("seeding: minimal built-in seed (no seed_demo command)")
        _minimal_seed()
    user, _ = User.objects.get_or_create(
        username=BENCH_USERNAME, defaults={"email": "bench@example.org", "display_name": "Bench"}
    )
    user.set_password(BENCH_PASSWORD)
    user.is_active = True
    user.save()
    # Likes shared with other users, so the buds answer is not empty.
    for track in Track.objects.exclude(name__startswith=WRITE_ITEM_PREFIX).order_by("id")[:20]:
        taste_edge_set(user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE)
    items = []
    for index in range(connections):
        track, _ = Track.objects.get_or_create(name=f"{WRITE_ITEM_PREFIX}{index}")
        taste_edge_remove(
            user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE
        )  # start from "not liked"
        items.append(track)
    return user, items


def _minimal_seed() -> None:
    rng = random.Random(6)  # noqa: S311 - deterministic demo data, not security
    with transaction.atomic():
        tracks = [Track.objects.get_or_create(name=f"bench track {n}")[0] for n in range(200)]
        for n in range(50):
            user, created = User.objects.get_or_create(
                username=f"benchpeer{n}", defaults={"email": f"benchpeer{n}@example.org"}
            )
            if created:
                for track in rng.sample(tracks, 20):
                    taste_edge_set(
                        user=user, kind=ItemKind.TRACK, item=track, relation=Relation.LIKE
                    )


# --- auth -------------------------------------------------------------------------------------


def auth_headers(
    server: Server, *, secret_key: str, user: User
) -> tuple[list[tuple[str, str]], str]:
    """A bearer token from the login endpoint, or a session cookie where no login route resolves."""
    login_path = path_of(LOGIN)
    if login_path is not None:
        body = json.dumps({"username": BENCH_USERNAME, "password": BENCH_PASSWORD}).encode()
        login = urllib.request.Request(  # noqa: S310 - our loopback server
            f"{server.base_url}{login_path}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(login, timeout=10) as answer:  # noqa: S310
            token = json.loads(answer.read())["access_token"]
        return [("Authorization", f"Bearer {token}")], "bearer token"
    # The session is signed with the server's SECRET_KEY and stored where it reads it.
    with override_settings(SECRET_KEY=secret_key):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [("Cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}")], "session cookie"


def probe(server: Server, path: str, headers: list[tuple[str, str]]) -> int:
    request = urllib.request.Request(f"{server.base_url}{path}", headers=dict(headers))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


# --- scenarios --------------------------------------------------------------------------------


def path_of(url_name: str, **kwargs: object) -> str | None:
    """The path of a URL name (a path given as is), None when it does not resolve."""
    if url_name.startswith("/"):
        return url_name
    try:
        return reverse(url_name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def like_path(track: Track) -> str | None:
    return path_of(LIKE, kind="tracks", item_id=track.public_id)


def read_load(
    server: Server, path: str, headers: list[tuple[str, str]], options: Options, seconds: int
) -> LoadResult:
    if wrk_available():
        return run_wrk(
            f"{server.base_url}{path}",
            connections=options.connections,
            seconds=seconds,
            headers=headers,
        )
    return run_python(
        server.host,
        server.port,
        lambda index, number: Request("GET", path),
        connections=options.connections,
        seconds=seconds,
        headers=headers,
    )


def write_load(
    server: Server,
    items: list[Track],
    headers: list[tuple[str, str]],
    options: Options,
    check: WriteCheck,
) -> LoadResult:
    """Each connection likes then unlikes its own item, over and over.

    The Python generator is used even when wrk is installed: it finishes the requests in
    flight at the deadline, so every write the server made is known and can be verified.
    """
    paths = [str(like_path(item)) for item in items]

    def plan(index: int, number: int) -> Request:
        return Request("PUT" if number % 2 == 0 else "DELETE", paths[index])

    return run_python(
        server.host,
        server.port,
        plan,
        connections=len(items),
        seconds=options.seconds,
        headers=headers,
        on_answer=check.record,
    )


def verify_writes(user: User, items: list[Track], check: WriteCheck) -> str:
    """Every acknowledged like/unlike is in the DB exactly once; raises when not."""
    liked = list(
        TasteEdge.objects.filter(user=user, relation=Relation.LIKE, track__in=items).values_list(
            "track_id", flat=True
        )
    )
    expected = {items[index].pk for index, last in check.last_put.items() if last}
    problems = []
    if check.unexpected:
        problems.append(f"unexpected answers {check.unexpected}")
    if len(liked) != len(set(liked)):
        problems.append(f"{len(liked) - len(set(liked))} duplicate like edges")
    if set(liked) != expected:
        problems.append(f"{len(set(liked))} items liked in the DB, {len(expected)} expected")
    if problems:
        raise AssertionError("write check failed: " + "; ".join(problems))
    for item in items:  # leave the bench user as it was
        taste_edge_remove(user=user, kind=ItemKind.TRACK, item=item, relation=Relation.LIKE)
    return (
        f"writes verified: {check.puts} PUT all 201, {check.deletes} DELETE all 204, "
        f"{len(expected)} likes left exactly once, 0 duplicates"
    )


READS = (
    ("liveness", "liveness", LIVE, False),
    ("profile", "profile (cached)", PROFILE, True),
    ("legacy-profile", "legacy profile", LEGACY_PROFILE, True),
    ("buds", "buds (cached)", BUDS, True),
)
PEER = "fastapi-peer"


def peer_answers_store(server: Server, headers: list[tuple[str, str]]) -> None:
    """Give the peer the answers the project serves and the token family's state (active),
    stored where it reads them (Redis)."""
    import jwt
    import redis

    token = dict(headers)["Authorization"].removeprefix("Bearer ")
    family = jwt.decode(token, options={"verify_signature": False})["fam"]
    with redis.Redis.from_url(str(settings.REDIS_URL)) as client:
        client.set(FAMILY_KEY.format(family=family), FAMILY_ACTIVE, ex=24 * 3600)
        for route, url_name in (("profile", PROFILE), ("buds", BUDS)):
            path = path_of(url_name)
            request = urllib.request.Request(f"{server.base_url}{path}", headers=dict(headers))  # noqa: S310
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                client.set(ANSWER_KEY.format(route=route), answer.read())


def run_scenarios(
    *,
    servers: dict[str, Server],
    options: Options,
    secret_key: str,
    user: User,
    items: list[Track],
    say: Say,
) -> tuple[list[Row], list[str]]:
    """Each scenario on each server in turn, back to back, so all see the same machine load."""
    rows: list[Row] = []
    notes: list[str] = []
    headers: dict[str, list[tuple[str, str]]] = {}
    for label, server in servers.items():
        if label == PEER:  # verifies the project's tokens: same HS256 key, issuer, audience
            headers[label] = headers["hop-free"]
            peer_answers_store(servers["hop-free"], headers[label])
            continue
        headers[label], how = auth_headers(server, secret_key=secret_key, user=user)
        notes.append(f"{label}: authenticated with a {how}")
    for name, scenario, url_name, authenticated in READS:
        if name not in options.scenarios:
            continue
        path = path_of(url_name)
        for label, server in servers.items():
            scenario_headers = headers[label] if authenticated else []
            if path is None:
                rows.append(Row(scenario, label, None, note=f"skipped: no URL {url_name!r}"))
                continue
            status = probe(server, path, scenario_headers)
            if status != 200:
                rows.append(Row(scenario, label, None, note=f"skipped: GET {path} -> {status}"))
                continue
            say(f"{label}: {scenario} for {options.seconds}s at {options.connections} conns")
            read_load(server, path, scenario_headers, options, options.warmup_seconds)
            result = read_load(server, path, scenario_headers, options, options.seconds)
            rows.append(Row(scenario, label, result, rss_mb=max(server.worker_rss_mb())))
    for label, server in servers.items():
        if label == PEER or "writes" not in options.scenarios:
            continue
        if like_path(items[0]) is None:
            rows.append(Row("like/unlike", label, None, note=f"skipped: no URL {LIKE!r}"))
            continue
        say(f"{label}: like/unlike pair for {options.seconds}s at {len(items)} conns")
        check = WriteCheck()
        connection.close()
        result = write_load(server, items, headers[label], options, check)
        rows.append(Row("like/unlike", label, result, rss_mb=max(server.worker_rss_mb())))
        notes.append(f"{label}: {verify_writes(user, items, check)}")
    for label, server in servers.items():
        notes.append(f"{label}: worker RSS {max(server.worker_rss_mb()):.0f} MB after the run")
    order = list(servers)
    rows.sort(key=lambda row: order.index(row.server))  # stable: scenarios keep their order
    return rows, notes


def run(options: Options, say: Say) -> str:
    """The whole benchmark; returns the report (table, ratios, targets, machine)."""
    load_before = os.getloadavg()
    call_command("migrate", verbosity=0)
    user, items = seed(connections=options.connections, say=say)
    # One worker, as the targets are stated.
    app_env = production_env(host=options.host, workers=1) | {"JWT_ACCESS_TTL_SECONDS": "3600"}
    secret_key = app_env["SECRET_KEY"]
    jwt_secret = app_env["JWT_SECRET_KEYS"].removeprefix("bench:")
    apps = {"hop-free": HOP_FREE_APP, **({"stock": STOCK_APP} if options.stock else {})}
    notes: list[str] = []
    if options.peer and settings.REDIS_URL:
        apps[PEER] = PEER_APP
        app_env |= {
            "PEER_REDIS_URL": str(settings.REDIS_URL),
            "PEER_JWT_SECRET": jwt_secret,
            "PEER_JWT_ISSUER": settings.JWT_ISSUER,
            "PEER_JWT_AUDIENCE": settings.JWT_AUDIENCE,
        }
    elif options.peer:
        notes.append(f"{PEER}: skipped (it keeps its counter and answers in Redis: set REDIS_URL)")
    options.log_dir.mkdir(parents=True, exist_ok=True)
    # Django's connections are closed before gunicorn starts: the servers open their own.
    connection.close()
    servers: dict[str, Server] = {}
    try:
        # All servers up at once (the others idle while one is driven), on consecutive ports.
        for offset, (label, app) in enumerate(apps.items()):
            servers[label] = start_server(
                app=app,
                host=options.host,
                port=options.port + offset,
                app_env=app_env,
                log_path=options.log_dir / f"{label}.log",
            )
        rows, run_notes = run_scenarios(
            servers=servers,
            options=options,
            secret_key=secret_key,
            user=user,
            items=items,
            say=say,
        )
    finally:
        for server in servers.values():
            server.stop()
    load_after = os.getloadavg()
    notes += run_notes
    notes.append(
        "load average (1, 5, 15 min): "
        f"{', '.join(f'{v:.2f}' for v in load_before)} before, "
        f"{', '.join(f'{v:.2f}' for v in load_after)} after"
    )
    return report(rows, notes, options)


def mean_ms(result: LoadResult, connections: int) -> float:
    """Mean latency with ``connections`` requests always in flight: connections / rate."""
    return connections / result.rps * 1000 if result.rps else 0.0


def report(rows: list[Row], notes: list[str], options: Options) -> str:
    lines = [
        f"{'scenario':<18} {'server':<12} {'req/s':>7} {'mean ms':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'p99 ms':>7} {'p99/mean':>8} {'non-2xx':>7} {'RSS MB':>6}  load",
    ]
    for row in rows:
        if row.result is None:
            lines.append(f"{row.scenario:<18} {row.server:<12} {row.note}")
            continue
        r = row.result
        memory = f"{row.rss_mb:.0f}" if row.rss_mb is not None else "?"
        mean = mean_ms(r, options.connections)
        tail = r.p99_ms / mean if mean else 0.0
        lines.append(
            f"{row.scenario:<18} {row.server:<12} {r.rps:>7.0f} {mean:>7.1f} {r.p50_ms:>7.1f} "
            f"{r.p95_ms:>7.1f} {r.p99_ms:>7.1f} {tail:>7.2f}x {r.non_2xx:>7} {memory:>6}  "
            f"{r.generator}"
        )
    by_key = {(row.scenario, row.server): row.result for row in rows if row.result}
    lines.append("")
    for scenario in dict.fromkeys(row.scenario for row in rows):
        ours = by_key.get((scenario, "hop-free"))
        for other in ("stock", PEER):
            theirs = by_key.get((scenario, other))
            if ours and theirs and theirs.rps:
                lines.append(
                    f"{scenario}: hop-free / {other} throughput = {ours.rps / theirs.rps:.2f}x"
                )
    lines += ["", "targets (hop-free server):"]
    for scenario in ("profile (cached)", "buds (cached)"):
        ours = by_key.get((scenario, "hop-free"))
        if ours is None:
            continue
        mean = mean_ms(ours, options.connections)
        lines.append(
            f"  {scenario}: p99 <= {P99_OVER_MEAN_MAX}x mean: "
            f"{_verdict(ours.p99_ms <= P99_OVER_MEAN_MAX * mean)} "
            f"({ours.p99_ms:.1f} ms vs {mean:.1f} ms mean)"
        )
        peer = by_key.get((scenario, PEER))
        if peer and peer.rps:
            ratio = ours.rps / peer.rps
            lines.append(
                f"  {scenario}: >= {PEER_RATIO_MIN}x the FastAPI peer: "
                f"{_verdict(ratio >= PEER_RATIO_MIN)} ({ratio:.2f}x)"
            )
    v1, legacy = (
        by_key.get(("profile (cached)", "hop-free")),
        by_key.get(("legacy profile", "hop-free")),
    )
    if v1 and legacy and legacy.rps:
        # Cost per request: the inverse of throughput at the same connection count.
        overhead = v1.rps / legacy.rps - 1
        lines.append(
            f"  legacy profile: at most {LEGACY_OVERHEAD_MAX:.0%} more than its v1 twin: "
            f"{_verdict(overhead <= LEGACY_OVERHEAD_MAX)} ({overhead:+.1%}: "
            f"{legacy.rps:.0f} vs {v1.rps:.0f} req/s)"
        )
    all_2xx = all(row.result.non_2xx == 0 for row in rows if row.result)
    worker_mb = max(((row.rss_mb or 0.0) for row in rows if row.server == "hop-free"), default=0)
    lines += [
        f"  zero non-2xx (every scenario, every server): {_verdict(all_2xx)}",
        f"  RSS <= {WORKER_RSS_MAX_MB} MB per worker: "
        f"{_verdict(worker_mb <= WORKER_RSS_MAX_MB)} ({worker_mb:.0f} MB)",
    ]
    lines += ["", *notes, "", machine(options)]
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine(options: Options) -> str:
    cpus = Path("/proc/cpuinfo").read_text().count("processor\t:")
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    database = connection.vendor
    cache = "redis" if settings.REDIS_URL else "in-memory"
    return (
        f"machine: {cpus} x {model}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; database {database}, cache {cache}; "
        f"1 worker, {options.connections} connections, {options.seconds}s per scenario, "
        f"load generator {'wrk' if wrk_available() else 'python'} (writes: python)"
    )
