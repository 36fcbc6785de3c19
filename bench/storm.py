#!/usr/bin/env python3
"""storm.py [BASE_URL] — the login storm: `/api/me/` latency while logins
saturate bcrypt, on loopback only (default http://127.0.0.1:$PORT, PORT 8001).

wrk runs bench/wrk/login.lua with STORM_LOGIN_CONNS connections (8) for the
whole storm; after STORM_LEAD seconds (2: every bcrypt thread or worker is
busy by then) a second wrk runs bench/wrk/me.lua with CONNS connections (16)
for DURATION seconds (10), then the storm stops. Reported: the `/api/me/`
req/s, p50, p99 and max, its non-2xx, and the logins/s during the storm.
Output: a table on stdout, storm.json, storm.md and the raw wrk output in
OUT_DIR. Settings otherwise as bench/drive.py's (bench/README.md). Needs
python3 (stdlib), wrk.
"""
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the repository at run time

from driver import wrk  # noqa: E402
from driver import cli  # noqa: E402
from driver.api import Client, TargetError  # noqa: E402
from driver.cli import log  # noqa: E402
from driver.settings import UsageError, _int, from_env  # noqa: E402


def main(argv):
    status, base_url = cli.base_url(argv, __doc__)
    if status is not None:
        return status
    try:
        # The driver's settings; SCENARIOS is the driver's, not the storm's.
        s = from_env(base_url, {**os.environ, "SCENARIOS": "me"})
        login_conns = _int(os.environ, "STORM_LOGIN_CONNS", 8, 1, 256)
        lead = _int(os.environ, "STORM_LEAD", 2, 0, 30)
    except UsageError as e:
        log(f"storm: {e}")
        return 2
    if not cli.have_wrk("storm"):
        return 1
    s.out_dir.mkdir(parents=True, exist_ok=True)
    client = Client(s)
    try:
        access, _ = client.login(1)
        status, _ = client.call("GET", "/api/me/", bearer=access)
        if status != 200:
            raise TargetError(f"GET /api/me/ gave HTTP {status}")
    except TargetError as e:
        log(f"storm: {e}")
        return 1

    # The storm outlasts the measured /api/me/ run by a second on each side.
    storm_secs = lead + s.duration + 1
    storm = {}

    def run_storm():
        storm["run"] = wrk.run(s, s.out_dir / "storm-login.txt", login_conns, storm_secs,
                               s.base_url + "/api/token/", "login.lua", {})

    log(f"storm: {login_conns} connections of login for {storm_secs} s; /api/me/ measured from {lead} s")
    thread = threading.Thread(target=run_storm)
    thread.start()
    time.sleep(lead)
    me = wrk.run(s, s.out_dir / "storm-me.txt", s.conns, s.duration, s.base_url + "/api/me/", "me.lua",
                 {"ACCESS_TOKEN": access})
    thread.join()
    m, lg = me.result, storm["run"].result
    if not m or not lg:
        log(f"storm: wrk gave no result; see {s.out_dir}/storm-*.txt")
        return 1
    doc = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "base_url": s.base_url,
        "label": s.label, "login_conns": login_conns, "me_conns": s.conns, "duration_s": s.duration,
        "me": {k: m[k] for k in ("requests", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "non2xx")},
        "login": {k: lg[k] for k in ("requests", "rps", "p50_ms", "p99_ms", "non2xx")},
    }
    (s.out_dir / "storm.json").write_text(json.dumps(doc, indent=2) + "\n")
    me_, lg_ = doc["me"], doc["login"]
    table = "\n".join([
        f"### login storm — {s.label or 'target'} — {s.base_url}",
        "",
        f"{doc['date_utc']}: {login_conns} connections of login for {storm_secs} s; /api/me/ with "
        f"{s.conns} connections for {s.duration} s from second {lead}.",
        "",
        "| /api/me/ req/s | p50 ms | p99 ms | max ms | non-2xx | logins/s | login p99 ms | login non-2xx |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {me_['rps']:.0f} | {me_['p50_ms']:.2f} | {me_['p99_ms']:.2f} | {me_['max_ms']:.2f} | "
        f"{me_['non2xx']:.0f} | {lg_['rps']:.2f} | {lg_['p99_ms']:.0f} | {lg_['non2xx']:.0f} |",
        "",
    ])
    (s.out_dir / "storm.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
