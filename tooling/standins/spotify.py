"""Spotify's stand-in: the accounts service (``/authorize``, ``/api/token`` with PKCE and the
refresh grant) and the Web API's paging objects, from a library of Web API objects; and the
libraries to serve (``spotify_library`` generates one of any size)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tooling.standins.server import Reply, Request, ServiceStandIn

ACCOUNTS = "/spotify-accounts"
API = "/spotify/v1"
SCOPES = "user-top-read user-library-read user-follow-read user-read-recently-played"


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
class _Code:
    challenge: str
    redirect_uri: str


class SpotifyStandIn(ServiceStandIn):
    name = "spotify"
    roots = (ACCOUNTS, API)

    def __init__(
        self,
        *,
        client_id: str = "standin-client",
        client_secret: str = "standin-client-secret-0123456789",  # noqa: S107
        access_token_ttl: int = 3600,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.library = SpotifyLibrary()
        self._codes: dict[str, _Code] = {}
        self._access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self._refresh_tokens: set[str] = set()
        self._expire_after: int | None = None  # API requests until tokens expire

    def settings_values(self, base_url: str) -> dict[str, str]:
        return {
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "ACCOUNTS_URL": base_url + ACCOUNTS,
            "API_URL": base_url + API,
        }

    def expire_access_tokens(self, *, after: int = 0) -> None:
        """Every access token issued so far is expired (refresh tokens still work): now, or
        once ``after`` more API requests have been answered (expiry mid-sync)."""
        with self.server.lock:
            if after:
                self._expire_after = after
                return
            for token in self._access_tokens:
                self._access_tokens[token] = 0.0

    def revoke_grants(self) -> None:
        with self.server.lock:
            self._refresh_tokens.clear()
            self._access_tokens.clear()

    def answer(self, request: Request, reply: Reply) -> None:
        path = request.path
        if path == ACCOUNTS + "/authorize":
            self._authorize(request.query, reply)
        elif path == ACCOUNTS + "/api/token" and request.method == "POST":
            self._token(request, reply)
        elif path.startswith(API + "/"):
            self._api(request, path[len(API) :], reply)
        else:
            reply.json(404, {"error": {"status": 404, "message": "Service not found"}})

    # --- accounts ----------------------------------------------------------------------------

    def _authorize(self, query: dict[str, str], reply: Reply) -> None:
        if query.get("client_id") != self.client_id:
            reply.json(400, {"error": "invalid_client", "error_description": "Invalid client"})
            return
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            reply.json(400, {"error": "invalid_request", "error_description": "Bad request"})
            return
        redirect = query.get("redirect_uri", "")
        answer: dict[str, str] = {"state": query.get("state", "")}
        if query.get("deny") == "1":  # the user pressed "cancel"
            answer["error"] = "access_denied"
        else:
            code = self.server.issue("sc-" + secrets.token_urlsafe(24))
            with self.server.lock:
                self._codes[code] = _Code(query.get("code_challenge", ""), redirect)
            answer["code"] = code
        reply.redirect(f"{redirect}?{urlencode(answer)}")

    def _token(self, request: Request, reply: Reply) -> None:
        form = request.form
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization", "") != f"Basic {expected}":
            reply.json(400, {"error": "invalid_client", "error_description": "Invalid client"})
            return
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.server.lock:
                code = self._codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if code is None or code.redirect_uri != form.get("redirect_uri"):
                reply.json(
                    400,
                    {"error": "invalid_grant", "error_description": "Invalid authorization code"},
                )
                return
            if challenge != code.challenge:
                reply.json(
                    400,
                    {"error": "invalid_grant", "error_description": "code_verifier was incorrect"},
                )
                return
            reply.json(200, self._issue_tokens())
            return
        if grant == "refresh_token":
            with self.server.lock:
                known = form.get("refresh_token", "") in self._refresh_tokens
            if not known:
                reply.json(
                    400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}
                )
                return
            tokens = self._issue_tokens()
            with self.server.lock:  # Spotify may keep the refresh token: this stand-in does
                self._refresh_tokens.discard(tokens.pop("refresh_token"))
            reply.json(200, tokens)
            return
        reply.json(400, {"error": "unsupported_grant_type", "error_description": str(grant)})

    def _issue_tokens(self) -> dict[str, Any]:
        access = self.server.issue("sa-" + secrets.token_urlsafe(24))
        refresh = self.server.issue("sr-" + secrets.token_urlsafe(24))
        with self.server.lock:
            self._access_tokens[access] = time.time() + self.access_token_ttl
            self._refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "scope": SCOPES,
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
        }

    # --- the Web API -------------------------------------------------------------------------

    def _token_expiry(self, token: str) -> float | None:
        with self.server.lock:
            if self._expire_after == 0:
                self._expire_after = None
                for issued in self._access_tokens:
                    self._access_tokens[issued] = 0.0
            elif self._expire_after is not None:
                self._expire_after -= 1
            return self._access_tokens.get(token)

    def _api(self, request: Request, path: str, reply: Reply) -> None:
        expiry = self._token_expiry(
            request.headers.get("Authorization", "").removeprefix("Bearer ")
        )
        if expiry is None:
            reply.json(401, {"error": {"status": 401, "message": "Invalid access token"}})
            return
        if expiry < time.time():
            reply.json(401, {"error": {"status": 401, "message": "The access token expired"}})
            return
        library, query = self.library, request.query
        url = self.server.base_url + API + path
        if path == "/me":
            reply.json(
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
            reply.json(200, offset_page(url, query, library.saved_tracks, _saved("track")))
        elif path == "/me/albums":
            reply.json(200, offset_page(url, query, library.saved_albums, _saved("album")))
        elif path == "/me/following" and query.get("type") == "artist":
            reply.json(200, {"artists": after_page(url, query, library.followed_artists)})
        elif path == "/me/top/tracks":
            reply.json(200, offset_page(url, query, library.top_tracks))
        elif path == "/me/top/artists":
            reply.json(200, offset_page(url, query, library.top_artists))
        elif path == "/me/player/recently-played":
            reply.json(200, before_page(url, query, library.recently_played))
        else:
            reply.json(404, {"error": {"status": 404, "message": "Service not found"}})


# --- answer shapes --------------------------------------------------------------------------


def _with_query(url: str, **params: Any) -> str:
    return f"{url}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def _saved(key: str) -> Callable[[Any], dict[str, Any]]:
    """A saved track or album as Spotify lists it: when it was saved, and the object."""
    return lambda item: {"added_at": "2026-01-01T00:00:00Z", key: item}


def offset_page(
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


def after_page(url: str, query: dict[str, str], artists: list[Any]) -> dict[str, Any]:
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


def before_page(url: str, query: dict[str, str], plays: list[Any]) -> dict[str, Any]:
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
