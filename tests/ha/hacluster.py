"""Helpers of tests/ha/ha_test.py: the running HA stack (scripts/ha-ctl.sh),
PostgreSQL on each db host through its own socket, a prober of who is
writable, the load generator's log, and the checks made on it.

Standard library only; run as root from the operator's namespace.
"""

import collections
import json
import os
import re
import subprocess
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CTL = os.path.join(ROOT, "scripts", "ha-ctl.sh")

NO_DB = ("verify", "jwks", "healthz")  # must never fail
DB = ("me", "refresh", "login", "register")  # may answer 503 during a failover
DB_HOSTS = ("db1", "db2", "db3")


class TestFailure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def log(message):
    print(f"ha-test: {message}", flush=True)


def wait_for(predicate, timeout, what, interval=0.5):
    """Poll until predicate() is true; the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - hosts come and go meanwhile
            value = None
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TestFailure(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


class Cluster:
    """The stack scripts/ha-up.sh started in HA_DIR."""

    def __init__(self, ha_dir):
        self.dir = ha_dir
        self.env = dict(os.environ, HA_DIR=ha_dir)
        values = dict(
            line.split("=", 1) for line in self.ctl("env").stdout.splitlines() if "=" in line
        )
        self.prefix = values["HA_PREFIX"]
        self.addr = {k[5:]: v for k, v in values.items() if k.startswith("HOST_")}
        self.pg_port = values["HA_PG_PORT"]
        self.app_port_base = int(values["HA_APP_PORT_BASE"])
        self.patroni_port = int(values["HA_PATRONI_PORT"])
        self.pg_ids = (values["PG_UID"], values["PG_GID"])
        self.url = f"http://{self.addr['lb']}:{values['HA_LB_PORT']}"

    def ctl(self, *args, timeout=180, check_rc=True):
        proc = subprocess.run([CTL, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check_rc and proc.returncode != 0:
            raise TestFailure(f"ha-ctl.sh {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
        return proc

    def leader(self):
        proc = self.ctl("leader", check_rc=False, timeout=30)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def psql_cmd(self, host, sql, database="postgres"):
        uid, gid = self.pg_ids
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--",
                "psql", "-X", "-At", "-h", os.path.join(self.dir, host, "data", "pg"),
                "-p", self.pg_port, "-U", "postgres", "-d", database, "-c", sql]

    def sql(self, host, sql, database="auth"):
        """Rows of one query as the superuser on HOST's socket, '|'-separated."""
        proc = subprocess.run(self.psql_cmd(host, sql, database), capture_output=True, text=True,
                              timeout=30, env=dict(os.environ, PGCONNECT_TIMEOUT="3"))
        if proc.returncode != 0:
            raise TestFailure(f"psql on {host}: {sql[:60]}: {proc.stderr.strip()[-300:]}")
        return [line for line in proc.stdout.splitlines() if line]

    def roles(self):
        """{host: 'primary' | 'replica' | 'down'} from each server itself, at
        once (its socket answers whatever the network does)."""
        env = dict(os.environ, PGCONNECT_TIMEOUT="1")
        procs = {h: subprocess.Popen(self.psql_cmd(h, "SELECT pg_is_in_recovery()"), env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for h in DB_HOSTS}
        out = {}
        for h, p in procs.items():
            try:
                stdout, _ = p.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                stdout = ""
            out[h] = {"f": "primary", "t": "replica"}.get(stdout.strip(), "down")
        return out

    def settled(self):
        """A primary, the two others streaming from it, one of them the
        synchronous standby: the state every scenario starts from."""
        leader = self.leader()
        if not leader:
            return False
        url = f"http://{self.addr[leader]}:{self.patroni_port}/cluster"
        with urllib.request.urlopen(url, timeout=3) as r:
            members = json.load(r)["members"]
        roles = sorted(m["role"] for m in members)
        return roles == ["leader", "replica", "sync_standby"] and all(
            self.streaming(h) for h in DB_HOSTS if h != leader)

    def streaming(self, host):
        """HOST is a replica receiving WAL from the primary."""
        rows = self.sql(host, "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)",
                        database="postgres")
        return rows == ["t|streaming"]


class Prober(threading.Thread):
    """Every second, which db hosts take writes; never two at once."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.samples = []  # (wall time, {host: role})
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            started = time.time()
            self.samples.append((started, self.cluster.roles()))
            self.stop.wait(max(0.0, 1.0 - (time.time() - started)))

    def two_writable(self):
        return [(t, r) for t, r in self.samples if sum(v == "primary" for v in r.values()) > 1]


def read_log(path):
    """The load generator's records so far (a line being written is left out)."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def windows(failures, gap=5.0):
    """Failures grouped into windows: a new one after `gap` seconds without."""
    out = []
    for r in sorted(failures, key=lambda r: r["t"]):
        if out and r["t"] - out[-1][1] <= gap:
            out[-1][1] = max(out[-1][1], r["end"])
            out[-1][2] += 1
        else:
            out.append([r["t"], r["end"], 1])
    return out


def summarize(recs):
    counts = collections.Counter()
    for r in recs:
        key = r["status"] if r["status"] is not None else "socket-error"
        if r.get("code") and r["status"] and r["status"] >= 400:
            key = f"{r['status']} {r['code']}"
        counts[(r["op"], key)] += 1
    return {f"{op} {key}": n for (op, key), n in sorted(counts.items(), key=str)}


def describe(r, t0):
    what = r["status"] if r["status"] is not None else r.get("error")
    return f"{r['op']} at +{r['t'] - t0:.2f}s -> {what} {r.get('code') or ''} after {r['end'] - r['t']:.2f}s"


def analyze(records, t0, t1, fault_at, name):
    """The requests started in [t0, t1): what failed, how, and for how long."""
    recs = [r for r in records if "t" in r and t0 <= r["t"] < t1]
    skipped = sum(1 for r in records if r.get("op") == "skipped" and t0 <= r["sched"] < t1)
    failed = [r for r in recs if not r["ok"]]
    no_db = [r for r in failed if r["op"] in NO_DB]
    check(not no_db, f"{name}: routes without a database failed:\n  "
          + "\n  ".join(describe(r, fault_at) for r in no_db[:10]))
    wrong = [r for r in failed if not (r["status"] == 503 and r.get("code") == "unavailable"
                                       and (r.get("retry_after") or "").isdigit())]
    check(not wrong, f"{name}: database routes failed otherwise than 503 unavailable with Retry-After:\n  "
          + "\n  ".join(describe(r, fault_at) for r in wrong[:10]))
    spans = windows(failed)
    check(len(spans) <= 1, f"{name}: failures in {len(spans)} separate windows: "
          + ", ".join(f"+{a - fault_at:.1f}s..+{b - fault_at:.1f}s ({n})" for a, b, n in spans))
    window = spans[0][1] - spans[0][0] if spans else 0.0
    return {
        "requests": len(recs),
        "failed": len(failed),
        "window_s": round(window, 1),
        "window_from_fault_s": [round(spans[0][0] - fault_at, 1), round(spans[0][1] - fault_at, 1)] if spans else None,
        "client_skipped": skipped,
        "max_latency_s": round(max((r["end"] - r["t"] for r in recs), default=0.0), 2),
        "statuses": summarize(recs),
    }


NGINX_DOWN = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[\w+\] .*upstream server temporarily disabled"
                        r".*upstream: \"http://([\d.]+):\d+")


def nginx_marked_down(ha_dir, address, since):
    """When nginx on lb first marked a server of ADDRESS down after `since`
    (its error log has whole seconds, local time)."""
    path = os.path.join(ha_dir, "lb", "logs", "nginx.log")
    with open(path, errors="replace") as f:
        for line in f:
            m = NGINX_DOWN.match(line)
            if m and m.group(2) == address:
                at = time.mktime(time.strptime(m.group(1), "%Y/%m/%d %H:%M:%S"))
                if at + 1 >= since:
                    return at
    return None
