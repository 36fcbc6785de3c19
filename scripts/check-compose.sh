#!/usr/bin/env bash
# check-compose.sh — static checks of docker-compose.yml and .env.example; no
# Docker engine needed.
#
#   scripts/check-compose.sh [COMPOSE_FILE]
#
# 1. `docker-compose config` (compose v1, `apt-get install docker-compose`;
#    installed here when missing and run as root) validates the file against
#    the Compose schema, with .env.example standing in for .env. When v1 can
#    be neither found nor installed this step is skipped with a notice, unless
#    CHECK_COMPOSE_REQUIRE_V1=1.
# 2. A Python (PyYAML) check of what the stack relies on: the four services,
#    their dependencies, the database's health check and volume, a scalable
#    `app`, the variables the app needs, nginx's published port and fixed
#    address, and that they agree with AUTH_TRUSTED_PROXIES.
# Exits non-zero with a message naming the failed check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/stack-common.sh
. "$ROOT/scripts/lib/stack-common.sh"  # apt_install
COMPOSE=${1:-$ROOT/docker-compose.yml}
ENV_EXAMPLE=$ROOT/.env.example

fail() { echo "check-compose: FAIL: $*" >&2; exit 1; }
say() { echo "check-compose: $*"; }

[ -f "$COMPOSE" ] || fail "no compose file at $COMPOSE"
[ -f "$ENV_EXAMPLE" ] || fail "no .env.example at $ENV_EXAMPLE"
COMPOSE=$(cd "$(dirname "$COMPOSE")" && pwd)/$(basename "$COMPOSE")

# The compose file reads `.env` (env_file and interpolation), which is
# git-ignored and may hold real secrets: validate against a copy of
# .env.example in a scratch project directory instead of touching it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$ENV_EXAMPLE" "$tmp/.env"

# ---- 1. docker-compose v1
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing docker-compose (v1) from Debian packages"
  # --no-install-recommends: the Docker engine itself is not needed to validate.
  apt_install --no-install-recommends docker-compose >"$tmp/apt.log" 2>&1 || say "notice: could not install docker-compose (see apt output below)"
  command -v docker-compose >/dev/null 2>&1 || tail -n 5 "$tmp/apt.log" >&2
fi

resolved=
if command -v docker-compose >/dev/null 2>&1; then
  # --project-directory: relative paths and `.env` resolve in the scratch dir.
  # `config` validates as `config -q` does, and prints the resolved file.
  docker-compose -f "$COMPOSE" --project-directory "$tmp" config >"$tmp/resolved.yml" 2>"$tmp/config.err" \
    || { cat "$tmp/config.err" >&2; fail "docker-compose config rejected $COMPOSE"; }
  resolved=$tmp/resolved.yml
  say "ok: $(docker-compose version --short 2>/dev/null || echo v1) 'config' accepts $(basename "$COMPOSE") with .env.example as .env"
elif [ "${CHECK_COMPOSE_REQUIRE_V1:-0}" = 1 ]; then
  fail "docker-compose (v1) is not available and CHECK_COMPOSE_REQUIRE_V1=1"
else
  say "SKIP: docker-compose (v1) not available: schema validation skipped"
fi

# ---- 2. structure
if ! python3 -c 'import yaml' 2>/dev/null; then
  say "installing PyYAML"
  python3 -m pip install -q pyyaml >"$tmp/pip.log" 2>&1 \
    || python3 -m pip install -q --break-system-packages pyyaml >>"$tmp/pip.log" 2>&1 \
    || { tail -n 5 "$tmp/pip.log" >&2; fail "PyYAML is missing and could not be installed"; }
fi

python3 - "$COMPOSE" "$ENV_EXAMPLE" "$resolved" <<'PY'
import ipaddress
import re
import sys

import yaml

compose_path, env_example_path, resolved_path = sys.argv[1], sys.argv[2], sys.argv[3]
REQUIRED = ["DATABASE_URL", "AUTH_JWT_SECRET", "AUTH_ENV", "AUTH_TRUSTED_PROXIES", "AUTH_BIND"]
checked = []


def fail(msg):
    print(f"check-compose: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(msg):
    checked.append(msg)
    print(f"check-compose: ok: {msg}")


def read_env_file(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if not m:
                fail(f"{path}:{n}: not a KEY=VALUE line: {line!r}")
            env[m.group(1)] = m.group(2)
    return env


def environment_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, _, v = str(item).partition("=")
            out[k] = v if "=" in str(item) else None
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
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {name: "service_started" for name in d}
    return {name: (cond or {}).get("condition", "service_started") for name, cond in d.items()}


with open(compose_path, encoding="utf-8") as f:
    doc = yaml.safe_load(f)  # safe_load resolves the `<<:` merge keys
if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
    fail("no `services` mapping")
services = doc["services"]
example = read_env_file(env_example_path)

for name in ("db", "migrate", "app", "nginx"):
    if name not in services:
        fail(f"service `{name}` is missing")
ok("services db, migrate, app, nginx exist")

db, migrate, app, nginx = (services[n] for n in ("db", "migrate", "app", "nginx"))

if depends(migrate).get("db") != "service_healthy":
    fail("migrate must depend on db with condition service_healthy")
ok("migrate depends on db: service_healthy")
if depends(app).get("migrate") != "service_completed_successfully":
    fail("app must depend on migrate with condition service_completed_successfully")
ok("app depends on migrate: service_completed_successfully")
if "app" not in depends(nginx):
    fail("nginx must depend on app")
ok(f"nginx depends on app: {depends(nginx)['app']}")

hc = db.get("healthcheck") or {}
if not hc.get("test") or hc.get("disable"):
    fail("db needs a healthcheck")
if "pg_isready" not in words(hc["test"]):
    fail("db's healthcheck should use pg_isready")
ok("db has a pg_isready healthcheck")
named_volumes = doc.get("volumes") or {}
db_vols = db.get("volumes") or []
data_vol = [v for v in db_vols
            if (v.get("source") if isinstance(v, dict) else str(v).split(":")[0]) in named_volumes]
if not data_vol:
    fail("db needs a named volume (declared under top-level `volumes`)")
ok(f"db keeps its data in a named volume: {data_vol[0]}")
if not str(db.get("image", "")).startswith("postgres:15"):
    fail(f"db should run postgres:15, not {db.get('image')!r}")
ok(f"db image {db['image']}")

for key in ("container_name", "ports"):
    if app.get(key):
        fail(f"app must not set `{key}` (it is scaled with --scale app=N)")
ok("app has no container_name and no published ports (scalable)")

if app.get("image") != migrate.get("image") or not app.get("image"):
    fail("app and migrate must run the same image")
ok(f"app and migrate run the same image ({app['image']})")
if "migrate" not in words(migrate.get("command")):
    fail("the migrate service must run `migrate`")
ok("migrate runs `migrate`")


def effective_env(svc, svc_name):
    env = {}
    for path in env_files_of(svc):
        # `.env` is what the user copies from .env.example.
        if path.rstrip("/").split("/")[-1] in (".env", ".env.example"):
            env.update(example)
        else:
            fail(f"{svc_name}: unexpected env_file {path!r}")
    env.update({k: v for k, v in environment_of(svc).items() if v is not None})
    return env


for svc_name, svc in (("app", app), ("migrate", migrate)):
    env = effective_env(svc, svc_name)
    missing = [v for v in REQUIRED if not env.get(v)]
    if missing:
        fail(f"{svc_name}: not set (env_file/.env.example or environment): {', '.join(missing)}")
ok(f"app and migrate get {', '.join(REQUIRED)}")

secret = example.get("AUTH_JWT_SECRET", "")
if "CHANGE-ME" not in secret:
    fail(".env.example's AUTH_JWT_SECRET must be an obvious placeholder containing CHANGE-ME")
if len(secret.encode()) < 32:
    fail(".env.example's AUTH_JWT_SECRET placeholder must be at least 32 bytes (production refuses less)")
ok(".env.example's AUTH_JWT_SECRET is a placeholder of at least 32 bytes")
if example.get("AUTH_ENV") != "production":
    fail(".env.example must set AUTH_ENV=production")
ok(".env.example sets AUTH_ENV=production")
for v in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
    if not example.get(v):
        fail(f".env.example must set {v} (DATABASE_URL is built from it)")
db_url = environment_of(app).get("DATABASE_URL") or ""
if not all(f"{{{v}" in db_url or f"${v}" in db_url for v in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")):
    fail("app's DATABASE_URL should be built from POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB")
if "@db:" not in db_url:
    fail("app's DATABASE_URL should point at the db service")
ok("DATABASE_URL is built from POSTGRES_* and points at db")

if not nginx.get("ports"):
    fail("nginx must publish a port")
ok(f"nginx publishes {nginx['ports']}")

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
pools = [c for n in (doc.get("networks") or {}).values() if isinstance(n, dict)
         for c in ((n.get("ipam") or {}).get("config") or [])]
if not pools or not pools[0].get("subnet"):
    fail("the compose network needs an explicit ipam subnet")
subnet = ipaddress.ip_network(pools[0]["subnet"])
if addr not in subnet:
    fail(f"nginx's address {addr} is outside the subnet {subnet}")
if pools[0].get("ip_range") and addr in ipaddress.ip_network(pools[0]["ip_range"]):
    fail(f"nginx's address {addr} is inside the dynamic ip_range; another container may take it")
trusted = effective_env(app, "app")["AUTH_TRUSTED_PROXIES"]
values = {trusted}
m = re.fullmatch(r"\$\{AUTH_TRUSTED_PROXIES:-([^}]*)\}", trusted)
if m:
    values = {example.get("AUTH_TRUSTED_PROXIES") or m.group(1), m.group(1)}
for value in values:
    nets_trusted = [ipaddress.ip_network(p.strip(), strict=False) for p in value.split(",") if p.strip()]
    if not any(addr in n for n in nets_trusted):
        fail(f"AUTH_TRUSTED_PROXIES={value} does not include nginx's address {addr}")
ok(f"nginx has the fixed address {addr} in {subnet}, trusted by AUTH_TRUSTED_PROXIES")

mounts = words(nginx.get("volumes"))
command = words(nginx.get("command"))
if "./nginx" not in mounts or "nginx.conf" not in command:
    fail("nginx must mount ./nginx and run its nginx.conf")
ok("nginx mounts ./nginx and runs its nginx.conf")

if resolved_path:
    with open(resolved_path, encoding="utf-8") as f:
        res = yaml.safe_load(f)
    for svc_name in ("app", "migrate"):
        env = environment_of(res["services"][svc_name])
        empty = [v for v in REQUIRED if not env.get(v)]
        if empty:
            fail(f"resolved config: {svc_name} has empty or missing {', '.join(empty)}")
    ok("resolved config (docker-compose config): app and migrate have every required variable, non-empty")

print(f"check-compose: all {len(checked)} checks passed")
PY

# ---- 3. nginx -t of the compose nginx config (nginx/ with its deploy/ as
# committed). `app` only resolves inside Docker, so when root, nginx runs in a
# private mount namespace whose /etc/hosts names two stand-in replicas; the
# machine's own /etc/hosts is untouched.
if command -v nginx >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  cp /etc/hosts "$tmp/hosts"
  printf '172.28.0.130 app\n172.28.0.131 app\n' >>"$tmp/hosts"
  mkdir -p "$tmp/nginx-prefix"
  # shellcheck disable=SC2016  # expanded by the inner shell
  if ! out=$(unshare -m sh -c 'mount --bind "$1" /etc/hosts && exec env -u NGINX nginx -t -q -p "$2/" -c "$3" -e stderr -g "pid $2/nginx.pid;"' \
        sh "$tmp/hosts" "$tmp/nginx-prefix" "$ROOT/nginx/nginx.conf" 2>&1); then
    echo "$out" >&2
    fail "nginx -t rejects nginx/nginx.conf with the compose deploy/ files"
  fi
  say "ok: nginx $(nginx -v 2>&1 | sed 's|.*/||') -t accepts nginx/nginx.conf with nginx/deploy/ (app resolved to stand-in addresses)"
else
  say "SKIP: nginx -t of the compose nginx config (needs nginx, root and a private mount namespace)"
fi

# .env holds the real secrets: it must never be committed.
if command -v git >/dev/null 2>&1 && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$ROOT" check-ignore -q .env || fail ".env is not git-ignored"
  say "ok: .env is git-ignored"
fi
