"""The one typed settings object: every value the project reads from the environment (nothing
else reads ``os.environ``; config/settings.py builds Django's settings from it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from musicbud.connections.providers.registry import PROVIDERS
from musicbud.connections.providers.settings import ProviderSettings

BASE_DIR = Path(__file__).resolve().parent.parent

# Development-only placeholders; production refuses both (see _check_environment).
DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789abcdef"  # noqa: S105
DEV_JWT_KEYS = "dev:django-insecure-dev-only-jwt-key-never-use-in-production"
# A Fernet key (32 zero-padded bytes of a dev-only phrase, urlsafe base64): tokens stored by a
# development server are readable by anyone with this repository, so production refuses it.
DEV_PROVIDER_TOKEN_KEY = "ZGV2LW9ubHktcHJvdmlkZXItdG9rZW4ta2V5LS0tLS0="  # noqa: S105
# docker/env.prod.example writes this where a real value must go; production refuses it.
PLACEHOLDER = "<set-me>"
INSECURE_MARKERS = ("insecure", "changeme", "change-me", "secret", "default", "example")

StrList = Annotated[list[str], NoDecode]

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# What UNVERIFIED_ACCOUNT_BLOCKS may name (musicbud/accounts/README.md).
UNVERIFIED_ACTIONS = ("chat_send", "report", "export", "connect")


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class GraphBackendName(StrEnum):
    SQL = "sql"
    NEO4J = "neo4j"


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string (the form env files use)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a valid JSON list ({exc.msg})") from exc
            if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
                raise ValueError("must be a JSON list of strings")
            return [v.strip() for v in parsed if v.strip()]
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _looks_insecure(secret: str, *, min_length: int) -> str | None:
    if len(secret) < min_length:
        return f"must be at least {min_length} characters long"
    if len(set(secret)) < 8:
        return "has too few distinct characters"
    lowered = secret.lower()
    for marker in INSECURE_MARKERS:
        if marker in lowered:
            return f"looks like a placeholder (contains {marker!r})"
    return None


class AppEnvironment(BaseSettings):
    """Every setting, validated at start-up. Field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=BASE_DIR / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
    )

    ENVIRONMENT: Environment = Environment.DEV
    DEBUG: bool | None = None
    CI: bool = False

    SECRET_KEY: SecretStr = SecretStr(DEV_SECRET_KEY)
    # "kid:secret" pairs, comma-separated; the first one signs, all of them verify.
    JWT_SECRET_KEYS: SecretStr = SecretStr(DEV_JWT_KEYS)
    JWT_ALGORITHM: Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"] = "HS256"
    # Asymmetric algorithms only: "kid:/path/to/key.pem" pairs, comma-separated. The first
    # is the private key that signs; the others (private or public) only verify.
    JWT_KEY_FILES: str | None = None
    JWT_ISSUER: str = "musicbud"
    JWT_AUDIENCE: str = "musicbud-api"
    JWT_ACCESS_TTL_SECONDS: PositiveInt = 15 * 60
    JWT_REFRESH_TTL_SECONDS: PositiveInt = 14 * 24 * 3600
    # Clock skew tolerated on exp/iat/nbf between the workers that issue and verify tokens.
    JWT_LEEWAY_SECONDS: Annotated[int, Field(ge=0, le=300)] = 5

    DATABASE_URL: str = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    DB_POOL_MIN_SIZE: Annotated[int, Field(ge=0)] = 1
    DB_POOL_MAX_SIZE: PositiveInt = 10
    # How long a request waits for a pooled connection, and (PostgreSQL's connect_timeout)
    # for a new connection: past either the request is a 503 with Retry-After, not a hang.
    DB_POOL_TIMEOUT_SECONDS: PositiveFloat = 3.0
    DB_CONNECT_TIMEOUT_SECONDS: Annotated[int, Field(ge=1, le=60)] = 3
    DB_CONN_MAX_AGE: Annotated[int, Field(ge=0)] = 0
    # PostgreSQL's JIT compiles a query whose estimated cost passes jit_above_cost: for this
    # API's short queries (the bud rankings' and the privacy filters' subqueries, estimated
    # high) the compile costs 100-300 ms where the query runs in milliseconds. Off unless
    # asked for.
    DB_JIT: bool = False

    REDIS_URL: str | None = None
    # Both Redis clients: a pooled connection idle this long is PINGed before use, and a
    # command that meets a dead connection (Redis restarted) is retried on a new one.
    REDIS_HEALTH_CHECK_SECONDS: PositiveInt = 10
    REDIS_RETRIES: Annotated[int, Field(ge=0, le=10)] = 3

    NEO4J_URL: str | None = None
    NEO4J_USER: str = "neo4j"
    NEO4J_PASSWORD: SecretStr = SecretStr("")
    NEO4J_DATABASE: str = "neo4j"
    GRAPH_BACKEND: GraphBackendName = GraphBackendName.SQL
    GRAPH_FALLBACK_TO_SQL: bool = True
    # Bounded so a dead Neo4j costs a write's background projector (and readiness) seconds, not
    # the driver's default 30 s.
    GRAPH_CONNECT_TIMEOUT_SECONDS: PositiveFloat = 2.0
    GRAPH_WORKER_BATCH_SIZE: PositiveInt = 200
    GRAPH_RETRY_BASE_SECONDS: PositiveFloat = 1.0
    GRAPH_RETRY_MAX_SECONDS: PositiveFloat = 300.0
    GRAPH_REBUILD_BATCH_SIZE: PositiveInt = 5000
    # Whether taste, user and item writes queue outbox rows for the Neo4j projection. Unset:
    # on when something consumes them (GRAPH_BACKEND=neo4j or NEO4J_URL set), so the SQL
    # backend alone accumulates nothing; graph_rebuild projects everything when Neo4j comes.
    GRAPH_PROJECTION: bool | None = None
    # Applied outbox rows are kept this long (for inspection), then graph_worker prunes them.
    GRAPH_OUTBOX_RETENTION_DAYS: PositiveFloat = 7.0
    # A Bolt server for the graph test suite (bolt://user:password@host:port); when unset the
    # suite starts an embedded ArcadeDB itself.
    TEST_NEO4J_URL: str | None = None

    ALLOWED_HOSTS: StrList = Field(default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"])
    CORS_ORIGINS: StrList = Field(default_factory=list)
    CSRF_TRUSTED_ORIGINS: StrList = Field(default_factory=list)

    RATE_LIMIT_PER_MINUTE: PositiveInt = 60
    RATE_LIMIT_STRICT_PER_MINUTE: PositiveInt = 10
    # Logins and registrations from one client address (looser than per account: a campus or
    # office behind one NAT address shares it).
    RATE_LIMIT_CLIENT_PER_MINUTE: PositiveInt = 60
    RATE_LIMIT_FAIL_OPEN: bool = True
    # How many reverse proxies in front of us append to X-Forwarded-For; 0 = never trust it.
    TRUSTED_PROXY_COUNT: Annotated[int, Field(ge=0, le=10)] = 0

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # json: one JSON object per line (production, the tests); text: one readable line per
    # record and per request (development). Unset: text in development, json elsewhere.
    LOG_FORMAT: Literal["json", "text"] | None = None

    API_TITLE: str = "musicbud API"
    API_VERSION: str = "1.0.0"
    API_DESCRIPTION: str = "Find your buds: the people who like what you like, and what you share."

    METRICS_TOKEN: SecretStr | None = None
    METRICS_ALLOWED_NETWORKS: StrList = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    PROMETHEUS_MULTIPROC_DIR: Path | None = None

    SENTRY_DSN: SecretStr | None = None
    SENTRY_TRACES_SAMPLE_RATE: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0

    # The legacy API (the routes the apps already installed call, api/legacy/): on or off,
    # and the date it is retired, announced in every legacy response's Sunset header.
    LEGACY_API_ENABLED: bool = True
    LEGACY_API_SUNSET: date = date(2027, 6, 30)

    PROFILE_CACHE_TTL_SECONDS: PositiveInt = 300
    BUDS_CACHE_TTL_SECONDS: PositiveInt = 300
    # Most entries (likes + top + plays) one taste import may carry.
    TASTE_IMPORT_MAX_ENTRIES: Annotated[int, Field(ge=1, le=10_000)] = 500
    USER_CACHE_TTL_SECONDS: PositiveInt = 300
    HEALTH_CHECK_TIMEOUT_SECONDS: PositiveFloat = 2.0
    # How often an open chat socket re-checks that its user is active and its login live.
    CHAT_SESSION_CHECK_SECONDS: PositiveFloat = 15.0
    # Most chat sockets one user may hold open at once, across workers (beyond: closed 4429).
    CHAT_MAX_SOCKETS_PER_USER: PositiveInt = 20
    MAX_REQUEST_BODY_BYTES: PositiveInt = 1024 * 1024
    X_XSS_PROTECTION: Literal["0", "1", "1; mode=block"] = "0"
    # The fast path (the fastpath package: hop-free ASGI handler, async-native middleware,
    # Redis connection, rendered bodies, reads ahead); off = Django's stock handler and
    # middleware, for comparison or when an upgrade of a framework it follows is pending.
    FAST_PATH: bool = True

    # The production server (docker/gunicorn.conf.py). WEB_CONCURRENCY is the conventional
    # name for the worker count; unset = one uvicorn worker per usable CPU.
    WEB_CONCURRENCY: PositiveInt | None = None
    WEB_BIND: str = "0.0.0.0:8000"
    WEB_TIMEOUT_SECONDS: PositiveInt = 30
    WEB_GRACEFUL_TIMEOUT_SECONDS: PositiveInt = 25
    WEB_KEEPALIVE_SECONDS: PositiveInt = 5
    WEB_MAX_REQUESTS: Annotated[int, Field(ge=0)] = 10_000
    WEB_MAX_REQUESTS_JITTER: Annotated[int, Field(ge=0)] = 1_000
    SECURE_SSL_REDIRECT: bool | None = None
    HSTS_SECONDS: Annotated[int, Field(ge=0)] = 31_536_000
    HSTS_PRELOAD: bool = False

    # Music services: each provider's block of settings is read from its own <NAME>_<FIELD>
    # variables (musicbud/connections/providers/registry.py); these are the ones they share.
    # Fernet keys (urlsafe base64 of 32 bytes), comma-separated: the first encrypts provider
    # tokens, all of them decrypt. Rotate by prepending a new key, then `manage.py
    # provider_tokens_rotate`, then drop the old one.
    PROVIDER_TOKEN_KEYS: SecretStr = SecretStr(DEV_PROVIDER_TOKEN_KEY)
    # Where the browser lands after a provider callback (?provider=...&status=ok|error): an
    # app's page; the default is this server's own page saying whether it worked.
    CONNECT_DONE_URL: str = "/connect/done"
    PROVIDER_TIMEOUT_SECONDS: PositiveFloat = 10.0
    # Retries of one provider request after a 5xx, a timeout or a 429, with exponential backoff.
    PROVIDER_MAX_RETRIES: Annotated[int, Field(ge=0, le=10)] = 3
    PROVIDER_RETRY_BASE_SECONDS: Annotated[float, Field(ge=0.0)] = 1.0
    # The longest a 429's Retry-After is honoured; longer waits fail the sync instead.
    PROVIDER_RETRY_AFTER_MAX_SECONDS: Annotated[float, Field(ge=0.0)] = 60.0
    # Every connection is synced again this long after its last sync (the periodic re-sync).
    CONNECTION_RESYNC_INTERVAL_SECONDS: PositiveInt = 24 * 3600
    # A sync still queued this long after it was queued is taken as lost (the broker lost it).
    CONNECTION_SYNC_STALE_SECONDS: PositiveInt = 3600
    # A running job (sync, import, export) beats as it works; one silent this long is taken as
    # lost (its worker died): the periodic re-sync fails it and queues it again. Longer than the
    # longest silent wait of a live job (a provider call with its retries and Retry-After).
    JOB_HEARTBEAT_STALE_SECONDS: PositiveInt = 300
    # A connection whose syncs keep failing waits before the scheduler tries again: nothing
    # after the first failure, then BASE x 2^(n-2) after the n-th in a row, at most MAX.
    CONNECTION_SYNC_RETRY_BASE_SECONDS: PositiveInt = 300
    CONNECTION_SYNC_RETRY_MAX_SECONDS: PositiveInt = 6 * 3600

    # History uploads (musicbud/imports): the largest upload taken (413 beyond), what a zip may
    # expand to in all and how much smaller than its content an entry may be (a zip bomb
    # beyond either), and how many entries a zip may hold.
    IMPORT_MAX_UPLOAD_BYTES: PositiveInt = 256 * 1024 * 1024
    IMPORT_MAX_EXPANDED_BYTES: PositiveInt = 2 * 1024 * 1024 * 1024
    IMPORT_MAX_COMPRESSION_RATIO: PositiveInt = 200
    IMPORT_MAX_ZIP_ENTRIES: PositiveInt = 10_000
    # Where uploads wait for their job: a local folder by default; with IMPORT_S3_BUCKET set,
    # an S3-compatible object store (django-storages), which a worker on another machine
    # reaches too. A local folder must then be shared by the web and worker machines.
    IMPORT_STORAGE_DIR: Path = BASE_DIR / "var" / "imports"
    IMPORT_S3_BUCKET: str | None = None
    IMPORT_S3_ENDPOINT_URL: str | None = None
    IMPORT_S3_REGION: str | None = None
    IMPORT_S3_ACCESS_KEY_ID: str | None = None
    IMPORT_S3_SECRET_ACCESS_KEY: SecretStr | None = None
    IMPORT_S3_PREFIX: str = "imports"
    # An import still queued this long is taken as lost (the broker lost its message).
    IMPORT_STALE_SECONDS: PositiveInt = 3600

    # Mail: smtp://user:pass@host:port (plain, or STARTTLS when the server offers nothing else
    # is wanted), smtp+tls://... (STARTTLS, port 587 by default), smtp+ssl://... (implicit TLS,
    # port 465) or console:// (mails written to the log; production refuses it).
    EMAIL_URL: SecretStr = SecretStr("console://")
    EMAIL_FROM: str = "musicbud <no-reply@localhost>"
    EMAIL_TIMEOUT_SECONDS: PositiveFloat = 10.0
    # Where the links in account mails point: the app's page that reads ?token= (verification)
    # or ?uid=&token= (password reset) and calls the API.
    ACCOUNT_LINK_BASE_URL: str = "http://127.0.0.1:8000"
    PASSWORD_RESET_TTL_SECONDS: PositiveInt = 3600
    EMAIL_VERIFICATION_TTL_SECONDS: PositiveInt = 7 * 24 * 3600
    # What an account whose address is not verified yet may not do: any of chat_send, report,
    # export, connect (comma-separated). Empty: nothing is blocked, the state is only shown.
    UNVERIFIED_ACCOUNT_BLOCKS: StrList = Field(default_factory=list)
    # A data export's zip can be downloaded this long, then it is deleted.
    EXPORT_TTL_SECONDS: PositiveInt = 48 * 3600
    # Where exports are kept (Django's storage API, the STORAGES "exports" entry).
    EXPORT_DIR: Path = BASE_DIR / "var" / "exports"

    # The task runner (Celery). Unset: tasks run in the process that queues them (the embedded
    # runner, below), so a sync requested through the API completes with nothing else
    # started. Use a Redis database other than REDIS_URL's: the cache's database may be
    # flushed.
    TASK_BROKER_URL: str | None = None
    # Without a broker, where a queued job runs: true, on a thread of the process that queued
    # it, after the request that queued it has answered (an OAuth callback answers at once);
    # false, inside that request, before it answers. Unset: true, but false for the test suite
    # (a test's own transaction holds the job back from any other thread).
    TASK_EAGER_IN_BACKGROUND: bool | None = None

    # Each provider's block by name, read with the rest (see _providers_load).
    _providers: dict[str, ProviderSettings] = PrivateAttr(default_factory=dict)

    @field_validator(
        "ALLOWED_HOSTS",
        "CORS_ORIGINS",
        "CSRF_TRUSTED_ORIGINS",
        "METRICS_ALLOWED_NETWORKS",
        "UNVERIFIED_ACCOUNT_BLOCKS",
        mode="before",
    )
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("CORS_ORIGINS", "CSRF_TRUSTED_ORIGINS")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
                raise ValueError(f"{origin!r} is not an origin like https://app.example.org")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
            raise ValueError(
                "must be postgres://user:pass@host:port/dbname or sqlite:///path/to/file.sqlite3"
            )
        if scheme != "sqlite" and not urlsplit(value).path.strip("/"):
            raise ValueError("names no database (postgres://host:5432/<dbname>)")
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.netloc or parts.path):
            raise ValueError("must be redis://host:port/db (or rediss://, unix://)")
        return value

    @field_validator("TASK_BROKER_URL")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"redis", "rediss"} or not parts.netloc:
            raise ValueError("must be redis://host:port/db (or rediss://)")
        return value

    @field_validator("EMAIL_URL")
    @classmethod
    def _check_email_url(cls, value: SecretStr) -> SecretStr:
        if PLACEHOLDER not in value.get_secret_value():  # reported with the other placeholders
            email_settings(value.get_secret_value())
        return value

    @field_validator("UNVERIFIED_ACCOUNT_BLOCKS")
    @classmethod
    def _check_unverified_blocks(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(UNVERIFIED_ACTIONS))
        if unknown:
            raise ValueError(
                f"unknown action {', '.join(unknown)} (choose from {', '.join(UNVERIFIED_ACTIONS)})"
            )
        return value

    @field_validator("PROVIDER_TOKEN_KEYS")
    @classmethod
    def _check_provider_keys(cls, value: SecretStr) -> SecretStr:
        if PLACEHOLDER not in value.get_secret_value():  # reported with the other placeholders
            parse_fernet_keys(value.get_secret_value())
        return value

    @field_validator("NEO4J_URL", "TEST_NEO4J_URL")
    @classmethod
    def _check_neo4j_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        allowed = {"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"}
        if parts.scheme not in allowed or not parts.hostname:
            raise ValueError("must be bolt://host:7687 (or neo4j://, bolt+s://, neo4j+s://)")
        return value

    @field_validator("JWT_SECRET_KEYS")
    @classmethod
    def _check_jwt_keys(cls, value: SecretStr) -> SecretStr:
        parse_jwt_keys(value.get_secret_value())
        return value

    @field_validator("METRICS_ALLOWED_NETWORKS")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not an IP network") from exc
        return value

    @model_validator(mode="after")
    def _check_environment(self) -> AppEnvironment:
        self._providers = _providers_load(type(self).model_config.get("env_file"))
        if self.DEBUG is None:
            self.DEBUG = self.ENVIRONMENT is Environment.DEV
        if self.GRAPH_BACKEND is GraphBackendName.NEO4J and not self.NEO4J_URL:
            raise ValueError("GRAPH_BACKEND=neo4j needs NEO4J_URL")
        if not self.jwt_uses_hmac:
            _check_jwt_key_files(self.JWT_ALGORITHM, self.JWT_KEY_FILES)
        if self.ENVIRONMENT is not Environment.PROD:
            if PLACEHOLDER in self.PROVIDER_TOKEN_KEYS.get_secret_value():
                raise ValueError(f"PROVIDER_TOKEN_KEYS still holds the placeholder {PLACEHOLDER}")
            return self
        placeholders = [name for name, raw in self._raw_values() if PLACEHOLDER in raw]
        if placeholders:
            raise ValueError(
                f"{', '.join(placeholders)} still "
                f"{'holds' if len(placeholders) == 1 else 'hold'} the placeholder {PLACEHOLDER}; "
                "production refuses to start until they are set"
            )
        if self.DEBUG:
            raise ValueError("DEBUG must be off when ENVIRONMENT=prod")
        problem = _looks_insecure(self.SECRET_KEY.get_secret_value(), min_length=50)
        if problem:
            raise ValueError(f"SECRET_KEY {problem}; production refuses to start with it")
        hmac_keys = parse_jwt_keys(self.JWT_SECRET_KEYS.get_secret_value())
        for kid, secret in hmac_keys if self.jwt_uses_hmac else []:
            problem = _looks_insecure(secret, min_length=32)
            if problem:
                raise ValueError(
                    f"JWT_SECRET_KEYS key {kid!r} {problem}; production refuses to start with it"
                )
        if not self.ALLOWED_HOSTS:
            raise ValueError("ALLOWED_HOSTS must list the served host names when ENVIRONMENT=prod")
        if not self.REDIS_URL and self.WEB_CONCURRENCY != 1:
            # Token revocation, cached users, sessions and rate limits would otherwise live in
            # each worker's memory: a logout or deactivation seen by one worker only.
            raise ValueError(
                "REDIS_URL is required when ENVIRONMENT=prod runs several workers "
                "(set it, or WEB_CONCURRENCY=1 for a single worker)"
            )
        if email_settings(self.EMAIL_URL.get_secret_value())["EMAIL_BACKEND"] != SMTP_BACKEND:
            raise ValueError(
                "EMAIL_URL must be smtp://, smtp+tls:// or smtp+ssl:// when ENVIRONMENT=prod "
                "(console:// only writes mails to the log)"
            )
        if DEV_PROVIDER_TOKEN_KEY in parse_fernet_keys(self.PROVIDER_TOKEN_KEYS.get_secret_value()):
            raise ValueError(
                "PROVIDER_TOKEN_KEYS holds the development key; production refuses to start "
                'with it (generate one: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())")'
            )
        return self

    def _raw_values(self) -> Iterator[tuple[str, str]]:
        """Every variable's name and value as text, the providers' after the others."""
        for name in type(self).model_fields:
            yield name, _raw(getattr(self, name))
        for entry in PROVIDERS:
            block = self._providers[entry.name]
            for field in type(block).model_fields:
                yield entry.env_prefix + field, _raw(getattr(block, field))

    @classmethod
    def variable_names(cls) -> list[str]:
        """Every environment variable read: the fields', then each provider's."""
        return [*cls.model_fields, *(name for entry in PROVIDERS for name in entry.variables())]

    @property
    def providers(self) -> dict[str, ProviderSettings]:
        return dict(self._providers)

    @property
    def graph_projection(self) -> bool:
        """``GRAPH_PROJECTION`` as given, else whether a Neo4j store consumes the outbox."""
        if self.GRAPH_PROJECTION is not None:
            return self.GRAPH_PROJECTION
        return self.GRAPH_BACKEND is GraphBackendName.NEO4J or bool(self.NEO4J_URL)

    @property
    def log_format(self) -> str:
        """``LOG_FORMAT`` as given, else text in development and json elsewhere."""
        if self.LOG_FORMAT is not None:
            return self.LOG_FORMAT
        return "text" if self.ENVIRONMENT is Environment.DEV else "json"

    @property
    def task_eager_in_background(self) -> bool:
        """``TASK_EAGER_IN_BACKGROUND`` as given, else true outside the test suite."""
        if self.TASK_EAGER_IN_BACKGROUND is not None:
            return self.TASK_EAGER_IN_BACKGROUND
        return self.ENVIRONMENT is not Environment.TEST

    @property
    def is_prod(self) -> bool:
        return self.ENVIRONMENT is Environment.PROD

    @property
    def jwt_uses_hmac(self) -> bool:
        return self.JWT_ALGORITHM.startswith("HS")


def _raw(value: object) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _providers_load(env_file: Any) -> dict[str, ProviderSettings]:
    """Each registered provider's block, read from its ``<NAME>_`` variables; one ValueError
    naming every bad variable (as the other fields' errors do)."""
    blocks: dict[str, ProviderSettings] = {}
    problems: list[str] = []
    for entry in PROVIDERS:
        try:
            blocks[entry.name] = entry.settings(_env_prefix=entry.env_prefix, _env_file=env_file)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(part) for part in error["loc"])
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{entry.env_prefix}{field}: {message}")
    if problems:
        raise ValueError("; ".join(problems))
    return blocks


def _check_jwt_key_files(algorithm: str, raw: str | None) -> None:
    if not raw:
        raise ValueError(f"JWT_ALGORITHM={algorithm} needs JWT_KEY_FILES (kid:/path/key.pem,...)")
    try:
        pairs = parse_jwt_keys(raw)
    except ValueError as exc:
        raise ValueError(f"JWT_KEY_FILES: {exc}") from None
    for index, (kid, path) in enumerate(pairs):
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"JWT_KEY_FILES key {kid!r}: cannot read {path} ({exc})") from None
        if "-----BEGIN" not in text:
            raise ValueError(f"JWT_KEY_FILES key {kid!r}: {path} is not a PEM file")
        if index == 0 and "PRIVATE KEY-----" not in text:
            raise ValueError(f"JWT_KEY_FILES key {kid!r}: the first (signing) key must be private")


def parse_jwt_keys(raw: str) -> list[tuple[str, str]]:
    """Parse ``kid:secret,kid2:secret2`` into ordered pairs; the first pair signs."""
    pairs: list[tuple[str, str]] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep or not kid.strip() or not secret.strip():
            raise ValueError("each key must be written kid:secret (comma-separated for rotation)")
        if not kid.strip().replace("-", "").replace("_", "").isalnum():
            raise ValueError("a key id may contain only letters, digits, '-' and '_'")
        pairs.append((kid.strip(), secret.strip()))
    if not pairs:
        raise ValueError("at least one kid:secret key is required")
    kids = [kid for kid, _ in pairs]
    if len(set(kids)) != len(kids):
        raise ValueError("key ids must be unique")
    return pairs


def email_settings(url: str) -> dict[str, Any]:
    """Django's ``EMAIL_*`` settings from ``EMAIL_URL``, parsed by dj-email-url. Its schemes
    are smtp:// and submission://; ``smtp+tls`` (STARTTLS) and ``smtp+ssl`` (implicit TLS) are
    spelled here as its ``?tls=1`` and ``?ssl=1``."""
    import dj_email_url  # type: ignore[import-untyped]  # ships no type information

    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in {"smtp", "smtp+tls", "smtp+ssl", "console"}:
        raise ValueError(
            "must be smtp://user:pass@host:port, smtp+tls://..., smtp+ssl://... or console://"
        )
    if scheme != "console" and not parts.hostname:
        raise ValueError("names no host (smtp://user:pass@host:port)")
    if scheme == "smtp+tls":
        query = "tls=1"
        default_port = 587
    elif scheme == "smtp+ssl":
        query = "ssl=1"
        default_port = 465
    else:
        query, default_port = "", 25
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number") from None
    conf: dict[str, Any] = dj_email_url.parse(
        parts._replace(scheme=scheme.partition("+")[0], query=query).geturl()
    )
    if scheme != "console" and port is None:
        conf["EMAIL_PORT"] = default_port
    return conf


def parse_fernet_keys(raw: str) -> list[str]:
    """Split comma-separated Fernet keys (the first encrypts); each must be a valid key."""
    import base64
    import binascii

    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if not keys:
        raise ValueError("at least one Fernet key is required")
    for index, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            decoded = b""
        if len(decoded) != 32:
            raise ValueError(
                f"key {index} is not a Fernet key (urlsafe base64 of 32 bytes, 44 characters)"
            )
    return keys


def format_validation_error(exc: ValidationError) -> str:
    """One line naming each bad variable and its problem."""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "invalid configuration: " + "; ".join(problems)


def load_environment(**overrides: Any) -> AppEnvironment:
    """Read and validate the environment; exit with one clear line when it is wrong."""
    try:
        return AppEnvironment(**overrides)
    except ValidationError as exc:
        raise SystemExit(f"musicbud: {format_validation_error(exc)}") from None
