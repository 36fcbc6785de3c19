"""The server's processes and the machine's CPU, read from /proc.

The server is one or more process trees (a gunicorn master and its workers,
nginx and its workers, our replicas). RSS and PSS are summed over the trees;
CPU is process time (user + system, reaped children included): interrupt and
softirq time, where much of loopback networking lands, is in no column.
"""
import os
import re
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def listening_pids(port):
    """Pids of the processes listening on loopback PORT (from `ss`)."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return []
    return sorted({int(p) for p in re.findall(r"pid=([0-9]+)", out)})


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def tree(roots):
    """The live pids of ROOTS and all their descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(_stat_fields(entry)[1]), []).append(int(entry))
            except (OSError, IndexError):
                continue
    found, todo = set(), [p for p in roots if os.path.exists(f"/proc/{p}")]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def cpu_ticks(roots):
    """utime + stime + reaped children's times of the trees, in clock ticks."""
    total = 0
    for pid in tree(roots):
        try:
            total += sum(int(v) for v in _stat_fields(pid)[11:15])
        except (OSError, IndexError, ValueError):
            continue
    return total


def memory_kib(roots):
    """(RSS KiB, PSS KiB, process count) summed over the trees."""
    rss = pss = n = 0
    for pid in tree(roots):
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE_KIB
            with open(f"/proc/{pid}/smaps_rollup") as f:
                pss += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            n += 1
        except (OSError, IndexError, ValueError):
            continue
    return rss, pss, n


def machine_busy():
    """user + nice + system ticks of all CPUs since boot."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[1]) + int(fields[2]) + int(fields[3])


def background_pct(roots, seconds=1.0):
    """% of one core busy outside the server trees over SECONDS."""
    t0, b0, s0 = time.monotonic(), machine_busy(), cpu_ticks(roots)
    time.sleep(seconds)
    s1, b1, t1 = cpu_ticks(roots), machine_busy(), time.monotonic()
    return round(100 * ((b1 - b0) - (s1 - s0)) / CLK_TCK / (t1 - t0))


def wait_idle(roots, limit_s, max_pct, log):
    """Waits up to LIMIT_S seconds for background_pct <= MAX_PCT."""
    if limit_s <= 0:
        return
    deadline = time.monotonic() + limit_s
    while (pct := background_pct(roots)) > max_pct:
        if time.monotonic() >= deadline:
            log(f"warning: the machine is still {pct}% busy after {limit_s} s; measuring anyway")
            return
        log(f"waiting for the machine to go idle ({pct}% of a core busy elsewhere)")
        time.sleep(2)


class PeakSampler(threading.Thread):
    """Samples memory_kib every INTERVAL seconds until stop(); keeps the peaks."""

    def __init__(self, roots, interval):
        super().__init__(daemon=True)
        self.roots, self.interval = roots, interval
        self.peak = (0, 0, 0)
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            sample = memory_kib(self.roots)
            self.peak = tuple(max(a, b) for a, b in zip(self.peak, sample))
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()
        return self.peak
