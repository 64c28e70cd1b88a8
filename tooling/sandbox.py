"""The provider sandbox: the services' stand-ins with a small library each, and the development
server pointed at them, so connecting Spotify, Last.fm, YouTube Music or MyAnimeList locally
needs no account, no credentials and no settings (``manage.py provider_sandbox``,
``make run SANDBOX=1``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from django.urls import reverse

from musicbud.connections.providers.registry import PROVIDERS
from tooling.standins import ProviderStandIn
from tooling.standins.lastfm import LastfmLibrary
from tooling.standins.mal import mal_entry
from tooling.standins.spotify import spotify_library
from tooling.standins.ytmusic import ytmusic_subscription, ytmusic_video

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STANDIN_PORT = 8765


def sandbox_standins() -> ProviderStandIn:
    """The stand-ins (not started) with a library each: a few dozen Spotify items and a
    Last.fm listener with top lists, loved tracks and scrobbles."""
    standin = ProviderStandIn()
    standin.spotify.library = spotify_library(
        saved_tracks=24,
        saved_albums=3,
        followed_artists=4,
        top_tracks=10,
        top_artists=5,
        recent_plays=12,
        tracks_per_album=8,
        albums_per_artist=2,
        prefix="sandbox-",
    )
    artists = ["Portishead", "Massive Attack", "Tricky", "Sneaker Pimps"]
    tracks = [("Roads", 0), ("Teardrop", 1), ("Hell Is Round the Corner", 2), ("6 Underground", 3)]
    standin.lastfm.library = LastfmLibrary(
        top_artists=[{"name": name, "mbid": ""} for name in artists],
        top_tracks=[
            {"name": name, "mbid": "", "artist": artists[i], "artist_mbid": ""}
            for name, i in tracks
        ],
        loved_tracks=[
            {"name": name, "mbid": "", "artist": artists[i], "artist_mbid": ""}
            for name, i in tracks[:2]
        ],
        recent_tracks=[
            {
                "name": name,
                "mbid": "",
                "artist": artists[i],
                "artist_mbid": "",
                "album": "",
                "uts": str(1_764_000_000 + 600 * n),
            }
            for n, (name, i) in enumerate(tracks * 2)
        ],
    )
    standin.ytmusic.library.liked_videos = [
        *(ytmusic_video(i, artist=artists[i % len(artists)]) for i in range(8)),
        ytmusic_video(8, artist="A Cooking Channel", category="26"),  # not music: skipped
    ]
    standin.ytmusic.library.subscriptions = [
        ytmusic_subscription(i, title=f"{name} - Topic") for i, name in enumerate(artists)
    ]
    standin.mal.library.anime = [mal_entry("anime", i, score=4 + i % 7) for i in range(12)]
    standin.mal.library.manga = [mal_entry("manga", i, score=5 + i % 6) for i in range(6)]
    return standin


def sandbox_environment(standin: ProviderStandIn, *, server_url: str) -> dict[str, str]:
    """The settings that point a server at ``server_url`` to the started stand-ins: each
    provider's credentials and base URLs, and the callbacks back to that server."""
    return {
        **standin.environment(),
        **{
            entry.env_prefix + entry.settings.CALLBACK: server_url
            + reverse("api-v1:connection-callback", args=[entry.name])
            for entry in PROVIDERS
        },
    }


def sandbox_guide(*, server_url: str, standin_url: str) -> str:
    """How to connect through the sandbox, step by step (printed when it starts)."""
    api = server_url + "/api/v1"
    return f"""\
Provider sandbox: Spotify and Last.fm stand-ins at {standin_url} (YouTube Music and
MyAnimeList too), the server at {server_url}.
No account or credentials needed: the stand-ins accept everyone and answer a small library.

  1. Log in (the demo user from `make run`, or your own):
     ACCESS_TOKEN=$(curl -s -X POST {api}/auth/login -H 'Content-Type: application/json' \\
       -d '{{"username": "demo", "password": "musicbud-demo-2024"}}' \\
       | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  2. Start connecting (keep the cookie it sets: the callback must come from the same browser):
     curl -s -c cookies.txt -X POST {api}/connections/spotify/authorize \\
       -H "Authorization: Bearer $ACCESS_TOKEN"
  3. Open the answer's authorization_url in that browser, or follow it with curl:
     curl -s -L -b cookies.txt '<authorization_url>'
     The stand-in grants access at once and sends the browser back to the callback, which
     lands on {server_url}/connect/done?provider=spotify&status=ok.
  4. The first sync runs in the background; follow its phase and progress:
     curl -s {api}/connections/spotify -H "Authorization: Bearer $ACCESS_TOKEN"
  5. Then read the taste it brought: {api}/me/likes/tracks, {api}/me/top/artists, ...
     (Last.fm, YouTube Music, MyAnimeList: the same with lastfm, ytmusic or mal in place of
     spotify; MyAnimeList's taste is in {api}/me/likes/anime, {api}/me/top/manga, ...)
"""


def provider_sandbox_run(
    *,
    host: str,
    port: int,
    standin_port: int,
    say: Callable[[str], None],
    runserver_args: tuple[str, ...] = (),
) -> int:
    """Start the stand-ins, then ``manage.py runserver host:port`` pointed at them, until it
    exits (Ctrl-C); returns its exit status."""
    standin = sandbox_standins().start(standin_port)
    server_url = f"http://{host}:{port}"
    try:
        environment = {**os.environ, **sandbox_environment(standin, server_url=server_url)}
        say(sandbox_guide(server_url=server_url, standin_url=standin.base_url))
        command = [sys.executable, "manage.py", "runserver", *runserver_args, f"{host}:{port}"]
        try:
            return subprocess.call(command, cwd=ROOT, env=environment)  # noqa: S603 - our interpreter
        except KeyboardInterrupt:
            return 0
    finally:
        standin.stop()
