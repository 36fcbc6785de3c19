"""The target's API over HTTP (stdlib only): the pre-flight check, and the
logins that give the scenarios their tokens."""
import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


class TargetError(Exception):
    """The target does not answer as the simplejwt API does; nothing is measured."""


class Client:
    def __init__(self, settings):
        self.s = settings

    def call(self, method, path, body=None, bearer=None, timeout=60):
        """(status, parsed JSON body or None)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        req = urllib.request.Request(self.s.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except OSError as e:
            raise TargetError(f"{method} {self.s.base_url}{path}: {e}") from None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None

    def login(self, user_index, timeout=60):
        """(access, refresh) of bench user USER_INDEX modulo BENCH_USERS."""
        username = f"{self.s.bench_prefix}{user_index % self.s.bench_users}"
        status, body = self.call(
            "POST", "/api/token/", {"username": username, "password": self.s.bench_password}, timeout=timeout
        )
        if status != 200 or not isinstance(body, dict) or not body.get("access") or not body.get("refresh"):
            raise TargetError(f"login as {username} gave HTTP {status}: {str(body)[:300]}")
        return body["access"], body["refresh"]

    def refresh_seeds(self, count, first_user):
        """COUNT refresh tokens from as many logins, LOGIN_CONNS at a time."""
        with ThreadPoolExecutor(max_workers=self.s.login_conns) as pool:
            pairs = pool.map(lambda i: self.login(first_user + i, timeout=120), range(count))
            return [refresh for _, refresh in pairs]

    def preflight(self):
        """Stops before any load unless login, me, verify and rotating refresh
        work; warns when a token-less /api/me/ or a replayed rotated refresh
        token is not refused."""
        access, refresh = self.login(0)
        status, body = self.call("GET", "/api/me/", bearer=access)
        if status != 200:
            raise TargetError(f"GET /api/me/ with a fresh access token gave HTTP {status}: {body}")
        if not isinstance(body, dict) or body.get("username") != f"{self.s.bench_prefix}0":
            warn(f"/api/me/ does not name {self.s.bench_prefix}0: {str(body)[:200]}")
        status, _ = self.call("GET", "/api/me/")
        if status != 401:
            warn(f"GET /api/me/ without a token gave HTTP {status} (expected 401)")
        status, body = self.call("POST", "/api/token/verify/", {"token": access})
        if status != 200:
            raise TargetError(f"POST /api/token/verify/ gave HTTP {status}: {body}")
        status, body = self.call("POST", "/api/token/refresh/", {"refresh": refresh})
        if status != 200:
            raise TargetError(f"POST /api/token/refresh/ gave HTTP {status}: {body}")
        if not isinstance(body, dict) or not body.get("refresh"):
            raise TargetError(f"the refresh answer has no rotated refresh token: {str(body)[:300]}")
        status, _ = self.call("POST", "/api/token/refresh/", {"refresh": refresh})
        if status != 401:
            warn(f"a replayed rotated refresh token gave HTTP {status} (expected 401)")


def warn(message):
    print(f"warning: {message}", file=sys.stderr)
