"""Every registered provider has what the recipe asks for; a test fails naming what one lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils.module_loading import import_string

from config.environment import AppEnvironment
from musicbud.connections.models import AuthorizationState, ProviderConnection
from musicbud.connections.providers.base import Provider
from musicbud.connections.providers.oauth import OAuthCodeProvider
from musicbud.connections.providers.registry import PROVIDERS, ProviderEntry, provider_get
from musicbud.connections.providers.settings import ProviderSettings
from musicbud.errors import NotFound
from musicbud.models import Album, Artist, Track
from tests.fixtures.processes import ROOT
from tests.fixtures.recorded import FIXTURES
from tooling.standins import ProviderStandIn

HERE = Path(__file__).resolve().parent


@pytest.fixture(params=PROVIDERS, ids=[entry.name for entry in PROVIDERS])
def entry(request: pytest.FixtureRequest) -> ProviderEntry:
    provider: ProviderEntry = request.param
    return provider


def test_its_client_is_a_provider_of_that_name(entry: ProviderEntry) -> None:
    client = import_string(entry.client)

    assert issubclass(client, Provider), f"{entry.client} is not a base.Provider"
    assert client.name == entry.name
    assert provider_get(entry.name).label == entry.label
    if issubclass(client, OAuthCodeProvider):
        # Its errors name them: without them an error would become an AttributeError.
        named = {name: getattr(client, name, "") for name in ("authority", "api_name")}
        assert all(named.values()), f"{entry.client} must name both: {named}"


def test_its_settings_block_names_its_required_fields(entry: ProviderEntry) -> None:
    assert issubclass(entry.settings, ProviderSettings)
    assert entry.settings.REQUIRED, f"{entry.name}: REQUIRED names no client credentials"
    assert set(entry.settings.REQUIRED) <= set(entry.settings.model_fields)


def test_its_variables_are_read_and_documented(entry: ProviderEntry) -> None:
    documented = (ROOT / "docker" / "env.example").read_text()

    missing = [name for name in entry.variables() if f"{name}=" not in documented]

    assert set(entry.variables()) <= set(AppEnvironment.variable_names())
    assert missing == [], f"docker/env.example does not document {missing}"


def test_it_has_a_stand_in_mounted_on_the_shared_server(entry: ProviderEntry) -> None:
    mounted = [service.name for service in ProviderStandIn().services]

    assert entry.name in mounted, f"no stand-in mounted for {entry.name} (tooling/standins/)"


def test_it_has_unit_tests_against_recorded_answers(entry: ProviderEntry) -> None:
    recorded = sorted((FIXTURES / entry.name).glob("*.json"))

    assert (HERE / f"test_{entry.name}.py").is_file(), f"no test_{entry.name}.py"
    assert recorded, f"no recorded answers in fixtures/{entry.name}/"
    assert all(json.loads(path.read_text()) is not None for path in recorded)


def test_its_name_fits_the_columns_and_is_one_of_their_choices(entry: ProviderEntry) -> None:
    for model in (ProviderConnection, AuthorizationState):
        field = model._meta.get_field("provider")
        assert len(entry.name) <= field.max_length  # type: ignore[operator]
        assert (entry.name, entry.label) in field.choices  # type: ignore[operator]


def test_the_variable_names_deployments_set_stay_as_they_were() -> None:
    assert [name for entry in PROVIDERS for name in entry.variables()] == [
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SPOTIFY_REDIRECT_URI",
        "SPOTIFY_ACCOUNTS_URL",
        "SPOTIFY_API_URL",
        "SPOTIFY_TOP_TIME_RANGE",
        "SPOTIFY_PAGE_CONCURRENCY",
        "LASTFM_API_KEY",
        "LASTFM_API_SECRET",
        "LASTFM_API_URL",
        "LASTFM_AUTH_URL",
        "LASTFM_CALLBACK_URL",
        "YTMUSIC_CLIENT_ID",
        "YTMUSIC_CLIENT_SECRET",
        "YTMUSIC_REDIRECT_URI",
        "YTMUSIC_AUTH_URL",
        "YTMUSIC_TOKEN_URL",
        "YTMUSIC_REVOKE_URL",
        "YTMUSIC_API_URL",
        "MAL_CLIENT_ID",
        "MAL_CLIENT_SECRET",
        "MAL_REDIRECT_URI",
        "MAL_AUTH_URL",
        "MAL_API_URL",
    ]


def test_an_unknown_provider_is_not_found() -> None:
    with pytest.raises(NotFound) as unknown:
        provider_get("napster")

    assert (unknown.value.code, unknown.value.message) == (
        "provider_not_found",
        "unknown provider 'napster'",
    )


def test_the_catalogue_has_a_column_for_its_ids(entry: ProviderEntry) -> None:
    """Catalogue matching finds rows by the provider's own id in ``<name>_id``."""
    for model in (Track, Album, Artist):
        names = {field.name for field in model._meta.get_fields()}
        assert f"{entry.name}_id" in names, f"{model.__name__} has no {entry.name}_id column"
