"""Spotify: Authorization Code with PKCE, and the user's taste from the Web API (every paging
object followed through ``next``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from musicbud.connections.providers.base import (
    Account,
    AuthorizationStart,
    CatalogueEntry,
    Image,
    ProviderItem,
    ProviderSession,
    pkce_pair,
)
from musicbud.connections.providers.errors import (
    ProviderBadResponse,
    ProviderRejected,
)
from musicbud.connections.providers.oauth import OAuthCodeProvider, Shape, shape_parse
from musicbud.connections.providers.settings import SpotifySettings
from musicbud.connections.providers.transport import response_json
from musicbud.models import ItemKind, Relation

SCOPES = "user-top-read user-library-read user-follow-read user-read-recently-played"
PAGE_LIMIT = 50


class _Image(Shape):
    url: str
    width: int | None = None
    height: int | None = None


class _Artist(Shape):
    id: str | None = None
    name: str
    genres: list[str] = []
    images: list[_Image] = []


class _Album(Shape):
    id: str | None = None
    name: str
    images: list[_Image] = []
    artists: list[_Artist] = []
    release_date: str | None = None


class _Track(Shape):
    id: str | None = None
    name: str
    duration_ms: int | None = None
    artists: list[_Artist] = []
    album: _Album | None = None


class _SavedTrack(Shape):
    track: _Track | None = None


class _SavedAlbum(Shape):
    album: _Album


class _Play(Shape):
    track: _Track
    played_at: datetime


class _Me(Shape):
    id: str
    display_name: str | None = None


T = TypeVar("T", bound=Shape)


def _parse(model: type[T], body: Any, *, what: str) -> T:
    return shape_parse(model, body, service="Spotify", what=what)


def _images(images: list[_Image]) -> tuple[Image, ...]:
    return tuple(Image(url=i.url, width=i.width, height=i.height) for i in images)


def _artist_entry(artist: _Artist) -> CatalogueEntry:
    return CatalogueEntry(
        kind=ItemKind.ARTIST,
        name=artist.name,
        provider_id=artist.id,
        genres=tuple(artist.genres),
        images=_images(artist.images),
    )


def _album_entry(album: _Album) -> CatalogueEntry:
    year = album.release_date[:4] if album.release_date else ""
    return CatalogueEntry(
        kind=ItemKind.ALBUM,
        name=album.name,
        provider_id=album.id,
        artists=tuple(_artist_entry(a) for a in album.artists),
        images=_images(album.images),
        release_year=int(year) if year.isdigit() else None,
    )


def _track_entry(track: _Track) -> CatalogueEntry:
    return CatalogueEntry(
        kind=ItemKind.TRACK,
        name=track.name,
        provider_id=track.id,
        artists=tuple(_artist_entry(a) for a in track.artists),
        album=_album_entry(track.album) if track.album else None,
        duration_ms=track.duration_ms,
    )


class SpotifyProvider(OAuthCodeProvider[SpotifySettings]):
    name = "spotify"
    authority = api_name = "Spotify"
    basic_client_auth = True

    # --- authorization -------------------------------------------------------------------

    def token_url(self) -> str:
        return f"{self.config.ACCOUNTS_URL.rstrip('/')}/api/token"

    def authorization_start(self, *, state: str) -> AuthorizationStart:
        verifier, challenge = pkce_pair()
        query = urlencode(
            {
                "client_id": self.config.CLIENT_ID,
                "response_type": "code",
                "redirect_uri": self.config.REDIRECT_URI,
                "state": state,
                "scope": SCOPES,
                "code_challenge_method": "S256",
                "code_challenge": challenge,
            }
        )
        base = self.config.ACCOUNTS_URL.rstrip("/")
        return AuthorizationStart(url=f"{base}/authorize?{query}", code_verifier=verifier)

    # --- the Web API ---------------------------------------------------------------------

    def account_read(self, *, session: ProviderSession) -> Account:
        me = _parse(_Me, self._get(session, self._url("/me")), what="a profile")
        return Account(id=me.id, display_name=me.display_name or me.id)

    def taste_fetch(self, *, session: ProviderSession) -> Iterator[ProviderItem]:
        for saved in self._pages(session, "/me/tracks", _SavedTrack):
            if saved.track is not None:
                yield ProviderItem(relation=Relation.LIKE, entry=_track_entry(saved.track))
        for saved_album in self._pages(session, "/me/albums", _SavedAlbum):
            yield ProviderItem(relation=Relation.LIKE, entry=_album_entry(saved_album.album))
        for artist in self._pages(
            session, "/me/following", _Artist, params={"type": "artist"}, container="artists"
        ):
            yield ProviderItem(relation=Relation.LIKE, entry=_artist_entry(artist))
        time_range = {"time_range": self.config.TOP_TIME_RANGE}
        for rank, track in enumerate(
            self._pages(session, "/me/top/tracks", _Track, params=time_range), start=1
        ):
            yield ProviderItem(relation=Relation.TOP, entry=_track_entry(track), rank=rank)
        top_artists = list(self._pages(session, "/me/top/artists", _Artist, params=time_range))
        for rank, artist in enumerate(top_artists, start=1):
            yield ProviderItem(relation=Relation.TOP, entry=_artist_entry(artist), rank=rank)
        yield from _top_genres(top_artists)
        yield from self._plays(session)

    def _plays(self, session: ProviderSession) -> Iterator[ProviderItem]:
        counts: Counter[str] = Counter()
        last_played: dict[str, datetime] = {}
        tracks: dict[str, _Track] = {}
        for play in self._pages(session, "/me/player/recently-played", _Play):
            key = play.track.id or f"name:{play.track.name}"
            counts[key] += 1
            tracks.setdefault(key, play.track)
            if key not in last_played or play.played_at > last_played[key]:
                last_played[key] = play.played_at
        for key, track in tracks.items():
            yield ProviderItem(
                relation=Relation.PLAYED,
                entry=_track_entry(track),
                play_count=counts[key],
                last_played_at=last_played[key],
            )

    def _url(self, path: str) -> str:
        return f"{self.config.API_URL.rstrip('/')}{path}"

    def _pages(
        self,
        session: ProviderSession,
        path: str,
        model: type[T],
        *,
        params: Mapping[str, str] | None = None,
        container: str | None = None,
    ) -> Iterator[T]:
        """Every item of a paging object (or, with ``container``, the cursor paging object
        under that key), in order, following ``next`` to the end."""
        for page in self._page_bodies(session, path, params=params, container=container):
            items = [_parse(model, item, what=f"an item of {path}") for item in page["items"]]
            session.advance(len(items))
            yield from items

    def _page_bodies(
        self,
        session: ProviderSession,
        path: str,
        *,
        params: Mapping[str, str] | None,
        container: str | None,
    ) -> Iterator[dict[str, Any]]:
        """The pages of one paging object, in order.

        An offset paging object states ``total`` and ``limit``, so once the first page is in,
        the offsets of the rest are known: those pages are fetched ``SPOTIFY_PAGE_CONCURRENCY``
        at a time (and still yielded in order). The last page's ``next`` is then followed as
        usual, in case the library grew meanwhile. Cursor pages (``container``) can only be
        walked one ``next`` at a time.
        """
        body = self._page(session, path, self._url(path), {"limit": PAGE_LIMIT, **(params or {})})
        page = _checked_page(body.get(container) if container else body, path)
        total = page.get("total")
        if isinstance(total, int):
            session.expect(total)
        yield page
        if container is None:
            ahead = _offset_urls(page)
            if ahead:
                workers = min(self.config.PAGE_CONCURRENCY, len(ahead))
                with ThreadPoolExecutor(workers, thread_name_prefix="spotify-page") as pool:
                    try:
                        for body in pool.map(
                            lambda url: self._page(session, path, url, None), ahead
                        ):
                            page = _checked_page(body, path)
                            yield page
                    finally:
                        pool.shutdown(cancel_futures=True)
        while (following := _next_url(page, path)) is not None:
            body = self._page(session, path, following, None)
            page = _checked_page(body.get(container) if container else body, path)
            yield page

    def _page(
        self,
        session: ProviderSession,
        path: str,
        url: str,
        query: Mapping[str, str | int] | None,
    ) -> dict[str, Any]:
        if not url.startswith(self.config.API_URL.rstrip("/") + "/"):
            # The bearer token goes only to the configured API.
            raise ProviderBadResponse(f"Spotify sent a next page outside its API ({path})")
        return self._get(session, url, params=query)

    def _get(
        self,
        session: ProviderSession,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        response = self._authorized_get(session, url, params)
        body = response_json(response, label=self.label)
        if response.status_code != HTTPStatus.OK:
            error = body.get("error")
            message = error.get("message", "") if isinstance(error, dict) else ""
            raise ProviderRejected(
                f"Spotify answered {response.status_code} on {httpx.URL(url).path}"
                + (f": {str(message)[:200]}" if message else "")
            )
        return body


def _checked_page(page: object, path: str) -> dict[str, Any]:
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise ProviderBadResponse(f"Spotify sent a page without items ({path})")
    return page


def _next_url(page: dict[str, Any], path: str) -> str | None:
    following = page.get("next")
    if following is not None and not isinstance(following, str):
        raise ProviderBadResponse(f"Spotify sent a next link that is not a URL ({path})")
    return following


def _offset_urls(page: dict[str, Any]) -> list[str]:
    """The URLs of the pages after this first one of an offset paging object (its ``next``
    with the later offsets); none for a cursor paging object or one that does not state its
    offset, limit and total."""
    following, total, limit = page.get("next"), page.get("total"), page.get("limit")
    if not isinstance(following, str) or "cursors" in page:
        return []
    if not (isinstance(total, int) and isinstance(limit, int) and limit > 0):
        return []
    if not isinstance(page.get("offset"), int):
        return []
    base = httpx.URL(following)
    try:
        first = int(base.params.get("offset", ""))
    except ValueError:
        return []
    return [str(base.copy_set_param("offset", offset)) for offset in range(first, total, limit)]


def _top_genres(top_artists: list[_Artist]) -> Iterator[ProviderItem]:
    """Genres of the top artists, ranked by weight: an artist at rank r of n gives each of
    its genres n + 1 - r; ties keep the order genres first appear in."""
    weights: dict[str, int] = {}
    names: dict[str, str] = {}
    total = len(top_artists)
    for rank, artist in enumerate(top_artists, start=1):
        for genre in artist.genres:
            key = genre.casefold()
            names.setdefault(key, genre)
            weights[key] = weights.get(key, 0) + total + 1 - rank
    for rank, key in enumerate(sorted(weights, key=lambda key: -weights[key]), start=1):
        yield ProviderItem(
            relation=Relation.TOP,
            entry=CatalogueEntry(kind=ItemKind.GENRE, name=names[key]),
            rank=rank,
        )
