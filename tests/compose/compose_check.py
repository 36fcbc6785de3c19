"""Checks of the compose stack, one subcommand per step of
scripts/compose-test.sh, which runs the README's commands in between.

    compose_check.py smoke   --port P --project NAME --env-file F
    compose_check.py load    --port P --name NAME --ready-file F [--max-seconds N]
    compose_check.py traffic --project NAME --replicas N [--seconds S]
    compose_check.py order   --project NAME --since T0 --until T1
    compose_check.py users   seed|verify --port P --file F
    compose_check.py image   --image NAME --max-mb N

Each prints what it saw and exits non-zero with the reason when a check
fails. Requests go to 127.0.0.1:P (nginx's published port) only.
"""

import argparse
import json
import os
import random
import signal
import sys
import threading
import time

from composelib import (
    NGINX_ADDRESS, PASSWORD, Client, Endpoint, Load, Project, TestFailure, check, docker,
    log, nginx_access, one, register_and_login, wait_until,
)


def cmd_smoke(args):
    """readyz, the token lifecycle through nginx, and the client address the
    throttle counts."""
    ep = Endpoint(args.port)
    project = Project(args.project, args.env_file)
    r, waited = wait_until(lambda: (lambda r: r if r.status == 200 else None)(one(ep, "GET", "/readyz")),
                           timeout=120, what="/readyz 200 through nginx")
    check(r.json == {"status": "ok"} or (isinstance(r.json, dict) and r.json.get("status") == "ok"),
          f"/readyz body: {r!r}")
    log(f"  /readyz 200 after {waited:.1f}s: {r.raw.decode().strip()}")

    c = Client(ep.host, ep.port)
    user = f"smoke-{random.randrange(1 << 40):x}"
    r = c.request("POST", "/api/register/", {"username": user, "password": PASSWORD})
    check(r.status == 201 and r.json.get("username") == user, f"register: {r!r}")
    r = c.request("POST", "/api/token/", {"username": user, "password": PASSWORD})
    check(r.status == 200 and {"access", "refresh"} <= set(r.json), f"login: {r!r}")
    access, refresh = r.json["access"], r.json["refresh"]
    r = c.request("GET", "/api/me/", token=access)
    check(r.status == 200 and r.json.get("username") == user, f"/api/me/: {r!r}")
    r = c.request("POST", "/api/token/refresh/", {"refresh": refresh})
    check(r.status == 200 and r.json.get("refresh") not in (None, refresh), f"refresh: {r!r}")
    refresh = r.json["refresh"]
    r = c.request("POST", "/api/token/blacklist/", {"refresh": refresh})
    check(r.status == 200, f"blacklist: {r!r}")
    r = c.request("POST", "/api/token/refresh/", {"refresh": refresh})
    check(r.status == 401, f"refresh with the blacklisted token: {r!r}")
    log("  register 201, login 200, /api/me/ 200, refresh 200 (rotated), blacklist 200, "
        "refresh after blacklist 401")

    # A failed login, with a forged X-Forwarded-For: nginx replaces the
    # header by the address it sees, and the app counts that address (the
    # client's), neither nginx's own nor the forged one.
    forged = "203.0.113.7"
    r = c.request("POST", "/api/token/", {"username": user, "password": "not the password"},
                  headers={"X-Forwarded-For": forged})
    check(r.status == 401, f"login with a wrong password: {r!r}")
    seen_by_nginx = nginx_access(project, r.header("X-Request-Id"))["remote_addr"]
    counted = set(project.psql("SELECT subject FROM login_failures WHERE scope = 'address'").split())
    check(seen_by_nginx in counted,
          f"the throttle did not count the client's address {seen_by_nginx} (counted: {sorted(counted)})")
    check(NGINX_ADDRESS not in counted, f"the throttle counted nginx's address {NGINX_ADDRESS}")
    check(forged not in counted, f"the throttle believed the client's forged X-Forwarded-For {forged}")
    log(f"  throttle counts the client's address {seen_by_nginx} (as nginx saw it), "
        f"not nginx's {NGINX_ADDRESS} nor the forged {forged}")
    c.close()


def cmd_load(args):
    """Load through nginx until SIGTERM (or --max-seconds); zero failed
    requests allowed."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # bcrypt (cost 12 in .env.example) takes a core for a quarter second:
    # logins and registrations are paced so that the load stays light.
    load = Load(Endpoint(args.port), args.name, threads=args.threads,
                register_every=4.0, login_every=4.0).start()
    with open(args.ready_file, "w") as f:
        f.write(f"{os.getpid()}\n")
    stop.wait(args.max_seconds)
    load.stop()
    log(load.summary())
    fails = load.failures()
    check(len(load.records) >= 50, f"{args.name}: only {len(load.records)} requests were made")
    check(not fails, f"{args.name}: {len(fails)} failed requests:\n{load.describe_failures(fails)}")
    log(f"  {args.name}: zero failed requests")


def cmd_traffic(args):
    """Every running replica serves requests (needs a load running)."""
    project = Project(args.project)
    ids = project.containers("app")
    check(len(ids) == args.replicas, f"{len(ids)} app replicas running, expected {args.replicas}")
    before = {cid: project.requests_served(cid) for cid in ids}
    time.sleep(args.seconds)
    served = {cid: project.requests_served(cid) - before[cid] for cid in ids}
    lines = ", ".join(f"{project.name_of(cid)}: {n}" for cid, n in served.items())
    idle = [project.name_of(cid) for cid, n in served.items() if n <= 0]
    check(not idle, f"replicas that received no request in {args.seconds}s: {idle} ({lines})")
    log(f"  all {len(ids)} replicas served requests in {args.seconds}s: {lines}")


def cmd_order(args):
    """`migrate` ran once in the window, exited 0, and every replica started
    in the window started after it had finished."""
    project = Project(args.project)
    events = project.events(args.since, args.until)
    starts = [e for e in events if e["service"] == "migrate" and e["Action"] == "start"]
    deaths = [e for e in events if e["service"] == "migrate" and e["Action"] == "die"]
    check(len(starts) == 1, f"migrate started {len(starts)} times in this `up`, expected once")
    check(len(deaths) == 1 and deaths[0]["Actor"]["Attributes"].get("exitCode") == "0",
          f"migrate did not exit 0 exactly once: {[d['Actor']['Attributes'].get('exitCode') for d in deaths]}")
    done = deaths[0]["timeNano"]
    app_starts = [e for e in events if e["service"] == "app" and e["Action"] == "start"]
    early = [e["Actor"]["Attributes"].get("name") for e in app_starts if e["timeNano"] <= done]
    check(not early, f"replicas started before migrate finished: {early}")
    log(f"  migrate ran once (exit 0) in {(done - starts[0]['timeNano']) / 1e9:.2f}s; "
        f"{len(app_starts)} replica start(s) in this `up`, all after it finished")


def cmd_users(args):
    ep = Endpoint(args.port)
    if args.action == "seed":
        prefix = f"persist-{random.randrange(1 << 40):x}-"
        names = [f"{prefix}{i}" for i in range(3)]
        for name in names:
            register_and_login(ep, name)
        with open(args.file, "w") as f:
            f.write("\n".join(names) + "\n")
        log(f"  registered {len(names)} users ({prefix}*)")
        return
    with open(args.file) as f:
        names = f.read().split()
    check(names, f"no users in {args.file}")
    c = Client(ep.host, ep.port)
    for name in names:
        r = c.request("POST", "/api/token/", {"username": name, "password": PASSWORD})
        check(r.status == 200, f"user {name} registered before `down` cannot log in after `up`: {r!r}")
    c.close()
    log(f"  the {len(names)} users registered before `down` log in after `up`")


def cmd_image(args):
    info = json.loads(docker("image", "inspect", args.image))[0]
    user = info["Config"].get("User") or ""
    check(user and user.split(":")[0] not in ("0", "root"), f"{args.image} runs as {user or 'root'}")
    size_mb = info["Size"] / 1e6
    log(f"  {args.image}: runs as {user}, {size_mb:.1f} MB")
    check(size_mb <= args.max_mb, f"{args.image} is {size_mb:.1f} MB, over {args.max_mb} MB")
    uid = docker("run", "--rm", "--entrypoint", "busybox", args.image, "id", "-u").strip()
    check(uid not in ("", "0"), f"a container of {args.image} runs with uid {uid!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("smoke")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--project", required=True)
    s.add_argument("--env-file", required=True)
    s = sub.add_parser("load")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--ready-file", required=True)
    s.add_argument("--threads", type=int, default=4)
    s.add_argument("--max-seconds", type=float, default=300)
    s = sub.add_parser("traffic")
    s.add_argument("--project", required=True)
    s.add_argument("--replicas", type=int, required=True)
    s.add_argument("--seconds", type=float, default=5)
    s = sub.add_parser("order")
    s.add_argument("--project", required=True)
    s.add_argument("--since", type=float, required=True)
    s.add_argument("--until", type=float, required=True)
    s = sub.add_parser("users")
    s.add_argument("action", choices=["seed", "verify"])
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--file", required=True)
    s = sub.add_parser("image")
    s.add_argument("--image", required=True)
    s.add_argument("--max-mb", type=float, required=True)
    args = p.parse_args()
    try:
        globals()[f"cmd_{args.command}"](args)
    except TestFailure as e:
        print(f"compose-check: FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
