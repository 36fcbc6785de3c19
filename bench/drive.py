#!/usr/bin/env python3
"""drive.py [BASE_URL] — the wrk scenarios of bench/wrk/ against any server that
speaks the simplejwt API, on loopback only (default http://127.0.0.1:$PORT,
PORT 8001: the peer of bench/start.sh).

It checks the API first (login, me, verify, rotating refresh) and measures
nothing if that fails; then, per scenario, a warm-up and REPEAT measured runs,
with the server's peak RSS/PSS and CPU (the process trees of SERVER_PID and
EXTRA_PIDS, or of whatever listens on the port). Output: a table on stdout and
results.{md,json,tsv} plus every run's raw wrk output in OUT_DIR. Settings
(environment) are listed in bench/README.md. Needs python3 (stdlib), wrk, ss.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # nothing written into the repository at run time

from driver import procs, report  # noqa: E402
from driver import cli  # noqa: E402
from driver.api import Client, TargetError  # noqa: E402
from driver.cli import log  # noqa: E402
from driver.measure import Bench  # noqa: E402
from driver.settings import UsageError, from_env  # noqa: E402


def main(argv):
    status, base_url = cli.base_url(argv, __doc__)
    if status is not None:
        return status
    try:
        s = from_env(base_url)
    except UsageError as e:
        log(f"drive: {e}")
        return 2
    if not cli.have_wrk("drive"):
        return 1
    s.out_dir.mkdir(parents=True, exist_ok=True)
    roots = list(s.server_pids or procs.listening_pids(s.port)) + list(s.extra_pids)
    if not roots:
        log(f"warning: no server pids for port {s.port} (set SERVER_PID): the RSS and CPU columns will be 0")
    client = Client(s)
    log(f"target: {s.base_url} (server pids: {' '.join(map(str, roots)) or 'none'})")
    try:
        client.preflight()
        log("pre-flight ok: login, me, verify, refresh with rotation")
        meta = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "base_url": s.base_url,
                "label": s.label, "nproc": os.cpu_count(), "kernel": os.uname().release,
                "server_pids": roots, "background_cpu_pct": procs.background_pct(roots)}
        if meta["background_cpu_pct"] > s.idle_max_pct:
            log(f"warning: {meta['background_cpu_pct']}% of a core busy outside the server: expect skewed numbers")
        meta["idle_rss_kib"], meta["idle_pss_kib"], meta["idle_nprocs"] = procs.memory_kib(roots)
        with tempfile.TemporaryDirectory(prefix="auth-bench-") as tmp:
            bench = Bench(s, client, roots, Path(tmp) / "refresh-seeds", log)
            results = {sc: bench.scenario(sc) for sc in s.scenarios}
    except TargetError as e:
        log(f"drive: {e}")
        return 1
    report.write(s, meta, results, bench.attempts)
    print((s.out_dir / "results.md").read_text())
    log(f"raw wrk output and results.{{md,json,tsv}}: {s.out_dir}")
    return 0 if all(row for row, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
