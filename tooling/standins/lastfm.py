"""Last.fm's stand-in: its web authentication redirect, ``auth.getSession`` with its signature
checked, and the ``user.*`` methods with ``@attr`` paging and Last.fm's error bodies, from a
library of simple dicts."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tooling.standins.server import Reply, Request, ServiceStandIn

API = "/lastfm/2.0/"
AUTH = "/lastfm/auth/"


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


class LastfmStandIn(ServiceStandIn):
    name = "lastfm"
    roots = (API, AUTH)

    def __init__(
        self,
        *,
        api_key: str = "standin-lastfm-key",
        api_secret: str = "standin-lastfm-secret-0123456789",  # noqa: S107
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.api_secret = api_secret
        self.library = LastfmLibrary()
        self._tokens: set[str] = set()  # authorized by the user, not yet exchanged
        self._sessions: set[str] = set()

    def settings_values(self, base_url: str) -> dict[str, str]:
        return {
            "API_KEY": self.api_key,
            "API_SECRET": self.api_secret,
            "API_URL": base_url + API,
            "AUTH_URL": base_url + AUTH,
        }

    def revoke_grants(self) -> None:
        with self.server.lock:
            self._sessions.clear()

    def answer(self, request: Request, reply: Reply) -> None:
        if request.path in (AUTH, AUTH.rstrip("/")):
            self._authorize(request.query, reply)
        elif request.path in (API, API.rstrip("/")):
            self._api(request.query, reply)
        else:
            reply.json(404, {"error": {"status": 404, "message": "Service not found"}})

    def _authorize(self, query: dict[str, str], reply: Reply) -> None:
        if query.get("api_key") != self.api_key:
            reply.json(403, {"error": 10, "message": "Invalid API key"})
            return
        token = self.server.issue("lt-" + secrets.token_hex(16))
        with self.server.lock:
            self._tokens.add(token)
        callback = query.get("cb", "")
        joiner = "&" if "?" in callback else "?"
        reply.redirect(f"{callback}{joiner}{urlencode({'token': token})}")

    def _api(self, query: dict[str, str], reply: Reply) -> None:
        if query.get("api_key") != self.api_key:
            reply.json(
                403,
                {
                    "error": 10,
                    "message": "Invalid API key - You must be granted a valid key by last.fm",
                },
            )
            return
        method = query.get("method", "").lower()
        if method == "auth.getsession":
            self._session(query, reply)
            return
        session = query.get("sk")
        if session is not None:
            with self.server.lock:
                valid = session in self._sessions
            if not valid:
                reply.json(
                    403, {"error": 9, "message": "Invalid session key - Please re-authenticate"}
                )
                return
        library = self.library
        if query.get("user", "").lower() != library.username.lower():
            reply.json(404, {"error": 6, "message": "User not found"})
            return
        page = int(query.get("page") or 1)
        limit = int(query.get("limit") or 50)
        user = library.username
        if method == "user.getinfo":
            reply.json(
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
                {**_artist(a), "playcount": "10", "@attr": {"rank": str(rank)}}
                for rank, a in enumerate(library.top_artists, start=1)
            ]
            reply.json(200, _page("topartists", "artist", rows, user, page, limit))
        elif method == "user.gettoptracks":
            rows = [
                {**_track(t), "playcount": "5", "@attr": {"rank": str(rank)}}
                for rank, t in enumerate(library.top_tracks, start=1)
            ]
            reply.json(200, _page("toptracks", "track", rows, user, page, limit))
        elif method == "user.getlovedtracks":
            rows = [
                {**_track(t), "date": {"uts": "1767225600", "#text": "01 Jan 2026, 00:00"}}
                for t in library.loved_tracks
            ]
            reply.json(200, _page("lovedtracks", "track", rows, user, page, limit))
        elif method == "user.getrecenttracks":
            rows = [_scrobble(t) for t in library.recent_tracks]
            answer = _page("recenttracks", "track", rows, user, page, limit)
            if library.now_playing is not None and page == 1:
                playing = _scrobble(library.now_playing)
                playing.pop("date")
                playing["@attr"] = {"nowplaying": "true"}
                answer["recenttracks"]["track"].insert(0, playing)
            reply.json(200, answer)
        else:
            reply.json(400, {"error": 3, "message": "Invalid Method - No method with that name"})

    def _session(self, query: dict[str, str], reply: Reply) -> None:
        signed = {k: v for k, v in query.items() if k not in ("format", "callback", "api_sig")}
        text = "".join(key + value for key, value in sorted(signed.items()))
        expected = hashlib.md5(  # noqa: S324 - Last.fm's documented signature
            (text + self.api_secret).encode()
        ).hexdigest()
        if query.get("api_sig") != expected:
            reply.json(403, {"error": 13, "message": "Invalid method signature supplied"})
            return
        token = query.get("token", "")
        with self.server.lock:
            authorized = token in self._tokens
            self._tokens.discard(token)
        if not authorized:
            reply.json(
                403,
                {"error": 14, "message": "Unauthorized Token - This token has not been authorized"},
            )
            return
        key = self.server.issue("lk-" + secrets.token_hex(16))
        with self.server.lock:
            self._sessions.add(key)
        reply.json(200, {"session": {"name": self.library.username, "key": key, "subscriber": 0}})


# --- answer shapes --------------------------------------------------------------------------


def _image(name: str) -> list[dict[str, str]]:
    slug = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:12]
    return [
        {"#text": f"https://lastfm.example/i/{size}/{slug}.png", "size": size}
        for size in ("small", "medium", "large")
    ]


def _artist(artist: dict[str, str]) -> dict[str, Any]:
    return {
        "name": artist["name"],
        "mbid": artist.get("mbid", ""),
        "url": f"https://www.last.fm/music/{artist['name']}",
        "streamable": "0",
        "image": _image(artist["name"]),
    }


def _track(track: dict[str, str]) -> dict[str, Any]:
    return {
        "name": track["name"],
        "mbid": track.get("mbid", ""),
        "url": f"https://www.last.fm/music/{track['artist']}/_/{track['name']}",
        "artist": {
            "name": track["artist"],
            "mbid": track.get("artist_mbid", ""),
            "url": f"https://www.last.fm/music/{track['artist']}",
        },
        "image": _image(track["name"]),
    }


def _scrobble(track: dict[str, str]) -> dict[str, Any]:
    uts = int(track.get("uts") or 1767225600)
    return {
        "artist": {"mbid": track.get("artist_mbid", ""), "#text": track["artist"]},
        "name": track["name"],
        "mbid": track.get("mbid", ""),
        "album": {"mbid": "", "#text": track.get("album", "")},
        "url": f"https://www.last.fm/music/{track['artist']}/_/{track['name']}",
        "image": _image(track["name"]),
        "date": {
            "uts": str(uts),
            "#text": datetime.fromtimestamp(uts, tz=UTC).strftime("%d %b %Y, %H:%M"),
        },
    }


def _page(
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
