#!/usr/bin/env python3
"""startup.py N PORT BIN [ARG...] — start BIN ARG... N times (its environment
is this script's) and time each start from the fork to the first 200 from
http://127.0.0.1:PORT/healthz, polled every millisecond; SIGTERM and wait
between starts. Prints one line per start and a JSON summary (median, min,
max in ms) as the last line. scripts/bench-startup.sh runs it. Stdlib only.
"""
import http.client
import json
import signal
import statistics
import subprocess
import sys
import time


def first_200(port, proc, limit_s=30.0):
    """Seconds from now until /healthz answers 200, or None if BIN exits or LIMIT_S passes."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.001)
    return False


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    n, port, cmd = int(argv[1]), int(argv[2]), argv[3:]
    times = []
    for i in range(n):
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        ok = first_200(port, proc)
        elapsed_ms = (time.monotonic() - t0) * 1000
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if not ok:
            print(f"start {i + 1}: no 200 from /healthz; stderr:\n{err.decode(errors='replace')[-2000:]}",
                  file=sys.stderr)
            return 1
        times.append(elapsed_ms)
        print(f"start {i + 1}: {elapsed_ms:.1f} ms", file=sys.stderr)
        time.sleep(0.2)
    print(json.dumps({"starts": n, "median_ms": round(statistics.median(times), 1),
                      "min_ms": round(min(times), 1), "max_ms": round(max(times), 1),
                      "all_ms": [round(t, 1) for t in times]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
