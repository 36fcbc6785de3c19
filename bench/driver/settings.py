"""The driver's settings, from the environment (names and defaults in bench/README.md)."""
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SCENARIOS = ("me", "verify", "refresh", "login")


class UsageError(Exception):
    """A setting the driver cannot run with; the message names it."""


@dataclass(frozen=True)
class Settings:
    base_url: str
    port: int
    duration: int
    warmup: int
    conns: int
    login_conns: int
    wrk_threads: int
    wrk_timeout: str
    scenarios: tuple
    bench_users: int
    bench_prefix: str
    bench_password: str
    server_pids: tuple
    extra_pids: tuple
    label: str
    out_dir: Path
    wait_idle: int
    repeat: int
    retry_busy: int
    idle_max_pct: int
    rss_interval: float
    exact_status: bool


def _int(env, name, default, lo, hi):
    raw = env.get(name, str(default))
    if not re.fullmatch(r"[0-9]+", raw):
        raise UsageError(f"{name} must be a non-negative integer (got {raw!r})")
    value = int(raw)
    if not lo <= value <= hi:
        raise UsageError(f"{name} must be within {lo}..{hi} (got {value})")
    return value


def _pids(env, name):
    raw = env.get(name, "").split()
    if not all(p.isdigit() for p in raw):
        raise UsageError(f"{name} must be a list of pids (got {env[name]!r})")
    return tuple(int(p) for p in raw)


def loopback_port(base_url):
    """The port of BASE_URL; refuses every host that is not loopback."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"BASE_URL must start with http:// or https:// (got {base_url!r})")
    host = parts.hostname or ""
    if not (re.fullmatch(r"127(\.[0-9]{1,3}){3}", host) or host in ("localhost", "::1")):
        raise UsageError(f"refusing to load-test {host!r}: only loopback (127.0.0.0/8, localhost, [::1])")
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"cannot read the port of {base_url!r}") from None


def from_env(base_url, env=os.environ):
    base_url = base_url.rstrip("/")
    scenarios = tuple(env.get("SCENARIOS", " ".join(SCENARIOS)).split())
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or not scenarios:
        raise UsageError(f"SCENARIOS takes {' '.join(SCENARIOS)} (got {' '.join(unknown) or 'none'})")
    try:
        rss_interval = float(env.get("RSS_INTERVAL", "0.5"))
    except ValueError:
        raise UsageError("RSS_INTERVAL must be a number of seconds") from None
    label = env.get("LABEL", "")
    peer_dir = Path(env.get("PEER_DIR") or Path(env.get("TMPDIR") or "/tmp") / "auth-bench-peer")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    out_dir = env.get("OUT_DIR") or peer_dir / "results" / (stamp + (f"-{label}" if label else ""))
    return Settings(
        base_url=base_url,
        port=loopback_port(base_url),
        duration=_int(env, "DURATION", 10, 1, 120),
        warmup=_int(env, "WARMUP", 2, 0, 30),
        conns=_int(env, "CONNS", 16, 1, 1024),
        login_conns=_int(env, "LOGIN_CONNS", 4, 1, 1024),
        wrk_threads=_int(env, "WRK_THREADS", 2, 1, 64),
        wrk_timeout=env.get("WRK_TIMEOUT", "10s"),
        scenarios=scenarios,
        bench_users=_int(env, "BENCH_USERS", 100, 1, 1_000_000),
        bench_prefix=env.get("BENCH_PREFIX", "bench"),
        bench_password=env.get("BENCH_PASSWORD", "correct horse battery staple"),
        server_pids=_pids(env, "SERVER_PID"),
        extra_pids=_pids(env, "EXTRA_PIDS"),
        label=label,
        out_dir=Path(out_dir),
        wait_idle=_int(env, "WAIT_IDLE", 0, 0, 3600),
        repeat=_int(env, "REPEAT", 1, 1, 9),
        retry_busy=_int(env, "RETRY_BUSY", 0, 0, 5),
        idle_max_pct=_int(env, "IDLE_MAX_PCT", 10, 0, 200),
        rss_interval=rss_interval,
        exact_status=env.get("WRK_EXACT_STATUS", "1") != "0",
    )
