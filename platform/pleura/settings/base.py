"""Settings shared by every environment.

Every value comes from the environment with a safe default; nothing is written or generated at
import time. The defaults describe the embedded mode: a SQLite file and a media folder under `var/`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import environ

from pleura.logs import logging_config

REPO_ROOT = Path(__file__).resolve().parents[3]
PLATFORM_ROOT = REPO_ROOT / "platform"

env = environ.Env()
# A `.env` file beside manage.py is optional and never required.
env_file = REPO_ROOT / ".env"
if env_file.is_file():
    env.read_env(str(env_file))

VAR_DIR = Path(env.str("PLEURA_VAR_DIR", default=str(REPO_ROOT / "var")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "daphne",  # runserver serves ASGI (websockets) too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_results",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets as static files: /api/docs/ needs no CDN
    "django_filters",
    "accounts",
    "studies",
    "annotations",
    "modelling",
    "agreement",
    "exchange",
    "pacs",
    "api",
    "viewer",
    "workflows",  # the follow-ups that span apps (platform/README.md)
    "pleura",  # operations: backup/restore commands, metric receivers (pleura.apps)
]

# Login throttling (accounts.throttle): after this many failed logins within the window, logins of that
# user name (or from that address) answer 429 until the window passes.
PLEURA_LOGIN_MAX_FAILURES_PER_USER = env.int("PLEURA_LOGIN_MAX_FAILURES_PER_USER", default=10)
PLEURA_LOGIN_MAX_FAILURES_PER_ADDRESS = env.int("PLEURA_LOGIN_MAX_FAILURES_PER_ADDRESS", default=50)
PLEURA_LOGIN_WINDOW_S = env.int("PLEURA_LOGIN_WINDOW_S", default=15 * 60)
# API tokens (accounts.tokens) are refused this many hours after they were issued (401; log in again). A
# password change revokes them at once; POST /api/auth/token/revoke/ logs a token out.
PLEURA_TOKEN_TTL_HOURS = env.float("PLEURA_TOKEN_TTL_HOURS", default=24 * 7)
# Retry-After (seconds) of the 503 answered while the database is unavailable (api.errors).
PLEURA_DATABASE_RETRY_AFTER_S = env.int("PLEURA_DATABASE_RETRY_AFTER_S", default=5)
# How long a label write's Idempotency-Key is remembered (api.idempotency): a retry within it replays the
# first answer instead of writing again.
PLEURA_IDEMPOTENCY_KEY_TTL_S = env.int("PLEURA_IDEMPOTENCY_KEY_TTL_S", default=24 * 60 * 60)
# Model pre-annotations in the viewer: "on" (to whoever may see model output; blind mode hides them from
# annotators) or "off" (offered to nobody).
PLEURA_PREANNOTATIONS = env.str("PLEURA_PREANNOTATIONS", default="on")
# The cache holds the failure counts: set PLEURA_CACHE_URL (e.g. redis://127.0.0.1:6379/2) where several
# server processes run, so they count together; the default is per process.
CACHES = {"default": env.cache("PLEURA_CACHE_URL", default="locmemcache://")}

MIDDLEWARE = [
    # Operations (pleura.metrics, pleura.logs): latency of every answer, a request id on every log line.
    "pleura.metrics.RequestMetricsMiddleware",
    "pleura.logs.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "pleura.csp.ContentSecurityPolicyMiddleware",  # SECURE_CSP below (built into Django from 6.0)
    # Database unavailable: 503 with Retry-After instead of a 500 (api.errors; DRF views use its handler).
    "api.errors.DatabaseUnavailableMiddleware",
    # Static files answered before sessions/auth: the viewer's modules load in parallel, cheaply.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.throttle.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Content-Security-Policy (pleura.csp; Django 6.0's setting name and format): scripts and styles only from
# our own static files, never inline (no inline <script>, on…= handler, <style> or style="…" on any page;
# scripts set styles through the CSSOM, which CSP allows). Images also from data: (Swagger UI's stylesheet
# has its icons inline, the viewer's empty favicon is "data:,"); websockets are 'self'.
SECURE_CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

ROOT_URLCONF = "pleura.urls"
WSGI_APPLICATION = "pleura.wsgi.application"
ASGI_APPLICATION = "pleura.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PLATFORM_ROOT / "templates"],
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

# DATABASE_URL switches to PostgreSQL (psycopg 3), e.g. postgres://postgres@127.0.0.1:5432/pleura.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pleura.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a worker process writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL;")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 30)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

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
# The viewer's ES modules (frontend/) are served as /static/viewer/… with no build step.
STATICFILES_DIRS = [("viewer", REPO_ROOT / "frontend")]
# Served from the finders (no collectstatic step needed); `collectstatic` into STATIC_ROOT still works.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# STATIC_ROOT exists only after `collectstatic`; until then the finders serve, which is not worth a warning.
warnings.filterwarnings("ignore", message=r"No directory at: .*static", category=UserWarning)
LOGIN_URL = "viewer:login"
LOGIN_REDIRECT_URL = "viewer:home"
LOGOUT_REDIRECT_URL = "viewer:login"
STATIC_ROOT = Path(env.str("PLEURA_STATIC_ROOT", default=str(VAR_DIR / "static")))

# Media goes through Django's storage API so an S3-compatible backend can replace the folder by
# setting PLEURA_MEDIA_STORAGE (and its options) without touching code.
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("PLEURA_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {
        "BACKEND": env.str("PLEURA_MEDIA_STORAGE", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": {"location": str(MEDIA_ROOT)} if "FileSystem" in env.str(
            "PLEURA_MEDIA_STORAGE", default="FileSystem") else {},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Object storage in production (deploy/README.md): PLEURA_MEDIA_STORAGE=storages.backends.s3.S3Storage with
# django-storages' AWS_* names (MinIO, Ceph RGW or AWS S3); boto3 reads AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY from the environment. A stored name is written once (never overwritten), as on disk.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_S3_FILE_OVERWRITE = False
AWS_DEFAULT_ACL = None
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_S3_ADDRESSING_STYLE = env.str("AWS_S3_ADDRESSING_STYLE", default="path")  # MinIO and moto: path style
# Workers read stored frames and weights through a bounded local cache (core.media_cache) when storage is
# not a local folder: one folder per worker process, LRU past this many bytes.
PLEURA_MEDIA_CACHE_DIR = Path(env.str("PLEURA_MEDIA_CACHE_DIR", default=str(VAR_DIR / "media-cache")))
PLEURA_MEDIA_CACHE_BYTES = env.int("PLEURA_MEDIA_CACHE_BYTES", default=20 * 2**30)
# A scoring job of more videos than this is split into chunk tasks of this many videos that every
# scoring worker takes from the queue (modelling.scoring); a lost worker's chunk is re-delivered.
PLEURA_SCORING_CHUNK_VIDEOS = env.int("PLEURA_SCORING_CHUNK_VIDEOS", default=16)
# A search job's trials beat this often (s); one silent for three beats belongs to a dead worker and is failed
# (modelling.search). Tests make it short so a killed worker's trial is failed within seconds.
PLEURA_SEARCH_HEARTBEAT_S = env.int("PLEURA_SEARCH_HEARTBEAT_S", default=10)

# Signed frame URLs also carry a token nginx's secure_link checks when this is set (studies.frame_urls): the
# same value as in nginx's config; nginx then serves /frames/ from the media folder itself.
PLEURA_FRAME_LINK_SECRET = env.str("PLEURA_FRAME_LINK_SECRET", default="")

# Ingestion limits, read by studies.ingest: a frame larger than this many pixels is refused, and so
# is a video with more frames (both protect the disk and the workers from hostile or broken files).
PLEURA_MAX_FRAME_PIXELS = env.int("PLEURA_MAX_FRAME_PIXELS", default=4096 * 4096)
PLEURA_MAX_FRAMES = env.int("PLEURA_MAX_FRAMES", default=100_000)
# Key for the pseudonymous patient codes derived from DICOM PatientID (HMAC); keep it secret and
# stable, or the same patient maps to a new code.
PLEURA_PSEUDONYM_KEY = env.str("PLEURA_PSEUDONYM_KEY", default="")
# DICOM files declaring burned-in annotation are refused unless these rectangles (JSON: a list of
# {"manufacturer", "model", "rects": [[x, y, width, height], ...]}, no manufacturer/model = every file)
# are zeroed in their pixels first; see studies/ingest/burned_in.py.
PLEURA_BURNED_IN_MASKS = env.json("PLEURA_BURNED_IN_MASKS", default=[])
# Uploaded files are named by a pseudonym (studies.ingest.pseudonyms); on, the uploaded file's own name is
# kept too (Video.upload_name), shown to admins only and never exported. Off by default: names often
# hold the patient's name or MRN.
PLEURA_KEEP_UPLOAD_NAMES = env.bool("PLEURA_KEEP_UPLOAD_NAMES", default=False)
# Exports of more labels than this run as a job and leave a file to download (read by exchange).
PLEURA_EXPORT_STREAM_LIMIT = env.int("PLEURA_EXPORT_STREAM_LIMIT", default=500_000)
# Largest request body (uploads included), bytes; bigger requests get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("PLEURA_MAX_REQUEST_BYTES", default=20 * 2**20)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 2**20
PLEURA_MAX_UPLOAD_BYTES = env.int("PLEURA_MAX_UPLOAD_BYTES", default=2 * 2**30)
# Uploaded ZIPs (read by exchange.formats.archive): refused from the central directory, before anything is
# inflated, past this many members, bytes unpacked in all or per file, or compression ratio; members are
# then inflated with a hard cap at their declared size. A LabelMe import unpacks only its JSON files.
PLEURA_ZIP_MAX_MEMBERS = env.int("PLEURA_ZIP_MAX_MEMBERS", default=100_000)
PLEURA_ZIP_MAX_BYTES = env.int("PLEURA_ZIP_MAX_BYTES", default=2**30)
PLEURA_ZIP_MAX_MEMBER_BYTES = env.int("PLEURA_ZIP_MAX_MEMBER_BYTES", default=64 * 2**20)
PLEURA_ZIP_MAX_RATIO = env.float("PLEURA_ZIP_MAX_RATIO", default=100.0)

# Celery. Without CELERY_BROKER_URL the embedded mode uses kombu's filesystem transport in
# var/broker (no server needed); `manage.py demo` creates its folders. Jobs never run inside the web
# request: if the broker is unreachable, submitting fails loudly.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Redis: a task not acknowledged within an hour (worker killed) is delivered again.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "analysis"
# ml.tasks is no Django app, so workers import it explicitly. Tasks are queued by name, and a task's
# name family decides its queue.
CELERY_IMPORTS = ["ml.tasks"]
CELERY_TASK_ROUTES = {
    "ml.*": {"queue": "gpu"},
    "scoring.*": {"queue": "scoring"},
    "agreement.*": {"queue": "analysis"},
    "studies.*": {"queue": "ingest"},
    "exchange.*": {"queue": "analysis"},
    "pacs.*": {"queue": "ingest"},
}
# PACS (issue 20): `celery beat` polls the DICOMweb endpoints with auto_import on for new US studies;
# the C-STORE receiver spools pushed instances here before the ingest task de-identifies them.
PLEURA_PACS_POLL_SECONDS = env.int("PLEURA_PACS_POLL_SECONDS", default=15 * 60)
CELERY_BEAT_SCHEDULE = {
    "pacs-poll": {"task": "pacs.poll_endpoints", "schedule": PLEURA_PACS_POLL_SECONDS},
}
PLEURA_PACS_SPOOL = Path(env.str("PLEURA_PACS_SPOOL", default=str(VAR_DIR / "pacs-spool")))
# One queue per kind of work, each with its own hard time limit (seconds).
CELERY_QUEUE_TIME_LIMITS = {
    "ingest": env.int("PLEURA_INGEST_TIME_LIMIT", default=30 * 60),
    "analysis": env.int("PLEURA_ANALYSIS_TIME_LIMIT", default=60 * 60),
    "gpu": env.int("PLEURA_GPU_TIME_LIMIT", default=24 * 60 * 60),
    "scoring": env.int("PLEURA_SCORING_TIME_LIMIT", default=6 * 60 * 60),
}

# Channels: Redis carries job progress from workers to browsers (CHANNEL_REDIS_URL); without it an
# in-process layer is used and the websocket consumer polls the database instead (embedded demo).
CHANNEL_REDIS_URL = env.str("CHANNEL_REDIS_URL", default="")
CHANNEL_LAYERS = {
    "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [CHANNEL_REDIS_URL]}}
    if CHANNEL_REDIS_URL else {"BACKEND": "channels.layers.InMemoryChannelLayer"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Tokens first: a request without credentials then gets 401 with `WWW-Authenticate: Token` (with the
        # session first DRF turns every authentication failure, an expired token's too, into a 403).
        "accounts.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.BoundedLimitOffset",
    "PAGE_SIZE": 50,
    # `?format=` names an export format here, not a renderer.
    "URL_FORMAT_OVERRIDE": None,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pleura API",
    "DESCRIPTION": "Lung-ultrasound studies, labels, models and predictions.",
    "VERSION": "0.1.0",
    # Swagger UI from drf-spectacular-sidecar's static files (served by WhiteNoise), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Operations taking an Idempotency-Key also document its 409 and 422 (api.idempotency).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.idempotency.schema_responses"],
    # One name per choice set that several fields share (else a W001 warning and names like Format428Enum).
    "ENUM_NAME_OVERRIDES": {"ModelKindEnum": "modelling.models.ModelKind", "VideoFormatEnum": "studies.models.VideoFormat"},
}

# Logs: PLEURA_LOG_FORMAT=json writes one JSON object per line (production, for a log collector), text
# otherwise (pleura.logs).
PLEURA_LOG_FORMAT = env.str("PLEURA_LOG_FORMAT", default="text")
LOGGING = logging_config(PLEURA_LOG_FORMAT, env.str("PLEURA_LOG_LEVEL", default="INFO"))

# Prometheus /metrics (pleura.metrics): only with this bearer token or from these addresses/networks; 404 else.
PLEURA_METRICS_TOKEN = env.str("PLEURA_METRICS_TOKEN", default="")
PLEURA_METRICS_ALLOWED_IPS = env.list("PLEURA_METRICS_ALLOWED_IPS", default=[])
