"""Django settings, built from the one typed settings object in ``config.environment``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import SELF, UNSAFE_INLINE

from config.environment import (
    BASE_DIR,
    Environment,
    email_settings,
    load_environment,
    parse_fernet_keys,
    parse_jwt_keys,
)
from fastpath.chain import middleware_chain

ENV = load_environment()

ENVIRONMENT = ENV.ENVIRONMENT.value
IS_PROD = ENV.is_prod
IS_TEST = ENV.ENVIRONMENT is Environment.TEST
CI = ENV.CI
DEBUG = bool(ENV.DEBUG)
SECRET_KEY = ENV.SECRET_KEY.get_secret_value()
ALLOWED_HOSTS = ENV.ALLOWED_HOSTS
if IS_TEST:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]

INSTALLED_APPS = [
    # First: its runserver replaces Django's, so `manage.py runserver` serves WebSockets too.
    # Not in production, which serves with gunicorn + uvicorn: daphne brings Twisted and
    # Autobahn, ~24 MB in every worker.
    *([] if IS_PROD else ["daphne"]),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "csp",
    "ninja",
    "channels",
    "musicbud",
    "musicbud.chat",
    "musicbud.imports",
    "musicbud.relationships",
    "musicbud.accounts",
    "graph",
    # The demo, benchmark and evaluation commands and the demo marker's table: development and
    # tests only, like daphne; the production image does not ship the package.
    *([] if IS_PROD else ["tooling"]),
]

# See FAST_PATH in config.environment: the fastpath package's specialisations of the
# frameworks, or the frameworks' stock handler and middleware.
FAST_PATH = ENV.FAST_PATH

# In the order a request meets them (the response goes back up). The request context wraps
# everything so every response (errors included) gets the request id, metrics and its
# access-log line; the header middleware sit above the envelope middleware so converted errors
# get security, CSP, frame and CORS headers too. With FAST_PATH on, middleware_chain puts the
# fast path's async-native subclass in each framework entry's place (no thread hop per hook).
STOCK_MIDDLEWARE = [
    "api.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "api.middleware.ErrorEnvelopeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
MIDDLEWARE = middleware_chain(STOCK_MIDDLEWARE, enabled=FAST_PATH)

ROOT_URLCONF = "config.urls"
TEST_RUNNER = "config.test_runner.PytestTestRunner"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
_db: dict[str, Any] = dict(dj_database_url.parse(ENV.DATABASE_URL))
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request's sync work runs in a thread of its own, so persistent
    # per-thread connections are never reused; psycopg's pool is shared by all threads.
    _db["CONN_MAX_AGE"] = 0
    _db["CONN_HEALTH_CHECKS"] = True
    _db["OPTIONS"] = {
        "connect_timeout": ENV.DB_CONNECT_TIMEOUT_SECONDS,
        **({} if ENV.DB_JIT else {"options": "-c jit=off"}),
        "pool": {
            "min_size": ENV.DB_POOL_MIN_SIZE,
            "max_size": ENV.DB_POOL_MAX_SIZE,
            "timeout": ENV.DB_POOL_TIMEOUT_SECONDS,
        },
    }
else:
    _db["CONN_MAX_AGE"] = ENV.DB_CONN_MAX_AGE
    _db["OPTIONS"] = {"timeout": 20}
    # Tests use a file, not SQLite's in-memory database: Django never closes in-memory
    # connections (closing would drop the database), which would hide connection handling.
    _db["TEST"] = {"NAME": str(BASE_DIR / "db.sqlite3-test")}
DATABASES: dict[str, dict[str, Any]] = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, sessions --------------------------------------------------------------------------
REDIS_URL = ENV.REDIS_URL
REDIS_SOCKET_TIMEOUT_SECONDS = 2
REDIS_HEALTH_CHECK_SECONDS = ENV.REDIS_HEALTH_CHECK_SECONDS
REDIS_RETRIES = ENV.REDIS_RETRIES
REDIS_RETRY_BACKOFF_SECONDS = 0.02  # doubled per retry, with jitter, up to the cap
REDIS_RETRY_CAP_SECONDS = 0.5
if REDIS_URL:
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "musicbud",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT_SECONDS,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT_SECONDS,
                # As musicbud.cache's redis.asyncio client: health-checked connections, and a
                # command that meets a dead one (Redis restarted) sent again on a new one.
                # Only connection errors are retried, never a timeout: a command that timed
                # out may have run, and a hung Redis would cost each retry's timeout again.
                "CONNECTION_POOL_KWARGS": {
                    "health_check_interval": REDIS_HEALTH_CHECK_SECONDS,
                    "retry": Retry(
                        ExponentialWithJitterBackoff(
                            base=REDIS_RETRY_BACKOFF_SECONDS, cap=REDIS_RETRY_CAP_SECONDS
                        ),
                        REDIS_RETRIES,
                        supported_errors=(RedisConnectionError,),
                    ),
                    "retry_on_error": [RedisConnectionError],
                },
            },
        }
    }
    # Written through to the database and read from Redis: losing Redis ends no session.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "musicbud",
            "KEY_PREFIX": "musicbud",
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- real-time (chat) ------------------------------------------------------------------------
# Redis pub/sub carries every group message to the workers holding its sockets, once per
# worker; nothing is stored in Redis (messages are stored in the database first, and a
# client that missed some resumes from there), so a FLUSHDB never loses a subscription.
# Pub/sub channels are not scoped by Redis database number: the prefix is.
if REDIS_URL:
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": f"musicbud.{urlsplit(REDIS_URL).path.strip('/') or '0'}.",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CHAT_SESSION_CHECK_SECONDS = ENV.CHAT_SESSION_CHECK_SECONDS
CHAT_MAX_SOCKETS_PER_USER = ENV.CHAT_MAX_SOCKETS_PER_USER

# --- auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "musicbud.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if IS_TEST:
    # Still Argon2 (same encoded format), with cheap parameters so the suite stays fast.
    PASSWORD_HASHERS = ["musicbud.hashers.TestArgon2PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
JWT_ALGORITHM = ENV.JWT_ALGORITHM
# (kid, key) pairs, the first signs: HMAC secrets, or PEM texts for RS256/ES256/EdDSA.
JWT_KEYS: list[tuple[str, str]] = (
    parse_jwt_keys(ENV.JWT_SECRET_KEYS.get_secret_value())
    if ENV.jwt_uses_hmac
    else [
        (kid, Path(path).read_text(encoding="ascii"))
        for kid, path in parse_jwt_keys(ENV.JWT_KEY_FILES or "")
    ]
)
JWT_ISSUER = ENV.JWT_ISSUER
JWT_AUDIENCE = ENV.JWT_AUDIENCE
JWT_ACCESS_TTL_SECONDS = ENV.JWT_ACCESS_TTL_SECONDS
JWT_REFRESH_TTL_SECONDS = ENV.JWT_REFRESH_TTL_SECONDS
JWT_LEEWAY_SECONDS = ENV.JWT_LEEWAY_SECONDS
USER_CACHE_TTL_SECONDS = ENV.USER_CACHE_TTL_SECONDS

# --- graph ------------------------------------------------------------------------------------
GRAPH_BACKEND = ENV.GRAPH_BACKEND.value
GRAPH_FALLBACK_TO_SQL = ENV.GRAPH_FALLBACK_TO_SQL
NEO4J_URL = ENV.NEO4J_URL
NEO4J_USER = ENV.NEO4J_USER
NEO4J_PASSWORD = ENV.NEO4J_PASSWORD.get_secret_value()
NEO4J_DATABASE = ENV.NEO4J_DATABASE
GRAPH_CONNECT_TIMEOUT_SECONDS = ENV.GRAPH_CONNECT_TIMEOUT_SECONDS
GRAPH_WORKER_BATCH_SIZE = ENV.GRAPH_WORKER_BATCH_SIZE
GRAPH_RETRY_BASE_SECONDS = ENV.GRAPH_RETRY_BASE_SECONDS
GRAPH_RETRY_MAX_SECONDS = ENV.GRAPH_RETRY_MAX_SECONDS
GRAPH_REBUILD_BATCH_SIZE = ENV.GRAPH_REBUILD_BATCH_SIZE
GRAPH_PROJECTION = ENV.graph_projection
GRAPH_OUTBOX_RETENTION_DAYS = ENV.GRAPH_OUTBOX_RETENTION_DAYS
TEST_NEO4J_URL = ENV.TEST_NEO4J_URL

# --- music services and the task runner -------------------------------------------------------
# Each provider's block of settings by name (musicbud/connections/providers/registry.py).
PROVIDERS = ENV.providers
PROVIDER_TOKEN_KEYS = parse_fernet_keys(ENV.PROVIDER_TOKEN_KEYS.get_secret_value())
CONNECT_DONE_URL = ENV.CONNECT_DONE_URL
PROVIDER_TIMEOUT_SECONDS = ENV.PROVIDER_TIMEOUT_SECONDS
PROVIDER_MAX_RETRIES = ENV.PROVIDER_MAX_RETRIES
PROVIDER_RETRY_BASE_SECONDS = ENV.PROVIDER_RETRY_BASE_SECONDS
PROVIDER_RETRY_AFTER_MAX_SECONDS = ENV.PROVIDER_RETRY_AFTER_MAX_SECONDS
CONNECTION_RESYNC_INTERVAL_SECONDS = ENV.CONNECTION_RESYNC_INTERVAL_SECONDS
CONNECTION_SYNC_STALE_SECONDS = ENV.CONNECTION_SYNC_STALE_SECONDS
JOB_HEARTBEAT_STALE_SECONDS = ENV.JOB_HEARTBEAT_STALE_SECONDS
CONNECTION_SYNC_RETRY_BASE_SECONDS = ENV.CONNECTION_SYNC_RETRY_BASE_SECONDS
CONNECTION_SYNC_RETRY_MAX_SECONDS = ENV.CONNECTION_SYNC_RETRY_MAX_SECONDS
IMPORT_MAX_UPLOAD_BYTES = ENV.IMPORT_MAX_UPLOAD_BYTES
IMPORT_MAX_EXPANDED_BYTES = ENV.IMPORT_MAX_EXPANDED_BYTES
IMPORT_MAX_COMPRESSION_RATIO = ENV.IMPORT_MAX_COMPRESSION_RATIO
IMPORT_MAX_ZIP_ENTRIES = ENV.IMPORT_MAX_ZIP_ENTRIES
IMPORT_STALE_SECONDS = ENV.IMPORT_STALE_SECONDS
# Celery (config/celery.py reads the CELERY_* names). No broker: every task runs eagerly in
# the process that queues it, so the embedded default needs no worker.
CELERY_BROKER_URL = ENV.TASK_BROKER_URL or "memory://"
# The tasks live with the services they run.
CELERY_TASK_ALWAYS_EAGER = ENV.TASK_BROKER_URL is None
# ... and, with no broker, on a thread of its own after the request answered (see
# musicbud/task_runner.py), not inside the request that queued it.
TASK_EAGER_IN_BACKGROUND = ENV.task_eager_in_background
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# A task whose worker process died is put back on the queue (not acknowledged and lost): its
# job restarts (jobs are written to be run again safely).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}
# The worker logs through LOGGING below (JSON, credentials redacted) like every other process;
# by default Celery replaces the root logger's handlers with its own plain-text one.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    # Cheap when nothing is due: one indexed query. Each due connection gets one job at most
    # (the database refuses a second active job for a connection).
    "connections-resync-due": {
        "task": "musicbud.connections.tasks.connections_resync_due",
        "schedule": min(300.0, float(CONNECTION_RESYNC_INTERVAL_SECONDS)),
    },
    # Fails the uploads whose worker died (and deletes their files), so they never block.
    "imports-dead-fail": {
        "task": "musicbud.imports.tasks.imports_lost_fail",
        "schedule": 300.0,
    },
    # Expired data exports leave the storage, lost export jobs are failed: hourly.
    "accounts-exports-expire": {
        "task": "musicbud.accounts.tasks.exports_expire",
        "schedule": 3600.0,
    },
}

# --- mail and accounts ------------------------------------------------------------------------
# EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS,
# EMAIL_USE_SSL from EMAIL_URL (dj-email-url); mails leave through musicbud.accounts.mail.
globals().update(
    {
        name: value
        for name, value in email_settings(ENV.EMAIL_URL.get_secret_value()).items()
        if name != "EMAIL_FILE_PATH"
    }
)
EMAIL_TIMEOUT = ENV.EMAIL_TIMEOUT_SECONDS
DEFAULT_FROM_EMAIL = ENV.EMAIL_FROM
SERVER_EMAIL = ENV.EMAIL_FROM
ACCOUNT_LINK_BASE_URL = ENV.ACCOUNT_LINK_BASE_URL.rstrip("/")
# Django's PasswordResetTokenGenerator reads this; the verification generator has its own.
PASSWORD_RESET_TIMEOUT = ENV.PASSWORD_RESET_TTL_SECONDS
EMAIL_VERIFICATION_TTL_SECONDS = ENV.EMAIL_VERIFICATION_TTL_SECONDS
UNVERIFIED_ACCOUNT_BLOCKS = frozenset(ENV.UNVERIFIED_ACCOUNT_BLOCKS)
EXPORT_TTL_SECONDS = ENV.EXPORT_TTL_SECONDS

# --- HTTP -------------------------------------------------------------------------------------
API_TITLE = ENV.API_TITLE
API_VERSION = ENV.API_VERSION
API_DESCRIPTION = ENV.API_DESCRIPTION
CORS_ALLOWED_ORIGINS = ENV.CORS_ORIGINS
CORS_ALLOW_CREDENTIALS = True
CSRF_TRUSTED_ORIGINS = ENV.CSRF_TRUSTED_ORIGINS
DATA_UPLOAD_MAX_MEMORY_SIZE = ENV.MAX_REQUEST_BODY_BYTES
MAX_REQUEST_BODY_BYTES = ENV.MAX_REQUEST_BODY_BYTES
# Request paths whose bodies are uploads: their own body limit instead of
# MAX_REQUEST_BODY_BYTES, and a multipart body is read from the stream (files spooled to disk
# by Django's upload handlers), never held whole in memory (api/middleware/envelope.py).
UPLOAD_BODY_LIMITS = {"/api/v1/me/imports": ENV.IMPORT_MAX_UPLOAD_BYTES}
RATE_LIMIT_PER_MINUTE = ENV.RATE_LIMIT_PER_MINUTE
RATE_LIMIT_STRICT_PER_MINUTE = ENV.RATE_LIMIT_STRICT_PER_MINUTE
RATE_LIMIT_CLIENT_PER_MINUTE = ENV.RATE_LIMIT_CLIENT_PER_MINUTE
RATE_LIMIT_FAIL_OPEN = ENV.RATE_LIMIT_FAIL_OPEN
TRUSTED_PROXY_COUNT = ENV.TRUSTED_PROXY_COUNT
METRICS_TOKEN = ENV.METRICS_TOKEN.get_secret_value() if ENV.METRICS_TOKEN else None
METRICS_ALLOWED_NETWORKS = ENV.METRICS_ALLOWED_NETWORKS
PROMETHEUS_MULTIPROC_DIR = ENV.PROMETHEUS_MULTIPROC_DIR
if PROMETHEUS_MULTIPROC_DIR:
    # prometheus-client picks multiprocess mode from this variable when it is first imported;
    # export the validated value so a .env-only setting reaches it too.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(PROMETHEUS_MULTIPROC_DIR))
    # The client writes its per-process files there from the first metric on.
    PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
LEGACY_API_ENABLED = ENV.LEGACY_API_ENABLED
LEGACY_API_SUNSET = ENV.LEGACY_API_SUNSET
PROFILE_CACHE_TTL_SECONDS = ENV.PROFILE_CACHE_TTL_SECONDS
BUDS_CACHE_TTL_SECONDS = ENV.BUDS_CACHE_TTL_SECONDS
TASTE_IMPORT_MAX_ENTRIES = ENV.TASTE_IMPORT_MAX_ENTRIES
HEALTH_CHECK_TIMEOUT_SECONDS = ENV.HEALTH_CHECK_TIMEOUT_SECONDS
SENTRY_DSN = ENV.SENTRY_DSN.get_secret_value() if ENV.SENTRY_DSN else None
SENTRY_TRACES_SAMPLE_RATE = ENV.SENTRY_TRACES_SAMPLE_RATE
if SENTRY_DSN:
    from config.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=ENVIRONMENT,
        release=ENV.API_VERSION,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )

# --- security ---------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
X_XSS_PROTECTION = ENV.X_XSS_PROTECTION
CSRF_FAILURE_VIEW = "api.errors.csrf_failure"
# Error reports (the DEBUG page) describe query sets instead of running their queries.
DEFAULT_EXCEPTION_REPORTER_FILTER = "api.errors.ErrorReportFilter"
# The Swagger UI page loads only same-origin scripts (Ninja's bundled static files); its
# stylesheet sets inline styles, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
    },
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if IS_PROD:
    SECURE_SSL_REDIRECT = ENV.SECURE_SSL_REDIRECT if ENV.SECURE_SSL_REDIRECT is not None else True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = ENV.HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = ENV.HSTS_PRELOAD
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
else:
    SECURE_SSL_REDIRECT = bool(ENV.SECURE_SSL_REDIRECT)

# --- i18n, static -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production serves what collectstatic gathered at image build time (hashed, compressed);
# elsewhere WhiteNoise finds app static files directly, so the API docs' Swagger UI assets
# are served by this project (never a CDN) under runserver, uvicorn and the test client alike.
WHITENOISE_USE_FINDERS = not IS_PROD
WHITENOISE_AUTOREFRESH = DEBUG
# History uploads wait for their job in the "imports" storage (musicbud/imports/storage.py):
# a local folder, or an S3-compatible bucket when IMPORT_S3_BUCKET is set (django-storages'
# backend, imported only then).
IMPORT_STORAGE: dict[str, Any] = (
    {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ENV.IMPORT_S3_BUCKET,
            "endpoint_url": ENV.IMPORT_S3_ENDPOINT_URL,
            "region_name": ENV.IMPORT_S3_REGION,
            "access_key": ENV.IMPORT_S3_ACCESS_KEY_ID,
            "secret_key": (
                ENV.IMPORT_S3_SECRET_ACCESS_KEY.get_secret_value()
                if ENV.IMPORT_S3_SECRET_ACCESS_KEY
                else None
            ),
            "location": ENV.IMPORT_S3_PREFIX,
            "file_overwrite": False,
            "default_acl": "private",
        },
    }
    if ENV.IMPORT_S3_BUCKET
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": ENV.IMPORT_STORAGE_DIR, "file_permissions_mode": 0o600},
    }
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "imports": IMPORT_STORAGE,
    # Data exports (musicbud.accounts): never served as static or media files; downloaded
    # only through the authenticated API.
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(ENV.EXPORT_DIR)},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PROD
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- logging ----------------------------------------------------------------------------------
# One line per record, every record tagged with the request id of the request that logged it;
# the formatters scrub credentials. A request is logged once, by our access logger
# (musicbud.access: route templates, never query strings): uvicorn's, gunicorn's and
# runserver's own access lines are off. LOG_FORMAT: JSON lines (production, the tests), or
# readable text (development), where Django's warning for each 4xx answer, which repeats the
# access line, is dropped too.
LOG_LEVEL = ENV.LOG_LEVEL
LOG_FORMAT = ENV.log_format
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "api.request_context.RequestIdFilter"},
        "answered_client_errors": {"()": "api.logs.AnsweredClientErrorFilter"},
        "server_request_lines": {"()": "api.logs.ServerRequestLineFilter"},
    },
    "formatters": {
        "json": {
            "()": "api.logs.RedactingJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        },
        "text": {"()": "api.logs.RedactingTextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "api.logs.LoopBatchedStreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {
            "level": LOG_LEVEL,
            "filters": ["answered_client_errors"] if LOG_FORMAT == "text" else [],
        },
        # runserver's request lines (daphne's, and Django's own without daphne).
        # Django's defaults give django.server a handler of its own, not propagating.
        "django.channels.server": {
            "level": LOG_LEVEL,
            "filters": ["server_request_lines"],
            "propagate": True,
        },
        "django.server": {
            "level": LOG_LEVEL,
            "filters": ["server_request_lines"],
            "propagate": True,
        },
        "uvicorn": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.error": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "gunicorn.error": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "neo4j": {"level": "WARNING"},
        # httpx logs every request's full URL at INFO; Last.fm's carry the API key and the
        # session key in the query string. The provider modules log what matters themselves.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# The Celery app (config/celery.py), by name: not loaded here, so a web worker imports Celery
# only where a job is queued (each ``tasks`` module loads it first, so its tasks queue on it,
# eagerly without a broker, never on Celery's default broker); ``celery -A config`` loads it.
TASK_APP = "config.celery.app"
