"""Settings are validated at start-up with one clear line naming the bad variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.environment import (
    PLACEHOLDER,
    AppEnvironment,
    email_settings,
    format_validation_error,
    load_environment,
    parse_jwt_keys,
)
from musicbud.connections.providers.settings import LastfmSettings, SpotifySettings
from tests.fixtures.processes import run_manage

STRONG_SECRET = "k3v9-Qx7!pLm2#Zr8@Wt5$Yb1%Nc4^Hd6&Jf0*Gs3(Ue7)Ia9_Ro2+Vy5=Tq8"
STRONG_JWT = "main:9fJ2kL8mQ4rT7vX1zB5nC3wE6yH0uP2sA8dG4"
FERNET_KEY = "Nv2f1u0VbIx1mXzZt2l5v3yP0bQy6Zr3d8E1wH9kS4c="


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DATABASE_URL", "nonsense", "DATABASE_URL: must be postgres://"),
        ("RATE_LIMIT_PER_MINUTE", "abc", "RATE_LIMIT_PER_MINUTE: Input should be a valid integer"),
        ("RATE_LIMIT_PER_MINUTE", "0", "RATE_LIMIT_PER_MINUTE: Input should be greater than 0"),
        ("REDIS_URL", "http://cache", "REDIS_URL: must be redis://"),
        ("NEO4J_URL", "localhost:7687", "NEO4J_URL: must be bolt://"),
        ("GRAPH_BACKEND", "mongo", "GRAPH_BACKEND: Input should be 'sql' or 'neo4j'"),
        ("CORS_ORIGINS", "not-an-origin", "CORS_ORIGINS: Value error, 'not-an-origin' is not"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: Input should be"),
        ("JWT_SECRET_KEYS", "no-colon", "JWT_SECRET_KEYS: each key must be written kid:secret"),
        ("LEGACY_API_SUNSET", "soon", "LEGACY_API_SUNSET: Input should be a valid date"),
        ("LEGACY_API_ENABLED", "maybe", "LEGACY_API_ENABLED: Input should be a valid boolean"),
        ("SPOTIFY_API_URL", "nope", "SPOTIFY_API_URL: 'nope' is not an http(s) URL"),
        ("LASTFM_CALLBACK_URL", "https://a.example/cb?x=1", "LASTFM_CALLBACK_URL: 'https://a"),
    ],
)
def test_bad_setting_exits_with_one_line_naming_it(name: str, value: str, fragment: str) -> None:
    result = run_manage("check", **{name: value})

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("musicbud: invalid configuration: ")
    assert fragment.replace("Value error, ", "") in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY must be at least 50 characters long"),
        ({"SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "SECRET_KEY looks like a placeholder"),
        ({"SECRET_KEY": STRONG_SECRET}, "JWT_SECRET_KEYS key 'dev'"),
        (
            {"SECRET_KEY": STRONG_SECRET, "JWT_SECRET_KEYS": STRONG_JWT, "DEBUG": "true"},
            "DEBUG must be off when ENVIRONMENT=prod",
        ),
    ],
)
def test_prod_refuses_default_or_weak_secrets(env: dict[str, str], message: str) -> None:
    full_env = {"ENVIRONMENT": "prod", "ALLOWED_HOSTS": "api.example.org", **env}
    if "SECRET_KEY" not in env:
        full_env["SECRET_KEY"] = "short"

    result = run_manage("check", **full_env)

    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_comma_and_json_lists_are_both_accepted() -> None:
    comma = AppEnvironment(CORS_ORIGINS="https://a.example.org, https://b.example.org")
    as_json = AppEnvironment(CORS_ORIGINS='["https://a.example.org", "https://b.example.org"]')

    assert comma.CORS_ORIGINS == ["https://a.example.org", "https://b.example.org"]
    assert as_json.CORS_ORIGINS == comma.CORS_ORIGINS


def test_jwt_keys_keep_order_first_signs() -> None:
    assert parse_jwt_keys("new:aaaa, old:bbbb") == [("new", "aaaa"), ("old", "bbbb")]


def test_debug_defaults_follow_environment() -> None:
    assert AppEnvironment(ENVIRONMENT="dev").DEBUG is True
    assert AppEnvironment(ENVIRONMENT="test").DEBUG is False


def test_validation_error_formatting_names_each_variable() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        AppEnvironment(RATE_LIMIT_PER_MINUTE="abc", DATABASE_URL="nonsense")

    text = format_validation_error(info.value)
    assert text.startswith("invalid configuration: ")
    assert "RATE_LIMIT_PER_MINUTE: Input should be a valid integer" in text
    assert "DATABASE_URL: must be postgres://" in text


def _pem_pair(directory: Path, name: str) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_asymmetric_keys_are_read_from_pem_files(tmp_path: Path) -> None:
    private, _ = _pem_pair(tmp_path, "new")
    _, old_public = _pem_pair(tmp_path, "old")

    env = AppEnvironment(JWT_ALGORITHM="ES256", JWT_KEY_FILES=f"k2:{private},k1:{old_public}")

    assert env.jwt_uses_hmac is False
    assert parse_jwt_keys(env.JWT_KEY_FILES or "") == [
        ("k2", str(private)),
        ("k1", str(old_public)),
    ]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "JWT_ALGORITHM=ES256 needs JWT_KEY_FILES"),
        ("k1:{missing}", "JWT_KEY_FILES key 'k1': cannot read"),
        ("k1:{public}", "JWT_KEY_FILES key 'k1': the first (signing) key must be private"),
        ("k1:{text}", "JWT_KEY_FILES key 'k1':"),
        ("nocolon", "JWT_KEY_FILES: each key must be written kid:secret"),
    ],
)
def test_asymmetric_key_files_are_checked_at_start_up(
    tmp_path: Path, files: str | None, message: str
) -> None:
    _, public = _pem_pair(tmp_path, "k")
    text = tmp_path / "text.pem"
    text.write_text("not a key")
    raw = files.format(missing=tmp_path / "absent.pem", public=public, text=text) if files else None

    with pytest.raises(ValidationError) as error:
        AppEnvironment(JWT_ALGORITHM="ES256", JWT_KEY_FILES=raw)

    assert message in format_validation_error(error.value)


def test_prod_refuses_any_setting_left_at_the_placeholder() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        AppEnvironment(
            ENVIRONMENT="prod",
            SECRET_KEY=STRONG_SECRET,
            JWT_SECRET_KEYS=STRONG_JWT,
            ALLOWED_HOSTS="api.example.org",
            NEO4J_PASSWORD="<set-me>",
        )

    assert format_validation_error(info.value) == (
        "invalid configuration: NEO4J_PASSWORD still holds the placeholder <set-me>; "
        "production refuses to start until they are set"
    )
    # Outside prod the placeholder is just a value (dev never starts Neo4j with it).
    assert AppEnvironment(NEO4J_PASSWORD="<set-me>").NEO4J_PASSWORD.get_secret_value() == (
        "<set-me>"
    )


PROD_EMAIL_URL = "smtp+tls://musicbud:a-mail-password@smtp.example.org"


def test_email_url_is_parsed_by_scheme() -> None:
    starttls = email_settings("smtp+tls://me%40x.org:p%40ss@smtp.example.org")
    assert (starttls["EMAIL_HOST"], starttls["EMAIL_PORT"]) == ("smtp.example.org", 587)
    assert (starttls["EMAIL_HOST_USER"], starttls["EMAIL_HOST_PASSWORD"]) == ("me@x.org", "p@ss")
    assert (starttls["EMAIL_USE_TLS"], starttls["EMAIL_USE_SSL"]) == (True, False)
    implicit = email_settings("smtp+ssl://smtp.example.org")
    assert (implicit["EMAIL_PORT"], implicit["EMAIL_USE_SSL"]) == (465, True)
    plain = email_settings("smtp://127.0.0.1:2525")
    assert (plain["EMAIL_PORT"], plain["EMAIL_USE_TLS"], plain["EMAIL_USE_SSL"]) == (
        2525,
        False,
        False,
    )
    assert email_settings("console://")["EMAIL_BACKEND"] == (
        "django.core.mail.backends.console.EmailBackend"
    )
    assert AppEnvironment().EMAIL_URL.get_secret_value() == "console://"


def test_a_bad_email_url_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        AppEnvironment(EMAIL_URL="http://mail.example.org")
    assert "EMAIL_URL" in format_validation_error(info.value)
    assert "must be smtp://user:pass@host:port" in format_validation_error(info.value)


def test_prod_refuses_console_mail() -> None:
    prod: dict[str, Any] = {
        "ENVIRONMENT": "prod",
        "SECRET_KEY": STRONG_SECRET,
        "JWT_SECRET_KEYS": STRONG_JWT,
        "ALLOWED_HOSTS": "api.example.org",
        "REDIS_URL": "redis://cache:6379/0",
        "PROVIDER_TOKEN_KEYS": FERNET_KEY,
    }
    with pytest.raises(ValidationError) as info:
        AppEnvironment(**prod)
    assert format_validation_error(info.value) == (
        "invalid configuration: EMAIL_URL must be smtp://, smtp+tls:// or smtp+ssl:// when "
        "ENVIRONMENT=prod (console:// only writes mails to the log)"
    )
    assert AppEnvironment(**prod, EMAIL_URL=PROD_EMAIL_URL).is_prod


def test_prod_with_several_workers_refuses_to_start_without_redis() -> None:
    prod: dict[str, Any] = {
        "ENVIRONMENT": "prod",
        "SECRET_KEY": STRONG_SECRET,
        "JWT_SECRET_KEYS": STRONG_JWT,
        "ALLOWED_HOSTS": "api.example.org",
        "REDIS_URL": None,  # whatever the test run's own environment says
        "PROVIDER_TOKEN_KEYS": FERNET_KEY,
        "EMAIL_URL": PROD_EMAIL_URL,
    }

    with pytest.raises(ValidationError) as info:
        AppEnvironment(**prod)
    single_worker = AppEnvironment(**prod, WEB_CONCURRENCY=1)
    with_redis = AppEnvironment(**{**prod, "REDIS_URL": "redis://cache:6379/0"})

    assert format_validation_error(info.value) == (
        "invalid configuration: REDIS_URL is required when ENVIRONMENT=prod runs several "
        "workers (set it, or WEB_CONCURRENCY=1 for a single worker)"
    )
    assert single_worker.REDIS_URL is None
    assert with_redis.REDIS_URL == "redis://cache:6379/0"


def test_provider_token_keys_must_be_fernet_keys() -> None:
    with pytest.raises(ValidationError) as info:
        AppEnvironment(PROVIDER_TOKEN_KEYS=f"{FERNET_KEY},not-a-key")

    assert format_validation_error(info.value) == (
        "invalid configuration: PROVIDER_TOKEN_KEYS: key 2 is not a Fernet key (urlsafe base64 "
        "of 32 bytes, 44 characters)"
    )
    assert AppEnvironment(PROVIDER_TOKEN_KEYS=f" {FERNET_KEY} ,").PROVIDER_TOKEN_KEYS


def test_prod_refuses_the_development_provider_token_key() -> None:
    prod: dict[str, Any] = {
        "ENVIRONMENT": "prod",
        "SECRET_KEY": STRONG_SECRET,
        "JWT_SECRET_KEYS": STRONG_JWT,
        "ALLOWED_HOSTS": "api.example.org",
        "REDIS_URL": "redis://cache:6379/0",
        "EMAIL_URL": PROD_EMAIL_URL,
    }

    with pytest.raises(ValidationError) as info:
        AppEnvironment(**prod)
    rotated_away = AppEnvironment(**prod, PROVIDER_TOKEN_KEYS=FERNET_KEY)

    assert format_validation_error(info.value).startswith(
        "invalid configuration: PROVIDER_TOKEN_KEYS holds the development key; production "
        "refuses to start with it"
    )
    assert rotated_away.PROVIDER_TOKEN_KEYS.get_secret_value() == FERNET_KEY


def test_a_provider_variable_is_read_into_its_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "from-the-environment")
    monkeypatch.setenv("LASTFM_API_SECRET", "lastfm-secret")
    monkeypatch.setenv("SPOTIFY_PAGE_CONCURRENCY", "2")

    env = AppEnvironment()

    spotify, lastfm = env.providers["spotify"], env.providers["lastfm"]
    assert isinstance(spotify, SpotifySettings)
    assert isinstance(lastfm, LastfmSettings)
    assert (spotify.CLIENT_ID, spotify.PAGE_CONCURRENCY) == ("from-the-environment", 2)
    assert lastfm.API_SECRET is not None
    assert lastfm.API_SECRET.get_secret_value() == "lastfm-secret"
    assert spotify.configured() is False  # no secret, no redirect URI


def test_a_bad_provider_variable_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPOTIFY_API_URL", "ftp://api.example.org")
    monkeypatch.setenv("SPOTIFY_PAGE_CONCURRENCY", "99")

    with pytest.raises(SystemExit) as stopped:
        load_environment()

    assert str(stopped.value) == (
        "musicbud: invalid configuration: SPOTIFY_API_URL: 'ftp://api.example.org' is not an "
        "http(s) URL; SPOTIFY_PAGE_CONCURRENCY: Input should be less than or equal to 16"
    )


def test_prod_refuses_a_provider_variable_left_as_the_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LASTFM_API_SECRET", PLACEHOLDER)

    prod = {
        "ENVIRONMENT": "prod",
        "SECRET_KEY": STRONG_SECRET,
        "JWT_SECRET_KEYS": STRONG_JWT,
        "REDIS_URL": "redis://cache:6379/0",
        "PROVIDER_TOKEN_KEYS": FERNET_KEY,
        "EMAIL_URL": PROD_EMAIL_URL,
    }

    with pytest.raises(SystemExit) as refused:
        load_environment(**prod)

    assert str(refused.value) == (
        f"musicbud: invalid configuration: LASTFM_API_SECRET still holds the placeholder "
        f"{PLACEHOLDER}; production refuses to start until they are set"
    )


def test_the_projection_is_on_only_when_a_neo4j_store_consumes_it() -> None:
    assert AppEnvironment(GRAPH_PROJECTION=None).graph_projection is False
    assert AppEnvironment(GRAPH_PROJECTION=None, NEO4J_URL="bolt://g:7687").graph_projection is True
    neo4j = AppEnvironment(GRAPH_PROJECTION=None, GRAPH_BACKEND="neo4j", NEO4J_URL="bolt://g:7687")
    assert neo4j.graph_projection is True
    assert (
        AppEnvironment(GRAPH_PROJECTION=False, NEO4J_URL="bolt://g:7687").graph_projection is False
    )
    assert AppEnvironment().GRAPH_OUTBOX_RETENTION_DAYS == 7.0
