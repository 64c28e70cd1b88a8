"""The music services a user can connect, each declared once; the API (v1 and legacy), the
admin, the models' choices and the settings (``<NAME>_<FIELD>`` variables) all read this list.
It imports nothing of Django: the settings, and gunicorn's config, load it first."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from musicbud.connections.providers.settings import (
    LastfmSettings,
    MalSettings,
    ProviderSettings,
    SpotifySettings,
    YtmusicSettings,
)
from musicbud.errors import NotFound

if TYPE_CHECKING:
    from musicbud.connections.providers.base import Provider


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    # In URLs, in the connection's provider column and its edges' source; upper-cased, the
    # prefix of its environment variables.
    name: str
    label: str
    settings: type[ProviderSettings]
    # The ``base.Provider`` class, by dotted path: importing it needs Django's apps, and the
    # settings read this registry before they are ready.
    client: str

    @property
    def env_prefix(self) -> str:
        return f"{self.name.upper()}_"

    def variables(self) -> list[str]:
        """Its environment variables, one per settings field."""
        return [self.env_prefix + field for field in self.settings.model_fields]


PROVIDERS: tuple[ProviderEntry, ...] = (
    ProviderEntry(
        "spotify",
        "Spotify",
        SpotifySettings,
        "musicbud.connections.providers.spotify.SpotifyProvider",
    ),
    ProviderEntry(
        "lastfm", "Last.fm", LastfmSettings, "musicbud.connections.providers.lastfm.LastfmProvider"
    ),
    ProviderEntry(
        "ytmusic",
        "YouTube Music",
        YtmusicSettings,
        "musicbud.connections.providers.ytmusic.YtmusicProvider",
    ),
    ProviderEntry(
        "mal", "MyAnimeList", MalSettings, "musicbud.connections.providers.mal.MalProvider"
    ),
)

PROVIDER_NAMES: tuple[str, ...] = tuple(entry.name for entry in PROVIDERS)
# The choices of the columns that name a provider (a new entry changes them: a migration).
PROVIDER_CHOICES: list[tuple[str, str]] = [(entry.name, entry.label) for entry in PROVIDERS]


def provider_entry(name: str) -> ProviderEntry:
    """The entry of that name; 404 for an unknown one."""
    for entry in PROVIDERS:
        if entry.name == name:
            return entry
    raise NotFound(f"unknown provider {name!r}", code="provider_not_found")


def provider_get(name: str) -> Provider[Any]:
    """A fresh provider (each holds its own HTTP client); 404 for an unknown name."""
    module, _, attribute = provider_entry(name).client.rpartition(".")
    client: type[Provider[Any]] = getattr(importlib.import_module(module), attribute)
    return client()
