#!/usr/bin/env python3
"""Structural check of docker-compose.yml and .env.example: what the stack
relies on, with no Docker engine. Step 2 of scripts/check-compose.sh, which
also validates the file with `docker-compose config` and runs `nginx -t`.

    python3 tests/stack/check_compose.py COMPOSE_FILE ENV_EXAMPLE [RESOLVED]

RESOLVED, when given, is the output of `docker-compose config` (the file with
.env.example interpolated): there, the variables the app needs must be
non-empty. Prints one `check-compose: ok: ...` line per check; on the first
failure prints `check-compose: FAIL: ...` on stderr and exits 1.

Needs PyYAML (check-compose.sh installs it when missing); nothing else outside
the standard library.
"""

import ipaddress
import re
import sys

import yaml

SERVICES = ("db", "migrate", "app", "nginx")
REQUIRED = ["DATABASE_URL", "AUTH_JWT_SECRET", "AUTH_ENV", "AUTH_TRUSTED_PROXIES", "AUTH_BIND"]
POSTGRES_VARS = ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")


class CheckFailed(Exception):
    """A check failed; the message says which and why."""


def fail(msg):
    raise CheckFailed(msg)


# ---------------------------------------------------------------- reading


def parse_env_file(text, path=".env"):
    """KEY=VALUE lines, blank lines and # comments, as compose reads .env."""
    env = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if not m:
            fail(f"{path}:{n}: not a KEY=VALUE line: {line!r}")
        env[m.group(1)] = m.group(2)
    return env


def environment_of(svc):
    """A service's `environment`, list or mapping form; a bare `- NAME` in the
    list form (passed through from the shell) is None."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, sep, v = str(item).partition("=")
            out[k] = v if sep else None
        return out
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def env_files_of(svc):
    ef = svc.get("env_file")
    if ef is None:
        return []
    items = ef if isinstance(ef, list) else [ef]
    return [i["path"] if isinstance(i, dict) else i for i in items]


def words(value):
    """A command, a volume list...: a string as is, a list joined by spaces."""
    if isinstance(value, str):
        return value
    return " ".join(map(str, value or []))


def depends(svc):
    """`depends_on` as {service: condition}, short (list) form included."""
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {name: "service_started" for name in d}
    return {name: (cond or {}).get("condition", "service_started") for name, cond in d.items()}


def effective_env(svc, svc_name, example):
    """What the service's process gets: its env_file (`.env`, which the user
    copies from .env.example), then `environment` on top."""
    env = {}
    for path in env_files_of(svc):
        if path.rstrip("/").split("/")[-1] in (".env", ".env.example"):
            env.update(example)
        else:
            fail(f"{svc_name}: unexpected env_file {path!r}")
    env.update({k: v for k, v in environment_of(svc).items() if v is not None})
    return env


def trusted_values(trusted, example):
    """The values AUTH_TRUSTED_PROXIES can take: `${AUTH_TRUSTED_PROXIES:-X}`
    is .env's value when set, else X; both must trust nginx."""
    m = re.fullmatch(r"\$\{AUTH_TRUSTED_PROXIES:-([^}]*)\}", trusted)
    if not m:
        return {trusted}
    return {example.get("AUTH_TRUSTED_PROXIES") or m.group(1), m.group(1)}


# ---------------------------------------------------------------- checks
# Each check is a generator: it yields one line per check passed and raises
# CheckFailed at the first that does not.


def check_services(doc):
    services = doc["services"]
    for name in SERVICES:
        if name not in services:
            fail(f"service `{name}` is missing")
    yield "services db, migrate, app, nginx exist"
    db, migrate, app, nginx = (services[n] for n in SERVICES)

    if depends(migrate).get("db") != "service_healthy":
        fail("migrate must depend on db with condition service_healthy")
    yield "migrate depends on db: service_healthy"
    if depends(app).get("migrate") != "service_completed_successfully":
        fail("app must depend on migrate with condition service_completed_successfully")
    yield "app depends on migrate: service_completed_successfully"
    if "app" not in depends(nginx):
        fail("nginx must depend on app")
    yield f"nginx depends on app: {depends(nginx)['app']}"


def check_db(doc):
    db = doc["services"]["db"]
    hc = db.get("healthcheck") or {}
    if not hc.get("test") or hc.get("disable"):
        fail("db needs a healthcheck")
    if "pg_isready" not in words(hc["test"]):
        fail("db's healthcheck should use pg_isready")
    yield "db has a pg_isready healthcheck"
    named_volumes = doc.get("volumes") or {}
    data_vol = [
        v
        for v in db.get("volumes") or []
        if (v.get("source") if isinstance(v, dict) else str(v).split(":")[0]) in named_volumes
    ]
    if not data_vol:
        fail("db needs a named volume (declared under top-level `volumes`)")
    yield f"db keeps its data in a named volume: {data_vol[0]}"
    if not str(db.get("image", "")).startswith("postgres:15"):
        fail(f"db should run postgres:15, not {db.get('image')!r}")
    yield f"db image {db['image']}"


def check_app(doc):
    services = doc["services"]
    app, migrate = services["app"], services["migrate"]
    for key in ("container_name", "ports"):
        if app.get(key):
            fail(f"app must not set `{key}` (it is scaled with --scale app=N)")
    yield "app has no container_name and no published ports (scalable)"
    if app.get("image") != migrate.get("image") or not app.get("image"):
        fail("app and migrate must run the same image")
    yield f"app and migrate run the same image ({app['image']})"
    if "migrate" not in words(migrate.get("command")):
        fail("the migrate service must run `migrate`")
    yield "migrate runs `migrate`"


def check_env(doc, example):
    services = doc["services"]
    for svc_name in ("app", "migrate"):
        env = effective_env(services[svc_name], svc_name, example)
        missing = [v for v in REQUIRED if not env.get(v)]
        if missing:
            fail(f"{svc_name}: not set (env_file/.env.example or environment): {', '.join(missing)}")
    yield f"app and migrate get {', '.join(REQUIRED)}"

    secret = example.get("AUTH_JWT_SECRET", "")
    if "CHANGE-ME" not in secret:
        fail(".env.example's AUTH_JWT_SECRET must be an obvious placeholder containing CHANGE-ME")
    if len(secret.encode()) < 32:
        fail(".env.example's AUTH_JWT_SECRET placeholder must be at least 32 bytes (production refuses less)")
    yield ".env.example's AUTH_JWT_SECRET is a placeholder of at least 32 bytes"
    if example.get("AUTH_ENV") != "production":
        fail(".env.example must set AUTH_ENV=production")
    yield ".env.example sets AUTH_ENV=production"
    for v in POSTGRES_VARS:
        if not example.get(v):
            fail(f".env.example must set {v} (DATABASE_URL is built from it)")
    db_url = environment_of(services["app"]).get("DATABASE_URL") or ""
    if not all(f"{{{v}" in db_url or f"${v}" in db_url for v in POSTGRES_VARS):
        fail("app's DATABASE_URL should be built from POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB")
    if "@db:" not in db_url:
        fail("app's DATABASE_URL should point at the db service")
    yield "DATABASE_URL is built from POSTGRES_* and points at db"


def check_nginx(doc, example):
    nginx = doc["services"]["nginx"]
    if not nginx.get("ports"):
        fail("nginx must publish a port")
    yield f"nginx publishes {nginx['ports']}"

    # nginx's fixed address: inside the subnet, outside the dynamic range, and
    # the one AUTH_TRUSTED_PROXIES trusts.
    nets = nginx.get("networks") or {}
    addr = None
    if isinstance(nets, dict):
        for net in nets.values():
            if isinstance(net, dict) and net.get("ipv4_address"):
                addr = ipaddress.ip_address(net["ipv4_address"])
    if addr is None:
        fail("nginx needs a fixed ipv4_address so that AUTH_TRUSTED_PROXIES can name it")
    pools = [
        c
        for n in (doc.get("networks") or {}).values()
        if isinstance(n, dict)
        for c in ((n.get("ipam") or {}).get("config") or [])
    ]
    if not pools or not pools[0].get("subnet"):
        fail("the compose network needs an explicit ipam subnet")
    subnet = ipaddress.ip_network(pools[0]["subnet"])
    if addr not in subnet:
        fail(f"nginx's address {addr} is outside the subnet {subnet}")
    if pools[0].get("ip_range") and addr in ipaddress.ip_network(pools[0]["ip_range"]):
        fail(f"nginx's address {addr} is inside the dynamic ip_range; another container may take it")
    trusted = effective_env(doc["services"]["app"], "app", example)["AUTH_TRUSTED_PROXIES"]
    for value in trusted_values(trusted, example):
        nets_trusted = [ipaddress.ip_network(p.strip(), strict=False) for p in value.split(",") if p.strip()]
        if not any(addr in n for n in nets_trusted):
            fail(f"AUTH_TRUSTED_PROXIES={value} does not include nginx's address {addr}")
    yield f"nginx has the fixed address {addr} in {subnet}, trusted by AUTH_TRUSTED_PROXIES"

    mounts = words(nginx.get("volumes"))
    command = words(nginx.get("command"))
    if "./nginx" not in mounts or "nginx.conf" not in command:
        fail("nginx must mount ./nginx and run its nginx.conf")
    yield "nginx mounts ./nginx and runs its nginx.conf"

    # The demo page: nginx.conf serves /demo/ from `demo/` under the -p
    # prefix (nginx's default prefix when there is no -p).
    args = nginx.get("command") or []
    if isinstance(args, str):
        args = args.split()
    prefix = "/etc/nginx/"
    if "-p" in args[:-1]:
        prefix = str(args[args.index("-p") + 1])
    wanted = prefix.rstrip("/") + "/demo"
    volumes = [str(v) for v in nginx.get("volumes") or []]
    if f"./web/demo:{wanted}:ro" not in volumes:
        fail(f"nginx must mount ./web/demo read-only at {wanted} (the -p prefix's demo/), for /demo/")
    yield f"nginx mounts ./web/demo read-only at {wanted}"


def check_resolved(resolved):
    for svc_name in ("app", "migrate"):
        env = environment_of(resolved["services"][svc_name])
        empty = [v for v in REQUIRED if not env.get(v)]
        if empty:
            fail(f"resolved config: {svc_name} has empty or missing {', '.join(empty)}")
    yield "resolved config (docker-compose config): app and migrate have every required variable, non-empty"


def checks(doc, example, resolved=None):
    """Every check in order; `doc` the compose file, `example` .env.example's
    variables, `resolved` the output of `docker-compose config` or None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        fail("no `services` mapping")
    yield from check_services(doc)
    yield from check_db(doc)
    yield from check_app(doc)
    yield from check_env(doc, example)
    yield from check_nginx(doc, example)
    if resolved is not None:
        yield from check_resolved(resolved)


# ---------------------------------------------------------------- command line


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)  # safe_load resolves the `<<:` merge keys


def main(argv):
    if len(argv) not in (3, 4):
        print("usage: check_compose.py COMPOSE_FILE ENV_EXAMPLE [RESOLVED]", file=sys.stderr)
        return 2
    compose_path, env_example_path = argv[1], argv[2]
    resolved_path = argv[3] if len(argv) == 4 else ""
    passed = 0
    try:
        doc = load_yaml(compose_path)
        with open(env_example_path, encoding="utf-8") as f:
            example = parse_env_file(f.read(), env_example_path)
        resolved = load_yaml(resolved_path) if resolved_path else None
        for line in checks(doc, example, resolved):
            passed += 1
            print(f"check-compose: ok: {line}", flush=True)
    except CheckFailed as e:
        print(f"check-compose: FAIL: {e}", file=sys.stderr)
        return 1
    print(f"check-compose: all {passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
