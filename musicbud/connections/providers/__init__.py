"""The music services a user can connect, one module each, behind ``base.Provider``."""

from __future__ import annotations

from musicbud.connections.providers.base import Provider
from musicbud.connections.providers.lastfm import LastfmProvider
from musicbud.connections.providers.spotify import SpotifyProvider
from musicbud.errors import NotFound

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    SpotifyProvider.name: SpotifyProvider,
    LastfmProvider.name: LastfmProvider,
}


def provider_get(name: str) -> Provider:
    """A fresh provider (each holds its own HTTP client); 404 for an unknown name."""
    provider_class = PROVIDER_CLASSES.get(name)
    if provider_class is None:
        raise NotFound(f"unknown provider {name!r}", code="unknown_provider")
    return provider_class()
