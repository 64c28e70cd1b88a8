"""A stand-in for Spotify and Last.fm: a real HTTP server on loopback speaking their documented
APIs, with faults injected per path (musicbud/connections/README.md); used by the test suite (a
fixture starts it on a free port) and by ``manage.py sync_bench``."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

SPOTIFY_ACCOUNTS = "/spotify-accounts"
SPOTIFY_API = "/spotify/v1"
LASTFM_API = "/lastfm/2.0/"
LASTFM_AUTH = "/lastfm/auth/"


@dataclass
class Fault:
    """An answer served instead of the real one, ``times`` times, for requests whose path
    (after the service's root) starts with ``path`` (and whose Last.fm ``method`` matches)."""

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


@dataclass
class SpotifyLibrary:
    """One Spotify user's data, as Web API objects."""

    user_id: str = "standin-user"
    display_name: str = "Stand-in User"
    saved_tracks: list[dict[str, Any]] = field(default_factory=list)  # track objects
    saved_albums: list[dict[str, Any]] = field(default_factory=list)  # album objects
    followed_artists: list[dict[str, Any]] = field(default_factory=list)  # artist objects
    top_tracks: list[dict[str, Any]] = field(default_factory=list)
    top_artists: list[dict[str, Any]] = field(default_factory=list)
    # {"track": track object, "played_at": ISO 8601}, most recent first
    recently_played: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LastfmLibrary:
    """One Last.fm user's data: lists of simple dicts turned into Last.fm's JSON on answer."""

    username: str = "standin-lastfm"
    realname: str = "Stand-in Scrobbler"
    # {"name", "mbid"}; top lists in rank order
    top_artists: list[dict[str, str]] = field(default_factory=list)
    # {"name", "mbid", "artist", "artist_mbid"}
    top_tracks: list[dict[str, str]] = field(default_factory=list)
    loved_tracks: list[dict[str, str]] = field(default_factory=list)
    # {"name", "mbid", "artist", "artist_mbid", "album", "uts"}, most recent first
    recent_tracks: list[dict[str, str]] = field(default_factory=list)
    now_playing: dict[str, str] | None = None


@dataclass
class _Code:
    challenge: str
    redirect_uri: str


class ProviderStandIn:
    """The server and its state. ``start()`` binds a free loopback port; ``stop()`` ends it."""

    def __init__(
        self,
        *,
        spotify_client_id: str = "standin-client",
        spotify_client_secret: str = "standin-client-secret-0123456789",  # noqa: S107
        lastfm_api_key: str = "standin-lastfm-key",
        lastfm_api_secret: str = "standin-lastfm-secret-0123456789",  # noqa: S107
        access_token_ttl: int = 3600,
        latency_seconds: float = 0.0,
    ) -> None:
        self.spotify_client_id = spotify_client_id
        self.spotify_client_secret = spotify_client_secret
        self.lastfm_api_key = lastfm_api_key
        self.lastfm_api_secret = lastfm_api_secret
        self.access_token_ttl = access_token_ttl
        # Added to every answer, as a real service's round trip would be.
        self.latency_seconds = latency_seconds
        self.spotify = SpotifyLibrary()
        self.lastfm = LastfmLibrary()
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        # (method, path, query) of every request, in order.
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # Requests being answered now, and the most there ever were at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        self._codes: dict[str, _Code] = {}
        self._access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self._refresh_tokens: set[str] = set()
        self._lastfm_tokens: set[str] = set()  # authorized by the user, not yet exchanged
        self._lastfm_sessions: set[str] = set()
        self._issued: set[str] = set()  # every secret ever handed out
        self._expire_after: int | None = None  # Spotify API requests until tokens expire
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> ProviderStandIn:
        standin = self

        class Handler(_Handler):
            state = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            for hold in self.holds:
                hold.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ProviderStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"  # noqa: S101
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def settings(self, base_url: str | None = None) -> dict[str, str]:
        """The project settings that point both providers at this server (at ``base_url``
        when it serves from another process)."""
        base = base_url or self.base_url
        return {
            "SPOTIFY_CLIENT_ID": self.spotify_client_id,
            "SPOTIFY_CLIENT_SECRET": self.spotify_client_secret,
            "SPOTIFY_ACCOUNTS_URL": base + SPOTIFY_ACCOUNTS,
            "SPOTIFY_API_URL": base + SPOTIFY_API,
            "LASTFM_API_KEY": self.lastfm_api_key,
            "LASTFM_API_SECRET": self.lastfm_api_secret,
            "LASTFM_API_URL": base + LASTFM_API,
            "LASTFM_AUTH_URL": base + LASTFM_AUTH,
        }

    # --- controlling the provider ------------------------------------------------------------

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

    def expire_access_tokens(self, *, after: int = 0) -> None:
        """Every access token issued so far is expired (refresh tokens still work): now, or
        once ``after`` more Spotify API requests have been answered (expiry mid-sync)."""
        with self.lock:
            if after:
                self._expire_after = after
                return
            for token in self._access_tokens:
                self._access_tokens[token] = 0.0

    def revoke_grants(self) -> None:
        """The user revoked the app: refresh tokens, access tokens and sessions all refused."""
        with self.lock:
            self._refresh_tokens.clear()
            self._access_tokens.clear()
            self._lastfm_sessions.clear()

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

    def _issue_tokens(self) -> dict[str, Any]:
        access = "sa-" + secrets.token_urlsafe(24)
        refresh = "sr-" + secrets.token_urlsafe(24)
        with self.lock:
            self._access_tokens[access] = time.time() + self.access_token_ttl
            self._refresh_tokens.add(refresh)
            self._issued |= {access, refresh}
        return {
            "access_token": access,
            "token_type": "Bearer",
            "scope": "user-top-read user-library-read user-follow-read user-read-recently-played",
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
        }


class _Handler(BaseHTTPRequestHandler):
    state: ProviderStandIn
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services offer
    # Headers and body leave in separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK hold every answer ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the tests read ``state.requests`` instead

    # --- plumbing ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode())) if length else {}
        path = parts.path
        with self.state.lock:
            self.state.requests.append((method, path, query))
            self.state.in_flight += 1
            self.state.peak_in_flight = max(self.state.peak_in_flight, self.state.in_flight)
        try:
            if self.state.latency_seconds:
                time.sleep(self.state.latency_seconds)
            self._answer(method, path, query, form)
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _answer(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> None:
        for root in (SPOTIFY_ACCOUNTS, SPOTIFY_API, LASTFM_API, LASTFM_AUTH):
            if path.startswith(root.rstrip("/")):
                below = path[len(root.rstrip("/")) :] or "/"
                self.state._wait_if_held(below)
                fault = self.state._take_fault(below, query)
                if fault is not None:
                    self._serve_fault(fault)
                    return
        try:
            if path == SPOTIFY_ACCOUNTS + "/authorize":
                self._spotify_authorize(query)
            elif path == SPOTIFY_ACCOUNTS + "/api/token" and method == "POST":
                self._spotify_token(form)
            elif path.startswith(SPOTIFY_API + "/"):
                self._spotify_api(path[len(SPOTIFY_API) :], query)
            elif path == LASTFM_AUTH.rstrip("/") or path == LASTFM_AUTH:
                self._lastfm_authorize(query)
            elif path == LASTFM_API or path == LASTFM_API.rstrip("/"):
                self._lastfm_api(query)
            else:
                self._json(404, {"error": {"status": 404, "message": "Service not found"}})
        except BrokenPipeError:
            return

    def _serve_fault(self, fault: Fault) -> None:
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        body = fault.body
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._send(fault.status, raw, fault.headers)

    def _send(self, status: int, raw: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode())

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # --- Spotify accounts ------------------------------------------------------------------

    def _spotify_authorize(self, query: dict[str, str]) -> None:
        state = self.state
        if query.get("client_id") != state.spotify_client_id:
            self._json(400, {"error": "invalid_client", "error_description": "Invalid client"})
            return
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            self._json(400, {"error": "invalid_request", "error_description": "Bad request"})
            return
        redirect = query.get("redirect_uri", "")
        answer: dict[str, str] = {"state": query.get("state", "")}
        if query.get("deny") == "1":  # the user pressed "cancel"
            answer["error"] = "access_denied"
        else:
            code = "sc-" + secrets.token_urlsafe(24)
            with state.lock:
                state._codes[code] = _Code(query.get("code_challenge", ""), redirect)
                state._issued.add(code)
            answer["code"] = code
        self._redirect(f"{redirect}?{urlencode(answer)}")

    def _spotify_token(self, form: dict[str, str]) -> None:
        state = self.state
        header = self.headers.get("Authorization", "")
        expected = base64.b64encode(
            f"{state.spotify_client_id}:{state.spotify_client_secret}".encode()
        ).decode()
        if header != f"Basic {expected}":
            self._json(400, {"error": "invalid_client", "error_description": "Invalid client"})
            return
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with state.lock:
                code = state._codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if code is None or code.redirect_uri != form.get("redirect_uri"):
                self._json(
                    400,
                    {"error": "invalid_grant", "error_description": "Invalid authorization code"},
                )
                return
            if challenge != code.challenge:
                self._json(
                    400,
                    {"error": "invalid_grant", "error_description": "code_verifier was incorrect"},
                )
                return
            self._json(200, state._issue_tokens())
            return
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            with state.lock:
                known = refresh in state._refresh_tokens
            if not known:
                self._json(
                    400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}
                )
                return
            tokens = state._issue_tokens()
            with state.lock:  # Spotify may keep the refresh token: this stand-in does
                state._refresh_tokens.discard(tokens.pop("refresh_token"))
            self._json(200, tokens)
            return
        self._json(400, {"error": "unsupported_grant_type", "error_description": str(grant)})

    # --- Spotify Web API -------------------------------------------------------------------

    def _spotify_api(self, path: str, query: dict[str, str]) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        with self.state.lock:
            if self.state._expire_after == 0:
                self.state._expire_after = None
                for issued in self.state._access_tokens:
                    self.state._access_tokens[issued] = 0.0
            elif self.state._expire_after is not None:
                self.state._expire_after -= 1
            expiry = self.state._access_tokens.get(token)
        if expiry is None:
            self._json(401, {"error": {"status": 401, "message": "Invalid access token"}})
            return
        if expiry < time.time():
            self._json(401, {"error": {"status": 401, "message": "The access token expired"}})
            return
        library = self.state.spotify
        url = self.state.base_url + SPOTIFY_API + path
        if path == "/me":
            self._json(
                200,
                {
                    "id": library.user_id,
                    "display_name": library.display_name,
                    "type": "user",
                    "uri": f"spotify:user:{library.user_id}",
                    "images": [],
                },
            )
        elif path == "/me/tracks":
            self._json(200, _offset_page(url, query, library.saved_tracks, _saved("track")))
        elif path == "/me/albums":
            self._json(200, _offset_page(url, query, library.saved_albums, _saved("album")))
        elif path == "/me/following" and query.get("type") == "artist":
            self._json(200, {"artists": _after_page(url, query, library.followed_artists)})
        elif path == "/me/top/tracks":
            self._json(200, _offset_page(url, query, library.top_tracks))
        elif path == "/me/top/artists":
            self._json(200, _offset_page(url, query, library.top_artists))
        elif path == "/me/player/recently-played":
            self._json(200, _before_page(url, query, library.recently_played))
        else:
            self._json(404, {"error": {"status": 404, "message": "Service not found"}})

    # --- Last.fm ---------------------------------------------------------------------------

    def _lastfm_authorize(self, query: dict[str, str]) -> None:
        if query.get("api_key") != self.state.lastfm_api_key:
            self._json(403, {"error": 10, "message": "Invalid API key"})
            return
        token = "lt-" + secrets.token_hex(16)
        with self.state.lock:
            self.state._lastfm_tokens.add(token)
            self.state._issued.add(token)
        callback = query.get("cb", "")
        joiner = "&" if "?" in callback else "?"
        self._redirect(f"{callback}{joiner}{urlencode({'token': token})}")

    def _lastfm_api(self, query: dict[str, str]) -> None:
        state = self.state
        if query.get("api_key") != state.lastfm_api_key:
            self._json(
                403,
                {
                    "error": 10,
                    "message": "Invalid API key - You must be granted a valid key by last.fm",
                },
            )
            return
        method = query.get("method", "").lower()
        if method == "auth.getsession":
            self._lastfm_session(query)
            return
        session = query.get("sk")
        if session is not None:
            with state.lock:
                valid = session in state._lastfm_sessions
            if not valid:
                self._json(
                    403, {"error": 9, "message": "Invalid session key - Please re-authenticate"}
                )
                return
        library = state.lastfm
        if query.get("user", "").lower() != library.username.lower():
            self._json(404, {"error": 6, "message": "User not found"})
            return
        page = int(query.get("page") or 1)
        limit = int(query.get("limit") or 50)
        user = library.username
        if method == "user.getinfo":
            self._json(
                200,
                {
                    "user": {
                        "name": user,
                        "realname": library.realname,
                        "url": f"https://www.last.fm/user/{user}",
                        "image": [],
                        "playcount": str(len(library.recent_tracks)),
                    }
                },
            )
        elif method == "user.gettopartists":
            rows = [
                {**_lastfm_artist(a), "playcount": "10", "@attr": {"rank": str(rank)}}
                for rank, a in enumerate(library.top_artists, start=1)
            ]
            self._json(200, _lastfm_page("topartists", "artist", rows, user, page, limit))
        elif method == "user.gettoptracks":
            rows = [
                {**_lastfm_track(t), "playcount": "5", "@attr": {"rank": str(rank)}}
                for rank, t in enumerate(library.top_tracks, start=1)
            ]
            self._json(200, _lastfm_page("toptracks", "track", rows, user, page, limit))
        elif method == "user.getlovedtracks":
            rows = [
                {**_lastfm_track(t), "date": {"uts": "1767225600", "#text": "01 Jan 2026, 00:00"}}
                for t in library.loved_tracks
            ]
            self._json(200, _lastfm_page("lovedtracks", "track", rows, user, page, limit))
        elif method == "user.getrecenttracks":
            rows = [_lastfm_scrobble(t) for t in library.recent_tracks]
            answer = _lastfm_page("recenttracks", "track", rows, user, page, limit)
            if library.now_playing is not None and page == 1:
                playing = _lastfm_scrobble(library.now_playing)
                playing.pop("date")
                playing["@attr"] = {"nowplaying": "true"}
                answer["recenttracks"]["track"].insert(0, playing)
            self._json(200, answer)
        else:
            self._json(400, {"error": 3, "message": "Invalid Method - No method with that name"})

    def _lastfm_session(self, query: dict[str, str]) -> None:
        state = self.state
        signed = {k: v for k, v in query.items() if k not in ("format", "callback", "api_sig")}
        text = "".join(key + value for key, value in sorted(signed.items()))
        expected = hashlib.md5(  # noqa: S324 - Last.fm's documented signature
            (text + state.lastfm_api_secret).encode()
        ).hexdigest()
        if query.get("api_sig") != expected:
            self._json(403, {"error": 13, "message": "Invalid method signature supplied"})
            return
        token = query.get("token", "")
        with state.lock:
            authorized = token in state._lastfm_tokens
            state._lastfm_tokens.discard(token)
        if not authorized:
            self._json(
                403,
                {"error": 14, "message": "Unauthorized Token - This token has not been authorized"},
            )
            return
        key = "lk-" + secrets.token_hex(16)
        with state.lock:
            state._lastfm_sessions.add(key)
            state._issued.add(key)
        self._json(200, {"session": {"name": state.lastfm.username, "key": key, "subscriber": 0}})


# --- answer shapes --------------------------------------------------------------------------


def _with_query(url: str, **params: Any) -> str:
    return f"{url}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def _saved(key: str) -> Callable[[Any], dict[str, Any]]:
    """A saved track or album as Spotify lists it: when it was saved, and the object."""
    return lambda item: {"added_at": "2026-01-01T00:00:00Z", key: item}


def _offset_page(
    url: str,
    query: dict[str, str],
    items: list[Any],
    wrap: Callable[[Any], Any] = lambda item: item,
) -> dict[str, Any]:
    """Spotify's paging object: offset/limit, with ``next`` and ``previous`` links (``wrap``
    shapes only the items on the page)."""
    limit = min(int(query.get("limit") or 20), 50)
    offset = int(query.get("offset") or 0)
    extra = {k: v for k, v in query.items() if k not in ("limit", "offset")}
    end = offset + limit
    return {
        "href": _with_query(url, **extra, offset=offset, limit=limit),
        "items": [wrap(item) for item in items[offset:end]],
        "limit": limit,
        "next": _with_query(url, **extra, offset=end, limit=limit) if end < len(items) else None,
        "offset": offset,
        "previous": (
            _with_query(url, **extra, offset=max(0, offset - limit), limit=limit)
            if offset
            else None
        ),
        "total": len(items),
    }


def _after_page(url: str, query: dict[str, str], artists: list[Any]) -> dict[str, Any]:
    """The cursor paging object of ``/me/following``: ``after`` is the last artist id seen."""
    limit = min(int(query.get("limit") or 20), 50)
    after = query.get("after")
    start = 0
    if after:
        ids = [artist["id"] for artist in artists]
        start = ids.index(after) + 1 if after in ids else len(artists)
    page = artists[start : start + limit]
    more = start + limit < len(artists)
    cursor = page[-1]["id"] if page and more else None
    return {
        "href": _with_query(url, type="artist", limit=limit, after=after),
        "items": page,
        "limit": limit,
        "next": _with_query(url, type="artist", limit=limit, after=cursor) if more else None,
        "cursors": {"after": cursor},
        "total": len(artists),
    }


def _before_page(url: str, query: dict[str, str], plays: list[Any]) -> dict[str, Any]:
    """Recently played: cursor paging by ``before`` (milliseconds), most recent first."""
    limit = min(int(query.get("limit") or 20), 50)
    before = int(query["before"]) if query.get("before") else None

    def millis(play: dict[str, Any]) -> int:
        stamp = datetime.fromisoformat(play["played_at"].replace("Z", "+00:00"))
        return int(stamp.timestamp() * 1000)

    older = [play for play in plays if before is None or millis(play) < before]
    page = older[:limit]
    more = len(older) > limit
    cursor = str(millis(page[-1])) if page else None
    return {
        "href": _with_query(url, limit=limit, before=before),
        "items": [{**play, "context": None} for play in page],
        "limit": limit,
        "next": _with_query(url, limit=limit, before=cursor) if more else None,
        "cursors": {"after": str(millis(page[0])) if page else None, "before": cursor},
        "total": None,
    }


def _lastfm_image(name: str) -> list[dict[str, str]]:
    slug = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:12]
    return [
        {"#text": f"https://lastfm.example/i/{size}/{slug}.png", "size": size}
        for size in ("small", "medium", "large")
    ]


def _lastfm_artist(artist: dict[str, str]) -> dict[str, Any]:
    return {
        "name": artist["name"],
        "mbid": artist.get("mbid", ""),
        "url": f"https://www.last.fm/music/{artist['name']}",
        "streamable": "0",
        "image": _lastfm_image(artist["name"]),
    }


def _lastfm_track(track: dict[str, str]) -> dict[str, Any]:
    return {
        "name": track["name"],
        "mbid": track.get("mbid", ""),
        "url": f"https://www.last.fm/music/{track['artist']}/_/{track['name']}",
        "artist": {
            "name": track["artist"],
            "mbid": track.get("artist_mbid", ""),
            "url": f"https://www.last.fm/music/{track['artist']}",
        },
        "image": _lastfm_image(track["name"]),
    }


def _lastfm_scrobble(track: dict[str, str]) -> dict[str, Any]:
    uts = int(track.get("uts") or 1767225600)
    return {
        "artist": {"mbid": track.get("artist_mbid", ""), "#text": track["artist"]},
        "name": track["name"],
        "mbid": track.get("mbid", ""),
        "album": {"mbid": "", "#text": track.get("album", "")},
        "url": f"https://www.last.fm/music/{track['artist']}/_/{track['name']}",
        "image": _lastfm_image(track["name"]),
        "date": {
            "uts": str(uts),
            "#text": datetime.fromtimestamp(uts, tz=UTC).strftime("%d %b %Y, %H:%M"),
        },
    }


def _lastfm_page(
    container: str, key: str, rows: list[Any], user: str, page: int, limit: int
) -> dict[str, Any]:
    total_pages = max(1, -(-len(rows) // limit))
    chunk = rows[(page - 1) * limit : page * limit]
    return {
        container: {
            key: chunk,
            "@attr": {
                "user": user,
                "totalPages": str(total_pages),
                "page": str(page),
                "perPage": str(limit),
                "total": str(len(rows)),
            },
        }
    }


# --- libraries to serve ---------------------------------------------------------------------


def spotify_artist(index: int, *, genres: tuple[str, ...] = (), prefix: str = "") -> dict[str, Any]:
    artist_id = f"{prefix}art{index:06d}"
    return {
        "id": artist_id,
        "name": f"Artist {index}{f' ({prefix})' if prefix else ''}",
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
        "genres": list(genres),
        "images": [{"url": f"https://i.example/{artist_id}.jpg", "width": 640, "height": 640}],
        "popularity": 50,
    }


def spotify_album(index: int, artist: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    album_id = f"{prefix}alb{index:06d}"
    return {
        "id": album_id,
        "name": f"Album {index}{f' ({prefix})' if prefix else ''}",
        "type": "album",
        "album_type": "album",
        "release_date": f"{2000 + index % 25}-01-01",
        "release_date_precision": "day",
        "images": [
            {"url": f"https://i.example/{album_id}-640.jpg", "width": 640, "height": 640},
            {"url": f"https://i.example/{album_id}-64.jpg", "width": 64, "height": 64},
        ],
        "artists": [{k: artist[k] for k in ("id", "name", "type", "uri")}],
    }


def spotify_track(index: int, album: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    track_id = f"{prefix}trk{index:06d}"
    return {
        "id": track_id,
        "name": f"Track {index}{f' ({prefix})' if prefix else ''}",
        "type": "track",
        "uri": f"spotify:track:{track_id}",
        "duration_ms": 180_000 + index % 60_000,
        "external_ids": {"isrc": f"XX{index:010d}"},
        "album": album,
        "artists": album["artists"],
    }


GENRES = ("indie rock", "shoegaze", "dream pop", "post-punk", "synthpop", "jazz", "ambient")


def spotify_library(
    *,
    saved_tracks: int,
    saved_albums: int = 0,
    followed_artists: int = 0,
    top_tracks: int = 0,
    top_artists: int = 0,
    recent_plays: int = 0,
    tracks_per_album: int = 10,
    albums_per_artist: int = 5,
    prefix: str = "",
) -> SpotifyLibrary:
    """A generated library: ``saved_tracks`` tracks on albums of ``tracks_per_album``, by
    artists of ``albums_per_artist`` albums each; the other lists drawn from those. Ids start
    with ``prefix`` (a benchmark run's catalogue apart from earlier runs')."""
    artist_count = max(1, -(-max(saved_tracks, 1) // (tracks_per_album * albums_per_artist)))
    artist_count = max(artist_count, followed_artists, top_artists)
    artists = [
        spotify_artist(
            i, genres=(GENRES[i % len(GENRES)], GENRES[(i * 3 + 1) % len(GENRES)]), prefix=prefix
        )
        for i in range(artist_count)
    ]
    album_count = max(1, -(-max(saved_tracks, 1) // tracks_per_album), saved_albums)
    albums = [
        spotify_album(i, artists[(i // albums_per_artist) % artist_count], prefix=prefix)
        for i in range(album_count)
    ]
    tracks = [
        spotify_track(i, albums[i // tracks_per_album % album_count], prefix=prefix)
        for i in range(max(saved_tracks, top_tracks, recent_plays and 1))
    ]
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    plays = [
        {
            "track": tracks[i % min(len(tracks), 20)],
            "played_at": (start - timedelta(minutes=4 * i)).isoformat().replace("+00:00", "Z"),
        }
        for i in range(recent_plays)
    ]
    return SpotifyLibrary(
        saved_tracks=tracks[:saved_tracks],
        saved_albums=albums[:saved_albums],
        followed_artists=artists[:followed_artists],
        top_tracks=tracks[:top_tracks],
        top_artists=artists[:top_artists],
        recently_played=plays,
    )
