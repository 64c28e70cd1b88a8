"""The stand-ins' one HTTP server: a real server on a free loopback port that hands each request
to the service stand-in owning its path, with what every stand-in shares: faults and holds
injected per path, the request log, added latency, and the secrets handed out."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

from musicbud.connections.providers.registry import provider_entry


@dataclass
class Fault:
    """An answer served instead of the real one, ``times`` times, for requests whose path
    (after the service's root) starts with ``path`` (and whose ``method`` query parameter, as
    Last.fm names its calls, matches)."""

    path: str
    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    delay_seconds: float = 0.0
    method: str | None = None


@dataclass
class Hold:
    """Requests whose path (after the service's root) starts with ``path`` wait, once
    ``arrived`` is set, until ``release()`` (at most ``timeout_seconds``, so a test that fails
    first never leaves a client hanging): a provider call kept in flight on purpose."""

    path: str
    timeout_seconds: float = 30.0
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: Message[str, str]  # names case-insensitive, as HTTP has them


class Reply:
    """How a service stand-in answers: JSON (any status, any headers) or a redirect."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._handler = handler

    def send(self, status: int, raw: bytes, headers: dict[str, str] | None = None) -> None:
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)

    def json(self, status: int, body: Any) -> None:
        self.send(status, json.dumps(body).encode())

    def redirect(self, location: str) -> None:
        handler = self._handler
        handler.send_response(HTTPStatus.FOUND)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


class ServiceStandIn:
    """One provider's stand-in, mounted on a :class:`StandInServer`: the paths it serves
    (``roots``), its answers, and the values of its settings block that point at the server."""

    name: str  # the provider's name in the registry
    roots: tuple[str, ...]

    def __init__(self) -> None:
        self._server: StandInServer | None = None

    @property
    def server(self) -> StandInServer:
        assert self._server is not None, "mount() the stand-in first"  # noqa: S101
        return self._server

    def attach(self, server: StandInServer) -> None:
        self._server = server

    def answer(self, request: Request, reply: Reply) -> None:
        raise NotImplementedError

    def settings_values(self, base_url: str) -> dict[str, str]:
        """Fields of the provider's settings block that point it at the server."""
        raise NotImplementedError

    def revoke_grants(self) -> None:
        """The user revoked the app: every token or session this service issued is refused."""
        raise NotImplementedError


S = TypeVar("S", bound=ServiceStandIn)


class StandInServer:
    """The server and the state its stand-ins share. ``start()`` binds a free loopback port;
    ``stop()`` ends it."""

    def __init__(self, *, latency_seconds: float = 0.0) -> None:
        # Added to every answer, as a real service's round trip would be.
        self.latency_seconds = latency_seconds
        self.services: list[ServiceStandIn] = []
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        # (method, path, query) of every request, in order.
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # Requests being answered now, and the most there ever were at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        self._issued: set[str] = set()  # every secret ever handed out
        self._server: ThreadingHTTPServer | None = None

    def mount(self, service: S) -> S:
        service.attach(self)
        self.services.append(service)
        return service

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, port: int = 0) -> Self:
        """Serve on ``port`` of 127.0.0.1 (0: a free one)."""
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.standin = self
        self._server.daemon_threads = True
        # A short poll: stop() waits for the loop to notice (0.5 s by default).
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        with self.lock:
            for hold in self.holds:
                hold.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"  # noqa: S101
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- pointing the project at it --------------------------------------------------------

    def provider_settings(
        self, current: dict[str, Any], base_url: str | None = None
    ) -> dict[str, Any]:
        """``settings.PROVIDERS`` with each mounted provider's block pointing at this server
        (at ``base_url`` when it serves from another process)."""
        base = base_url or self.base_url
        blocks = dict(current)
        for service in self.services:
            blocks[service.name] = blocks[service.name].with_values(**service.settings_values(base))
        return blocks

    def environment(self, base_url: str | None = None) -> dict[str, str]:
        """The same, as the environment variables of another process."""
        base = base_url or self.base_url
        return {
            provider_entry(service.name).env_prefix + field: value
            for service in self.services
            for field, value in service.settings_values(base).items()
        }

    # --- controlling the providers ----------------------------------------------------------

    def fault(self, path: str, status: int = 500, body: Any = None, **options: Any) -> Fault:
        fault = Fault(path=path, status=status, body=body, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def hold(self, path: str, *, timeout_seconds: float = 30.0) -> Hold:
        """Hold requests under ``path`` until the returned hold is released."""
        hold = Hold(path=path, timeout_seconds=timeout_seconds)
        with self.lock:
            self.holds.append(hold)
        return hold

    def revoke_grants(self) -> None:
        """The user revoked the app at every service."""
        for service in self.services:
            service.revoke_grants()

    def issue(self, secret: str) -> str:
        """Record a token, code or session key a stand-in hands out."""
        with self.lock:
            self._issued.add(secret)
        return secret

    def issued_secrets(self) -> set[str]:
        """Every token, code and session key handed out (to prove none leaks)."""
        with self.lock:
            return set(self._issued)

    def paths(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [path for _, path, _ in self.requests if path.startswith(prefix)]

    # --- used by the handler -----------------------------------------------------------------

    def _wait_if_held(self, path: str) -> None:
        with self.lock:
            holds = [hold for hold in self.holds if path.startswith(hold.path)]
        for hold in holds:
            hold.arrived.set()
            hold.released.wait(hold.timeout_seconds)

    def _take_fault(self, path: str, query: dict[str, str]) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times <= 0 or not path.startswith(fault.path):
                    continue
                if fault.method is not None and query.get("method") != fault.method:
                    continue
                fault.times -= 1
                return fault
        return None

    def _answer(self, request: Request, reply: Reply) -> None:
        for service in self.services:
            for root in service.roots:
                if request.path.startswith(root.rstrip("/")):
                    below = request.path[len(root.rstrip("/")) :] or "/"
                    self._wait_if_held(below)
                    fault = self._take_fault(below, request.query)
                    if fault is not None:
                        _serve_fault(fault, reply)
                        return
                    service.answer(request, reply)
                    return
        reply.json(404, {"error": {"status": 404, "message": "Service not found"}})


def _serve_fault(fault: Fault, reply: Reply) -> None:
    if fault.delay_seconds:
        time.sleep(fault.delay_seconds)
    body = fault.body
    reply.send(
        fault.status, body if isinstance(body, bytes) else json.dumps(body).encode(), fault.headers
    )


class _Server(ThreadingHTTPServer):
    standin: StandInServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services offer
    # Headers and body leave in separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK hold every answer ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the tests read ``requests`` instead

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        state = self.server.standin
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode())) if length else {}
        request = Request(method, parts.path, query, form, self.headers)
        with state.lock:
            state.requests.append((method, parts.path, query))
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            if state.latency_seconds:
                time.sleep(state.latency_seconds)
            state._answer(request, Reply(self))
        except BrokenPipeError:
            return
        finally:
            with state.lock:
                state.in_flight -= 1
