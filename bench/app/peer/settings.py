"""Settings of the simplejwt peer: Django + DRF + djangorestframework-simplejwt.

Run-time state lives in PEER_DIR, never in the repository. Environment:

  PEER_DIR       state directory: SQLite file, secret key (bench/setup.sh makes it)
  DATABASE_URL   a PostgreSQL URL (postgres://user:pass@host:port/name) for the
                 production shape; unset = SQLite in PEER_DIR
  CONN_MAX_AGE   seconds a worker keeps its database connection (default 60;
                 Django's own default, 0, reconnects on every request)
  BCRYPT_COST    bcrypt work factor of the password hasher (default 12)
"""
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PEER_DIR = Path(os.environ.get("PEER_DIR") or Path(os.environ.get("TMPDIR") or "/tmp") / "auth-bench-peer")


def secret_key():
    try:
        return (PEER_DIR / "secret_key").read_text().strip()
    except FileNotFoundError:
        raise ImproperlyConfigured(f"no {PEER_DIR}/secret_key: run bench/setup.sh first") from None


def database():
    conn_max_age = int(os.environ.get("CONN_MAX_AGE", "60"))
    url = os.environ.get("DATABASE_URL")
    if url:
        return dj_database_url.parse(url, conn_max_age=conn_max_age)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(PEER_DIR / "db.sqlite3"),
        "CONN_MAX_AGE": conn_max_age,
        "OPTIONS": {
            # Every gunicorn worker is a process writing the token tables:
            # WAL, IMMEDIATE transactions and a long busy timeout make writers
            # queue instead of failing with "database is locked".
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }


SECRET_KEY = secret_key()
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "peer",
]

# JWT only: no sessions, no messages. DRF's APIView is csrf_exempt, so the
# CSRF middleware lets the JSON POSTs through.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

ROOT_URLCONF = "peer.urls"
WSGI_APPLICATION = "peer.wsgi.application"
DATABASES = {"default": database()}

PASSWORD_HASHERS = [
    "peer.hashers.EnvCostBCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ("rest_framework_simplejwt.authentication.JWTAuthentication",),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.AllowAny",),
    # JSON only: the browsable API renders templates.
    "DEFAULT_RENDERER_CLASSES": ("rest_framework.renderers.JSONRenderer",),
}

# Refresh tokens rotate and the used one is blacklisted, as in our server.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Warnings and errors only, nothing per request (our server runs at warn too).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
