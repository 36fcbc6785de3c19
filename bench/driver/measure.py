"""The measured runs of each scenario: warm-up, REPEAT runs (a run during which
other processes were busy is redone up to RETRY_BUSY times), and the run with
the median req/s, among the runs on a quiet machine when there are any."""
import time
from dataclasses import dataclass

from . import procs, wrk

PATHS = {
    "me": "/api/me/",
    "verify": "/api/token/verify/",
    "refresh": "/api/token/refresh/",
    "login": "/api/token/",
}


@dataclass
class Row:
    scenario: str
    conns: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    sock_errors: int
    peak_rss_mib: float
    peak_pss_mib: float
    server_cpu_pct: float
    wrk_cpu_pct: float
    other_cpu_pct: float
    starved: int = 0


class Bench:
    def __init__(self, settings, client, roots, seeds_file, log):
        self.s, self.client, self.roots, self.log = settings, client, roots, log
        self.seeds_file = seeds_file
        self.next_seed_user = 10
        self.attempts = []  # every run, kept or not: (run number, note, Row or None)

    def _env(self, scenario):
        """The tokens the scenario's script reads; refresh gets fresh seeds each time."""
        if scenario in ("me", "verify"):
            user = 1 if scenario == "me" else 2
            return {"ACCESS_TOKEN": self.client.login(user)[0]}
        if scenario == "refresh":
            count = self.s.conns + max(2, self.s.conns // 4)
            self.log(f"refresh: {count} seed logins")
            seeds = self.client.refresh_seeds(count, self.next_seed_user)
            self.next_seed_user += count
            self.seeds_file.write_text("\n".join(seeds) + "\n")
            return {"REFRESH_SEEDS": str(self.seeds_file)}
        return {}

    def _once(self, scenario, name, conns, env):
        sampler = procs.PeakSampler(self.roots, self.s.rss_interval)
        sampler.start()
        t0, m0 = procs.cpu_ticks(self.roots), procs.machine_busy()
        run = wrk.run(self.s, self.s.out_dir / f"{name}.txt", conns, self.s.duration,
                      self.s.base_url + PATHS[scenario], f"{scenario}.lua", env)
        t1, m1 = procs.cpu_ticks(self.roots), procs.machine_busy()
        rss, pss, _ = sampler.stop()
        r = run.result
        if not r:
            self.log(f"warning: wrk gave no result for {name}; see {name}.txt")
            return None
        secs = r["duration_s"]
        server = 100 * (t1 - t0) / procs.CLK_TCK / secs
        wrk_pct = 100 * run.cpu_s / secs
        other = max(0.0, 100 * (m1 - m0) / procs.CLK_TCK / secs - server - wrk_pct)
        if not r["requests"]:
            self.log(f"warning: no request of {name} completed in {secs:.0f} s (a longer DURATION?)")
        if r["starved"]:
            self.log(f"warning: {name} ran out of refresh tokens {int(r['starved'])} times (broken chains)")
        return Row(scenario, conns, int(r["requests"]), r["rps"], r["p50_ms"], r["p99_ms"], int(r["non2xx"]),
                   int(r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]),
                   rss / 1024, pss / 1024, server, wrk_pct, other, int(r["starved"]))

    def scenario(self, sc):
        """(the reported Row or None, the req/s range over the kept runs)."""
        conns = self.s.login_conns if sc == "login" else self.s.conns
        procs.wait_idle(self.roots, self.s.wait_idle, self.s.idle_max_pct, self.log)
        static_env = None if sc == "refresh" else self._env(sc)

        def env():
            return static_env if static_env is not None else self._env(sc)

        if self.s.warmup:
            warmup_env = env()
            self.log(f"{sc}: warm-up {self.s.warmup} s, {conns} connections")
            wrk.run(self.s, self.s.out_dir / f"{sc}.warmup.txt", conns, self.s.warmup,
                    self.s.base_url + PATHS[sc], f"{sc}.lua", warmup_env)
        kept = []
        for rep in range(1, self.s.repeat + 1):
            for retry in range(self.s.retry_busy + 1):
                name = sc + (f".run{rep}" if self.s.repeat > 1 else "") + (f".retry{retry}" if retry else "")
                run_env = env()
                self.log(f"{sc}: measuring {self.s.duration} s, {conns} connections ({name})")
                row = self._once(sc, name, conns, run_env)
                busy = row is not None and row.other_cpu_pct > self.s.idle_max_pct
                if row is None or not busy or retry == self.s.retry_busy:
                    self.attempts.append((rep, "failed" if row is None else "kept", row))
                    break
                self.log(f"{sc}: other processes took {row.other_cpu_pct:.0f}% of a core; measuring again")
                self.attempts.append((rep, "discarded-busy", row))
                procs.wait_idle(self.roots, self.s.wait_idle, self.s.idle_max_pct, self.log)
            if row is None:
                return None, "failed"
            kept.append(row)
            time.sleep(1)
        return pick_median(kept, self.s.idle_max_pct)


def pick_median(rows, idle_max_pct):
    """The run with the median req/s (the lower one of an even count), among the
    quiet runs if any; and the req/s range over all of them."""
    quiet = [r for r in rows if r.other_cpu_pct <= idle_max_pct]
    pool = sorted(quiet or rows, key=lambda r: r.rps)
    picked = pool[(len(pool) - 1) // 2]
    lo, hi = min(r.rps for r in rows), max(r.rps for r in rows)
    fmt = "{:.1f}" if lo < 100 else "{:.0f}"
    spread = f"{len(rows)}: {fmt.format(lo)}–{fmt.format(hi)}" if len(rows) > 1 else "1"
    return picked, spread + ("" if quiet else " (busy machine)")

