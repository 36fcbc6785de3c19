"""Schemathesis hooks for scripts/schemathesis.sh.

With ST_AUTH=admin every request carries a fresh admin access token: the
fuzzer calls /api/logout/all/, which ends every session of the user, so one
token fixed at the start would be revoked within seconds and everything after
it would test only the 401. With ST_AUTH=anonymous no token is set.

The fuzzer may also deactivate or demote the admin whose tokens it is given
(PATCH /api/admin/users/{id}/, the id learnt from /api/me/). Two admins keep
each other alive: after such a PATCH the other one restores the first, so the
rest of the run is still an admin run. One PATCH changes one user, so one of
the two is always an active admin.

The admins log in from 127.0.0.2, a loopback address of their own: the
fuzzer's failed logins from 127.0.0.1 soon reach the per-address throttle
(100 failures in 15 minutes), and the admins' logins must not be refused
with them.

Environment: ST_BASE_URL (http://127.0.0.1:PORT), ST_AUTH (admin or
anonymous), ST_ADMIN_USERNAME, ST_KEEPER_USERNAME, ST_ADMIN_PASSWORD (both
admins').
"""

import functools
import http.client
import json
import os
from urllib.parse import urlsplit

import schemathesis

BASE = urlsplit(os.environ["ST_BASE_URL"])
ADMIN = os.environ["ST_ADMIN_USERNAME"]
KEEPER = os.environ["ST_KEEPER_USERNAME"]
PASSWORD = os.environ["ST_ADMIN_PASSWORD"]
ADMIN_SOURCE = ("127.0.0.2", 0)


def call(method, path, body=None, token=None):
    """One request from the admins' own address: (status, parsed JSON body)."""
    conn = http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=30, source_address=ADMIN_SOURCE)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    return response.status, json.loads(payload) if payload else None


def access_token(username):
    status, body = call("POST", "/api/token/", {"username": username, "password": PASSWORD})
    if status != 200:
        # Fail loudly: an admin run without an admin tests nothing.
        raise RuntimeError(f"login of {username} answered {status}: {body}")
    return body["access"]


@functools.cache
def user_id(username):
    status, body = call("GET", "/api/me/", token=access_token(username))
    if status != 200:
        raise RuntimeError(f"/api/me/ of {username} answered {status}: {body}")
    return body["id"]


if os.environ.get("ST_AUTH") == "admin":

    # refresh_interval=None: no caching, get() runs for every request.
    @schemathesis.auth(refresh_interval=None)
    class FreshAdminToken:
        def get(self, case, ctx):
            return access_token(ADMIN)

        def set(self, case, data, ctx):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def after_call(ctx, case, response):
    if case.method.upper() != "PATCH" or response.status_code != 200:
        return
    user = json.loads(response.content)
    names = {user_id(ADMIN): ADMIN, user_id(KEEPER): KEEPER}
    if user["id"] not in names or (user["is_active"] and user["is_admin"]):
        return
    other = KEEPER if names[user["id"]] == ADMIN else ADMIN
    path = f"/api/admin/users/{user['id']}/"
    status, body = call("PATCH", path, {"is_active": True, "is_admin": True}, access_token(other))
    if status != 200:
        raise RuntimeError(f"restoring {names[user['id']]} answered {status}: {body}")


@schemathesis.hook
def map_body(ctx, body):
    # The fuzzer learns the admins' names from responses (/api/me/, the
    # admin list); ten wrong guesses at their password would lock them out
    # for 15 minutes (AUTH_LOGIN_MAX_FAILURES). Its logins under those names
    # go to a name of its own instead.
    is_login = ctx.operation is not None and ctx.operation.path in (
        "/api/token/",
        "/api/token/sliding/",
    )
    if is_login and isinstance(body, dict) and body.get("username") in (ADMIN, KEEPER):
        return {**body, "username": f"{body['username']}-guess"}
    return body
