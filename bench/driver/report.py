"""The driver's output in OUT_DIR: results.md (the table), results.json (what
scripts/bench_report.py reads) and results.tsv (every run, kept or not)."""
import json
from dataclasses import asdict, fields

from .measure import Row

COLUMNS = ("scenario", "conns", "requests", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors",
           "peak RSS MiB", "peak PSS MiB", "server CPU %", "wrk CPU %", "other CPU %", "runs: req/s range")


def _cells(row):
    return [row.scenario, str(row.conns), str(row.requests), f"{row.rps:.1f}", f"{row.p50_ms:.2f}",
            f"{row.p99_ms:.2f}", str(row.non2xx), str(row.sock_errors), f"{row.peak_rss_mib:.1f}",
            f"{row.peak_pss_mib:.1f}", f"{row.server_cpu_pct:.0f}", f"{row.wrk_cpu_pct:.0f}",
            f"{row.other_cpu_pct:.0f}"]


def markdown(settings, meta, results):
    s = settings
    lines = [
        f"### {s.label or 'bench'} — {s.base_url}",
        "",
        f"{meta['date_utc']}, {s.duration} s per run after {s.warmup} s warm-up, {s.repeat} run(s) per scenario "
        f"(the median req/s run shown), wrk {s.wrk_threads} thread(s), {meta['nproc']} cores shared by wrk "
        "and the server.",
        f"Idle server: {meta['idle_nprocs']} processes, RSS {meta['idle_rss_kib'] // 1024} MiB, "
        f"PSS {meta['idle_pss_kib'] // 1024} MiB. Background CPU before the runs: "
        f"{meta['background_cpu_pct']}% of one core.",
        "CPU columns are % of one core (200 = both cores); 'other' is everything else on the machine "
        "(should be ~0).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * (len(COLUMNS) - 1),
    ]
    for sc, (row, spread) in results.items():
        cells = _cells(row) if row else [sc, "FAILED"] + ["–"] * 11
        lines.append("| " + " | ".join(cells + [spread]) + " |")
    return "\n".join(lines) + "\n"


def write(settings, meta, results, attempts):
    out = settings.out_dir
    (out / "results.md").write_text(markdown(settings, meta, results))
    doc = {
        "meta": meta,
        "scenarios": {sc: {**asdict(row), "runs": spread} for sc, (row, spread) in results.items() if row},
    }
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    names = [f.name for f in fields(Row)]
    with open(out / "results.tsv", "w") as f:
        f.write("\t".join(names + ["run", "note"]) + "\n")
        for rep, note, row in attempts:
            values = [str(getattr(row, n)) for n in names] if row else [""] * len(names)
            f.write("\t".join(values + [str(rep), note]) + "\n")
