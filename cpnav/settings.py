"""CP Navigator settings: one file, every value from the environment.

`.env.example` documents each variable. Bad values stop start-up with a message
that names the variable (see cpnav/envconf.py).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from cpnav.envconf import (
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_networks,
    env_socket,
    env_str,
    local_secret,
    parse_field_keys,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CPNAV_VAR_DIR", str(BASE_DIR / "var"))).resolve()

# Under pytest: a fast password hasher and plain static storage (the live test
# server serves unhashed file names). Production behaviour is tested explicitly.
TESTING = "pytest" in sys.modules

PRODUCTION = env_bool("CPNAV_PRODUCTION", False)
DEBUG = env_bool("CPNAV_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("CPNAV_DEBUG: must be false when CPNAV_PRODUCTION is true")

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY: required in production, at least 50 characters")
else:
    SECRET_KEY = env_str("SECRET_KEY") or local_secret(VAR_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS: required in production (comma-separated)")
if TESTING:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]

# Field-encryption keys for victims' identifying data: "id:base64(32 bytes)",
# newest first. Locally one key is generated into var/ on first start.
_field_keys = env_str("CPNAV_FIELD_KEYS")
if PRODUCTION and not _field_keys:
    raise ImproperlyConfigured("CPNAV_FIELD_KEYS: required in production")
FIELD_ENCRYPTION_KEYS = parse_field_keys(
    "CPNAV_FIELD_KEYS", _field_keys or local_secret(VAR_DIR / "field_keys", make="field_key")
)

# Key for the keyed hashes (blind index) that find duplicates among encrypted
# values (A-number; name + date of birth) without decrypting: base64, 32 bytes.
_index_key = env_str("CPNAV_INDEX_KEY")
if PRODUCTION and not _index_key:
    raise ImproperlyConfigured("CPNAV_INDEX_KEY: required in production")
FIELD_INDEX_KEY = parse_field_keys(
    "CPNAV_INDEX_KEY",
    "index:"
    + (_index_key or local_secret(VAR_DIR / "index_key", make="field_key").split(":", 1)[1]),
)[0].key

# Key sealing `cpnav backup` archives (base64 of 32 random bytes), apart from the
# field keys. Optional at start-up: in production `cpnav backup` and `cpnav restore`
# refuse to run without it; locally a key is generated into var/ on first use.
_backup_key = env_str("CPNAV_BACKUP_KEY")
BACKUP_KEY = (
    parse_field_keys("CPNAV_BACKUP_KEY", "backup:" + _backup_key)[0].key if _backup_key else None
)

# Attachments live outside the web root and are served only through an access check.
ATTACHMENTS_DIR = Path(env_str("CPNAV_ATTACHMENTS_DIR", str(VAR_DIR / "attachments"))).resolve()
ATTACHMENT_MAX_BYTES = env_int("CPNAV_ATTACHMENT_MAX_MB", 20, minimum=1, maximum=100) * 1024 * 1024
# A ClamAV daemon that checks every upload before it is kept (cpnav.core.malware):
# "unix:/run/clamav/clamd.ctl" or "tcp:host:3310". Unset: no scan.
CLAMD = env_socket("CPNAV_CLAMD")
CLAMD_TIMEOUT_SECONDS = env_int("CPNAV_CLAMD_TIMEOUT_SECONDS", 60, minimum=1, maximum=600)

DEMO_MODE = env_bool("CPNAV_DEMO_MODE", False)
if PRODUCTION and DEMO_MODE:
    raise ImproperlyConfigured("CPNAV_DEMO_MODE: demo mode is refused in production")

BASE_URL = env_str("CPNAV_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
HTTPS = env_bool("CPNAV_HTTPS", PRODUCTION)

INSTALLED_APPS = [
    "cpnav.core.admin.CPNavAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "cpnav.core",
    "cpnav.audit",
    "cpnav.accounts",
    "cpnav.identity",
    "cpnav.check",
    "cpnav.guide",
    "cpnav.cases",
    "cpnav.documents",
    "cpnav.screening",
    "cpnav.grants",
    "cpnav.referrals",
    "cpnav.engagement",
    "cpnav.reports",
    "cpnav.exports",
    "cpnav.imports",
    "cpnav.niem",
]

MIDDLEWARE = [
    # /api/ takes its own, shorter stack from here (token authentication only).
    "cpnav.api.middleware.ApiFastPath",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "cpnav.accounts.middleware.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "cpnav.core.middleware.NoStoreMiddleware",
    # django-axes wants to be last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cpnav.urls"
WSGI_APPLICATION = "cpnav.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cpnav.core.context.site",
            ],
        },
    }
]

DATABASES = {
    "default": database_from_url(
        "DATABASE_URL",
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'cpnav.sqlite3'}"),
        # SQLite's page cache per connection (each app worker keeps one).
        sqlite_cache_mb=env_int("CPNAV_SQLITE_CACHE_MB", 64, minimum=2, maximum=8192),
    )
}
# A PostgreSQL streaming replica for read-only pages (cpnav/core/routers.py, ADR 21):
# used only while it answers and lags less than the bound; a user who wrote within
# the sticky window keeps reading the primary. Tests read the same test database.
_replica_url = env_str("DATABASE_REPLICA_URL")
if _replica_url:
    _replica = database_from_url("DATABASE_REPLICA_URL", _replica_url)
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL: a replica must be postgres://...")
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL: needs a PostgreSQL DATABASE_URL")
    # A dead replica should cost a page seconds, not the operating system's minutes.
    _replica["OPTIONS"].setdefault("connect_timeout", "2")
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = _replica
DATABASE_ROUTERS = ["cpnav.core.routers.ReplicaRouter"]
CPNAV_REPLICA_MAX_LAG_SECONDS = env_int("CPNAV_REPLICA_MAX_LAG_SECONDS", 5, minimum=0, maximum=3600)
CPNAV_REPLICA_STICKY_SECONDS = env_int("CPNAV_REPLICA_STICKY_SECONDS", 10, minimum=0, maximum=3600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:signin"
LOGIN_REDIRECT_URL = "core:home"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# NIST SP 800-63B and CJIS 5.9.5: length over composition; no forced rotation.
PASSWORD_MIN_LENGTH = env_int("CPNAV_PASSWORD_MIN_LENGTH", 15, minimum=15, maximum=64)
PASSWORD_MAX_LENGTH = 256
# Optional extra list of breached passwords (one per line), added to Django's
# list of 20,000 common passwords drawn from breach corpora.
BREACHED_PASSWORDS_FILE = env_str("CPNAV_BREACHED_PASSWORDS_FILE")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "cpnav.accounts.passwords.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "cpnav.accounts.passwords.BreachedPasswordValidator"},
    {"NAME": "cpnav.accounts.passwords.ContextWordsValidator"},
]
# TOTP codes are accepted this many 30-second steps either side (rationale: accounts/mfa.py).
TOTP_TOLERANCE_STEPS = 1

# Security keys (WebAuthn). The relying party ID is a domain the browser's origin
# belongs to: browsers refuse an IP address, so on one (the local default) keys are
# not offered; a local run that wants them uses http://localhost:PORT as
# CPNAV_BASE_URL. Origins default to BASE_URL's own.
WEBAUTHN_RP_ID = env_str("CPNAV_WEBAUTHN_RP_ID") or (urlsplit(BASE_URL).hostname or "")
WEBAUTHN_RP_NAME = env_str("CPNAV_WEBAUTHN_RP_NAME", "CP Navigator")
WEBAUTHN_ORIGINS = env_list(
    "CPNAV_WEBAUTHN_ORIGINS",
    [f"{urlsplit(BASE_URL).scheme}://{urlsplit(BASE_URL).netloc}"],
)
for _origin in WEBAUTHN_ORIGINS:
    _host = urlsplit(_origin).hostname or ""
    if not (_host == WEBAUTHN_RP_ID or _host.endswith("." + WEBAUTHN_RP_ID)):
        raise ImproperlyConfigured(
            f"CPNAV_WEBAUTHN_ORIGINS: {_origin} is not on the relying party ID {WEBAUTHN_RP_ID}"
        )

# Sign-in policy.
LOCKOUT_FAILURES = env_int("CPNAV_LOCKOUT_FAILURES", 5, minimum=1, maximum=5)
LOCKOUT_WINDOW_MINUTES = env_int("CPNAV_LOCKOUT_WINDOW_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = LOCKOUT_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LOCKOUT_WINDOW_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "cpnav.accounts.signals.lockout_username"
AXES_LOCKOUT_CALLABLE = "cpnav.accounts.views.locked_out"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False

SESSION_IDLE_SECONDS = env_int("CPNAV_SESSION_IDLE_SECONDS", 30 * 60, minimum=1, maximum=30 * 60)
SESSION_WARNING_SECONDS = env_int("CPNAV_SESSION_WARNING_SECONDS", 120, minimum=0)
SESSION_MAX_SECONDS = env_int("CPNAV_SESSION_MAX_SECONDS", 12 * 3600, minimum=60, maximum=12 * 3600)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = SESSION_MAX_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "__Host-cpnav_session" if HTTPS else "cpnav_session"
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# Under HTTPS the "__Host-" prefix makes the browser refuse these cookies from a
# sibling subdomain or over plain HTTP (ASVS V3.3.1).
CSRF_COOKIE_NAME = "__Host-cpnav_csrf" if HTTPS else "cpnav_csrf"
LANGUAGE_COOKIE_NAME = "__Host-cpnav_language" if HTTPS else "cpnav_language"
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Flash messages ride in the server-side session, not in a cookie of their own.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
CSRF_FAILURE_VIEW = "cpnav.core.views.csrf_failure"

# Sign-in through identity providers (cpnav/identity). Clock skew allowed when
# checking token times; how long a provider's configuration and keys are cached.
IDENTITY_LEEWAY_SECONDS = env_int("CPNAV_IDENTITY_LEEWAY_SECONDS", 60, minimum=0, maximum=300)
IDENTITY_METADATA_SECONDS = env_int(
    "CPNAV_IDENTITY_METADATA_SECONDS", 300, minimum=0, maximum=86400
)
# Plain http to 127.0.0.1 for a provider's addresses: the test suite's own provider.
IDENTITY_ALLOW_HTTP_LOOPBACK = env_bool("CPNAV_IDENTITY_ALLOW_HTTP_LOOPBACK", False)
if PRODUCTION and IDENTITY_ALLOW_HTTP_LOOPBACK:
    raise ImproperlyConfigured("CPNAV_IDENTITY_ALLOW_HTTP_LOOPBACK: refused in production")

INACTIVE_ACCOUNT_DAYS = env_int("CPNAV_INACTIVE_DAYS", 90, minimum=1, maximum=90)
INVITATION_HOURS = env_int("CPNAV_INVITATION_HOURS", 72, minimum=1, maximum=24 * 14)
AUDIT_RETENTION_DAYS = env_int("CPNAV_AUDIT_RETENTION_DAYS", 365, minimum=365)

# Security headers.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = HTTPS and env_bool("CPNAV_SSL_REDIRECT", True)
# A plain-HTTP API call is refused, not redirected: the client may already have
# sent its token in the clear, and a redirect would teach it that this works.
SECURE_REDIRECT_EXEMPT = [r"^api/"]
SECURE_HSTS_SECONDS = env_int("CPNAV_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("CPNAV_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
if env_bool("CPNAV_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The reverse proxies (nginx, a load balancer) in front of the app servers. Only when
# the connection comes from one of them is X-Forwarded-For read for the client's
# address (audit events, rate limits); anyone else could write that header.
TRUSTED_PROXIES = env_networks("CPNAV_TRUSTED_PROXIES")
# Sign-in attempts (password and code steps) from one client address. Lock-out counts
# per account (five failures); this slows one address trying many accounts.
SIGNIN_ADDRESS_RATE = env_str("CPNAV_SIGNIN_ADDRESS_RATE", "300/hour")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# A cache every app server shares (the database). Rate limits do not use it:
# they count with one upsert on their own table (cpnav.core.ratelimit).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "cpnav_cache",
    }
}
# Days before a term ends from which an extension should be requested. This is
# agency practice, not a published rule (the domain file marks it unknown).
EXTENSION_LEAD_DAYS = env_int("CPNAV_EXTENSION_LEAD_DAYS", 90, minimum=0, maximum=365)

# Guide pages are flagged to system administrators this many months after review.
GUIDE_REVIEW_MONTHS = env_int("CPNAV_GUIDE_REVIEW_MONTHS", 12, minimum=1, maximum=36)
# Where the quick-exit button on victim-facing pages goes: a neutral site.
QUICK_EXIT_URL = env_str("CPNAV_QUICK_EXIT_URL", "https://www.weather.gov/")

# Reminder moments, in days before each deadline (email and in-app).
try:
    from cpnav.grants.deadlines import reminder_offsets as _reminder_offsets

    REMINDER_OFFSETS = _reminder_offsets(env_str("CPNAV_REMINDER_DAYS", "120,90,60,30,14,7"))
except ValueError as _error:
    raise ImproperlyConfigured(str(_error)) from None

# Days after which a request waiting in CCHT's inbox is highlighted. CCHT has
# published no service level: this is agency practice, not a rule.
CCHT_SLA_DAYS = env_int("CPNAV_CCHT_SLA_DAYS", 30, minimum=1, maximum=365)

# Public, unauthenticated API calls per client address.
API_ANONYMOUS_RATE = env_str("CPNAV_API_ANONYMOUS_RATE", "60/min")
# Calls per personal API token (counted in the shared counter table, per token).
API_TOKEN_RATE = env_str("CPNAV_API_TOKEN_RATE", "600/min")
# Program metrics: counts from 1 to this minus one are suppressed in published or
# exported aggregates; fiscal periods are read in this zone (CCHT's).
REPORT_SUPPRESS_BELOW = env_int("CPNAV_SUPPRESS_BELOW", 5, minimum=2, maximum=100)
REPORT_TIME_ZONE = env_str("CPNAV_REPORT_TIME_ZONE", "America/New_York")
# Seconds the dashboard's computed figures are kept in the shared cache (0 = off).
REPORT_CACHE_SECONDS = env_int("CPNAV_REPORT_CACHE_SECONDS", 300, minimum=0, maximum=3600)
if REPORT_TIME_ZONE not in available_timezones():
    raise ImproperlyConfigured(
        f"CPNAV_REPORT_TIME_ZONE: expected a time zone name such as America/New_York, "
        f"got {REPORT_TIME_ZONE!r}"
    )
# Engagement: who invitations come from, and the public forms' guards against abuse.
ENGAGEMENT_ORGANIZER_EMAIL = env_str("CPNAV_ENGAGEMENT_EMAIL", "engagement@cpnav.invalid")
PUBLIC_FORM_RATE = env_str("CPNAV_PUBLIC_FORM_RATE", "10/hour")
PUBLIC_FORM_MIN_SECONDS = env_int("CPNAV_PUBLIC_FORM_MIN_SECONDS", 3, minimum=0, maximum=600)

# Email.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CP Navigator <no-reply@cpnav.invalid>")

# Internationalisation: English by default, Spanish available.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "cpnav" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if TESTING or DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Where attachments and generated packages are kept (ADR 0022). "filesystem": under
# ATTACHMENTS_DIR, a local disk or a mount every app server shares (NFS, a cluster file
# system). "s3": a private bucket of S3 or an S3-compatible service; ATTACHMENTS_DIR then
# holds only uploads being checked. Credentials come from boto3's usual chain (AWS_*
# environment, profile, instance or task role), never from this file.
ATTACHMENTS_STORAGE = env_choice("CPNAV_ATTACHMENTS_STORAGE", "filesystem", ("filesystem", "s3"))
if ATTACHMENTS_STORAGE == "s3":
    _s3_bucket = env_str("CPNAV_S3_BUCKET")
    if not _s3_bucket:
        raise ImproperlyConfigured("CPNAV_S3_BUCKET: required when CPNAV_ATTACHMENTS_STORAGE=s3")
    _s3_endpoint = env_str("CPNAV_S3_ENDPOINT_URL")
    _s3_scheme = urlsplit(_s3_endpoint).scheme
    if _s3_endpoint and (
        _s3_scheme not in ("https", "http") or not urlsplit(_s3_endpoint).hostname
    ):
        raise ImproperlyConfigured(
            f"CPNAV_S3_ENDPOINT_URL: expected https://host[:port], got {_s3_endpoint!r}"
        )
    if PRODUCTION and _s3_scheme == "http":
        raise ImproperlyConfigured("CPNAV_S3_ENDPOINT_URL: must be https in production")
    # Encryption at rest by the service: AES256 (S3-managed keys) or aws:kms (optionally
    # with CPNAV_S3_KMS_KEY_ID); "none" only for a service that encrypts by itself and
    # refuses the header.
    _s3_sse = env_choice("CPNAV_S3_SSE", "AES256", ("AES256", "aws:kms", "none"))
    _s3_kms_key = env_str("CPNAV_S3_KMS_KEY_ID")
    if _s3_kms_key and _s3_sse != "aws:kms":
        raise ImproperlyConfigured("CPNAV_S3_KMS_KEY_ID: only used with CPNAV_S3_SSE=aws:kms")
    _s3_object_parameters = {} if _s3_sse == "none" else {"ServerSideEncryption": _s3_sse}
    if _s3_kms_key:
        _s3_object_parameters["SSEKMSKeyId"] = _s3_kms_key
    STORAGES["attachments"] = {
        "BACKEND": "cpnav.core.storage.S3AttachmentStorage",
        "OPTIONS": {
            "bucket_name": _s3_bucket,
            "endpoint_url": _s3_endpoint or None,
            "region_name": env_str("CPNAV_S3_REGION") or None,
            "object_parameters": _s3_object_parameters,
        },
    }
else:
    # No location: the backend follows ATTACHMENTS_DIR (above).
    STORAGES["attachments"] = {"BACKEND": "cpnav.core.storage.LocalAttachmentStorage"}

# Under tests and DEBUG, WhiteNoise serves straight from the app folders.
WHITENOISE_USE_FINDERS = TESTING or DEBUG
WHITENOISE_AUTOREFRESH = TESTING or DEBUG

LOG_FORMAT = env_choice("CPNAV_LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = env_choice("CPNAV_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "cpnav.core.logging.TextFormatter"},
        "json": {"()": "cpnav.core.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "axes": {"level": "WARNING"},
        # WeasyPrint logs each layout step at INFO ("weasyprint.progress"): about
        # twenty lines per package PDF. fontTools logs at INFO when WeasyPrint
        # falls back to it for font subsetting. Warnings and errors still show.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# axes.W006 asks for IP-based lock-out too. CJIS locks the account after failed
# attempts; locking by address would also lock every officer behind an agency's
# shared gateway, so the lock is per account only.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
