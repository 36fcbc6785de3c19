"""Helpers of the stack tests (tests/stack/test_stack.py): the running stack's
settings, an HTTP client, stack-ctl.sh, psql, and a small load generator that
records every request it makes. Standard library only.

The stack is the one scripts/stack-up.sh started in STACK_DIR; every request of
the tests goes through its nginx, as a client's would.
"""

import collections
import ctypes
import http.client
import json
import os
import random
import select
import shlex
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CTL = os.path.join(ROOT, "scripts", "stack-ctl.sh")
PASSWORD = "stack test: correct horse battery staple"

# Per-request client timeout: above nginx's proxy_read_timeout (30 s), so that
# a request the stack leaves hanging is measured (and fails a latency bound)
# instead of being cut short by the client.
CLIENT_TIMEOUT = 45.0


class TestFailure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def log(message):
    print(message, flush=True)


# ---------------------------------------------------------------- the stack


class Stack:
    """The running stack: its URL, replica ports, pid files, and control."""

    def __init__(self, stack_dir):
        self.dir = stack_dir
        self.env = dict(os.environ, STACK_DIR=stack_dir)
        out = self.ctl("env").stdout
        values = {}
        for line in out.splitlines():
            key, _, value = line.partition("=")
            # printf %q output: shlex undoes the quoting
            values[key] = " ".join(shlex.split(value)) if value else ""
        self.url = values["STACK_URL"]
        host_port = self.url.split("//", 1)[1]
        self.host, port = host_port.split(":")
        self.port = int(port)
        self.replicas = int(values["STACK_REPLICAS"])
        self.replica_ports = [int(p) for p in values["STACK_REPLICA_PORTS"].split()]
        self.pg_dir = os.path.join(stack_dir, "pg")
        self.log_dir = os.path.join(stack_dir, "logs")

    # -- stack-ctl.sh
    def ctl(self, *args, check_rc=True, timeout=120):
        started = time.monotonic()
        proc = subprocess.run(
            [CTL, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        proc.elapsed = time.monotonic() - started
        if check_rc and proc.returncode != 0:
            raise TestFailure(
                f"stack-ctl.sh {' '.join(args)} exited {proc.returncode}: "
                f"{proc.stderr.strip()[-800:]}"
            )
        return proc

    def psql(self, sql):
        """One statement as the app's role; the output, unaligned, no header."""
        proc = self.ctl("psql", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql)
        return proc.stdout.strip()

    def user_count(self):
        return int(self.psql("SELECT count(*) FROM users"))

    def usernames(self, prefix):
        out = self.psql(f"SELECT username FROM users WHERE username LIKE '{prefix}%'")
        return set(out.split("\n")) if out else set()

    # -- processes
    def replica_pid(self, n):
        """The pid recorded for replica n while that process runs, else None."""
        try:
            with open(os.path.join(self.dir, "run", f"app-{n}.pid")) as f:
                pid, start = f.read().split()
            pid = int(pid)
        except (OSError, ValueError):
            return None
        stat = proc_stat(pid)
        if stat is None or stat["state"] == "Z" or stat["starttime"] != start:
            return None
        return pid

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.pg_dir, "data", "postmaster.pid")) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return None
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return None
        return pid if exe.endswith("/postgres") else None

    def app_log(self, n):
        with open(os.path.join(self.log_dir, f"app-{n}.log"), errors="replace") as f:
            return f.read()

    def all_app_logs(self):
        return {n: self.app_log(n) for n in range(1, self.replicas + 1)}


def proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return {"state": fields[0], "ppid": int(fields[1]), "starttime": fields[19]}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure(f"no VmRSS for pid {pid}")


def set_subreaper(on):
    """While on, orphaned descendants (a replica started by stack-ctl.sh from
    this process) are re-parented to us instead of init, so that we can
    collect their exit status with os.waitpid. Switched on only around the
    start of a process whose exit status a test reads: an adopted process
    that nobody reaps stays a zombie, and e.g. pg_ctl takes a zombie
    postmaster for a running one. PR_SET_CHILD_SUBREAPER = 36."""
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(36, 1 if on else 0, 0, 0, 0) == 0


def reap(pid, block=False, timeout=10.0):
    """Collect the exit status of a child (or adopted orphan) `pid`.
    Returns ("exited", code), ("signaled", signo), or None when it is not ours
    or still runs (non-blocking)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if got == pid:
            if os.WIFEXITED(status):
                return ("exited", os.WEXITSTATUS(status))
            if os.WIFSIGNALED(status):
                return ("signaled", os.WTERMSIG(status))
            return ("other", status)
        if not block or time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


# ---------------------------------------------------------------- HTTP


class Response:
    def __init__(self, status, headers, body, elapsed, started, ended):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage
        self.raw = body
        self.elapsed = elapsed
        self.started = started
        self.ended = ended
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def code(self):
        return self.json.get("code") if isinstance(self.json, dict) else None

    def header(self, name):
        return self.headers.get(name)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    def __repr__(self):
        return f"<{self.status} {self.raw[:200]!r} in {self.elapsed:.2f}s>"


class Client:
    """One keep-alive connection to nginx (like a browser's or an SDK's).

    Before a connection is reused, it is checked the way urllib3 (requests)
    does: a connection the server has closed in the meantime (nginx closes
    idle ones after 30 s, and on a graceful reload or stop) reads as
    readable, and is replaced instead of having a request written into it.
    One idle for a while is replaced as well."""

    IDLE_REUSE = 10.0

    def __init__(self, host, port, timeout=CLIENT_TIMEOUT):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None
        self.last_used = 0.0

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _dropped(self):
        sock = self.conn.sock
        if sock is None:
            return False
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)

    def request(self, method, path, body=None, token=None, headers=None):
        """A Response, or an exception (socket error, timeout) raised.

        Like a browser (Chromium's ShouldResendRequest, Firefox likewise), a
        request that fails on a *reused* keep-alive connection before any
        byte of a response arrived is sent once more on a new connection:
        the server closed the idle connection while the request was on its
        way (nginx does so to its idle client connections when it reloads),
        so it never saw it. The response then has `resent` set, and the
        callers count those."""
        hdrs = {"Accept": "application/json"}
        if body is not None:
            body = json.dumps(body).encode() if not isinstance(body, bytes) else body
            hdrs["Content-Type"] = "application/json"
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if headers:
            hdrs.update(headers)
        now = time.monotonic()
        if self.conn is not None and (
            now - self.last_used > self.IDLE_REUSE or self._dropped()
        ):
            self.close()
        started = time.monotonic()
        resent = None
        while True:
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as e:
                # RemoteDisconnected: closed before a status line. Resets and
                # broken pipes raised while sending or waiting for the status
                # line: nothing of a response was read either.
                self.close()
                if reused and resent is None:
                    resent = f"{type(e).__name__}: {e}"
                    continue
                raise
            except BaseException:
                self.close()
                raise
            break
        ended = time.monotonic()
        self.last_used = ended
        if resp.will_close:
            self.close()
        r = Response(resp.status, resp.headers, data, ended - started, started, ended)
        r.resent = resent
        return r


def one(stack, method, path, body=None, token=None, headers=None, timeout=CLIENT_TIMEOUT):
    """A single request on a fresh connection."""
    c = Client(stack.host, stack.port, timeout)
    try:
        return c.request(method, path, body, token, headers)
    finally:
        c.close()


def direct(port, method, path, timeout=5.0):
    """A request straight to a replica, bypassing nginx (for checks only)."""
    c = Client("127.0.0.1", port, timeout)
    try:
        return c.request(method, path)
    finally:
        c.close()


def register_and_login(stack, username, client=None):
    c = client or Client(stack.host, stack.port)
    r = c.request("POST", "/api/register/", {"username": username, "password": PASSWORD})
    check(r.status == 201, f"register {username}: {r!r}")
    r = c.request("POST", "/api/token/", {"username": username, "password": PASSWORD})
    check(r.status == 200, f"login {username}: {r!r}")
    if client is None:
        c.close()
    return r.json["access"], r.json["refresh"]


# ---------------------------------------------------------------- load


# What each operation must answer when the stack is healthy.
EXPECTED = {
    "me": 200,
    "verify": 200,
    "verify_refresh": 200,
    "refresh": 200,
    "login": 200,
    "register": 201,
    "blacklist": 200,
    "verify_revoked": 401,
}


class Record(collections.namedtuple("Record", "op started ended status code error resent")):
    """One request: status is an int, or None with `error` naming the socket
    error or timeout."""

    @property
    def latency(self):
        return self.ended - self.started

    @property
    def expected(self):
        return self.status == EXPECTED[self.op]

    def describe(self, t0=0.0):
        what = self.status if self.status is not None else self.error
        code = f" {self.code}" if self.code else ""
        return (
            f"{self.op} at +{self.started - t0:.2f}s -> {what}{code} "
            f"after {self.latency:.2f}s" + (f" (resent after {self.resent})" if self.resent else "")
        )


class Load:
    """N threads through nginx, each its own user and keep-alive connection,
    in a mix of GET /api/me/, POST /api/token/verify/, POST
    /api/token/refresh/ (each thread rotates its own refresh token), logins,
    registrations and (optionally) logouts. Every request is recorded.

    Logins and registrations are paced per thread (bcrypt takes a core for
    ~60 ms, and nginx limits them per address: 50/s and 20/s)."""

    def __init__(
        self,
        stack,
        name,
        threads=8,
        weights=None,
        register_every=1.0,
        login_every=1.0,
    ):
        self.stack = stack
        self.name = name
        self.threads = threads
        self.weights = weights or {"me": 4, "verify": 3, "refresh": 3, "login": 1, "register": 1}
        self.register_every = register_every
        self.login_every = login_every
        self.records = []
        self.registered = []  # usernames answered 201
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.workers = []
        self.prefix = f"{name}-{os.getpid()}-{random.randrange(1 << 30):x}-"
        self.t0 = None

    # -- lifecycle
    def start(self):
        # Every thread's user and first tokens exist before the measured load.
        self.users = []
        c = Client(self.stack.host, self.stack.port)
        for i in range(self.threads):
            username = f"{self.prefix}t{i}"
            access, refresh = register_and_login(self.stack, username, c)
            self.users.append((username, access, refresh))
        c.close()
        self.t0 = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def stop(self, join_timeout=CLIENT_TIMEOUT + 10):
        self.stop_event.set()
        for t in self.workers:
            t.join(join_timeout)
            check(not t.is_alive(), f"{self.name}: a load thread did not finish")
        self.t1 = time.monotonic()
        return self

    # -- one thread
    def _run(self, i):
        rnd = random.Random(i * 7919 + os.getpid())
        username, access, refresh = self.users[i]
        client = Client(self.stack.host, self.stack.port)
        ops = [op for op, w in self.weights.items() for _ in range(w)]
        next_register = time.monotonic() + rnd.random() * self.register_every
        next_login = time.monotonic() + rnd.random() * self.login_every
        fresh = True  # whether `refresh` is known to be live
        seq = 0
        while not self.stop_event.is_set():
            now = time.monotonic()
            op = rnd.choice(ops)
            if not fresh:
                op = "login"  # tokens unknown after a failed refresh: start over
            elif op == "register" and now < next_register:
                op = "me"
            elif op == "login" and now < next_login:
                op = "verify"
            if op == "login":
                next_login = now + self.login_every
            if op == "register":
                next_register = now + self.register_every
            seq += 1
            if op == "me":
                rec, _ = self._do(client, op, "GET", "/api/me/", token=access)
            elif op == "verify":
                rec, _ = self._do(client, op, "POST", "/api/token/verify/", {"token": access})
            elif op == "verify_refresh":
                rec, _ = self._do(client, op, "POST", "/api/token/verify/", {"token": refresh})
            elif op == "refresh":
                rec, r = self._do(client, op, "POST", "/api/token/refresh/", {"refresh": refresh})
                if rec.status == 200:
                    access, refresh = r.json["access"], r.json["refresh"]
                else:
                    # A failed refresh may or may not have rotated the token
                    # (the database may have committed it); replaying it would
                    # be reuse and revoke the family. Log in again instead.
                    fresh = False
            elif op == "login":
                rec, r = self._do(
                    client, op, "POST", "/api/token/", {"username": username, "password": PASSWORD}
                )
                if rec.status == 200:
                    access, refresh = r.json["access"], r.json["refresh"]
                    fresh = True
                else:
                    fresh = False
                    # Outage: do not spin on bcrypt.
                    self.stop_event.wait(0.2)
            elif op == "register":
                new = f"{self.prefix}r{i}-{seq}"
                rec, _ = self._do(
                    client, op, "POST", "/api/register/", {"username": new, "password": PASSWORD}
                )
                if rec.status == 201:
                    with self.lock:
                        self.registered.append(new)
            elif op == "blacklist":
                rec, _ = self._do(client, op, "POST", "/api/token/blacklist/", {"refresh": refresh})
                if rec.status == 200:
                    # Logged out: the token is dead, and the verify says so.
                    self._do(client, "verify_revoked", "POST", "/api/token/verify/", {"token": refresh})
                fresh = False
            if rec.status is None or rec.status >= 500:
                # Back off a little during outages: the point is to observe,
                # not to saturate a broken stack.
                self.stop_event.wait(0.05)
        client.close()

    def _do(self, client, op, method, path, body=None, token=None):
        started = time.monotonic()
        try:
            r = client.request(method, path, body, token)
        except Exception as e:  # socket errors and timeouts are results too
            rec = Record(op, started, time.monotonic(), None, None, (type(e).__name__ + f": {e}")[:120], None)
            r = None
        else:
            code = r.code if r.status >= 400 else None
            rec = Record(op, r.started, r.ended, r.status, code, None, r.resent)
            if r.status == 200 and op in ("refresh", "login") and not (
                isinstance(r.json, dict) and "access" in r.json and "refresh" in r.json
            ):
                rec = rec._replace(status=-1, error=f"bad body {r.raw[:80]!r}")
        with self.lock:
            self.records.append(rec)
        return rec, r

    # -- results
    def summary(self, records=None, title=None):
        recs = self.records if records is None else records
        by_op = collections.defaultdict(collections.Counter)
        for r in recs:
            key = r.status if r.status is not None else "socket-error"
            if r.code and r.status and r.status >= 400:
                key = f"{r.status} {r.code}"
            by_op[r.op][key] += 1
        resent = sum(1 for r in recs if r.resent)
        lines = [
            f"  {title or self.name}: {len(recs)} requests, {self.threads} threads, "
            f"max latency {max((r.latency for r in recs), default=0):.3f}s, "
            f"resent on a reused connection closed by nginx: {resent}"
        ]
        for op in sorted(by_op):
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(by_op[op].items(), key=str))
            lat = max(r.latency for r in recs if r.op == op)
            lines.append(f"    {op:<15} {counts}  (max {lat:.3f}s)")
        return "\n".join(lines)

    def failures(self, records=None):
        recs = self.records if records is None else records
        return [r for r in recs if not r.expected]

    def describe_failures(self, fails, limit=12):
        out = [f"    {f.describe(self.t0)}" for f in fails[:limit]]
        if len(fails) > limit:
            out.append(f"    ... and {len(fails) - limit} more")
        return "\n".join(out)


def wait_until(predicate, timeout, interval=0.25, what="condition"):
    """Poll predicate() until it returns a true value; return (value, seconds)."""
    started = time.monotonic()
    last = None
    while True:
        try:
            last = predicate()
        except Exception as e:  # noqa: BLE001 - poll through errors
            last = None
            err = e
        else:
            err = None
        if last:
            return last, time.monotonic() - started
        if time.monotonic() - started >= timeout:
            raise TestFailure(
                f"{what} not reached within {timeout:.0f}s"
                + (f" (last error: {err})" if err else "")
            )
        time.sleep(interval)
