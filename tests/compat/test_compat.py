"""Compatibility with djangorestframework-simplejwt clients and PyJWT.

A client written exactly as against simplejwt (plain ``requests``), and PyJWT
verifying the server's tokens: with the shared secret for HMAC, with the JWKS
for RS256, ES256 and EdDSA.

Run against a running server:

    COMPAT_BASE_URL=http://127.0.0.1:8000 COMPAT_ALGORITHM=HS256 \
    COMPAT_SECRET=... python -m pytest tests/compat/test_compat.py

The environment is described in tests/compat/server.py; each run registers
its own user.
"""

import re

import jwt
import pytest
import requests

from server import ALGORITHM, HMAC, PASSWORD, SECRET, TIMEOUT, register, url


@pytest.fixture
def user():
    """A fresh user: (id, username)."""
    return register("compat_")


def obtain(username, password=PASSWORD):
    return requests.post(
        url("/api/token/"),
        json={"username": username, "password": password},
        timeout=TIMEOUT,
    )


def pair(username):
    r = obtain(username)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access", "refresh"}
    return body["access"], body["refresh"]


def decode(token):
    """Verify a token as a third party would: the secret, or the JWKS key named by kid."""
    options = {"require": ["exp", "iat", "jti", "sub"]}
    if HMAC:
        assert SECRET, "COMPAT_SECRET is required for HMAC algorithms"
        return jwt.decode(token, SECRET, algorithms=[ALGORITHM], options=options)
    client = jwt.PyJWKClient(url("/.well-known/jwks.json"))
    signing_key = client.get_signing_key_from_jwt(token)
    return jwt.decode(token, signing_key.key, algorithms=[ALGORITHM], options=options)


# ------------------------------------------------------------ simplejwt client


def test_obtain_pair_like_simplejwt(user):
    _, username = user
    r = obtain(username)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert set(r.json()) == {"access", "refresh"}


def test_wrong_password_is_no_active_account(user):
    _, username = user
    r = obtain(username, "not the password")
    assert r.status_code == 401
    assert r.json() == {
        "detail": "No active account found with the given credentials",
        "code": "no_active_account",
    }


def test_me_with_bearer_access_token(user):
    user_id, username = user
    access, _ = pair(username)
    r = requests.get(
        url("/api/me/"), headers={"Authorization": f"Bearer {access}"}, timeout=TIMEOUT
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user_id
    assert r.json()["username"] == username


def test_refresh_returns_new_access_and_rotated_refresh(user):
    _, username = user
    access, refresh = pair(username)
    r = requests.post(url("/api/token/refresh/"), json={"refresh": refresh}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != refresh
    assert body["access"] != access
    # the old refresh token was single use
    r = requests.post(url("/api/token/refresh/"), json={"refresh": refresh}, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["code"] == "token_not_valid"


def test_verify_accepts_valid_tokens_and_refuses_others(user):
    _, username = user
    access, refresh = pair(username)
    for token in (access, refresh):
        r = requests.post(url("/api/token/verify/"), json={"token": token}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        assert r.json() == {}
    r = requests.post(url("/api/token/verify/"), json={"token": access + "x"}, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["code"] == "token_not_valid"
    assert isinstance(r.json()["detail"], str)


def test_blacklist_then_the_token_is_refused(user):
    _, username = user
    _, refresh = pair(username)
    r = requests.post(url("/api/token/blacklist/"), json={"refresh": refresh}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    r = requests.post(url("/api/token/refresh/"), json={"refresh": refresh}, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["code"] == "token_not_valid"
    r = requests.post(url("/api/token/verify/"), json={"token": refresh}, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["code"] == "token_not_valid"


def test_paths_without_trailing_slash_are_served(user):
    _, username = user
    r = requests.post(
        url("/api/token"), json={"username": username, "password": PASSWORD}, timeout=TIMEOUT
    )
    assert r.status_code == 200, r.text


# ------------------------------------------------------------ PyJWT


def test_pyjwt_verifies_the_tokens_and_reads_the_claims(user):
    user_id, username = user
    access, refresh = pair(username)

    header = jwt.get_unverified_header(access)
    assert header["alg"] == ALGORITHM
    assert header["typ"] == "JWT"
    if not HMAC:
        assert header["kid"]

    claims = decode(access)
    assert claims["token_type"] == "access"
    assert claims["user_id"] == str(user_id)
    assert claims["sub"] == str(user_id)
    assert claims["username"] == username
    assert re.fullmatch(r"[0-9a-f]{32}", claims["jti"])
    assert claims["sid"]
    assert claims["exp"] > claims["iat"]

    refresh_claims = decode(refresh)
    assert refresh_claims["token_type"] == "refresh"
    assert refresh_claims["user_id"] == str(user_id)
    assert refresh_claims["sub"] == str(user_id)
    assert refresh_claims["sid"] == claims["sid"]
    assert refresh_claims["jti"] != claims["jti"]

    # rotated tokens verify the same way and stay in the session
    r = requests.post(url("/api/token/refresh/"), json={"refresh": refresh}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    rotated = decode(r.json()["refresh"])
    assert rotated["sid"] == claims["sid"]
    assert decode(r.json()["access"])["token_type"] == "access"


def test_pyjwt_refuses_a_tampered_token(user):
    _, username = user
    access, _ = pair(username)
    head, payload, signature = access.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(jwt.InvalidTokenError):
        decode(".".join([head, payload, flipped]))
    if HMAC:
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(access, SECRET + "x", algorithms=[ALGORITHM])


def test_jwks_as_pyjwt_reads_it():
    r = requests.get(url("/.well-known/jwks.json"), timeout=TIMEOUT)
    assert r.status_code == 200
    assert "public" in r.headers.get("Cache-Control", "")
    document = r.json()
    if HMAC:
        assert document == {"keys": []}
        return
    assert document["keys"]
    for key in document["keys"]:
        assert key["kid"] and key["alg"] == ALGORITHM and key["use"] == "sig"
    key_set = jwt.PyJWKSet.from_dict(document)
    assert {k.key_id for k in key_set.keys} == {k["kid"] for k in document["keys"]}
