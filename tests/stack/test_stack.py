#!/usr/bin/env python3
"""Stack, fault and soak tests: real nginx in front of real app-server
replicas on a real PostgreSQL, all on loopback, started by
scripts/stack-up.sh. Run by scripts/stack-test.sh, which starts and stops the
stack; by hand, against a running stack:

    STACK_DIR=/tmp/auth-stack python3 tests/stack/test_stack.py [SCENARIO...]

Scenarios (in this order; names select a subset): client-flow, kill-replica,
rolling-restart, db-stopped, db-killed, db-locked, sigterm, soak.

Environment: STACK_DIR (required), SOAK_SECONDS (default 120),
SOAK_WARMUP (default 20). The latency bounds follow the replicas'
AUTH_DB_TIMEOUT, read from STACK_DIR/app.env (what stack-up.sh saved), else
from this environment, else the app's default (3s). Exit status 1 when a
scenario fails. Every scenario prints what it measured.
"""

import collections
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stacklib import (  # noqa: E402
    CLIENT_TIMEOUT,
    CTL,
    PASSWORD,
    Client,
    Load,
    Stack,
    TestFailure,
    set_subreaper,
    check,
    direct,
    log,
    one,
    proc_stat,
    reap,
    register_and_login,
    rss_kib,
    wait_until,
)


def parse_duration(text):
    """Seconds, read as the app reads a duration (parse::duration in
    crates/app-server/src/config/parse.rs): digits, then optionally s, m, h or d;
    plain digits are seconds."""
    m = re.fullmatch(r"([0-9]+)([smhd]?)", text)
    if not m:
        raise ValueError(f"not a duration the app accepts: {text!r}")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def replica_setting(stack_dir, name):
    """An AUTH_* setting of the replicas: from STACK_DIR/app.env (the
    NUL-separated AUTH_* and RUST_LOG stack-up.sh saved), else from this
    environment; None when unset (an empty value counts as unset, as in the
    app)."""
    try:
        with open(os.path.join(stack_dir, "app.env"), "rb") as f:
            saved = dict(
                kv.decode(errors="replace").partition("=")[::2] for kv in f.read().split(b"\0") if kv
            )
    except OSError:
        saved = os.environ
    return saved.get(name) or None


# The replicas' AUTH_DB_TIMEOUT in seconds; set by main() from the stack.
DB_TIMEOUT = 3.0
# How fast a request that needs the database must answer when the database
# is down, locked or saturated. Each database call of a request waits at most
# AUTH_DB_TIMEOUT for a pooled connection, and its statement runs at most
# AUTH_DB_TIMEOUT (statement_timeout); 4 s of slack for a 2-core machine
# shared with builds. A login makes two calls (the throttle and user lookup,
# then the session), every other route one.


def set_bounds(db_timeout):
    global DB_TIMEOUT, BOUND, BOUND_LOGIN
    DB_TIMEOUT = float(db_timeout)
    BOUND = 2 * DB_TIMEOUT + 4.0
    BOUND_LOGIN = 4 * DB_TIMEOUT + 4.0


set_bounds(DB_TIMEOUT)


def bound_of(label_or_op):
    return BOUND_LOGIN if label_or_op in ("login", "POST /api/token/") else BOUND


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
RID = re.compile(r"^[0-9a-f]{32}$")


def uniq(tag):
    return f"{tag}-{os.getpid()}-{int(time.time() * 1000) % 10**8}"


def check_edge_headers(r, what):
    """nginx's headers, on every response: a request id and the security set,
    each exactly once, and no version in Server."""
    rids = r.header_all("X-Request-Id")
    check(len(rids) == 1 and RID.match(rids[0]), f"{what}: X-Request-Id {rids!r}")
    for name, value in SECURITY_HEADERS.items():
        got = r.header_all(name)
        check(got == [value], f"{what}: {name} is {got!r}, expected [{value!r}]")
    check(r.header("Server") == "nginx", f"{what}: Server {r.header('Server')!r}")


def check_envelope(r, status, code, what):
    check(r.status == status, f"{what}: expected {status}, got {r!r}")
    check(isinstance(r.json, dict), f"{what}: body is not a JSON object: {r.raw[:200]!r}")
    check(r.json.get("code") == code, f"{what}: code {r.json.get('code')!r}, expected {code!r}")
    check(
        isinstance(r.json.get("detail"), str) and r.json["detail"],
        f"{what}: no detail in {r.json!r}",
    )
    extra = set(r.json) - {"detail", "code", "fields"}
    check(not extra, f"{what}: unexpected keys {extra} in the envelope")


def latency_line(label, responses):
    stats = collections.Counter(
        f"{r.status} {r.code}" if r.code else str(r.status) for r in responses
    )
    mx = max(r.elapsed for r in responses)
    return f"  {label}: {len(responses)} requests, {dict(stats)}, max latency {mx:.2f}s"


def ensure_healthy(stack, timeout=60):
    """Between scenarios: the database and every replica run and the stack
    answers /readyz 200, restarting what a failed scenario left stopped."""
    if stack.postmaster_pid() is None:
        stack.ctl("start-db")
    for n in range(1, stack.replicas + 1):
        if stack.replica_pid(n) is None:
            stack.ctl("start-replica", str(n))
    if stack.ctl("status", check_rc=False).returncode != 0:
        stack.ctl("start-nginx")
    wait_until(
        lambda: all(direct(p, "GET", "/readyz").status == 200 for p in stack.replica_ports)
        and one(stack, "GET", "/readyz", timeout=10).status == 200,
        timeout,
        what="every replica ready, through nginx too",
    )


def gate(stack, what, timeout=20.0):
    """Poll until login, /api/me/ and refresh succeed through nginx; returns seconds."""
    name = uniq("gate")
    state = {}

    def ok():
        if "tokens" not in state:
            r = one(stack, "POST", "/api/register/", {"username": name, "password": PASSWORD}, timeout=10)
            if r.status not in (201, 409):
                return False
            r = one(stack, "POST", "/api/token/", {"username": name, "password": PASSWORD}, timeout=10)
            if r.status != 200:
                return False
            state["tokens"] = (r.json["access"], r.json["refresh"])
        access, refresh = state["tokens"]
        if one(stack, "GET", "/api/me/", token=access, timeout=10).status != 200:
            return False
        r = one(stack, "POST", "/api/token/refresh/", {"refresh": refresh}, timeout=10)
        if r.status != 200:
            del state["tokens"]
            return False
        state["tokens"] = (r.json["access"], r.json["refresh"])
        return one(stack, "GET", "/readyz", timeout=10).status == 200

    _, took = wait_until(ok, timeout, interval=0.3, what=what)
    return took


def panics(stack):
    return {n: text.count("panicked") for n, text in stack.all_app_logs().items() if "panicked" in text}


# ---------------------------------------------------------------- 1


def s_client_flow(stack):
    """A simplejwt client's whole flow through nginx, and the edge's headers."""
    c = Client(stack.host, stack.port)
    name = uniq("flow")
    n = 0

    def req(*a, **kw):
        nonlocal n
        n += 1
        return c.request(*a, **kw)

    r = req("POST", "/api/register/", {"username": name, "password": PASSWORD, "email": "f@example.com"})
    check(r.status == 201, f"register: {r!r}")
    check_edge_headers(r, "register")
    check(r.json["username"] == name and isinstance(r.json["id"], int), f"register body {r.json}")
    check(
        set(r.json)
        == {"id", "username", "email", "email_verified", "is_admin", "is_active", "date_joined", "last_login"},
        f"register: user keys {sorted(r.json)}",
    )

    r = req("POST", "/api/token/", {"username": name, "password": PASSWORD})
    check(r.status == 200 and set(r.json) == {"access", "refresh"}, f"login: {r!r}")
    check("no-store" in (r.header("Cache-Control") or ""), f"login: Cache-Control {r.header('Cache-Control')!r}")
    check_edge_headers(r, "login")
    access1, refresh1 = r.json["access"], r.json["refresh"]

    r = req("GET", "/api/me/", token=access1)
    check(r.status == 200 and r.json["username"] == name, f"me: {r!r}")
    check(r.json["last_login"] is not None, f"me: last_login not set after a login: {r.json}")
    check_edge_headers(r, "me")
    me_rid = r.header("X-Request-Id")

    # A client-sent request id is not trusted: nginx sets its own.
    r = req("GET", "/api/me/", token=access1, headers={"X-Request-Id": "forged"})
    check(r.status == 200 and r.header("X-Request-Id") != "forged", f"me (forged id): {r.header('X-Request-Id')!r}")

    r = req("POST", "/api/token/refresh/", {"refresh": refresh1})
    check(r.status == 200 and set(r.json) == {"access", "refresh"}, f"refresh: {r!r}")
    check("no-store" in (r.header("Cache-Control") or ""), "refresh: no Cache-Control: no-store")
    access2, refresh2 = r.json["access"], r.json["refresh"]
    check(refresh2 != refresh1 and access2 != access1, "refresh: tokens not rotated")

    r = req("GET", "/api/me/", token=access2)
    check(r.status == 200, f"me with the refreshed access token: {r!r}")

    # Rotation: the old refresh token is refused, and its reuse revokes the
    # family, so the newest refresh token stops working too.
    r = req("POST", "/api/token/refresh/", {"refresh": refresh1})
    check_envelope(r, 401, "token_not_valid", "refresh with the retired token")
    check_edge_headers(r, "refresh 401")
    r = req("POST", "/api/token/verify/", {"token": refresh2})
    check_envelope(r, 401, "token_not_valid", "verify the newest token of a reused family")
    r = req("GET", "/api/me/", token=access2)
    check_envelope(r, 401, "token_not_valid", "me with an access token of a revoked family")

    # A new session: verify both tokens, then log out (blacklist).
    r = req("POST", "/api/token/", {"username": name, "password": PASSWORD})
    check(r.status == 200, f"second login: {r!r}")
    access3, refresh3 = r.json["access"], r.json["refresh"]
    for what, tok in (("access", access3), ("refresh", refresh3)):
        r = req("POST", "/api/token/verify/", {"token": tok})
        check(r.status == 200 and r.json == {}, f"verify {what}: {r!r}")
    r = req("POST", "/api/token/blacklist/", {"refresh": refresh3})
    check(r.status == 200 and r.json == {}, f"blacklist: {r!r}")
    r = req("POST", "/api/token/refresh/", {"refresh": refresh3})
    check_envelope(r, 401, "token_not_valid", "refresh after blacklist")
    r = req("POST", "/api/token/verify/", {"token": refresh3})
    check_envelope(r, 401, "token_not_valid", "verify after blacklist")

    # 401s on a protected route: envelope, WWW-Authenticate (RFC 6750).
    r = req("GET", "/api/me/", token=access3)
    check_envelope(r, 401, "token_not_valid", "me after logout")
    www = r.header_all("WWW-Authenticate")
    check(
        len(www) == 1 and www[0].startswith('Bearer realm="api"') and 'error="invalid_token"' in www[0],
        f"me after logout: WWW-Authenticate {www!r}",
    )
    check_edge_headers(r, "me 401")
    r = req("GET", "/api/me/")
    check_envelope(r, 401, "not_authenticated", "me without credentials")
    check(r.header_all("WWW-Authenticate") == ['Bearer realm="api"'], f"WWW-Authenticate {r.header_all('WWW-Authenticate')!r}")
    check_edge_headers(r, "me without credentials")

    r = req("POST", "/api/token/", {"username": name, "password": PASSWORD + "x"})
    check_envelope(r, 401, "no_active_account", "login with a wrong password")

    # An error nginx produces itself gets the envelope and the headers too.
    r = req("POST", "/api/token/verify/", b'{"token": "' + b"x" * 20000 + b'"}')
    check_envelope(r, 413, "payload_too_large", "a 20 kB body")
    check_edge_headers(r, "413 from nginx")
    c.close()

    # The request id reached the app (its access log) and nginx's log.
    logs = "".join(stack.all_app_logs().values())
    check(f"rid={me_rid}" in logs, f"request id {me_rid} not in any app log")
    with open(os.path.join(stack.log_dir, "nginx-access.log")) as f:
        check(f'"request_id":"{me_rid}"' in f.read(), f"request id {me_rid} not in nginx's access log")
    log(f"  {n} requests, all as expected; request id {me_rid} found in the app and nginx logs")


# ---------------------------------------------------------------- 2


def s_kill_replica(stack):
    """SIGKILL one replica under load, then start it again under load."""
    victim = stack.replicas  # the last one
    load = Load(stack, "kill", threads=8).start()
    time.sleep(3)
    t_kill0 = time.monotonic()
    stack.ctl("kill-replica", str(victim))
    t_kill1 = time.monotonic()
    check(stack.replica_pid(victim) is None, "the killed replica still runs")
    time.sleep(4)
    t_start0 = time.monotonic()
    stack.ctl("start-replica", str(victim))
    t_start1 = time.monotonic()
    time.sleep(3)
    load.stop()
    check(direct(stack.replica_ports[victim - 1], "GET", "/readyz").status == 200, "restarted replica not ready")
    log(load.summary())
    log(
        f"  kill at +{t_kill0 - load.t0:.2f}s (took {t_kill1 - t_kill0:.2f}s), "
        f"start at +{t_start0 - load.t0:.2f}s (took {t_start1 - t_start0:.2f}s)"
    )
    fails = load.failures()
    # nginx resends every request the dead replica did not answer, POSTs too
    # (`non_idempotent`, docs/stack.md), so nothing fails. A refresh or a
    # registration the dead replica had committed is recognised by its request
    # id and answered as the first time (not a reuse, not a taken username).
    log(f"  failed: {len(fails)}")
    check(not fails, "failed requests with a replica killed:\n" + load.describe_failures(fails))
    after = [r for r in load.records if r.started > t_kill1 + 0.25]
    check(len(after) > 50 and all(r.expected for r in after), "requests after the kill failed")


# ---------------------------------------------------------------- 3


def s_rolling_restart(stack):
    """restart-replica 1..N one after another (SIGTERM drain) under load."""
    load = Load(stack, "rolling", threads=8).start()
    time.sleep(2)
    timings = []
    for n in range(1, stack.replicas + 1):
        old = stack.replica_pid(n)
        p = stack.ctl("restart-replica", str(n))
        check("SIGKILL" not in p.stderr, f"replica {n} did not drain within STACK_STOP_TIMEOUT: {p.stderr}")
        new = stack.replica_pid(n)
        check(new is not None and new != old, f"replica {n} not restarted (pid {old} -> {new})")
        timings.append(f"app-{n} {p.elapsed:.2f}s")
        time.sleep(1)
    time.sleep(2)
    load.stop()
    log(load.summary())
    log(f"  restarts (stop + start): {', '.join(timings)}")
    fails = load.failures()
    check(not fails, f"{len(fails)} failed requests during the rolling restart:\n" + load.describe_failures(fails))


# ---------------------------------------------------------------- 4


def fire(stack, calls, per_call=3):
    """Each (label, method, path, body, token) `per_call` times, all at once,
    each on its own connection; returns {label: [Response or exception]}."""
    out = collections.defaultdict(list)
    lock = threading.Lock()

    def go(label, method, path, body, token):
        try:
            r = one(stack, method, path, body, token)
        except Exception as e:  # noqa: BLE001
            r = e
        with lock:
            out[label].append(r)

    threads = [
        threading.Thread(target=go, args=call, daemon=True)
        for call in calls
        for _ in range(per_call)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(all(not t.is_alive() for t in threads), "a request did not come back within 60 s")
    return out


def check_unavailable(results, labels, what):
    for label in labels:
        rs = results[label]
        bound = bound_of(label)
        for r in rs:
            check(not isinstance(r, Exception), f"{what}: {label}: {r!r}")
            check_envelope(r, 503, "unavailable", f"{what}: {label}")
            check(r.elapsed < bound, f"{what}: {label} took {r.elapsed:.2f}s (bound {bound:.0f}s)")
        log(latency_line(label, rs))


def s_db_stopped(stack):
    """PostgreSQL stopped: 503 `unavailable` within the bound, then recovery
    without restarting the app servers."""
    name = uniq("dbstop")
    access, refresh = register_and_login(stack, name)
    pids = [stack.replica_pid(n) for n in range(1, stack.replicas + 1)]
    p = stack.ctl("stop-db")
    log(f"  stop-db took {p.elapsed:.2f}s")
    check(stack.postmaster_pid() is None, "PostgreSQL still runs after stop-db")
    calls = [
        ("GET /readyz", "GET", "/readyz", None, None),
        ("POST /api/token/", "POST", "/api/token/", {"username": name, "password": PASSWORD}, None),
        ("POST /api/token/refresh/", "POST", "/api/token/refresh/", {"refresh": refresh}, None),
        ("GET /api/me/", "GET", "/api/me/", None, access),
        ("POST /api/register/", "POST", "/api/register/", {"username": name + "x", "password": PASSWORD}, None),
        ("GET /healthz", "GET", "/healthz", None, None),
        ("POST /api/token/verify/ (access)", "POST", "/api/token/verify/", {"token": access}, None),
    ]
    # 28 requests at once, 14 a replica, more than its pool's 10 connections:
    # the queued ones must not wait in turn.
    results = fire(stack, calls, per_call=4)
    check_unavailable(
        results,
        ["GET /readyz", "POST /api/token/", "POST /api/token/refresh/", "GET /api/me/", "POST /api/register/"],
        "database stopped",
    )
    for label in ("GET /healthz", "POST /api/token/verify/ (access)"):
        rs = results[label]
        check(all(not isinstance(r, Exception) and r.status == 200 for r in rs), f"{label} without the database: {rs!r}")
        log(latency_line(label + " (no database needed)", rs))
    for r in results["GET /readyz"]:
        check(r.header("Retry-After") is not None, "503 without Retry-After")
    # Direct to each replica too: both say so, not only the one nginx picked.
    for port in stack.replica_ports:
        r = direct(port, "GET", "/readyz", timeout=BOUND + 5)
        check_envelope(r, 503, "unavailable", f"readyz on 127.0.0.1:{port}")

    p = stack.ctl("start-db")
    log(f"  start-db took {p.elapsed:.2f}s")
    took = gate(stack, "recovery after start-db (login, me, refresh, readyz)", timeout=20)
    for port in stack.replica_ports:
        check(direct(port, "GET", "/readyz").status == 200, f"replica on {port} not ready after start-db")
    # The refresh token issued before the outage still works (its 503'd
    # refresh did not rotate it).
    r = one(stack, "POST", "/api/token/refresh/", {"refresh": refresh})
    check(r.status == 200, f"the pre-outage refresh token after recovery: {r!r}")
    r = one(stack, "GET", "/api/me/", token=access)
    check(r.status == 200, f"the pre-outage access token after recovery: {r!r}")
    now = [stack.replica_pid(n) for n in range(1, stack.replicas + 1)]
    check(now == pids, f"replicas were restarted ({pids} -> {now})")
    log(f"  recovered {took:.2f}s after start-db, same replica processes {now}")


# ---------------------------------------------------------------- 5


def s_db_killed(stack):
    """SIGKILL the postmaster mid-load (a crash: no shutdown, no goodbye to
    the clients), restart it: only 503s meanwhile, no hang, no panic, recovery."""
    panics_before = panics(stack)
    load = Load(stack, "dbkill", threads=8).start()
    time.sleep(3)
    pm = stack.postmaster_pid()
    check(pm is not None, "no postmaster pid")
    t_kill = time.monotonic()
    os.kill(pm, signal.SIGKILL)
    # The backends notice their postmaster's death and exit by themselves.
    wait_until(lambda: proc_stat(pm) is None or proc_stat(pm)["state"] == "Z", 10, 0.05, "postmaster gone")
    time.sleep(6)
    t_start0 = time.monotonic()
    # A new postmaster refuses to start while a dying backend still holds the
    # old shared memory; a few attempts cover that.
    for attempt in range(1, 6):
        p = stack.ctl("start-db", check_rc=False)
        if p.returncode == 0:
            break
        time.sleep(1)
    check(p.returncode == 0, f"start-db after the kill failed: {p.stderr[-500:]}")
    t_start1 = time.monotonic()
    _, ready = wait_until(
        lambda: one(stack, "GET", "/readyz", timeout=10).status == 200, 20, 0.2, "readyz 200 after the restart"
    )
    t_ready = time.monotonic()
    time.sleep(4)
    load.stop()
    log(load.summary())
    log(
        f"  postmaster {pm} killed at +{t_kill - load.t0:.2f}s; start-db at +{t_start0 - load.t0:.2f}s "
        f"(took {t_start1 - t_start0:.2f}s, attempt {attempt}); readyz 200 {ready:.2f}s later"
    )
    before = [r for r in load.records if r.ended < t_kill]
    outage = [r for r in load.records if r.ended >= t_kill and r.started < t_ready]
    after = [r for r in load.records if r.started >= t_ready]
    log(load.summary(outage, "during the outage"))
    log(load.summary(after, "after recovery"))
    bad_before = load.failures(before)
    check(not bad_before, "failures before the kill:\n" + load.describe_failures(bad_before))
    bad_outage = [
        r for r in outage
        if not (r.expected or (r.status == 503 and r.code == "unavailable")) or r.latency >= bound_of(r.op)
    ]
    check(
        not bad_outage,
        f"during the outage, answers other than the expected ones and 503 `unavailable` within "
        f"{BOUND:.0f}s ({BOUND_LOGIN:.0f}s for a login):\n"
        + load.describe_failures(bad_outage),
    )
    check(any(r.status == 503 for r in outage), "no 503 during the outage: was the database really down?")
    bad_after = load.failures(after)
    check(len(after) > 20 and not bad_after, "failures after recovery:\n" + load.describe_failures(bad_after))
    now = panics(stack)
    check(now == panics_before, f"panics in the app logs: {now}")
    gate(stack, "login, me, refresh after the database restart", timeout=20)


# ---------------------------------------------------------------- 6


class TableLock:
    """BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE in a psql session held
    open until release(). The session ends itself after a minute if this
    process dies (idle_in_transaction_session_timeout)."""

    def __init__(self, stack, table):
        # Through stack-ctl.sh: the password in the environment, not in argv.
        self.proc = subprocess.Popen(
            [CTL, "psql", "-q", "-v", "ON_ERROR_STOP=1"],
            env=stack.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.proc.stdin.write(
            "SET idle_in_transaction_session_timeout = '60s';\n"
            f"BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n\\echo locked\n"
        )
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if line != "locked":
            self.proc.kill()
            raise TestFailure(f"could not lock {table}: {line} {self.proc.stderr.read()[-300:]}")

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("COMMIT;\n\\q\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
            self.proc.wait(10)


def s_db_locked(stack):
    """Slow database (an exclusive lock on `sessions` held by another
    session): requests that need the table answer 503 `unavailable` within
    the bound instead of hanging, the pool is not left stuck, and everything
    recovers once the lock goes."""
    name = uniq("lock")
    access, refresh = register_and_login(stack, name)
    lock = TableLock(stack, "sessions")
    try:
        t0 = time.monotonic()
        calls = [
            ("GET /api/me/", "GET", "/api/me/", None, access),
            ("POST /api/token/refresh/", "POST", "/api/token/refresh/", {"refresh": refresh}, None),
            ("POST /api/token/", "POST", "/api/token/", {"username": name, "password": PASSWORD}, None),
        ]
        # 36 requests: more than both replicas' pools (10 connections each),
        # so requests also queue for a connection.
        results = fire(stack, calls, per_call=12)
        took = time.monotonic() - t0
        check_unavailable(results, [c[0] for c in calls], "sessions locked")
        # The database itself answers: once the blocked requests are over, the
        # pool has its connections back and the replicas are ready.
        for port in stack.replica_ports:
            r = direct(port, "GET", "/readyz", timeout=BOUND + 5)
            check(r.status == 200, f"readyz on {port} while the lock is held, after the 503s: {r!r} (pool stuck?)")
        r = one(stack, "POST", "/api/token/verify/", {"token": access})
        check(r.status == 200, f"verify of an access token (no table needed) during the lock: {r!r}")
        log(f"  36 requests answered in {took:.2f}s with the lock held; readyz 200 on every replica meanwhile")
    finally:
        lock.release()
    took = gate(stack, "recovery after the lock is released", timeout=20)
    # The refresh token never rotated (every refresh was refused before any change).
    r = one(stack, "POST", "/api/token/refresh/", {"refresh": refresh})
    check(r.status == 200, f"the refresh token after the lock: {r!r}")
    log(f"  recovered {took:.2f}s after the lock was released")


# ---------------------------------------------------------------- 7


class HeldRequest:
    """A POST sent straight to a replica with its body held back: the replica
    has accepted the connection and read the headers, and its handler waits
    for the body, so the request is in flight there until finish()."""

    def __init__(self, port, path, payload):
        body = json.dumps(payload).encode()
        half = len(body) // 2
        self.rest = body[half:]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        self.sock.sendall(head + body[:half])

    def finish(self):
        """(status, body) once the rest of the body is sent."""
        try:
            self.sock.sendall(self.rest)
            resp = http.client.HTTPResponse(self.sock)
            resp.begin()
            return resp.status, resp.read()
        finally:
            self.sock.close()


def s_sigterm(stack):
    """SIGTERM (stop-replica) under load: in-flight requests finish, the
    process exits 0, and no registration is lost."""
    n = 1
    port = stack.replica_ports[n - 1]
    # Restart the replica from here while we are a subreaper, so that it is
    # our (adopted) child and its exit status can be read.
    set_subreaper(True)
    try:
        stack.ctl("restart-replica", str(n))
    finally:
        set_subreaper(False)
    pid = stack.replica_pid(n)
    check(pid is not None and proc_stat(pid)["ppid"] == os.getpid(), "cannot adopt the replica to read its exit status")
    log_offset = len(stack.app_log(n))
    load = Load(stack, "sigterm", threads=8, register_every=0.3).start()
    time.sleep(3)
    # Requests in flight inside the replica at the SIGTERM, whatever the
    # timing: registrations sent straight to it, bodies half sent.
    held_names = [f"{load.prefix}h{i}" for i in range(4)]
    held = [HeldRequest(port, "/api/register/", {"username": u, "password": PASSWORD}) for u in held_names]
    time.sleep(0.3)
    stopper = {}

    def stop():
        stopper["proc"] = stack.ctl("stop-replica", str(n), check_rc=False)

    t_stop0 = time.monotonic()
    th = threading.Thread(target=stop, daemon=True)
    th.start()
    wait_until(lambda: "SIGTERM received" in stack.app_log(n)[log_offset:], 20, 0.05, "SIGTERM reaching the replica")
    t_sigterm = time.monotonic()
    time.sleep(1.0)
    check(proc_stat(pid) is not None and proc_stat(pid)["state"] != "Z", "the replica exited with requests in flight")
    held_results = [h.finish() for h in held]
    th.join(60)
    check(not th.is_alive(), "stop-replica did not return")
    t_stop1 = time.monotonic()
    status = reap(pid, block=True, timeout=10)
    time.sleep(2)
    load.stop()
    p = stopper["proc"]
    log(load.summary())
    log(
        f"  stop-replica at +{t_stop0 - load.t0:.2f}s (nginx drained, SIGTERM {t_sigterm - t_stop0:.2f}s later); "
        f"process gone {t_stop1 - t_stop0:.2f}s after stop-replica; exit status {status}"
    )
    log(f"  {len(held)} requests held in flight at the SIGTERM, finished 1 s later: {[st for st, _ in held_results]}")
    check(p.returncode == 0, f"stop-replica failed: {p.stderr[-500:]}")
    check("SIGKILL" not in p.stderr, f"the replica did not drain in time: {p.stderr}")
    check(status == ("exited", 0), f"replica {n} (pid {pid}) ended with {status}, not exit 0")
    for (st, body), u in zip(held_results, held_names):
        check(st == 201, f"in-flight registration of {u} after SIGTERM: {st} {body[:200]!r}")
    tail = stack.app_log(n)[log_offset:]
    check(re.search(r"app_server::startup\] stopped\s*$", tail), "no 'stopped' line at the end of the replica's log")
    check("panicked" not in tail, "panic in the replica's log")
    fails = load.failures()
    check(not fails, f"{len(fails)} failed requests through nginx:\n" + load.describe_failures(fails))
    # Nothing lost: exactly the users answered 201 exist.
    registered = set(load.registered) | set(held_names)
    check(len(load.registered) == len(set(load.registered)), "duplicate usernames in the load")
    in_db = stack.usernames(load.prefix + "r") | stack.usernames(load.prefix + "h")
    check(
        in_db == registered,
        f"users: {len(registered)} answered 201, {len(in_db)} in the database; "
        f"missing {sorted(registered - in_db)[:5]}, unexpected {sorted(in_db - registered)[:5]}",
    )
    log(f"  registrations: {len(registered)} answered 201 (load {len(load.registered)} + held {len(held)}) = {len(in_db)} rows in users")
    stack.ctl("start-replica", str(n))


# ---------------------------------------------------------------- 8


def s_soak(stack):
    """Mixed traffic for SOAK_SECONDS: no 5xx, nothing lost, flat memory."""
    seconds = float(os.environ.get("SOAK_SECONDS", "120"))
    warmup = float(os.environ.get("SOAK_WARMUP", "20"))
    check(seconds > warmup + 10, f"SOAK_SECONDS ({seconds}) must exceed SOAK_WARMUP ({warmup}) by 10 s")
    users_before = stack.user_count()
    load = Load(
        stack,
        "soak",
        threads=8,
        weights={"me": 5, "verify": 3, "verify_refresh": 1, "refresh": 3, "login": 1, "register": 1, "blacklist": 1},
        register_every=1.0,
        login_every=1.0,
    )
    pids = {n: stack.replica_pid(n) for n in range(1, stack.replicas + 1)}
    load.start()
    samples = collections.defaultdict(list)  # n -> [(t, kib)]
    t_end = load.t0 + seconds
    while time.monotonic() < t_end:
        time.sleep(min(2.0, max(0.0, t_end - time.monotonic())))
        t = time.monotonic() - load.t0
        for n, pid in pids.items():
            samples[n].append((t, rss_kib(pid)))
    load.stop()
    log(load.summary())
    elapsed = load.t1 - load.t0
    log(f"  {len(load.records) / elapsed:.0f} requests/s over {elapsed:.0f}s")
    bad = load.failures()
    check(not bad, f"{len(bad)} failed requests:\n" + load.describe_failures(bad))
    resent = [r for r in load.records if r.resent]
    check(not resent, f"{len(resent)} requests resent although nginx was never reloaded")
    for n, pid in pids.items():
        check(stack.replica_pid(n) == pid, f"replica {n} restarted during the soak")
    # RSS (sampled every 2 s): the first samples after the warm-up against
    # the last ones, the median of three each (the allocator returns and
    # takes pages in steps of a few MiB). A leak is growth: more than 10%
    # fails; a shrink is reported only.
    growth_ok = True
    for n, series in samples.items():
        warm = [kib for t, kib in series if t >= warmup]
        check(len(warm) >= 6, "not enough RSS samples after the warm-up")
        first, last, peak = sorted(warm[:3])[1], sorted(warm[-3:])[1], max(warm)
        growth = (last - first) / first
        log(
            f"  app-{n} RSS: {series[0][1] / 1024:.1f} MiB at start, {first / 1024:.1f} MiB after the "
            f"{warmup:.0f}s warm-up, {last / 1024:.1f} MiB at the end ({growth:+.1%}), peak {peak / 1024:.1f} MiB, "
            f"{len(series)} samples"
        )
        growth_ok = growth_ok and growth <= 0.10
    check(growth_ok, "RSS of a replica grew by more than 10% after the warm-up")
    users_after = stack.user_count()
    registered = len(load.registered) + load.threads  # the threads' own users
    log(f"  users: {users_before} before + {registered} created (201) = {users_after} in the database")
    check(users_after == users_before + registered, "registrations lost or duplicated")
    check(stack.usernames(load.prefix + "r") == set(load.registered), "registered usernames differ")
    p = panics(stack)
    check(not p, f"panics in the app logs: {p}")


def check_logs(stack):
    """No panic and no 500 in any replica's log, no 500 in nginx's access log."""
    log("\n=== logs: no panic, no 500 anywhere")
    problems = []
    lines = 0
    for n, text in stack.all_app_logs().items():
        for line in text.splitlines():
            lines += 1
            if "panicked" in line or re.search(r'access\] \S+ "[A-Z]+ [^"]*" 500 ', line) or "internal error:" in line:
                problems.append(f"app-{n}: {line[:200]}")
    with open(os.path.join(stack.log_dir, "nginx-access.log"), errors="replace") as f:
        statuses = collections.Counter()
        for line in f:
            m = re.search(r'"status":(\d+)', line)
            if m:
                statuses[m.group(1)] += 1
                if m.group(1) == "500":
                    problems.append(f"nginx: {line[:200]}")
    log(f"  {lines} app log lines; nginx access log statuses: {dict(sorted(statuses.items()))}")
    check(not problems, f"{len(problems)} problems in the logs:\n    " + "\n    ".join(problems[:10]))


SCENARIOS = [
    ("client-flow", s_client_flow),
    ("kill-replica", s_kill_replica),
    ("rolling-restart", s_rolling_restart),
    ("db-stopped", s_db_stopped),
    ("db-killed", s_db_killed),
    ("db-locked", s_db_locked),
    ("sigterm", s_sigterm),
    ("soak", s_soak),
]


def main(argv):
    stack_dir = os.environ.get("STACK_DIR")
    if not stack_dir:
        print("test_stack: set STACK_DIR to the stack's directory", file=sys.stderr)
        return 2
    names = argv[1:] or [n for n, _ in SCENARIOS]
    unknown = set(names) - {n for n, _ in SCENARIOS}
    if unknown:
        print(f"test_stack: unknown scenario(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    stack = Stack(stack_dir)
    db_timeout = replica_setting(stack_dir, "AUTH_DB_TIMEOUT") or "3s"
    try:
        set_bounds(parse_duration(db_timeout))
    except ValueError as e:
        print(f"test_stack: AUTH_DB_TIMEOUT: {e}", file=sys.stderr)
        return 2
    log(
        f"test_stack: {stack.url}, {stack.replicas} replicas on {stack.replica_ports}; "
        f"bound on a 503: {BOUND:.0f}s, {BOUND_LOGIN:.0f}s for a login (AUTH_DB_TIMEOUT {DB_TIMEOUT:g}s)"
    )
    results = []
    started = time.monotonic()
    for name, fn in SCENARIOS:
        if name not in names:
            continue
        log(f"\n=== {name}: {fn.__doc__.split(chr(10))[0].strip()}")
        t = time.monotonic()
        try:
            ensure_healthy(stack)
            fn(stack)
        except TestFailure as e:
            results.append((name, False, time.monotonic() - t, str(e)))
            log(f"--- FAIL {name}: {e}")
        except Exception as e:  # noqa: BLE001
            results.append((name, False, time.monotonic() - t, f"{type(e).__name__}: {e}"))
            log(f"--- ERROR {name}:\n{traceback.format_exc()}")
        else:
            results.append((name, True, time.monotonic() - t, ""))
            log(f"--- ok {name} ({time.monotonic() - t:.1f}s)")
    # Every scenario must leave the stack as it found it (stack-test.sh
    # checks the processes again afterwards).
    t = time.monotonic()
    try:
        ensure_healthy(stack, timeout=30)
    except Exception as e:  # noqa: BLE001
        results.append(("healthy at end", False, time.monotonic() - t, f"{type(e).__name__}: {e}"))
        log(f"--- FAIL the stack did not come back healthy at the end: {e}")
    else:
        results.append(("healthy at end", True, time.monotonic() - t, ""))
    # Over everything the scenarios did: no panic, no 500 from the app, and
    # no 500 answered by nginx.
    t = time.monotonic()
    try:
        check_logs(stack)
    except TestFailure as e:
        results.append(("logs", False, time.monotonic() - t, str(e)))
        log(f"--- FAIL logs: {e}")
    else:
        results.append(("logs", True, time.monotonic() - t, ""))
    log(f"\n=== summary ({time.monotonic() - started:.0f}s)")
    for name, ok, took, why in results:
        first = why.splitlines()[0] if why else ""
        log(f"  {'ok  ' if ok else 'FAIL'} {name:<16} {took:6.1f}s  {first}")
    failed = [r for r in results if not r[1]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
