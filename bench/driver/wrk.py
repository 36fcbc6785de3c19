"""One wrk run of a scenario script, with wrk's own CPU time."""
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent.parent / "wrk"


@dataclass
class WrkRun:
    result: dict  # the RESULT line's key=value pairs; empty when wrk failed
    cpu_s: float  # user + system seconds of wrk itself


def threads_for(conns, wanted):
    """WRK_THREADS, lowered so that the threads divide the connections."""
    threads = min(wanted, conns)
    return threads if conns % threads == 0 else 1


def parse_result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            pairs = (item.split("=", 1) for item in line.split()[1:])
            return {k: v if k == "non2xx_mode" else float(v) for k, v in pairs}
    return {}


def run(settings, out_file, conns, seconds, url, script, env):
    """Runs wrk with bench/wrk/SCRIPT; its output goes to OUT_FILE."""
    threads = threads_for(conns, settings.wrk_threads)
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s",
           "--timeout", settings.wrk_timeout, "-s", str(LUA_DIR / script), url]
    lua_env = {
        **os.environ, **env,
        "WRK_NTHREADS": str(threads),
        "WRK_EXACT_STATUS": "1" if settings.exact_status else "0",
        "BENCH_USERS": str(settings.bench_users),
        "BENCH_PREFIX": settings.bench_prefix,
        "BENCH_PASSWORD": settings.bench_password,
    }
    with open(out_file, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=lua_env)
        # wait4, not wait: its rusage is wrk's CPU time.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return WrkRun(parse_result(Path(out_file).read_text()), usage.ru_utime + usage.ru_stime)
