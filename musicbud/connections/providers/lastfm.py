"""Last.fm: its web authentication (a signed ``auth.getSession`` trades the callback's token for
a session key that does not expire), and the user's taste from its API."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from musicbud.connections.providers.base import (
    Account,
    AuthorizationStart,
    CatalogueEntry,
    Image,
    Provider,
    ProviderItem,
    ProviderSession,
    TokenSet,
)
from musicbud.connections.providers.errors import (
    ProviderAuthRevoked,
    ProviderBadResponse,
    ProviderRejected,
    ProviderUnavailable,
)
from musicbud.connections.providers.settings import LastfmSettings, secret
from musicbud.connections.providers.transport import response_json
from musicbud.models import ItemKind, Relation


@dataclass(frozen=True, slots=True)
class _List:
    """One of a user's Last.fm lists: the method that pages it, the answer's ``container`` of
    items under ``key``, the page size, and how many pages a sync reads (None: all)."""

    method: str
    container: str
    key: str
    limit: int
    max_pages: int | None


# The period of the top lists, and how much of them and of the scrobble history a sync reads:
# a top list's head is the taste; the whole history can be hundreds of thousands of plays.
TOP_PERIOD = "6month"
TOP_ARTISTS = _List("user.getTopArtists", "topartists", "artist", limit=50, max_pages=1)
TOP_TRACKS = _List("user.getTopTracks", "toptracks", "track", limit=50, max_pages=1)
LOVED_TRACKS = _List("user.getLovedTracks", "lovedtracks", "track", limit=200, max_pages=None)
RECENT_TRACKS = _List("user.getRecentTracks", "recenttracks", "track", limit=200, max_pages=5)
# Error codes (https://www.last.fm/api/errorcodes) meaning the session or token is unusable,
# and those meaning "try again later".
REVOKED_ERRORS = frozenset({4, 9, 14, 15})
TRANSIENT_ERRORS = frozenset({8, 11, 16, 29})


def api_signature(params: Mapping[str, str], secret: str) -> str:
    """Last.fm's ``api_sig``: md5 of every parameter but ``format`` and ``callback``, sorted
    by name, written name + value, followed by the shared secret."""
    text = "".join(
        f"{name}{params[name]}" for name in sorted(params) if name not in {"format", "callback"}
    )
    return hashlib.md5((text + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


def _as_list(value: Any) -> list[Any]:
    # Last.fm's JSON writes a one-element list as the element itself.
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any, key: str = "#text") -> str:
    if isinstance(value, dict):
        value = value.get(key) or value.get("name") or ""
    return value.strip() if isinstance(value, str) else ""


def _images(raw: Any) -> tuple[Image, ...]:
    images = [Image(url=_text(image)) for image in _as_list(raw) if _text(image)]
    return tuple(reversed(images))  # Last.fm lists small first; ours are widest first


def _mbid(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _artist(raw: Any) -> CatalogueEntry:
    name = _text(raw)
    if not name:
        raise ProviderBadResponse("Last.fm sent an artist without a name")
    mbid = _mbid(raw.get("mbid")) if isinstance(raw, dict) else None
    return CatalogueEntry(kind=ItemKind.ARTIST, name=name, provider_id=mbid)


def _track(raw: Any) -> CatalogueEntry:
    if not isinstance(raw, dict) or not _text(raw.get("name")):
        raise ProviderBadResponse("Last.fm sent a track without a name")
    album = raw.get("album")
    artist = _artist(raw.get("artist"))
    return CatalogueEntry(
        kind=ItemKind.TRACK,
        name=_text(raw["name"]),
        provider_id=_mbid(raw.get("mbid")),
        artists=(artist,),
        album=(
            CatalogueEntry(
                kind=ItemKind.ALBUM,
                name=_text(album),
                provider_id=_mbid(album.get("mbid")),
                artists=(artist,),
            )
            if isinstance(album, dict) and _text(album)
            else None
        ),
        images=_images(raw.get("image")),
    )


def _int(value: Any, *, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ProviderBadResponse(f"Last.fm sent {what} that is not a number") from None


class LastfmProvider(Provider[LastfmSettings]):
    name = "lastfm"

    def callback_url(self) -> str:
        return str(self.config.CALLBACK_URL or "")

    def authorization_start(self, *, state: str) -> AuthorizationStart:
        callback = f"{self.callback_url()}?{urlencode({'state': state})}"
        query = urlencode({"api_key": self.config.API_KEY, "cb": callback})
        return AuthorizationStart(url=f"{self.config.AUTH_URL}?{query}")

    def callback_grant(self, params: Mapping[str, str]) -> str:
        return params.get("token", "")

    def code_exchange(self, *, grant: str, code_verifier: str) -> TokenSet:
        params = {
            "method": "auth.getSession",
            "api_key": self.config.API_KEY or "",
            "token": grant,
        }
        params["api_sig"] = api_signature(params, secret(self.config.API_SECRET))
        body = self._call(params)
        session = body.get("session")
        if not isinstance(session, dict) or not session.get("key") or not session.get("name"):
            raise ProviderBadResponse("Last.fm sent a session answer without key or name")
        return TokenSet(access_token=str(session["key"]), account_id=str(session["name"]))

    def token_refresh(self, *, tokens: TokenSet) -> TokenSet:
        # Session keys do not expire; one that is refused was revoked.
        raise ProviderAuthRevoked("Last.fm refused the session key; authorize again")

    def account_read(self, *, session: ProviderSession) -> Account:
        body = self._call({"method": "user.getInfo", "user": session.account_id})
        user = body.get("user")
        if not isinstance(user, dict) or not _text(user.get("name")):
            raise ProviderBadResponse("Last.fm sent a profile without a name")
        name = _text(user["name"])
        return Account(id=name, display_name=_text(user.get("realname")) or name)

    def taste_fetch(self, *, session: ProviderSession) -> Iterator[ProviderItem]:
        user = {"user": session.account_id, "sk": session.tokens.access_token}
        # Top lists: their head, in Last.fm's rank order.
        top = {**user, "period": TOP_PERIOD}
        for raw in self._items(session, TOP_ARTISTS, top):
            entry = replace(_artist(raw), images=_images(raw.get("image")))
            yield ProviderItem(relation=Relation.TOP, entry=entry, rank=self._rank(raw))
        for raw in self._items(session, TOP_TRACKS, top):
            yield ProviderItem(relation=Relation.TOP, entry=_track(raw), rank=self._rank(raw))
        for raw in self._items(session, LOVED_TRACKS, user):
            yield ProviderItem(relation=Relation.LIKE, entry=_track(raw))
        yield from self._plays(session, user)

    def _plays(self, session: ProviderSession, user: dict[str, str]) -> Iterator[ProviderItem]:
        counts: Counter[tuple[str, str]] = Counter()
        last: dict[tuple[str, str], datetime] = {}
        entries: dict[tuple[str, str], CatalogueEntry] = {}
        for raw in self._items(session, RECENT_TRACKS, user):
            attr = raw.get("@attr") if isinstance(raw, dict) else None
            if isinstance(attr, dict) and attr.get("nowplaying") == "true":
                continue  # playing now: scrobbled (with a date) once it ends
            entry = _track(raw)
            key = (entry.provider_id or "", f"{entry.name}\0{entry.artists[0].name}".casefold())
            date = raw.get("date")
            uts = _int(date.get("uts") if isinstance(date, dict) else None, what="a play date")
            played = datetime.fromtimestamp(uts, tz=UTC)
            counts[key] += 1
            entries.setdefault(key, entry)
            if key not in last or played > last[key]:
                last[key] = played
        for key, entry in entries.items():
            yield ProviderItem(
                relation=Relation.PLAYED,
                entry=entry,
                play_count=counts[key],
                last_played_at=last[key],
            )

    @staticmethod
    def _rank(raw: Any) -> int:
        attr = raw.get("@attr") if isinstance(raw, dict) else None
        return _int(attr.get("rank") if isinstance(attr, dict) else None, what="a rank")

    def _items(
        self, session: ProviderSession, listing: _List, params: dict[str, str]
    ) -> Iterator[Any]:
        """The list's items, page after page, up to its ``max_pages``."""
        page = 1
        while True:
            items, total_pages = self._page(
                session, listing, {**params, "limit": str(listing.limit), "page": str(page)}
            )
            yield from items
            if page >= total_pages or (listing.max_pages is not None and page >= listing.max_pages):
                return
            page += 1

    def _page(
        self, session: ProviderSession, listing: _List, params: dict[str, str]
    ) -> tuple[list[Any], int]:
        method, container = listing.method, listing.container
        body = self._call({"method": method, **params})
        block = body.get(container)
        if not isinstance(block, dict):
            raise ProviderBadResponse(f"Last.fm sent a {method} answer without {container}")
        attr = block.get("@attr")
        total_pages = _int(
            attr.get("totalPages") if isinstance(attr, dict) else None, what="totalPages"
        )
        items = _as_list(block.get(listing.key))
        stated = attr.get("total") if isinstance(attr, dict) else None
        if params.get("page") == "1" and stated is not None:
            # The list's size, before its first items count; a sync reads its max_pages at most.
            cap = None if listing.max_pages is None else listing.max_pages * listing.limit
            total = _int(stated, what="total")
            session.expect(total if cap is None else min(total, cap))
        session.advance(len(items))
        return items, total_pages

    def _call(self, params: dict[str, str]) -> dict[str, Any]:
        query = {**params, "api_key": self.config.API_KEY or "", "format": "json"}
        response = self.transport.request("GET", self.config.API_URL, params=query)
        body = response_json(response, label=self.label)
        error = body.get("error")
        if error is not None:
            code = error if isinstance(error, int) else -1
            message = str(body.get("message", ""))[:200]
            if code in REVOKED_ERRORS:
                raise ProviderAuthRevoked(
                    f"Last.fm refused the session ({message or code}); authorize again"
                )
            if code in TRANSIENT_ERRORS:
                raise ProviderUnavailable(f"Last.fm is unavailable ({message or code})")
            raise ProviderRejected(f"Last.fm answered error {code}: {message}")
        if response.status_code != HTTPStatus.OK:
            raise ProviderRejected(f"Last.fm answered {response.status_code}")
        return body
