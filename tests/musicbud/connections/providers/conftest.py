"""A provider client pointed at recorded answers served on loopback, with fast retries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.providers import provider_settings_set
from tests.fixtures.recorded import RecordedAnswers
from tooling.standins.server import StandInServer


@pytest.fixture
def server(settings: Any) -> Iterator[StandInServer]:
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_RETRY_AFTER_MAX_SECONDS = 0.05
    with StandInServer() as running:
        yield running


@pytest.fixture
def spotify_answers(server: StandInServer, settings: Any) -> RecordedAnswers:
    answers = server.mount(RecordedAnswers("spotify"))
    answers.api_path = "/v1"
    provider_settings_set(
        settings,
        "spotify",
        CLIENT_ID="client-id",
        CLIENT_SECRET="client-secret",
        REDIRECT_URI="http://testserver/callback",
        ACCOUNTS_URL=server.base_url + "/accounts",
        API_URL=server.base_url + "/v1",
    )
    return answers


@pytest.fixture
def lastfm_answers(server: StandInServer, settings: Any) -> RecordedAnswers:
    answers = server.mount(RecordedAnswers("lastfm"))
    provider_settings_set(
        settings,
        "lastfm",
        API_KEY="api-key",
        API_SECRET="api-secret",
        CALLBACK_URL="http://testserver/callback",
        API_URL=server.base_url + "/2.0/",
        AUTH_URL=server.base_url + "/auth/",
    )
    return answers
