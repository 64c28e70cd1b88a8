"""The music services a user can connect, each declared once. Everything else reads this list:
the API (v1 and legacy), the admin and the models' choices, and the settings (each entry's
block, read from ``<NAME>_<FIELD>`` variables). Importable before Django's apps are ready."""

from __future__ import annotations

from dataclasses import dataclass

from musicbud.connections.providers.settings import (
    LastfmSettings,
    ProviderSettings,
    SpotifySettings,
)
from musicbud.errors import NotFound


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
)

PROVIDER_NAMES: tuple[str, ...] = tuple(entry.name for entry in PROVIDERS)
# The choices of the columns that name a provider (a new entry changes them: a migration).
PROVIDER_CHOICES: list[tuple[str, str]] = [(entry.name, entry.label) for entry in PROVIDERS]


def provider_entry(name: str) -> ProviderEntry:
    """The entry of that name; 404 for an unknown one."""
    for entry in PROVIDERS:
        if entry.name == name:
            return entry
    raise NotFound(f"unknown provider {name!r}", code="unknown_provider")
