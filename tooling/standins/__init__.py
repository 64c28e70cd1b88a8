"""Stand-ins for the music services: one module per provider (its answers, its library), all
served by ``server.StandInServer`` on one loopback port. Used by the test suite (a fixture starts
it) and by ``manage.py sync_bench``."""

from __future__ import annotations

from tooling.standins.lastfm import LastfmStandIn
from tooling.standins.mal import MalStandIn
from tooling.standins.server import StandInServer
from tooling.standins.spotify import SpotifyStandIn
from tooling.standins.ytmusic import YtmusicStandIn


class ProviderStandIn(StandInServer):
    """Every provider's stand-in on one server; a new provider mounts its own here."""

    def __init__(self, *, latency_seconds: float = 0.0) -> None:
        super().__init__(latency_seconds=latency_seconds)
        self.spotify = self.mount(SpotifyStandIn())
        self.lastfm = self.mount(LastfmStandIn())
        self.ytmusic = self.mount(YtmusicStandIn())
        self.mal = self.mount(MalStandIn())
