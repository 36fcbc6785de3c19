"""Fixed-rate mixed load through nginx, one JSON line per request.

Run on the `client` host of the HA stack (scripts/ha-test.sh starts it there):

    python3 tests/ha/haload.py --url http://10.77.0.10:8080 --rate 20 --out load.jsonl

A scheduler emits one request every 1/rate seconds, whatever the answers
take (an open loop: an outage does not slow the offered load down); worker
threads send them on keep-alive connections. The mix: verify of an access
token, /api/me/, refresh (each user rotates its own chain, one request at a
time), login, registration, JWKS and /healthz. Each line holds the wall-clock
start and end, route, status, code, Retry-After, latency and, for tokens
answered 2xx, the new refresh token's jti and session id (never a token), and
for registrations answered 201 the username: what the checks compare with the
database afterwards.

An honest client: after a refresh that did not answer 200 it does not replay
that token (the server may have rotated it: replaying would be reuse), it
logs in again. Runs until SIGTERM or SIGINT; standard library only.
"""

import argparse
import base64
import json
import os
import queue
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "stack"))
from stacklib import PASSWORD, Client  # noqa: E402

EXPECTED = {
    "verify": 200, "me": 200, "refresh": 200, "login": 200,
    "register": 201, "jwks": 200, "healthz": 200,
}
WEIGHTS = {
    "verify": 30, "me": 20, "refresh": 22, "login": 6,
    "register": 6, "jwks": 8, "healthz": 8,
}
# Per request: above nginx's proxy_next_upstream budget (10 s) and the
# app's AUTH_DB_TIMEOUT, below its proxy_read_timeout (30 s).
TIMEOUT = 35.0


def token_claims(token):
    """The payload of a JWT, unverified: only its jti and sid are logged."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class User:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.access = None
        self.refresh = None
        self.needs_login = True

    def take(self, pair):
        self.access, self.refresh = pair["access"], pair["refresh"]
        self.needs_login = False
        claims = token_claims(self.refresh)
        return claims["jti"], claims["sid"]


class Load:
    def __init__(self, args):
        self.host, self.port = args.url.split("//", 1)[1].rsplit(":", 1)
        self.port = int(self.port)
        self.rate = args.rate
        self.run_id = args.run_id or f"{os.getpid():x}{random.randrange(1 << 16):04x}"
        self.users = [User(f"hl-{self.run_id}-u{i}") for i in range(args.users)]
        self.out = open(args.out, "a", buffering=1)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticks = queue.Queue(maxsize=args.workers * 4)
        self.workers = args.workers
        self.skipped = 0
        self.ops = [op for op, w in WEIGHTS.items() for _ in range(w)]

    def log(self, rec):
        with self.lock:
            self.out.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def request(self, client, method, path, body=None, token=None):
        started = time.time()
        try:
            r = client.request(method, path, body, token)
        except Exception as e:  # a socket error or a timeout is a result too
            return None, {"t": started, "end": time.time(), "status": None,
                          "error": f"{type(e).__name__}: {e}"[:160]}
        rec = {"t": started, "end": time.time(), "status": r.status}
        if r.status >= 400:
            rec["code"] = r.code
            rec["retry_after"] = r.header("Retry-After")
        if r.resent:
            rec["resent"] = True
        return r, rec

    def setup(self, deadline):
        """Register every user (a 409 from an earlier try is fine) and log it in."""
        client = Client(self.host, self.port, TIMEOUT)
        for user in self.users:
            while True:
                r, _ = self.request(client, "POST", "/api/register/",
                                    {"username": user.name, "password": PASSWORD})
                if r is not None and r.status in (201, 409):
                    r, _ = self.request(client, "POST", "/api/token/",
                                        {"username": user.name, "password": PASSWORD})
                    if r is not None and r.status == 200:
                        user.take(r.json)
                        break
                if time.time() > deadline:
                    raise SystemExit(f"haload: could not set up {user.name}: {r!r}")
                time.sleep(0.5)
        client.close()

    def free_user(self, rnd, prefer_login=False):
        """A user no other request is using, locked; None when all are busy."""
        order = list(self.users)
        rnd.shuffle(order)
        if prefer_login:
            order.sort(key=lambda u: not u.needs_login)
        for user in order:
            if user.lock.acquire(blocking=False):
                return user
        return None

    def one(self, client, k, scheduled):
        rnd = random.Random(k)
        op = rnd.choice(self.ops)
        user = None
        extra = {}
        if op in ("refresh", "login"):
            user = self.free_user(rnd, prefer_login=True)
            if user is None:
                op = "verify"
            elif user.needs_login:
                op = "login"
        try:
            if op in ("verify", "me"):
                u = rnd.choice([u for u in self.users if u.access] or self.users)
                if op == "verify":
                    r, rec = self.request(client, "POST", "/api/token/verify/", {"token": u.access})
                else:
                    r, rec = self.request(client, "GET", "/api/me/", token=u.access)
            elif op == "refresh":
                r, rec = self.request(client, "POST", "/api/token/refresh/", {"refresh": user.refresh})
                if r is not None and r.status == 200:
                    extra["jti"], extra["sid"] = user.take(r.json)
                else:
                    user.needs_login = True  # never replay a token that may be rotated
            elif op == "login":
                r, rec = self.request(client, "POST", "/api/token/",
                                      {"username": user.name, "password": PASSWORD})
                if r is not None and r.status == 200:
                    extra["jti"], extra["sid"] = user.take(r.json)
            elif op == "register":
                name = f"hl-{self.run_id}-r{k}"
                r, rec = self.request(client, "POST", "/api/register/",
                                      {"username": name, "password": PASSWORD})
                if r is not None and r.status == 201:
                    extra["reg"] = name
            elif op == "jwks":
                r, rec = self.request(client, "GET", "/.well-known/jwks.json")
            else:
                r, rec = self.request(client, "GET", "/healthz")
        finally:
            if user is not None:
                user.lock.release()
        rec.update(extra, k=k, op=op, sched=scheduled, ok=rec["status"] == EXPECTED[op])
        if user is not None:
            rec["user"] = self.users.index(user)
        self.log(rec)

    def worker(self):
        client = Client(self.host, self.port, TIMEOUT)
        while True:
            item = self.ticks.get()
            if item is None:
                break
            self.one(client, *item)
        client.close()

    def run(self):
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        wall0 = time.time()
        k = 0
        while not self.stop.is_set():
            due = t0 + k / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            try:
                self.ticks.put_nowait((k, wall0 + k / self.rate))
            except queue.Full:  # every worker busy: the client, not the stack, is saturated
                self.skipped += 1
                self.log({"k": k, "op": "skipped", "sched": wall0 + k / self.rate})
            k += 1
        for _ in threads:
            self.ticks.put(None)
        for t in threads:
            t.join(TIMEOUT + 5)
        print(json.dumps({"scheduled": k, "skipped": self.skipped}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--users", type=int, default=12)
    p.add_argument("--workers", type=int, default=64)
    p.add_argument("--out", required=True)
    p.add_argument("--run-id")
    p.add_argument("--setup-timeout", type=float, default=60.0)
    args = p.parse_args()
    load = Load(args)
    signal.signal(signal.SIGTERM, lambda *_: load.stop.set())
    signal.signal(signal.SIGINT, lambda *_: load.stop.set())
    load.setup(time.time() + args.setup_timeout)
    print(json.dumps({"ready": time.time(), "run_id": load.run_id}), flush=True)
    load.run()


if __name__ == "__main__":
    main()
