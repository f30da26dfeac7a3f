"""Settings for the DOM back-office, read from the environment (12-factor).

Everything that differs between a laptop and production comes from environment variables (or a `.env`
file beside manage.py); see `.env.example`. Defaults are for local development on SQLite.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

from common.csv_formats import SafeCSV

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# A development key is only acceptable with DEBUG on; production must set SECRET_KEY.
SECRET_KEY = env("SECRET_KEY", default="dev-insecure-key-change-me" if DEBUG else None)
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("Set SECRET_KEY in the environment (or DEBUG=1 for local development).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_q",
    "import_export",
    "template_partials",
    "auditlog",
    "common",
    "dom_project",
    "inventory",
    "orders",
    "routing",
    "fulfillment",
    "returns",
    "webhooks",  # outbound events: subscriptions and signed deliveries (issue 17)
    "notifications",  # customer and operations e-mails: settings, outbox and log (issue 17)
    "analytics",  # KPI rollup and dashboard figures (issue 9)
    "bench",  # benchmarks, the demo world and the `bench` / `seed_demo` commands
    # Hardening: login throttling (django-axes) and the Content-Security-Policy header (django-csp).
    "axes",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "common.audit.AuditMiddleware",  # who changed what: the user and address of each audit-log entry
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Hardening: CSP header (nonce per request), a clean 503 when the database drops, login lock-outs last.
    "csp.middleware.CSPMiddleware",
    "common.security.DatabaseUnavailableMiddleware",
    "common.security.InputGuardMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dom_project.urls"
WSGI_APPLICATION = "dom_project.wsgi.application"

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
                "common.roles.roles_context",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------
# SQLite by default (zero set-up); PostgreSQL with DATABASE_URL=postgres://user@host:5432/name.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Writers take the lock when the transaction starts, so concurrent writers queue up (for up to
            # `timeout` seconds) instead of failing half-way with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not :memory:, so that threads in concurrency tests share one database with real locking.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}
elif env.bool("DB_POOL", default=False):
    # psycopg's connection pool in each gunicorn worker (gunicorn.conf.py sets DB_POOL=1 before the workers
    # start): a request takes a connection when it first queries and hands it back at its end, without the
    # `SELECT 1` health check per request that persistent connections need. DB_POOL_MAX covers a worker's
    # threads plus the routing enqueuer. Not in the cluster: django-q2 forks its workers from a process that
    # has used the database, and a pool's connections and threads do not survive a fork.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=1),
        "max_size": env.int("DB_POOL_MAX", default=12),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# A PostgreSQL streaming replica for read-only traffic (common.dbrouting): availability, promise, the dashboard
# and its exports read there, outside transactions; every write and every read that decides a write stays on
# the primary. Tests mirror it onto the test database.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {
        **env.db("DATABASE_REPLICA_URL"),
        "CONN_MAX_AGE": DATABASES["default"].get("CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["common.dbrouting.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite cannot build NULLS NOT DISTINCT unique constraints (W047) nor covering indexes' INCLUDE columns (W040);
# PostgreSQL (production) has both, and SQLite works without them.
SILENCED_SYSTEM_CHECKS = ["models.W047", "models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Email ------------------------------------------------------------------------------------------
# Development (DEBUG) writes each e-mail to a file under .mail/ instead of the console, where the demo's
# customer e-mails would drown the server's output; production sends by SMTP (EMAIL_URL).
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / ".mail"))
if env("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="dom@localhost")
INVENTORY_ALERT_EMAILS = env.list("INVENTORY_ALERT_EMAILS", default=[])

# --- API --------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orders.auth.ApiClientTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["common.query.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "common.query.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON bodies: NUL, NaN/Infinity, deep nesting and bodies beyond DATA_UPLOAD_MAX_MEMORY_SIZE refused (4xx).
    "DEFAULT_PARSER_CLASSES": [
        "common.parsers.GuardedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    # Webhooks and feeds are rate limited per client (common.security.WebhookThrottle / FeedThrottle);
    # the counters live in the cache (Redis in production, so every gunicorn worker shares them).
    "DEFAULT_THROTTLE_RATES": {
        "webhook": env("THROTTLE_WEBHOOK", default="1200/min"),
        "feed": env("THROTTLE_FEED", default="600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DOM back-office API",
    "DESCRIPTION": "Distributed order management: inventory, orders, routing, fulfilment and returns.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "HandlingClassEnum": "inventory.models.HandlingClass",
        "InboundKindEnum": "inventory.models.InboundShipment.Kind",
        "SubscriptionKindEnum": "webhooks.models.Subscription.Kind",
        "HoldKindEnum": "orders.models.OrderHold.Kind",
        "ChannelKindEnum": "orders.models.Channel.Kind",
        "LocationKindEnum": "inventory.models.LocationKind",
    },
    # Hardening: local wall-clock times are documented as HH:MM[:SS], not RFC 3339 "time" (which needs an
    # offset the values do not have); found by the API fuzzer (dom_project/tests/test_api_fuzz.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.api.schema_local_times",
        "common.api.schema_error_responses",
        "common.api.schema_no_nul_text",
    ],
}

# --- Task queue (django-q2) ---------------------------------------------------------------------------
# ORM broker by default (no extra service); Redis when REDIS_URL is set. retry must exceed timeout so a
# task still running is not handed to a second worker.
Q_CLUSTER = {
    "name": "dom",
    "workers": env.int("Q_WORKERS", default=2),
    # Overridable so fault tests can watch a killed task come back within seconds.
    "timeout": env.int("Q_TIMEOUT", default=600),
    "retry": env.int("Q_RETRY", default=720),
    "max_attempts": 5,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "sync": env.bool("Q_SYNC", default=False),
    # django-q2 logs every enqueue at INFO on stdout; benchmarks quieten it.
    "log_level": env("Q_LOG_LEVEL", default="INFO"),
    # django-q2 reads Q_CLUSTER_NAME from the environment to serve a queue of that name (tests give each run
    # its own); it then requires this key.
    "ALT_CLUSTERS": {},
}
if env("REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env("REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"

# Where customers reach this site: links in e-mails (the "I'm here" check-in link) are made absolute with it.
DOM_PUBLIC_BASE_URL = env("DOM_PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")

# --- History tables partitioned by month (PostgreSQL; common.partitions, docs/scaling.md) ------------------
# The daily schedule keeps this many months ahead; archiving (detach, dump, drop) runs only with a retention.
DOM_PARTITION_MONTHS_AHEAD = env.int("DOM_PARTITION_MONTHS_AHEAD", default=2)
DOM_PARTITION_RETENTION_MONTHS = env.int("DOM_PARTITION_RETENTION_MONTHS", default=0)
DOM_PARTITION_ARCHIVE_DIR = env("DOM_PARTITION_ARCHIVE_DIR", default=str(BASE_DIR / "archive"))

# --- Domain settings -----------------------------------------------------------------------------------
DOM = {
    "LOW_STOCK_THRESHOLD": env.int("DOM_LOW_STOCK_THRESHOLD", default=5),
    # An address change re-routes an unreleased shipment costing more than this share above the old plan.
    "ADDRESS_CHANGE_REROUTE_THRESHOLD": env.float("DOM_ADDRESS_CHANGE_REROUTE_THRESHOLD", default=0.20),
    "RESERVATION_DEFAULT_TTL_SECONDS": env.int("DOM_RESERVATION_TTL", default=900),
    # The order doors' fixed statements as PostgreSQL prepared statements (common.rows.sql_prepared_rows); off
    # behind a connection pooler in transaction mode (pgbouncer), which cannot keep a connection's statements.
    "PREPARED_STATEMENTS": env.bool("DOM_PREPARED_STATEMENTS", default=True),
    # Orders: the routing task enqueued after validation (used only when importable; otherwise orders wait
    # as validated), the order-number prefix, and the intake promise's default cut-off and time zone.
    "ROUTE_ORDER_TASK": "routing.tasks.route_order",
    # With a cluster, new orders are routed in batches: this drain task is enqueued about once per
    # ROUTE_ENQUEUE_INTERVAL_MS (per site with Redis, per process without) for every order taken meanwhile
    # (orders.services.routing_kick); "" routes each order by its own ROUTE_ORDER_TASK.
    "ROUTE_PENDING_TASK": env("DOM_ROUTE_PENDING_TASK", default="routing.tasks.route_drain"),
    "ROUTE_ENQUEUE_INTERVAL_MS": env.int("DOM_ROUTE_ENQUEUE_INTERVAL_MS", default=1000),
    "ORDER_NUMBER_PREFIX": env("DOM_ORDER_NUMBER_PREFIX", default="DOM"),
    # Limits of one order at every door (JSON API, Shopify, B2B CSV): lines per order, units per line, and
    # the largest amount (a price, a total, a line's price × quantity) the money columns are sized for.
    "ORDER_MAX_LINES": env.int("DOM_ORDER_MAX_LINES", default=500),
    "ORDER_MAX_QUANTITY": env.int("DOM_ORDER_MAX_QUANTITY", default=100_000),
    "ORDER_MAX_AMOUNT": env("DOM_ORDER_MAX_AMOUNT", default="1000000000"),
    "PROMISE_CUTOFF": "15:00",
    "PROMISE_TIMEZONE": "America/New_York",
    "PROMISE_COUNTRY": "US",  # its national holidays: no dispatch, no carrier delivery (common.calendar)
    # Channel webhook secrets: after a rotation the previous secret keeps verifying this many hours (Shopify
    # retries a failed delivery for 48 hours, so deliveries signed with the old secret still land).
    "CHANNEL_SECRET_OVERLAP_HOURS": env.int("DOM_CHANNEL_SECRET_OVERLAP_HOURS", default=72),
    # Fulfilment: consolidation window for warehouse/3PL releases (0 = release at once), the order priority
    # at or above which nothing is held, outbox retries, default pickup days, same-day radius.
    "CONSOLIDATION_MINUTES": env.int("DOM_CONSOLIDATION_MINUTES", default=30),
    "HIGH_PRIORITY": env.int("DOM_HIGH_PRIORITY", default=10),
    # Orders API cursor pages leave out orders changed in the last N seconds (a late commit is not skipped).
    "ORDERS_API_SETTLE_SECONDS": env.int("DOM_ORDERS_API_SETTLE_SECONDS", default=5),
    "OUTBOX_BACKOFF_SECONDS": env.int("DOM_OUTBOX_BACKOFF_SECONDS", default=30),
    "OUTBOX_MAX_ATTEMPTS": env.int("DOM_OUTBOX_MAX_ATTEMPTS", default=8),
    "OUTBOX_TIMEOUT_SECONDS": env.int("DOM_OUTBOX_TIMEOUT_SECONDS", default=10),
    # Outbound webhooks (webhooks.delivery): deliveries a worker claims at once in a subscription's lane, and
    # the seconds of sending after which a lane stops and lets the other subscriptions go first.
    "OUTBOX_CLAIM_BATCH": env.int("DOM_OUTBOX_CLAIM_BATCH", default=100),
    "OUTBOX_SLOW_SECONDS": env.float("DOM_OUTBOX_SLOW_SECONDS", default=5.0),
    "PICKUP_HOLD_DAYS": env.int("DOM_PICKUP_HOLD_DAYS", default=3),
    "PICKUP_REMINDER_DAYS_BEFORE": env.int("DOM_PICKUP_REMINDER_DAYS_BEFORE", default=1),
    # "I'm here" check-in links (fulfillment.services.pickup_checkin_url): valid this many days after they
    # are made; a client may open this many check-in pages per minute (then HTTP 429).
    "CHECKIN_LINK_DAYS": env.int("DOM_CHECKIN_LINK_DAYS", default=14),
    "CHECKIN_REQUESTS_PER_MINUTE": env.int("DOM_CHECKIN_REQUESTS_PER_MINUTE", default=30),
    "SAME_DAY_RADIUS_KM": env.float("DOM_SAME_DAY_RADIUS_KM", default=40.0),
    # Routing: batch re-optimisation (routing.services.reopt) re-solves together the orders routed in the last
    # N minutes whose work is not released yet, and swaps a plan only when it saves at least $X per re-planned
    # order. Pick-failure risk: Beta(alpha, beta) prior of a store's short-pick rate (mean alpha/(alpha+beta))
    # and the days of pick history it learns from.
    "REOPT_WINDOW_MINUTES": env.int("DOM_REOPT_WINDOW_MINUTES", default=60),
    "REOPT_MARGIN": env.float("DOM_REOPT_MARGIN", default=1.0),
    "PICK_RISK_PRIOR": (1.0, 19.0),
    "PICK_RISK_HISTORY_DAYS": env.int("DOM_PICK_RISK_HISTORY_DAYS", default=90),
    # Returns: approve eligible RMAs at once (off = Operations approve each), and the stock-need preference of
    # return routing: recent sales window, days of cover a location wants, $ credit per returned unit it lacks.
    "RETURNS_AUTO_APPROVE": env.bool("DOM_RETURNS_AUTO_APPROVE", default=True),
    # A clerk's failed "order number + e-mail or postal code" look-ups allowed per 15 minutes (then HTTP 429).
    "RETURNS_START_FAILURES_PER_15_MIN": env.int("DOM_RETURNS_START_FAILURES_PER_15_MIN", default=20),
    "RETURNS_SALES_DAYS": env.int("DOM_RETURNS_SALES_DAYS", default=30),
    "RETURNS_TARGET_COVER_DAYS": env.int("DOM_RETURNS_TARGET_COVER_DAYS", default=14),
    "RETURNS_NEED_CREDIT_PER_UNIT": env.float("DOM_RETURNS_NEED_CREDIT_PER_UNIT", default=2.0),
    # Analytics (docs/kpis.md): a cycle count is accurate within max(units, pct % of the system quantity);
    # KPI targets override the defaults in analytics.registry, e.g. {"routing_accuracy": 97.0}.
    "KPI_COUNT_TOLERANCE_UNITS": env.int("DOM_KPI_COUNT_TOLERANCE_UNITS", default=0),
    "KPI_COUNT_TOLERANCE_PCT": env.float("DOM_KPI_COUNT_TOLERANCE_PCT", default=2.0),
    "KPI_TARGETS": {},
}
# Outbound HTTP and feed files (docs/operations.md, "Feeds and endpoints: credentials, hosts, files").
# Every request to a configured URL goes through common.netguard: https only and public addresses only,
# unless these allow plain http or private/loopback/link-local addresses (on by default only with DEBUG).
DOM_OUTBOUND_ALLOW_HTTP = env.bool("DOM_OUTBOUND_ALLOW_HTTP", default=DEBUG)
DOM_OUTBOUND_ALLOW_PRIVATE = env.bool("DOM_OUTBOUND_ALLOW_PRIVATE", default=DEBUG)
DOM_OUTBOUND_ALLOWED_HOSTS = env.list("DOM_OUTBOUND_ALLOWED_HOSTS", default=[])
DOM_OUTBOUND_TIMEOUT_SECONDS = env.int("DOM_OUTBOUND_TIMEOUT_SECONDS", default=30)
DOM_OUTBOUND_MAX_BYTES = env.int("DOM_OUTBOUND_MAX_BYTES", default=50 * 1024 * 1024)
# Credentials of feeds and endpoints are read only from environment variables with these prefixes.
DOM_FEED_SECRET_PREFIX = env("DOM_FEED_SECRET_PREFIX", default="DOM_FEED_")
DOM_ENDPOINT_SECRET_PREFIX = env("DOM_ENDPOINT_SECRET_PREFIX", default="DOM_ENDPOINT_")
# Directory feeds (and file:// endpoints) live under this folder; nothing outside it is read or written.
DOM_FEED_ROOT = env.path("DOM_FEED_ROOT", default=BASE_DIR / "var" / "feeds")

# Admin CSV imports (django-import-export): a permission of their own (granted to Inventory managers),
# all-or-nothing, and the uploaded file kept in media storage between preview and confirm (shared by
# every web worker, unlike a temp dir or the per-process cache). Per-row admin log entries are skipped.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
IMPORT_EXPORT_SKIP_ADMIN_LOG = True
# Admin exports: CSV only, through the formula-safe writer (common.csv); spreadsheet formats would carry formulas.
EXPORT_FORMATS = [SafeCSV]

# --- Audit log (django-auditlog, common.audit) ------------------------------------------------------------
# Master data and settings whose every change is kept with old and new values, who and from where; fields
# named like a secret (secret, token, password, key) are masked. Hot tables (stock, reservations, ledger,
# orders) are deliberately absent. Options: "exclude" (fields not worth a log entry), "m2m" (relations).
AUDIT_LOG_MODELS = {
    "inventory.Location": {"m2m": ["staff"]},
    "inventory.LocationGroup": {"m2m": ["locations"]},
    "inventory.Product": {},
    "inventory.SafetyStockRule": {},
    "inventory.ChannelAllocation": {},
    "inventory.WmsFeed": {"exclude": ["last_sequence", "updated_at"]},
    "orders.Channel": {},
    "orders.ApiClient": {},
    "orders.FraudSettings": {},
    "fulfillment.Endpoint": {},
    "webhooks.Subscription": {},
    "fulfillment.StoreSettings": {},
    "fulfillment.RejectionReason": {},
    "fulfillment.SupplierItem": {},
    "routing.RoutingSettings": {"exclude": ["revision"]},
    "routing.CarrierService": {},
    "routing.RateBand": {},
    "routing.LocationCapacity": {"exclude": ["used"]},
    "auth.User": {"exclude": ["last_login"], "m2m": ["groups", "user_permissions"]},
    "auth.Group": {"m2m": ["permissions"]},
}
AUDITLOG_MASK_CALLABLE = "common.audit.audit_value_mask"
AUDIT_CLIENT_IP_CALLABLE = "common.security.client_ip"

# --- Security (production) ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Idle timeout of back-office sessions: a session expires this long after its last request (every request
# renews it; API clients with tokens and webhooks have no session). Password-reset links live 1 day.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=8 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = True
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=24 * 60 * 60)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Cache: Redis when REDIS_URL is set (shared by all workers: throttles, locks), else local memory.
if env("REDIS_URL", default=""):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Login throttling (django-axes): 5 failures for one username from one address lock that pair out for
# 15 minutes (HTTP 429); 20 failures from one address across any user names lock the address (password
# spraying); a success resets its user's count. Behind a proxy set TRUSTED_PROXY_COUNT so the client
# address is read from X-Forwarded-For (common.security.client_ip).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURES_PER_USER = env.int("AXES_FAILURE_LIMIT", default=5)
LOGIN_FAILURES_PER_ADDRESS = env.int("AXES_FAILURE_LIMIT_PER_ADDRESS", default=20)
AXES_FAILURE_LIMIT = "common.security.login_failure_limit"
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["ip_address", ["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "common.security.client_ip"
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Content-Security-Policy (django-csp): only our own origin; inline <script>/<style> need the request's
# nonce ({{ request.csp_nonce }}); no inline style attributes or event handlers anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # https: product photos (inventory.Product.image_url) may live on a CDN.
        "img-src": [SELF, "data:", "https:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SAMESITE = "Lax"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-q2 applies its log_level only without a root handler; here the root has one, so say it here.
        "django-q": {"level": Q_CLUSTER["log_level"]},
    },
}
