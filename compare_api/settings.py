"""Settings for the comparison API, read from the environment (twelve-factor).

Every value a deployment changes comes from an environment variable; the README
lists them. Without any, the project runs against a SQLite file in the project
directory, which is what `make run` and `make test` use.
"""

import logging
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from compare_api.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (only DEBUG=1 may fall back to a development key).")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# HTTPS, for a deployment behind a TLS-terminating proxy (all off by default so
# `make serve` works over plain http on loopback). `manage.py check --deploy`
# passes with them set; see the README's production table.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    # First, so its commands win: runserver (JSON answers to malformed requests) over staticfiles' and
    # WhiteNoise's, db_worker (compare_api/management/commands/) over django_tasks_db's, which it wraps.
    "compare_api",
    "compare_api.admin_apps.StaffAdminConfig",  # django.contrib.admin, with two-factor login for staff
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "corsheaders",
    "knox",
    "rest_framework_api_key",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "import_export",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "simple_history",
    "tools",
    "reviews",
    "votes",
    "partners",
    "events",
    "webhooks",
    "discovery",
    "seeds",
]

MIDDLEWARE = [
    # First: the request id, metrics and the operations endpoints see every answer.
    "compare_api.operations.RequestMiddleware",
    "compare_api.middleware.EdgeExpiryMiddleware",  # outside the fast path: its answers too
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "compare_api.middleware.RejectNulBytesMiddleware",
    "compare_api.middleware.DatabaseUnavailableMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "compare_api.fastpath.CachedReadMiddleware",
    "votes.fastpath.VoteWriteMiddleware",  # a well-formed vote, answered before DRF (votes/fastpath.py)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the admin's second factor
    # Who made a revision (inline saves, reverts): it only holds the request; rows are written on saves.
    # After the fast path, so cached anonymous reads never reach it.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "compare_api.middleware.RateLimitHeadersMiddleware",
    "compare_api.middleware.DeprecationHeadersMiddleware",
    # Last, as django-axes asks: it turns a locked-out admin login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]
if DEBUG:
    # Django answers an unknown URL with its HTML technical page under DEBUG; clients get JSON.
    MIDDLEWARE.insert(0, "compare_api.middleware.DebugJsonNotFoundMiddleware")

ROOT_URLCONF = "compare_api.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "compare_api" / "templates"],
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

WSGI_APPLICATION = "compare_api.wsgi.application"


def _database_url() -> str:
    # An empty DATABASE_URL (as left by `export DATABASE_URL=`) means "unset".
    return env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"


def _duration(name: str, default: str) -> str:
    """A PostgreSQL duration ("500ms", "2s", "0" = no limit), checked here: one PostgreSQL
    refuses in a connection's startup packet would refuse every connection."""
    value = env.str(name, default=default)
    if not re.fullmatch(r"\d+(ms|s|min)?", value):
        raise ImproperlyConfigured(f"{name} must be a duration such as 500ms, 5s or 0 (no limit), not {value!r}")
    return value


DATABASES = {"default": env.db_url_config(_database_url())}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Reuse connections across requests, and check them first so a restarted
    # database costs a reconnect, not a 500 (the check costs no round trip:
    # compare_api/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "compare_api.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Our defaults, under whatever DATABASE_URL's query string sets (`?connect_timeout=10&sslmode=...`).
    # Server-side parameters let psycopg prepare a statement after it has run a
    # few times, so the hot queries are planned once per connection, not per request.
    # connect_timeout: psycopg's own default is 130 s; a database address that accepts
    # and never answers must cost a request seconds, not a worker (README: Timeouts).
    _url_options = DATABASES["default"].get("OPTIONS", {})
    _options = {
        "server_side_binding": True,
        "prepare_threshold": 5,
        "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=3),
    }
    # Request-serving processes bound every statement and every lock wait, so a held row
    # lock or a runaway query is a JSON 503 in seconds, long before gunicorn's worker
    # timeout. Set in the connection's startup packet (libpq `options`: no round trip).
    # manage.py turns them off for its commands (migrate, seed --scale, recount_votes), which
    # may run long; DB_REQUEST_TIMEOUTS=1 there keeps them on.
    _startup = {}
    if env.bool("DB_REQUEST_TIMEOUTS", default=True):
        _startup["lock_timeout"] = _duration("DB_LOCK_TIMEOUT", "2s")
        _startup["statement_timeout"] = _duration("DB_STATEMENT_TIMEOUT", "5s")
    # The planner's price of a random page read. PostgreSQL's default (4) assumes spinning
    # disks; this database is small enough to live in memory, where 1.1 is the usual value.
    # It decides the leaderboards' read: at 4 the planner sorts a category's tools by name on
    # every board, once votes have scattered the rows (each vote rewrites its tool's row), rather
    # than walk the (category, name, id) index; 1.1 walks the index. Empty: the server's.
    if random_page_cost := env.str("DB_RANDOM_PAGE_COST", default="1.1"):
        if not re.fullmatch(r"\d+(\.\d+)?", random_page_cost):
            raise ImproperlyConfigured(
                f"DB_RANDOM_PAGE_COST must be a number such as 1.1, or empty, not {random_page_cost!r}"
            )
        _startup["random_page_cost"] = random_page_cost
    if _startup:
        _options["options"] = " ".join(f"-c {name}={value}" for name, value in _startup.items())
    if _url_options.get("options"):
        # Both kept; PostgreSQL applies them in order, so the URL's win where they overlap.
        _url_options["options"] = f"{_options.get('options', '')} {_url_options['options']}".strip()
    DATABASES["default"]["OPTIONS"] = {**_options, **_url_options}

# A vote commits without waiting for its WAL record to reach the disk (PostgreSQL's
# synchronous_commit, for the vote statement only): a database crash, not a restart,
# can lose the votes of its last fraction of a second (at most 3 x wal_writer_delay),
# never leaving counters and votes apart. "on" waits for the disk (README: Durability).
VOTE_SYNCHRONOUS_COMMIT = env.str("VOTE_SYNCHRONOUS_COMMIT", default="off")
if VOTE_SYNCHRONOUS_COMMIT not in ("on", "off", "local", "remote_write", "remote_apply"):
    raise ImproperlyConfigured("VOTE_SYNCHRONOUS_COMMIT must be a synchronous_commit value: on, off, local, ...")

# How long a vote waits for its tool's row lock (normally held for well under a millisecond
# by another vote) before it answers 503; then, for VOTE_BUSY_SECONDS, this process answers
# votes on that tool at once instead of letting each one hold a worker (README: Timeouts).
VOTE_LOCK_TIMEOUT = _duration("VOTE_LOCK_TIMEOUT", "500ms")
VOTE_BUSY_SECONDS = env.int("VOTE_BUSY_SECONDS", default=5)
# While the database is unreachable, each process checks it every this many seconds in the
# background and answers requests that need it with a 503 at once (compare_api/breakers.py).
DB_BREAKER_SECONDS = env.float("DB_BREAKER_SECONDS", default=1.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First, as django-axes requires: refuses a locked-out admin login before any password is hashed.
    "axes.backends.AxesStandaloneBackend",
    # Django's model backend, accepting any case or Unicode spelling of a username.
    "votes.backends.UsernameBackend",
]

# Staff log in to the admin with a password and a TOTP code (django-otp) when this is on;
# `make run` (DEBUG=1) keeps the plain login for a local try-out. Devices: README, "Staff".
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="AI Tool Verdicts")

# django-axes: the admin login only, per account (every spelling of a username is one) or per
# client address (IPv6 by /64), AXES_FAILURE_LIMIT failures then AXES_COOLOFF_MINUTES refused.
# The API's login keeps its own per-account limit in Redis (THROTTLE_LOGIN_ACCOUNT):
# compare_api.admin_site.AdminOnlyAxesHandler keeps API attempts out of axes' counts.
AXES_HANDLER = "compare_api.admin_site.AdminOnlyAxesHandler"
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Failures while locked out do not extend the lock-out: a slowing, not a way to lock staff out for good.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "votes.usernames.axes_username"
AXES_CLIENT_IP_CALLABLE = "compare_api.admin_site.client_ip"
AXES_LOCKOUT_CALLABLE = "compare_api.admin_site.lockout_response"
AXES_VERBOSE = False

# A password reset link works once, for this many seconds.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic gathers the files, which nginx serves in the production stack.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default="") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve the admin's and Swagger UI's files straight from the installed apps, so
# the server works without a collectstatic step; production images still run
# collectstatic so the compressed copies are used.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    # JSON only; the browsable API is a development aid.
    "DEFAULT_RENDERER_CLASSES": ["compare_api.renderers.ORJSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["compare_api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "compare_api.negotiation.ContentNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "partners.auth.ApiKeyAuthentication",
        "votes.auth.BearerTokenAuthentication",
        # Last: an Authorization header neither of the above took is a 401, not anonymous service.
        "compare_api.authentication.RejectUnknownAuthorization",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["compare_api.throttling.TierRateThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_RATES": {
        # Every request, by who is asking (see compare_api/throttling.py).
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        # Anonymous badge requests instead of "anon" (compare_api.throttling.anonymous_scope).
        "badge": env.str("THROTTLE_BADGE", default="3000/min"),
        "voter": env.str("THROTTLE_VOTER", default="300/min"),
        "partner_standard": env.str("THROTTLE_PARTNER_STANDARD", default="1000/min"),
        "partner_premium": env.str("THROTTLE_PARTNER_PREMIUM", default="5000/min"),
        # Abuse limits on top, per voter account or per client IP.
        "votes": env.str("THROTTLE_VOTES", default="30/min"),
        "register": env.str("THROTTLE_REGISTER", default="10/hour"),
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        # Failed password checks per account, from any address (compare_api.throttling.attempt_count).
        "login_account": env.str("THROTTLE_LOGIN_ACCOUNT", default="5/15min"),
        "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="5/hour"),
        # Reset emails per recipient address, whoever asks.
        "password_reset_email": env.str("THROTTLE_PASSWORD_RESET_EMAIL", default="1/15min"),
        "newsletter": env.str("THROTTLE_NEWSLETTER", default="5/hour"),
        # Requests for a new verification link, per account and per client IP (the mail
        # itself is further held to one a day per address: votes.services).
        "verify_resend": env.str("THROTTLE_VERIFY_RESEND", default="3/hour"),
        "verify_resend_ip": env.str("THROTTLE_VERIFY_RESEND_IP", default="10/hour"),
    },
    # X-Forwarded-For is trusted only this many proxies deep; 0 trusts it not at all.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_PAGINATION_CLASS": "compare_api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "compare_api.filters.BoundedSearchFilter",
        "compare_api.ordering.NullsLastOrderingFilter",
    ],
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "compare_api.openapi.AutoSchema",
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "compare_api.exceptions.ApiExceptionHandler",
    # 500s are logged by Django and answered in the same JSON shape.
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    # Documented where they can occur (compare_api/openapi.py): 413 and 503 besides the package's own.
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "406", "413", "415", "429", "500", "503"],
    "ERROR_SCHEMAS": {
        "413": "compare_api.openapi.ErrorResponse413Serializer",
        "503": "compare_api.openapi.ErrorResponse503Serializer",
    },
}

# Where clients reach this API: the schema's `servers` entry (and links in emails).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# Request bodies here are small JSON documents (and admin forms); larger is a 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "AI Tool Verdicts API",
    "DESCRIPTION": (
        "Tools, the expert panel's ship/skip reviews, community votes, and side-by-side "
        "comparisons of any two published tools. Errors share one JSON shape: "
        '`{"type": ..., "errors": [{"code", "detail", "attr"}]}` where `attr` names the '
        "offending field (or is null).\n\n"
        "Freshness: a read the API answers shows every vote committed before it began. Behind the "
        "production stack's nginx, anonymous `GET` and `HEAD` reads under `/api/v1/` (no `Authorization`, "
        "no `X-API-Key`; never a preview) may be answered from the edge's own short-lived copy "
        "(`X-Cache-Status: HIT`): every such read shows every vote committed more than "
        "`EDGE_CACHE_SECONDS` before it (1 s by default). "
        "A voter's own answers (a vote's response, any read with its token) always carry the new tally."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MetricEnum": "discovery.serializers.METRIC_CHOICES",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode413Enum": "compare_api.openapi.ErrorCode413Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "ErrorCode503Enum": "compare_api.openapi.ErrorCode503Enum.choices",
        "PricingTierEnum": "tools.models.PricingTier.choices",
        "VerdictEnum": "tools.models.Verdict.choices",
    },
    "SERVERS": [
        {
            "url": PUBLIC_BASE_URL,
            "description": "This deployment's PUBLIC_BASE_URL (local development by default; production sets its own).",
            "x-internal": False,
        }
    ],
    "TAGS": [
        {"name": "auth", "description": "Voter accounts: register, exchange a password for a bearer token, log out."},
        {
            "name": "badges",
            "description": "Embeddable badges of a tool's panel or community tally: SVG, shields.io JSON, snippets.",
        },
        {"name": "categories", "description": "Tool categories, with how many published tools each holds."},
        {"name": "changes", "description": "The change feed: every change to the public documents, as events."},
        {"name": "comparisons", "description": "Side-by-side documents for any two to four published tools."},
        {
            "name": "leaderboards",
            "description": "Tools ranked by their 95% intervals: tools that cannot be told apart share a rank.",
        },
        {"name": "methodology", "description": "How every rate, interval, rank and pick the API returns is made."},
        {"name": "newsletter", "description": "Weekly AI Tool Verdicts: sign up, confirm, unsubscribe."},
        {
            "name": "previews",
            "description": "Staff only, by link: a draft's document as it will be published (signed links from "
            "the admin, good for a few minutes).",
        },
        {"name": "reviewers", "description": "The expert panel and its reviews."},
        {"name": "tools", "description": "Published tools with their tallies, reviews, and the caller's own vote."},
        {"name": "vendors", "description": "The companies behind the tools."},
        {
            "name": "webhooks",
            "description": "Partners' endpoints that receive events as they happen, signed per Standard Webhooks.",
        },
    ],
    # Rules applied to every operation, so new ones are covered (compare_api/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "compare_api.openapi.postprocess_nullable_enums",
        "compare_api.openapi.postprocess_nullable_objects",
        "compare_api.openapi.postprocess_blank_strings",
        "compare_api.openapi.postprocess_request_component_names",
        "compare_api.openapi.postprocess_integers",
        "compare_api.openapi.postprocess_headers",
        "webhooks.openapi.postprocess_webhook_message",
    ],
}

# Shared by every server process when REDIS_URL is set: throttle counters now,
# cached documents later. Short socket timeouts keep a dead Redis from stalling requests.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    CACHES = {
        "default": {
            "BACKEND": "compare_api.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="verdicts"),
            # One immediate retry on a fresh connection (a pooled one may be stale after a Redis
            # restart); none after a timeout: a stalled Redis would only stall again.
            "OPTIONS": {
                "socket_connect_timeout": 0.25,
                "socket_timeout": 0.25,
                "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Rendered read documents are cached (compare_api/caching.py) in the default
# cache. Only a cache shared by every process may hold them, so this is on with
# REDIS_URL; DOCUMENT_CACHE=1 also allows local memory for a single-process server.
DOCUMENT_CACHE = env.bool("DOCUMENT_CACHE", default=bool(REDIS_URL))
# Clients and CDNs may store reads but revalidate each use (a 304 is cheap), so
# a vote shows on the very next read that reaches Django (the stack's edge cache
# answers anonymous reads from its own copy for up to EDGE_CACHE_SECONDS: README).
API_CACHE_CONTROL = env.str("API_CACHE_CONTROL", default="public, no-cache")

# Routes being retired, by URL name: {"deprecated_at": datetime, "sunset_at": datetime,
# "link": url}. Empty: nothing in /api/v1/ is deprecated (README, "Versioning").
API_DEPRECATIONS: dict[str, dict] = {}

REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(days=env.int("TOKEN_TTL_DAYS", default=30)),
    "TOKEN_LIMIT_PER_USER": None,
    "AUTO_REFRESH": False,
}

PARTNER_USAGE_FLUSH_EVERY = env.int("PARTNER_USAGE_FLUSH_EVERY", default=50)
PARTNER_USAGE_FLUSH_SECONDS = env.int("PARTNER_USAGE_FLUSH_SECONDS", default=10)

# Browser frontends on other origins. They may read the validators and limits.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# Badges (discovery/views.py) are open to every origin, whatever the list above says: their
# views send `Access-Control-Allow-Origin: *` themselves, so corsheaders leaves them alone.
CORS_URLS_REGEX = r"^/api/(?!v1/badges/).*$"
CORS_EXPOSE_HEADERS = ["ETag", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"]
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "if-none-match", "user-agent", "x-api-key"]
CORS_PREFLIGHT_MAX_AGE = 3600

# Background work (mail now; webhooks, snapshots, scheduled publishing later) is
# a row in our own database, written in the transaction of the write it belongs
# to, and run by `manage.py db_worker` (README: "Task queue"). One queue for now.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# Webhooks (README: "Webhooks"): `manage.py webhooks_deliver` sends them, each attempt
# bounded by WEBHOOK_TIMEOUT_SECONDS. Receivers must be at public addresses: loopback,
# private, link-local, multicast and reserved ones are refused unless this allows them
# (tests and benchmarks, whose receivers are on loopback; never in production).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
# A receiver's Retry-After can lengthen a retry's wait up to this, never beyond.
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env.int("WEBHOOK_RETRY_AFTER_MAX_SECONDS", default=10 * 3600)
# After a rotation, the previous secret signs beside the new one this long.
WEBHOOK_SECRET_GRACE_HOURS = env.int("WEBHOOK_SECRET_GRACE_HOURS", default=24)
# A worker's hold on an endpoint (one sender at a time keeps its deliveries in order); a worker
# that died releases its endpoints when this runs out.
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=30)
WEBHOOK_WORKER_THREADS = env.int("WEBHOOK_WORKER_THREADS", default=16)
# How often an idle worker looks for due deliveries.
WEBHOOK_POLL_SECONDS = env.float("WEBHOOK_POLL_SECONDS", default=0.2)
if WEBHOOK_LEASE_SECONDS < 3 * WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("WEBHOOK_LEASE_SECONDS must be at least 3 x WEBHOOK_TIMEOUT_SECONDS.")
# `make run` only: the server process runs due tasks in a thread of its own, so
# development needs no second process. Never set it for a multi-process server.
TASKS_IN_PROCESS_WORKER = env.bool("TASKS_IN_PROCESS_WORKER", default=False)
# A task still RUNNING this long after it started belongs to a worker that died
# (SIGKILL, OOM, a lost machine): a starting worker puts it back in the queue.
TASKS_STALE_AFTER = timedelta(seconds=env.int("TASKS_STALE_AFTER_SECONDS", default=900))

# Periodic tasks (compare_api/periodic.py), enqueued by the worker's scheduler: finished
# task rows are kept this many days, then pruned.
TASK_RESULTS_RETENTION_DAYS = env.int("TASK_RESULTS_RETENTION_DAYS", default=3)
# Following changes (README: "Following changes"): tally events are coalesced per tool
# over this period; events are kept this many days; each published tool's tallies are
# written to its history row of the day this often (the day's last write stands).
TALLY_EVENT_SECONDS = env.int("TALLY_EVENT_SECONDS", default=5)
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=30)
HISTORY_SNAPSHOT_SECONDS = env.int("HISTORY_SNAPSHOT_SECONDS", default=3600)
# Staff's back office (README: "For editors"): drafts whose publish_at has come are published
# by a periodic job this often; a signed preview link works this long after it was shown.
PUBLISH_SCHEDULE_SECONDS = env.int("PUBLISH_SCHEDULE_SECONDS", default=30)
PREVIEW_SECONDS = env.int("PREVIEW_SECONDS", default=900)
# A page of the change feed may be served from the document cache this long after a
# commit that should have changed it (a transaction finishing can reveal events written
# by others, without a write of its own to invalidate the page).
FEED_CACHE_SECONDS = env.int("FEED_CACHE_SECONDS", default=2)

# Staff's bulk CSV work on tools (django-import-export): importing needs the "add" permission,
# exporting "view"; an import is one transaction, all rows or none.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_USE_TRANSACTIONS = True

# Discovery (README: "Leaderboards and alternatives", "Badges"): a tool is ranked on a
# community board only with at least this many counted votes; below it, it is listed
# apart as "not enough votes yet", never ranked.
LEADERBOARD_MIN_TOTAL = env.int("LEADERBOARD_MIN_TOTAL", default=10)
# How long browsers and CDNs may keep a badge without asking again (README: "Badges");
# the server's own copy is invalidated by every vote and catalog write as usual.
BADGE_MAX_AGE = env.int("BADGE_MAX_AGE", default=300)

# Where the site is reached from outside: every link in every email is built from
# it, never from a request's Host (which the client chooses). Required in production.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
if not PUBLIC_BASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured("Set PUBLIC_BASE_URL, e.g. https://verdicts.example (only DEBUG=1 has a default).")
    PUBLIC_BASE_URL = "http://127.0.0.1:8000"
if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", PUBLIC_BASE_URL):
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be an http(s) URL with a host, e.g. https://verdicts.example")
# The site the API serves (the frontend): a badge's embed snippet links to the tool's page there,
# `<SITE_URL>/tools/<slug>/`.
_SITE_URL = env.str("SITE_URL", default="").rstrip("/")
SITE_URL = _SITE_URL or PUBLIC_BASE_URL
# The admin's "View site": the frontend, else the API's docs (nothing is served at / here).
ADMIN_VIEW_SITE_URL = _SITE_URL or "/api/docs/"
if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", SITE_URL):
    raise ImproperlyConfigured("SITE_URL must be an http(s) URL with a host, e.g. https://verdicts.example")

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Weekly AI Tool Verdicts <verdicts@localhost>")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# An SMTP server that accepts and never answers must not hold a worker forever:
# the send fails after this and is retried later (compare_api/tasks.py).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404 to everyone.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Every line carries the request id; LOG_FORMAT=json writes one JSON object a line (compare_api/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be text or json.")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
if LOG_FORMAT == "json":
    logging.captureWarnings(True)  # a Python warning is a log line too, not raw text on stderr
