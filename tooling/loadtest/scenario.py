"""The load test's virtual users (Locust), run in a process of their own by ``manage.py loadtest``:
``python -m tooling.loadtest.scenario PLAN.json RESULT.json``. gevent patches the standard
library first, so nothing else may be imported before it (the parent runs Django).

Each virtual user logs in, opens the chat socket (a ticket, then ``/ws/chat/``; a greenlet
reads it all the time, as the app does, so the server's keep-alive pings are answered and
other members' events do not pile up), and then,
weighted as an app's traffic: reads its profile and buds, pages the catalogue, likes and
unlikes its own items, sends chat messages over the socket (waiting for each ``ack``), reads
the channel's history and uploads a small streaming-history export (a Spotify Account data
file) as the app's "import my history" does. Every acknowledged write goes into a ledger
that the parent checks against the database. At the deadline no new task starts; the ones
running finish.
"""

from gevent import monkey  # type: ignore[import-untyped]

monkey.patch_all()

import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.queue  # type: ignore[import-untyped]  # noqa: E402
import websocket  # noqa: E402
from locust import FastHttpUser, between, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.exception import StopUser  # noqa: E402

# Request names (Locust groups its statistics by name): the route, not the URL.
LOGIN = "POST /api/v1/auth/login"
TICKET = "POST /api/v1/chat/ticket"
SOCKET_OPEN = "WS /ws/chat/ (open + hello)"
SOCKET_SEND = "WS send -> ack"
PROFILE = "GET /api/v1/me/profile"
BUDS = "GET /api/v1/me/buds"
CATALOGUE = "GET /api/v1/catalogue/tracks"
LIKE = "PUT /api/v1/me/likes/tracks/{id}"
UNLIKE = "DELETE /api/v1/me/likes/tracks/{id}"
HISTORY = "GET /api/v1/chat/channels/{id}/messages"
UPLOAD = "POST /api/v1/me/imports"
UPLOAD_STREAMS = 20  # plays in the uploaded export
CATALOGUE_PAGES = 3
SOCKET_TIMEOUT_SECONDS = 10


@dataclass
class Account:
    username: str
    password: str
    channel: str
    items: list[str]


@dataclass
class Ledger:
    """What the server acknowledged: each like's last answered state, each message sent."""

    liked: dict[str, dict[str, bool]] = field(default_factory=dict)
    messages: dict[str, list[str]] = field(default_factory=dict)
    imports: dict[str, list[str]] = field(default_factory=dict)  # accepted import jobs' ids
    # Writes whose answer never came (a connection error or a timeout): state unknown.
    unanswered: int = 0


PLAN: dict[str, Any] = {}
ACCOUNTS: list[Account] = []
NEXT_ACCOUNT = itertools.count()
LEDGER = Ledger()
STOPPING = False


def _read_frames(socket: websocket.WebSocket, events: gevent.queue.Queue[Any]) -> None:
    """Receive ``socket``'s frames into ``events`` until it closes (websocket-client answers
    pings as it receives); the error that ended it goes last."""
    try:
        while True:
            events.put(json.loads(socket.recv()))
    except (OSError, ValueError, websocket.WebSocketException) as exc:
        events.put(exc)


class AppUser(FastHttpUser):
    """One person using the app (one account each; accounts are made by the parent)."""

    wait_time = between(0.5, 1.5)  # think time between actions
    connection_timeout = 10.0
    network_timeout = 30.0

    def on_start(self) -> None:
        self.account = ACCOUNTS[next(NEXT_ACCOUNT) % len(ACCOUNTS)]
        self.socket: websocket.WebSocket | None = None
        # The socket's frames (decoded) as its reader greenlet receives them; the exception
        # that ended the reader last.
        self.events: gevent.queue.Queue[Any] = gevent.queue.Queue()
        self.reader: gevent.Greenlet | None = None
        self.turn = 0
        with self.client.post(
            "/api/v1/auth/login",
            json={"username": self.account.username, "password": self.account.password},
            name=LOGIN,
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"login answered {answer.status_code}")
                raise StopUser
            token = answer.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self._socket_open()

    def _socket_open(self) -> None:
        with self.client.post(
            "/api/v1/chat/ticket", headers=self.headers, name=TICKET, catch_response=True
        ) as answer:
            if answer.status_code != 201:
                answer.failure(f"ticket answered {answer.status_code}")
                return
            ticket = answer.json()["ticket"]
        url = PLAN["ws_url"] + f"/ws/chat/?ticket={ticket}"
        started = time.perf_counter()
        error: Exception | None = None
        try:
            self.socket = websocket.create_connection(url, timeout=SOCKET_TIMEOUT_SECONDS)
            hello = json.loads(self.socket.recv())
            if hello.get("type") != "hello":
                error = RuntimeError(f"first frame {hello.get('type')!r}, not hello")
        except (OSError, websocket.WebSocketException) as exc:
            error = exc
        _fire(SOCKET_OPEN, started, error)
        if self.socket is not None and error is None:
            self.socket.settimeout(None)  # the reader waits as long as the socket is open
            self.events = gevent.queue.Queue()
            self.reader = gevent.spawn(_read_frames, self.socket, self.events)

    def _socket_close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        if self.reader is not None:
            self.reader.kill(block=False)
            self.reader = None

    def on_stop(self) -> None:
        self._socket_close()

    def _guard(self) -> None:
        if STOPPING:
            raise StopUser

    @task(4)
    def read_profile(self) -> None:
        self._guard()
        self.client.get("/api/v1/me/profile", headers=self.headers, name=PROFILE)

    @task(3)
    def read_buds(self) -> None:
        self._guard()
        self.client.get("/api/v1/me/buds", headers=self.headers, name=BUDS)

    @task(2)
    def page_catalogue(self) -> None:
        self._guard()
        path: str | None = "/api/v1/catalogue/tracks?limit=20"
        for _ in range(CATALOGUE_PAGES):
            if path is None:
                break
            with self.client.get(
                path, headers=self.headers, name=CATALOGUE, catch_response=True
            ) as answer:
                path = answer.json().get("next") if answer.status_code == 200 else None

    @task(2)
    def like_and_unlike(self) -> None:
        self._guard()
        item = self.account.items[self.turn % len(self.account.items)]
        self.turn += 1
        path = f"/api/v1/me/likes/tracks/{item}"
        states = LEDGER.liked.setdefault(self.account.username, {})
        for method, name, expected, liked in (
            ("PUT", LIKE, (200, 201), True),
            ("DELETE", UNLIKE, (204,), False),
        ):
            with self.client.request(
                method, path, headers=self.headers, name=name, catch_response=True
            ) as answer:
                if answer.status_code in expected:
                    states[item] = liked
                else:
                    answer.failure(f"answered {answer.status_code}")
                    if answer.status_code == 0:
                        LEDGER.unanswered += 1
                    return

    @task(2)
    def send_message(self) -> None:
        self._guard()
        if self.socket is None:
            self._socket_open()
            if self.socket is None:
                return
        client_id = f"load-{uuid.uuid4().hex}"
        frame = {
            "type": "send",
            "channel": self.account.channel,
            "content": f"load test message {client_id}",
            "client_id": client_id,
        }
        started = time.perf_counter()
        error: Exception | None = None
        try:
            self.socket.send(json.dumps(frame))
            while True:  # other members' events arrive on the same socket
                event = self.events.get(timeout=SOCKET_TIMEOUT_SECONDS)
                if isinstance(event, Exception):  # the reader ended: the socket is gone
                    raise event
                if event.get("client_id") != client_id:
                    continue
                if event.get("type") == "ack":
                    LEDGER.messages.setdefault(self.account.username, []).append(client_id)
                else:
                    error = RuntimeError(f"{event.get('type')}: {event.get('code')}")
                break
        except (OSError, websocket.WebSocketException, gevent.queue.Empty) as exc:
            error = exc if not isinstance(exc, gevent.queue.Empty) else TimeoutError("no ack")
            LEDGER.unanswered += 1
            self._socket_close()
        _fire(SOCKET_SEND, started, error)

    @task(1)
    def read_history(self) -> None:
        self._guard()
        self.client.get(
            f"/api/v1/chat/channels/{self.account.channel}/messages?limit=20",
            headers=self.headers,
            name=HISTORY,
        )

    @task(1)
    def upload_export(self) -> None:
        self._guard()
        body, content_type = _multipart_export(self.account.username)
        with self.client.post(
            "/api/v1/me/imports",
            data=body,
            headers=self.headers | {"Content-Type": content_type},
            name=UPLOAD,
            catch_response=True,
        ) as answer:
            if answer.status_code == 202:
                LEDGER.imports.setdefault(self.account.username, []).append(answer.json()["id"])
            elif answer.status_code == 409:
                answer.success()  # my previous upload still runs: one at a time, by rule
            else:
                answer.failure(f"answered {answer.status_code}")
                if answer.status_code == 0:
                    LEDGER.unanswered += 1


def _multipart_export(username: str) -> tuple[str, str]:
    """A Spotify Account data file (``StreamingHistory_music_0.json``) of ``UPLOAD_STREAMS``
    plays of the user's own tracks, as the multipart body an app sends."""
    streams = [
        {
            "endTime": f"2026-11-{1 + n % 28:02d} 12:{n % 60:02d}",
            "artistName": f"Load Artist {username}",
            "trackName": f"Load Upload {username} {n % 5}",
            "msPlayed": 61_000,
        }
        for n in range(UPLOAD_STREAMS)
    ]
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="StreamingHistory_music_0.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(streams)}\r\n"
        f"--{boundary}--\r\n"
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _fire(name: str, started: float, error: Exception | None) -> None:
    events.request.fire(  # type: ignore[no-untyped-call]
        request_type="WS",
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=0,
        exception=error,
        context={},
    )


def _route_stats(environment: Environment) -> list[dict[str, Any]]:
    rows = []
    for entry in environment.stats.entries.values():
        rows.append(
            {
                "route": entry.name,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "rps": entry.total_rps,
                "p50_ms": entry.get_response_time_percentile(0.5),
                "p95_ms": entry.get_response_time_percentile(0.95),
                "p99_ms": entry.get_response_time_percentile(0.99),
                "max_ms": entry.max_response_time,
            }
        )
    return sorted(rows, key=lambda row: str(row["route"]))


def run(plan: dict[str, Any]) -> dict[str, Any]:
    """Ramp up to ``plan["users"]`` at ``plan["spawn_rate"]`` per second, run until
    ``plan["seconds"]`` after the start, let the tasks running finish, and report."""
    global STOPPING
    PLAN.update(plan)
    ACCOUNTS.extend(Account(**account) for account in plan["accounts"])
    environment = Environment(
        user_classes=[AppUser], host=plan["base_url"], events=events, stop_timeout=60
    )
    runner = environment.create_local_runner()
    started = time.monotonic()
    runner.start(plan["users"], spawn_rate=plan["spawn_rate"])
    gevent.sleep(plan["seconds"])
    STOPPING = True  # no task starts now; the running ones finish (their writes answered)
    runner.stop()
    runner.quit()
    elapsed = time.monotonic() - started
    total = environment.stats.total
    errors = [
        {"route": error.name, "method": error.method, "error": str(error.error), "count": n}
        for error, n in ((e, e.occurrences) for e in environment.stats.errors.values())
    ]
    return {
        "users": plan["users"],
        "seconds": elapsed,
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": total.num_requests / elapsed if elapsed else 0.0,
        "routes": _route_stats(environment),
        "errors": errors,
        "ledger": {
            "liked": LEDGER.liked,
            "messages": LEDGER.messages,
            "imports": LEDGER.imports,
            "unanswered": LEDGER.unanswered,
        },
    }


if __name__ == "__main__":
    plan_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    result_path.write_text(json.dumps(run(json.loads(plan_path.read_text()))))
