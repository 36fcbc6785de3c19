#!/usr/bin/env python3
"""bench_report.py BENCH_DIR BCRYPT_COST — the side-by-side summary of a
scripts/bench.sh run, as markdown on stdout, plus BENCH_DIR/requests.png.

Reads the driver's results.json of each target (peer, peerstack, ours,
stack; written by bench/drive.py), each target's statement count
(<target>-statements.json) and login storm (<target>-storm/storm.json), the
criterion estimates under target/criterion, and the nginx-hop wrk output.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = [("peer", "simplejwt (gunicorn, SQLite)"), ("peerstack", "simplejwt via nginx (gunicorn, PostgreSQL)"),
           ("ours", "ours direct (SQLite)"), ("stack", "ours via nginx (PostgreSQL, 2 replicas)")]
# Each of ours is compared with the peer in the same shape.
PEER_OF = {"ours": "peer", "stack": "peerstack"}
SCENARIOS = ["me", "verify", "refresh", "login"]


def read_results(path):
    """scenario -> the driver's figures (bench/drive.py's results.json)."""
    try:
        with open(os.path.join(path, "results.json")) as f:
            scenarios = json.load(f)["scenarios"]
    except (OSError, ValueError, KeyError):
        return {}
    return {
        sc: {"rps": r["rps"], "p50": r["p50_ms"], "p99": r["p99_ms"], "non2xx": r["non2xx"],
             "rss": r["peak_rss_mib"], "cpu": r["server_cpu_pct"]}
        for sc, r in scenarios.items()
    }


def criterion():
    """'group/function/param' -> mean nanoseconds, for every estimate found."""
    out = {}
    base = os.path.join(ROOT, "target", "criterion")
    for dirpath, _, files in os.walk(base):
        if os.path.basename(dirpath) == "new" and "estimates.json" in files:
            with open(os.path.join(dirpath, "estimates.json")) as f:
                mean = json.load(f)["mean"]["point_estimate"]
            key = os.path.relpath(os.path.dirname(dirpath), base)
            out[key] = mean
    return out


def find(est, *words):
    """The estimate whose name contains every word (case-insensitive)."""
    for key, value in sorted(est.items()):
        k = key.lower()
        if all(w.lower() in k for w in words):
            return key, value
    return None, None


def wrk_summary(path):
    try:
        text = open(path).read()
    except OSError:
        return None
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", text, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", text, re.M)
    def ms(m):
        if not m:
            return None
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]
    return {"rps": float(rps.group(1)) if rps else None, "p50": ms(p50), "p99": ms(p99)}


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def main():
    bench_dir, cost = sys.argv[1], int(sys.argv[2])
    results = {t: read_results(os.path.join(bench_dir, t)) for t, _ in TARGETS}
    cores = os.cpu_count() or 1
    out = []
    meta = subprocess.run(["bash", "-c", "lscpu | sed -n 's/^Model name:\\s*//p'; nproc; uname -r"],
                          capture_output=True, text=True).stdout.split("\n")
    out.append(f"Machine: {meta[0].strip() or 'unknown CPU'}, {meta[1].strip()} cores, Linux {meta[2].strip()}; "
               f"wrk and the servers share the cores. bcrypt cost {cost} on both sides.\n")
    out.append("| scenario | target | req/s | p50 ms | p99 ms | non-2xx | peak RSS MiB | server CPU % | ours / peer |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for sc in SCENARIOS:
        for t, label in TARGETS:
            r = results[t].get(sc)
            if not r:
                continue
            ratio = ""
            # The stack against the peer's stack when measured, else the plain peer.
            peer_t = PEER_OF.get(t)
            if t == "stack" and not results["peerstack"].get(sc):
                peer_t = "peer"
            peer = results[peer_t].get(sc, {}) if peer_t else {}
            if peer.get("rps") and r.get("rps"):
                ratio = f"{r['rps'] / peer['rps']:.1f}× ({peer_t})"
            out.append(f"| {sc} | {label} | {fmt(r['rps'], 1 if (r['rps'] or 0) < 100 else 0)} | {fmt(r['p50'], 2)} | "
                       f"{fmt(r['p99'], 2)} | {fmt(r['non2xx'])} | {fmt(r['rss'], 1)} | {fmt(r['cpu'])} | {ratio} |")
    rss = [results[t][sc]["rss"] for t in ("peer", "ours") for sc in SCENARIOS if sc in results[t]]
    peer_rss = max((results["peer"][sc]["rss"] for sc in SCENARIOS if sc in results["peer"]), default=None)
    ours_rss = max((results["ours"][sc]["rss"] for sc in SCENARIOS if sc in results["ours"]), default=None)
    if peer_rss and ours_rss and rss:
        out.append(f"\nPeak RSS under load: ours {ours_rss:.1f} MiB, peer {peer_rss:.1f} MiB "
                   f"(ours = 1/{peer_rss / ours_rss:.0f} of the peer).")

    out.extend(issue17(bench_dir, results))

    est = criterion()
    limits_at = len(out)
    key, hash_ns = find(est, "bcrypt", str(cost))
    login = results["ours"].get("login", {}).get("rps")
    if hash_ns:
        limit = cores / (hash_ns / 1e9)
        line = f"- bcrypt cost {cost}: {hash_ns / 1e6:.0f} ms per hash (`{key}`), so {cores} cores allow {limit:.2f} logins/s"
        if login:
            line += f"; our login reached {login:.2f}/s = {100 * login / limit:.0f}% of that limit"
        out.append(line + ".")
    _, verify_ns = find(est, "verify", "hs256")
    _, hmac_ns = find(est, "hmac")
    if verify_ns and hmac_ns:
        out.append(f"- HS256 token verification {verify_ns / 1e3:.2f} µs per token on one core, raw HMAC-SHA256 of the "
                   f"same signing input {hmac_ns / 1e3:.2f} µs ({verify_ns / hmac_ns:.1f}× the floor). At "
                   f"{cores} cores the crypto alone would allow {cores / (verify_ns / 1e9):,.0f} verifications/s; "
                   f"the HTTP verify scenario reached {fmt(results['ours'].get('verify', {}).get('rps'))}/s.")
    hop = wrk_summary(os.path.join(bench_dir, "nginx-hop.txt"))
    if hop and hop["rps"]:
        out.append(f"- The nginx hop alone (a static 200 from nginx, 16 connections): {hop['rps']:,.0f} req/s, "
                   f"p50 {fmt(hop['p50'], 2)} ms, p99 {fmt(hop['p99'], 2)} ms.")
    if len(out) > limits_at:
        out.insert(limits_at, "\n**Limits.**")
    if est:
        out.append("\nCriterion estimates (mean per operation):\n")
        out.append("| benchmark | time |")
        out.append("|---|---:|")
        for key, ns in sorted(est.items()):
            t = f"{ns / 1e6:.1f} ms" if ns > 1e6 else f"{ns / 1e3:.2f} µs"
            out.append(f"| `{key}` | {t} |")
    print("\n".join(out))
    chart(bench_dir, results)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def issue17(bench_dir, results):
    """/api/me/ against verify per target, what one /api/me/ costs the
    database, and /api/me/ during the login storm."""
    out = []
    rows = []
    for t, label in TARGETS:
        me, verify = results[t].get("me", {}).get("rps"), results[t].get("verify", {}).get("rps")
        if me and verify:
            rows.append(f"| {label} | {me:,.0f} | {verify:,.0f} | {100 * me / verify:.0f}% |")
    if rows:
        out += ["\n**/api/me/ against verify** (same run):\n", "| target | me req/s | verify req/s | me / verify |",
                "|---|---:|---:|---:|"] + rows
    rows = []
    for t, label in TARGETS:
        c = read_json(os.path.join(bench_dir, f"{t}-statements.json"))
        if not c:
            continue
        spr = "–" if c["statements_per_request"] is None else f"{c['statements_per_request']:.4f}"
        stm = "–" if c["statements"] is None else f"{c['statements']:,}"
        ours = t in ("ours", "stack")
        rows.append(f"| {label} | {c['requests']:,} | {c['non2xx']} | {stm} | {spr} | "
                    + (f"{c['cache_hits']:,} | {c['cache_misses']:,} | {c['cache_bypasses']:,} | "
                       f"{c['db_reads_per_request']:.4f} |" if ours else "– | – | – | – |"))
    if rows:
        out += ["\n**What one /api/me/ costs the database** (steady state: a further me run after a warm-up; "
                "statements from pg_stat_statements, cache counters from /metrics):\n",
                "| target | requests | non-2xx | PostgreSQL statements | per request | cache hits | misses | "
                "bypasses | database reads per request |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows
    rows = []
    for t, label in TARGETS:
        st = read_json(os.path.join(bench_dir, f"{t}-storm", "storm.json"))
        if not st:
            continue
        m, lg = st["me"], st["login"]
        rows.append(f"| {label} | {st['login_conns']} | {lg['rps']:.2f} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | "
                    f"{m['p99_ms']:.2f} | {m['max_ms']:.2f} | {m['non2xx']:.0f} |")
    if rows:
        out += ["\n**Login storm**: /api/me/ (16 connections) while logins saturate bcrypt:\n",
                "| target | login connections | logins/s | me req/s | me p50 ms | me p99 ms | me max ms | me non-2xx |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"] + rows
    return out


def chart(bench_dir, results):
    """requests.png from scripts/bench_chart.gp."""
    data = os.path.join(bench_dir, "requests.dat")
    with open(data, "w") as f:
        f.write("scenario " + " ".join(f'"{label}"' for _, label in TARGETS) + "\n")
        for sc in SCENARIOS:
            vals = [results[t].get(sc, {}).get("rps") for t, _ in TARGETS]
            f.write(sc + " " + " ".join(f"{v:.2f}" if v else "-" for v in vals) + "\n")
    cols = [str(i + 2) for i, (t, _) in enumerate(TARGETS) if any(r.get("rps") for r in results[t].values())]
    if not cols:
        return
    png = os.path.join(bench_dir, "requests.png")
    cmd = ["gnuplot", "-e", f"data='{data}'; png='{png}'; cols='{' '.join(cols)}'",
           os.path.join(ROOT, "scripts", "bench_chart.gp")]
    try:
        subprocess.run(cmd, text=True, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"\n(no chart: gnuplot failed: {e})", file=sys.stderr)


if __name__ == "__main__":
    main()
