"""A minimal Django project whose users the test moves to app-server.

PASSWORD_HASHERS lists every hasher the test uses: Django verifies with any
of them and writes with the first (PBKDF2, Django's default), at Django's
default work factors.
"""
import os

SECRET_KEY = "django-insecure-only-for-the-black-box-test"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DJANGO_DB"],
    }
}
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
