"""Sliding tokens against simplejwt itself (docs/API.md, "Sliding tokens").

Two sides, against a server run with AUTH_SLIDING_TOKENS=only:

- a client that uses simplejwt's sliding flow unchanged (plain ``requests``):
  obtain at /api/token/, use, refresh at /api/token/refresh/, use;
- a simplejwt resource server: Django + Django REST framework +
  djangorestframework-simplejwt, in this process (Django's test client
  drives the real middleware, authentication and view), configured with
  ``AUTH_TOKEN_CLASSES`` including ``SlidingToken`` and our key: the shared
  secret for HMAC, our JWKS (simplejwt's ``JWK_URL``) for the asymmetric
  algorithms. It accepts our sliding tokens.

Run against a running server:

    COMPAT_BASE_URL=http://127.0.0.1:8000 COMPAT_ALGORITHM=HS256 \
    COMPAT_SECRET=... python -m pytest tests/compat/test_sliding.py

The environment is described in tests/compat/server.py; each run registers
its own user.
"""

import time

import django
import pytest
import requests
from django.conf import settings
from django.urls import path

from server import ALGORITHM, BASE, HMAC, PASSWORD, SECRET, TIMEOUT, register, url


def simple_jwt(token_classes):
    """A resource server's SIMPLE_JWT: our algorithm and key, these classes."""
    config = {
        "ALGORITHM": ALGORITHM,
        "AUTH_TOKEN_CLASSES": token_classes,
        "USER_ID_CLAIM": "user_id",
        "LEEWAY": 0,
    }
    if HMAC:
        assert SECRET, "COMPAT_SECRET is required for HMAC algorithms"
        config["SIGNING_KEY"] = SECRET
    else:
        config["SIGNING_KEY"] = None
        config["JWK_URL"] = BASE + "/.well-known/jwks.json"
    return config


BOTH = (
    "rest_framework_simplejwt.tokens.AccessToken",
    "rest_framework_simplejwt.tokens.SlidingToken",
)

settings.configure(
    DEBUG=False,
    SECRET_KEY="the resource server's own Django secret, unrelated to tokens",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "rest_framework",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    REST_FRAMEWORK={
        # A resource server that shares only the key: the user comes from
        # the token, no user table is read.
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
        ],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    },
    SIMPLE_JWT=simple_jwt(BOTH),
    USE_TZ=True,
)
django.setup()

from rest_framework.decorators import api_view  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework_simplejwt.settings import api_settings  # noqa: E402
from rest_framework_simplejwt.exceptions import TokenError  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken, SlidingToken  # noqa: E402


@api_view(["GET"])
def whoami(request):
    return Response(
        {
            "user_id": request.user.id,
            "token_type": request.auth["token_type"],
            "username": request.auth.get("username"),
        }
    )


urlpatterns = [path("whoami/", whoami)]



@pytest.fixture
def user():
    """A fresh user: (id, username)."""
    return register("sliding_")


def obtain(username):
    """simplejwt's TokenObtainSlidingView, mounted at /api/token/."""
    r = requests.post(
        url("/api/token/"),
        json={"username": username, "password": PASSWORD},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"token"}
    return r.json()["token"]


def refresh(token):
    """simplejwt's TokenRefreshSlidingView, mounted at /api/token/refresh/."""
    return requests.post(url("/api/token/refresh/"), json={"token": token}, timeout=TIMEOUT)


def me(token):
    return requests.get(
        url("/api/me/"), headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )


def resource(token):
    """GET the simplejwt resource server's protected view with the token."""
    return APIClient().get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_sliding_client_works_unchanged(user):
    user_id, username = user
    token = obtain(username)
    r = me(token)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == username

    time.sleep(1.1)  # iat and exp are whole seconds
    r = refresh(token)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"token"}
    refreshed = r.json()["token"]
    r = me(refreshed)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user_id

    old, new = SlidingToken(token), SlidingToken(refreshed)
    for kept in ("jti", "refresh_exp", "sid", "user_id"):
        assert new[kept] == old[kept], kept
    assert new["exp"] > old["exp"] and new["iat"] > old["iat"]


def test_simplejwts_resource_server_accepts_our_sliding_tokens(user):
    user_id, username = user
    token = obtain(username)
    r = resource(token)
    assert r.status_code == 200, r.content
    assert r.json() == {"user_id": str(user_id), "token_type": "sliding", "username": username}

    # simplejwt reads our token as its own SlidingToken, refresh_exp included
    # (what its TokenRefreshSlidingSerializer checks).
    parsed = SlidingToken(token)
    parsed.check_exp(api_settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM)
    assert parsed["refresh_exp"] - parsed["iat"] == 86_400

    r = refresh(token)
    assert r.status_code == 200, r.text
    r = resource(r.json()["token"])
    assert r.status_code == 200, r.content


def test_simplejwts_access_token_class_refuses_them(user):
    """Without SlidingToken in AUTH_TOKEN_CLASSES a resource server refuses
    our sliding tokens: simplejwt's AccessToken does."""
    _, username = user
    token = obtain(username)
    with pytest.raises(TokenError, match="wrong type"):
        AccessToken(token)


def test_a_logged_out_sliding_token_is_refused_by_us(user):
    _, username = user
    token = obtain(username)
    r = requests.post(url("/api/token/blacklist/"), json={"token": token}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    r = refresh(token)
    assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
    assert me(token).status_code == 401
