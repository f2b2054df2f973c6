"""Settings shared by every environment; values come from the environment (django-environ)."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    REDIS_URL=(str, ""),
)

SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-not-for-production")
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "rules.apps.AutodiscoverRulesConfig",
    "axes",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "qianhai_grants.apps.CoreConfig",
    "measures",
    "applications",
    "reviews",
    "notices",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Row history by triggers (django-pghistory) records who made each change and where.
    "qianhai_grants.history.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that a locked-out login never reaches the view.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "qianhai_grants.urls"
WSGI_APPLICATION = "qianhai_grants.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Embedded default: a SQLite file in the project; DATABASE_URL switches to PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Connections are kept between requests and between Celery tasks (a worker would otherwise
# connect anew for every task: a server process started each time, its caches empty), and
# checked before they are used again.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's cursors bind parameters in the client and never prepare a statement; the few the
    # code asks to prepare are (each notice's `sent` mark, notices/services.py). None turns that
    # off, as Django's default does for poolers that cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "qg",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Languages: Simplified Chinese first, then Traditional Chinese and English (DESIGN rule 8).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
    ("en", "English"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploaded documents live outside STATIC_ROOT and MEDIA_ROOT: nothing serves them but our views.
PRIVATE_STORAGE_ROOT = Path(env("PRIVATE_STORAGE_ROOT", default=str(BASE_DIR / "var" / "private")))

# Content Security Policy (Django's own): no inline scripts, nothing from other origins.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

REST_FRAMEWORK = {
    # Token first: an anonymous request then hears 401 (with WWW-Authenticate), not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "qianhai_grants.drf.JSONBodyParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "qianhai_grants.api.ApiSchema",
    "DEFAULT_PAGINATION_CLASS": "qianhai_grants.drf.Pagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "qianhai_grants.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/minute"),
        "user": env("THROTTLE_USER", default="600/minute"),
        "quote": env("THROTTLE_QUOTE", default="60/minute"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Qianhai Grants API",
    "DESCRIPTION": (
        "Applications for, review of and payment of the Qianhai Authority's AI subsidies. "
        "Money is a decimal string in yuan; errors are {code, message, fields}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field name ("kind", "state") other components use too; the reviewer
    # affiliations' keeps the name it had before the exports came.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "reviews.models.AffiliationKind",
        "ExportKindEnum": "reports.models.ExportKind",
        "ExportStateEnum": "reports.models.ExportState",
    },
}

# Celery: Redis when REDIS_URL is set; otherwise tasks run in-process (eager).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# How many lanes an award batch is split into, side by side: one task each, so as many worker
# processes at once (reviews/services/batches.py). Set it to the workers' concurrency.
AWARD_BATCH_LANES = env.int("AWARD_BATCH_LANES", default=2)
CELERY_BEAT_SCHEDULE: dict = {
    # Pending notices that are due and claims of dead workers go out again (notices.tasks).
    # A scan still queued when the next one is due is dropped (expires), not piled up.
    "notices-requeue-stuck": {"task": "notices.tasks.requeue_stuck", "schedule": 60.0,
                              "options": {"expires": 55}},
    # Reminders are keyed per call and company, or per review and due date: a run twice in a
    # day (a beat restart) sends nothing twice.
    "notices-remind-calls-closing": {"task": "notices.tasks.remind_calls_closing",
                                     "schedule": 24 * 60 * 60.0},
    "notices-remind-reviews-overdue": {"task": "notices.tasks.remind_reviews_overdue",
                                       "schedule": 24 * 60 * 60.0},
    # 公示 periods that ended with no objection open become awards (reviews.tasks).
    "reviews-close-publicity": {"task": "reviews.tasks.close_publicity_periods",
                                "schedule": 15 * 60.0, "options": {"expires": 14 * 60}},
    # Lanes of award batches that lost their task (a killed worker, a broker down when the
    # batch started) are handed on again (reviews.tasks).
    "reviews-resume-stalled-batches": {"task": "reviews.tasks.resume_stalled_award_batches",
                                       "schedule": 2 * 60.0, "options": {"expires": 110}},
    # Export files past their expiry are deleted, their jobs marked expired (reports.tasks).
    "reports-purge-exports": {"task": "reports.tasks.purge_exports", "schedule": 60 * 60.0,
                              "options": {"expires": 55 * 60}},
}

# Exports (reports/services.py): up to this many rows a download is answered at once; a larger
# export is written by a background job into private storage, its file kept REPORTS_EXPORT_TTL
# seconds. The job's task is stopped after REPORTS_EXPORT_TIME_LIMIT seconds. Temporary files
# (XlsxWriter's rows, a file before it is stored) go to REPORTS_EXPORT_TMPDIR, else the system's.
REPORTS_DIRECT_EXPORT_MAX_ROWS = env.int("REPORTS_DIRECT_EXPORT_MAX_ROWS", default=5000)
REPORTS_EXPORT_TTL = env.int("REPORTS_EXPORT_TTL", default=7 * 24 * 60 * 60)
REPORTS_EXPORT_TIME_LIMIT = env.int("REPORTS_EXPORT_TIME_LIMIT", default=600)
REPORTS_EXPORT_TMPDIR = env("REPORTS_EXPORT_TMPDIR", default="") or None

# Mail goes through Django's mailers: the console while developing, SMTP (or any provider
# backend named by EMAIL_BACKEND) in production.
MAILERS = {
    "default": {
        "BACKEND": env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"),
    }
}
# The site's address, for links in emails sent by background jobs (no request to build them).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="no-reply@grants.qianhai.example")

# Login throttling (django-axes): five failures lock the username and address for an hour.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
AXES_VERBOSE = False
