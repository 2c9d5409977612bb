"""Django settings, read from the environment only.

With no environment at all the app runs in the embedded development mode:
SQLite, Celery in eager mode (tasks run in-process), dev Shopify credentials.
Production sets ``DEBUG=false`` and must then provide every secret, or the
process refuses to start.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


DEBUG = env_bool("DEBUG", False)

# Documented development defaults. They are only accepted when DEBUG is on.
_DEV_SECRETS = {
    "SECRET_KEY": "dev-insecure-secret-key-change-me",
    "SHOPIFY_API_KEY": "dev-api-key",
    "SHOPIFY_API_SECRET": "dev-api-secret",
}


def env_secret(name: str) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if DEBUG:
        return _DEV_SECRETS[name]
    raise ImproperlyConfigured(
        f"{name} is not set. Set it in the environment (or run with DEBUG=true for local development)."
    )


SECRET_KEY = env_secret("SECRET_KEY")
SHOPIFY_API_KEY = env_secret("SHOPIFY_API_KEY")
SHOPIFY_API_SECRET = env_secret("SHOPIFY_API_SECRET")
SHOPIFY_API_VERSION = os.environ.get("SHOPIFY_API_VERSION", "2025-10")

# The dev-store simulator (shopify_bridge/devstore): a stand-in for Shopify's Admin API that
# the demo, the tests and the benchmarks reach over real HTTP. Never needed in production.
DEVSTORE_ENABLED = env_bool("DEVSTORE_ENABLED", DEBUG)
# Where the Admin API lives, "{shop}" standing for the shop's domain. Empty: Shopify itself
# (https://<shop>). With the simulator on, the local one by default.
SHOPIFY_ADMIN_API_ORIGIN = os.environ.get(
    "SHOPIFY_ADMIN_API_ORIGIN", "http://127.0.0.1:8000/devstore/{shop}" if DEVSTORE_ENABLED else ""
).strip()
if SHOPIFY_ADMIN_API_ORIGIN and not SHOPIFY_ADMIN_API_ORIGIN.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"SHOPIFY_ADMIN_API_ORIGIN must start with http:// or https://, got {SHOPIFY_ADMIN_API_ORIGIN!r}"
    )
# The app's public base URL: OAuth's redirect_uri, the webhook callbacks and the embedded
# admin's address are built on it (shopify.app.toml names the same). Production sets it.
SHOPIFY_APP_URL = (
    os.environ.get("SHOPIFY_APP_URL", "http://127.0.0.1:8000" if DEBUG else "").strip().rstrip("/")
)
if SHOPIFY_APP_URL and not SHOPIFY_APP_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"SHOPIFY_APP_URL must start with http:// or https://, got {SHOPIFY_APP_URL!r}"
    )
# What the install asks the merchant to grant (shopify.app.toml [access_scopes] lists the same).
SHOPIFY_SCOPES = [
    scope.strip()
    for scope in os.environ.get(
        "SHOPIFY_SCOPES",
        "read_orders,read_customers,write_customers,read_products,write_discounts,"
        "write_gift_cards,read_store_credit_accounts,write_store_credit_account_transactions",
    ).split(",")
    if scope.strip()
]
# The platform bridge the engine asks for order payloads and product facts (previews).
LOYALTY_PLATFORM_PORT = os.environ.get("LOYALTY_PLATFORM_PORT", "shopify_bridge.port")
# The library's HTTP call has no timeout of its own; a stalled Shopify must not hold a worker.
SHOPIFY_ADMIN_API_TIMEOUT_SECONDS = env_int("SHOPIFY_ADMIN_API_TIMEOUT_SECONDS", 10)
# How long product facts (type, tags, collections) read from the Admin API are trusted;
# products/update webhooks refresh them sooner.
PRODUCT_FACTS_TTL_SECONDS = env_int("PRODUCT_FACTS_TTL_SECONDS", 24 * 3600)
# Billing by redemption: the app subscription's usage line item that charges are sent to
# (unset: charges are recorded, not sent), and the charge of a reward that has no money
# value and no fixed-amount reward to price its points.
SHOPIFY_BILLING_LINE_ITEM_ID = os.environ.get("SHOPIFY_BILLING_LINE_ITEM_ID", "").strip()
LOYALTY_BILLING_FLAT_FEE = os.environ.get("LOYALTY_BILLING_FLAT_FEE", "0").strip() or "0"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "loyalty_app.shops",
    "loyalty_app.members",
    "loyalty_app.ledger",
    "loyalty_app.earning",
    "loyalty_app.actions",
    "loyalty_app.imports",
    "loyalty_app.bulk_actions",
    "loyalty_app.tiers",
    "loyalty_app.cashback",
    "loyalty_app.rewards",
    "loyalty_app.challenges",
    "loyalty_app.privacy",
    "loyalty_app.referrals",
    "loyalty_app.surveys",
    "loyalty_app.analytics",
    "loyalty_app.merchant_admin",
    "loyalty_app.widget",
    "loyalty_app.api",
    "loyalty_app.common",
    "shopify_bridge",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "loyalty_app.urls"
WSGI_APPLICATION = "loyalty_app.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Many writers (web + eager tasks) share one file: wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [path for path in [BASE_DIR / "static"] if path.is_dir()]

# Webhook bodies are read in full for the HMAC check; the receiver itself refuses
# anything above SHOPIFY_WEBHOOK_MAX_BYTES with 413 before reading it.
SHOPIFY_WEBHOOK_MAX_BYTES = env_int("SHOPIFY_WEBHOOK_MAX_BYTES", 2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = SHOPIFY_WEBHOOK_MAX_BYTES + 1024 * 1024

# --- Celery -----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# A worker killed mid-task (OOM, SIGKILL) hands the message back to the broker.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4)
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must never hang a webhook request: fail fast, the sweeper re-enqueues.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup would close the database connection around every task, so each
# award paid for a new PostgreSQL backend. Keep it; loyalty_app.celery applies
# CONN_MAX_AGE and the health checks between tasks instead.
CELERY_DB_REUSE_MAX = 10**9

# The storefront widget's rate limits (loyalty_app.widget) count in the "ratelimit" cache:
# Redis, shared by every process, when REDIS_URL is set; this process's memory otherwise.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit"}
    ),
}

# Stored webhook events: how long an event may wait in the queue before the sweeper
# re-enqueues it, and how often a failing one is retried.
WEBHOOK_SWEEP_GRACE_SECONDS = env_int("WEBHOOK_SWEEP_GRACE_SECONDS", 60)
WEBHOOK_PROCESSING_STALE_SECONDS = env_int("WEBHOOK_PROCESSING_STALE_SECONDS", 360)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 10)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env_int("WEBHOOK_SWEEP_INTERVAL_SECONDS", 30)
# A received event is only presumed lost while the broker's queue is at most this long:
# in a longer queue it is most likely still waiting its turn.
WEBHOOK_SWEEP_MAX_QUEUE = env_int("WEBHOOK_SWEEP_MAX_QUEUE", 0)
WEBHOOK_SWEEP_MAX_WAIT_SECONDS = env_int("WEBHOOK_SWEEP_MAX_WAIT_SECONDS", 600)

# The Admin API outbox (shopify_bridge.outbox): tries per call before it is given up (the
# backoff doubles from ADMIN_CALL_BACKOFF_SECONDS: 8 tries span about an hour), how long a
# worker holds a call it performs (longer than the API timeout), how often the sweep runs.
ADMIN_CALL_MAX_ATTEMPTS = env_int("ADMIN_CALL_MAX_ATTEMPTS", 8)
ADMIN_CALL_BACKOFF_SECONDS = env_int("ADMIN_CALL_BACKOFF_SECONDS", 30)
ADMIN_CALL_LEASE_SECONDS = env_int("ADMIN_CALL_LEASE_SECONDS", 120)
ADMIN_CALL_SWEEP_INTERVAL_SECONDS = env_int("ADMIN_CALL_SWEEP_INTERVAL_SECONDS", 30)

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["loyalty_app.api.authentication.ShopTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["loyalty_app.api.authentication.IsShopAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "loyalty_app.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty app merchant API",
    "DESCRIPTION": "Points, members and the points ledger of one shop. "
    "Authenticate with `Authorization: Bearer <api_token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Security -------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if not DEBUG else None
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "loyalty_app.common.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if os.environ.get("LOG_FORMAT", "plain") == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        "celery": {"level": os.environ.get("LOG_LEVEL", "INFO")},
    },
}
