"""The server under test, as the environment names it, for every module of
tests/compat (crates/app-server/tests/it/compat.rs sets it):

COMPAT_BASE_URL, COMPAT_ALGORITHM (HS256 by default) and COMPAT_SECRET (the
server's AUTH_JWT_SECRET, HMAC algorithms only). Registration must be open.
"""

import os
import uuid

import requests

BASE = os.environ["COMPAT_BASE_URL"].rstrip("/")
ALGORITHM = os.environ.get("COMPAT_ALGORITHM", "HS256")
SECRET = os.environ.get("COMPAT_SECRET")
HMAC = ALGORITHM.startswith("HS")
PASSWORD = "correct horse battery staple"
TIMEOUT = 30


def url(path):
    return BASE + path


def register(prefix):
    """A fresh user: (id, username)."""
    username = prefix + uuid.uuid4().hex[:12]
    r = requests.post(
        url("/api/register/"),
        json={"username": username, "password": PASSWORD},
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], username
