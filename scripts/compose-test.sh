#!/usr/bin/env bash
# compose-test.sh — docker-compose.yml for real: the README's Docker commands,
# run against a real Docker Engine in a scratch copy of the working tree, and
# checked through nginx's published port (tests/compose/compose_check.py).
#
#   scripts/compose-test.sh        (as root on a machine without Docker: it
#                                   installs and starts what it needs)
#
# 1. Docker Engine and docker-compose (v1) from Debian's packages when
#    missing; dockerd started when none answers, and stopped at the end only
#    then (scripts/lib/docker-engine.sh).
# 2. The base images Dockerfile and docker-compose.yml name: pulled, or built
#    as local stand-ins from Debian's packages (scripts/lib/docker-images.sh).
#    Kept between runs, as is the image build cache.
# 3. The app image built in a scratch copy of the working tree (the README's
#    `up --build` then finds it in the build cache); with
#    COMPOSE_TEST_WAIT_FOR=FILE, the test then waits until FILE exists:
#    scripts/test.sh runs the build beside the other suites and the rest
#    after them, alone on the machine.
# 4. The README's commands, in its order: .env with generated secrets, `up`
#    with three replicas; readiness, the token lifecycle and the throttle's
#    client address; one replica killed under load; rescaled to 5 and back
#    to 2 under load, every replica serving; `down` and `up` keep the users;
#    `migrate` runs once per `up`, before any replica starts; `down -v`.
# 5. Whatever failed: `docker-compose down -v`, the scratch copy removed, and
#    a check that no container, network or volume of the project is left.
#
# Env: COMPOSE_TEST_COLD=1 first removes the stand-ins, the app image and the
# build cache (a cold run); COMPOSE_TEST_IMAGE_MAX_MB (40) bounds the app
# image; COMPOSE_PROJECT_NAME (authcomposetest) names the project.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "compose-test: $*"; }
die() { echo "compose-test: FAIL: $*" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=lib/docker-engine.sh
. "$ROOT/scripts/lib/docker-engine.sh"
# shellcheck source-path=SCRIPTDIR source=lib/docker-images.sh
. "$ROOT/scripts/lib/docker-images.sh"

CHECK=(python3 "$ROOT/tests/compose/compose_check.py")
APP_IMAGE=auth-service:latest
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-authcomposetest}
WORK=$(mktemp -d /tmp/compose-test.XXXXXX)
PROJECT=$WORK/project
LOAD_PID=
BUILD_PID=
T0=$SECONDS

cleanup() {
  local rc=$?
  set +e
  [ -z "$BUILD_PID" ] || { kill -TERM "$BUILD_PID" 2>/dev/null; wait "$BUILD_PID" 2>/dev/null; }
  if [ -n "$LOAD_PID" ]; then
    kill -TERM "$LOAD_PID" 2>/dev/null
    wait "$LOAD_PID" 2>/dev/null
  fi
  if [ -f "$PROJECT/docker-compose.yml" ] && docker info >/dev/null 2>&1; then
    if [ "$rc" != 0 ] && [ -f "$PROJECT/.env" ]; then
      say "logs of the failed run (last 40 lines per service):"
      (cd "$PROJECT" && docker-compose logs --no-color --tail 40) 2>&1 | sed 's/^/  /'
    fi
    [ -f "$PROJECT/.env" ] || cp "$ROOT/.env.example" "$PROJECT/.env"
    (cd "$PROJECT" && docker-compose down -v --remove-orphans --timeout 40) >"$WORK/down.log" 2>&1 \
      || { cat "$WORK/down.log" >&2; rc=1; }
    leftovers || rc=1
  fi
  docker_engine_stop
  rm -rf "$WORK"
  say "$([ "$rc" = 0 ] && echo passed || echo FAILED) in $((SECONDS - T0)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Containers, networks and volumes of the project still there: listed, removed.
leftovers() {
  local label=label=com.docker.compose.project=$COMPOSE_PROJECT_NAME c n v
  c=$(docker ps -aq --filter "$label")
  n=$(docker network ls -q --filter "$label")
  v=$(docker volume ls -q --filter "$label")
  [ -z "$c$n$v" ] && return 0
  say "left behind by the project: containers [$c] networks [$n] volumes [$v]; removing them" >&2
  # shellcheck disable=SC2086  # one id per word
  { [ -z "$c" ] || docker rm -f $c; [ -z "$n" ] || docker network rm $n; [ -z "$v" ] || docker volume rm $v; } >/dev/null 2>&1
  return 1
}

# One command of the README's Docker section, run as a user would, in the
# project directory; recorded for the comparison with the README at the end.
readme() {
  say "\$ $1"
  printf '%s\n' "$1" >>"$WORK/readme-commands"
  (cd "$PROJECT" && bash -c "$1") || die "README command failed: $1"
}

# `readme` for an `up`, then the check that migrate ran once and first.
readme_up() {
  local since until
  since=$(date +%s.%N)
  readme "$1"
  until=$(date +%s.%N)
  "${CHECK[@]}" order --project "$COMPOSE_PROJECT_NAME" --since "$since" --until "$until"
}

# A load through nginx in the background (compose_check.py load); stop_load
# ends it and fails on any failed request.
start_load() {
  rm -f "$WORK/load.ready"
  "${CHECK[@]}" load --port "$PORT" --name "$1" --ready-file "$WORK/load.ready" --max-seconds 600 &
  LOAD_PID=$!
  local i
  for i in $(seq 1 120); do
    [ -f "$WORK/load.ready" ] && { sleep 3; return 0; }
    kill -0 "$LOAD_PID" 2>/dev/null || break
    sleep 0.5
  done
  die "the load did not start"
}
stop_load() {
  kill -TERM "$LOAD_PID"
  local rc=0
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=
  [ "$rc" = 0 ] || die "requests failed under load (above)"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- 1. engine
say "1/7 Docker Engine and docker-compose"
docker_engine_install
command -v openssl >/dev/null 2>&1 || docker_apt_install openssl
command -v curl >/dev/null 2>&1 || docker_apt_install curl
python3 -c 'import yaml' 2>/dev/null || docker_apt_install python3-yaml
docker_engine_start
say "docker-compose $(docker-compose version --short), engine $(docker version --format '{{.Server.Version}}')"

if [ "${COMPOSE_TEST_COLD:-0}" = 1 ]; then
  say "cold run: removing the stand-ins, $APP_IMAGE and the build cache"
  docker rmi -f "$APP_IMAGE" >/dev/null 2>&1 || true
  remove_standins
  docker image prune -f >/dev/null
  docker builder prune -af >/dev/null 2>&1 || true
fi

# ---- 2. base images
say "2/7 base images"
t=$SECONDS
mkdir -p "$WORK/config"
cp "$ROOT/.env.example" "$WORK/config/.env"
docker-compose -f "$ROOT/docker-compose.yml" --project-directory "$WORK/config" config >"$WORK/config/resolved.yml"
mapfile -t bases < <(python3 "$ROOT/tests/compose/base_images.py" "$ROOT/Dockerfile" "$WORK/config/resolved.yml")
[ ${#bases[@]} -gt 0 ] || die "no base images found in Dockerfile and docker-compose.yml"
for image in "${bases[@]}"; do
  ensure_image "$image"
done
say "base images ready in $((SECONDS - t)) s: ${bases[*]}"

# ---- 3. the image, built in a scratch copy of the working tree (tracked and
# untracked, not ignored: what a clone with the current changes would hold).
mkdir -p "$PROJECT"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
  | tar -C "$ROOT" --null -T - --ignore-failed-read -c 2>/dev/null | tar -C "$PROJECT" -x
say "building the app image"
t=$SECONDS
cp "$ROOT/.env.example" "$PROJECT/.env"
# In the background and waited for: a TERM from scripts/test.sh (another
# suite failed) is then handled at once, not after the build.
(cd "$PROJECT" && exec docker-compose build app) >"$WORK/build.log" 2>&1 &
BUILD_PID=$!
wait "$BUILD_PID" || { tail -n 40 "$WORK/build.log" >&2; die "docker-compose build failed"; }
BUILD_PID=
rm "$PROJECT/.env"
say "image built in $((SECONDS - t)) s"
if [ -n "${COMPOSE_TEST_WAIT_FOR:-}" ]; then
  say "waiting for $COMPOSE_TEST_WAIT_FOR (the other suites to finish)"
  until [ -e "$COMPOSE_TEST_WAIT_FOR" ]; do sleep 2; done
fi

# ---- 4. up
say "3/7 up with three replicas"
PORT=$(free_port)
# The published port (the README's default is 8080), for every command.
export NGINX_HTTP_PORT=$PORT
readme 'cp .env.example .env'
# shellcheck disable=SC2016  # expanded by the command's own shell
readme 'sed -i -e "s|^AUTH_JWT_SECRET=.*|AUTH_JWT_SECRET=$(openssl rand -base64 48)|" -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(openssl rand -hex 24)|" .env'
# A commented-out example (the SMTP URL's) may show one; a setting may not.
! grep -q '^[^#]*CHANGE-ME' "$PROJECT/.env" || die ".env still sets a CHANGE-ME placeholder"
t=$SECONDS
readme_up 'docker-compose up -d --build --scale app=3'
say "built and up in $((SECONDS - t)) s"
# shellcheck disable=SC2016  # expanded by the command's own shell
readme 'curl -s "http://$(docker-compose port nginx 8080)/readyz"'
"${CHECK[@]}" image --image "$APP_IMAGE" --max-mb "${COMPOSE_TEST_IMAGE_MAX_MB:-40}"
"${CHECK[@]}" smoke --port "$PORT" --project "$COMPOSE_PROJECT_NAME" --env-file "$PROJECT/.env"

# ---- 4. a replica killed under load
say "4/7 docker kill of one replica under load"
start_load kill
victim=$(docker ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
  --filter label=com.docker.compose.service=app | head -n 1)
say "\$ docker kill $(docker inspect -f '{{.Name}}' "$victim" | tr -d /)"
docker kill "$victim" >/dev/null
sleep 10
stop_load

# ---- 5. rescale as the README says, under load
say "5/7 rescale to 5 and back to 2 under load"
start_load rescale
readme_up 'docker-compose up -d --scale app=5 --no-recreate && docker-compose kill -s HUP nginx'
"${CHECK[@]}" traffic --project "$COMPOSE_PROJECT_NAME" --replicas 5
readme_up 'docker-compose up -d --scale app=2 --no-recreate && docker-compose kill -s HUP nginx'
"${CHECK[@]}" traffic --project "$COMPOSE_PROJECT_NAME" --replicas 2
stop_load

# ---- 6. down, up: the data stays
say "6/7 down and up again: the users stay"
"${CHECK[@]}" users seed --port "$PORT" --file "$WORK/users"
readme 'docker-compose down'
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")" ] \
  || die "containers left after docker-compose down"
readme_up 'docker-compose up -d --build --scale app=3'
"${CHECK[@]}" smoke --port "$PORT" --project "$COMPOSE_PROJECT_NAME" --env-file "$PROJECT/.env"
"${CHECK[@]}" users verify --port "$PORT" --file "$WORK/users"

# ---- 7. down -v, and the README is what ran
say "7/7 down -v"
readme 'docker-compose down -v'
leftovers || die "docker-compose down -v left the above behind"
python3 "$ROOT/tests/compose/readme_commands.py" "$ROOT/README.md" "$WORK/readme-commands"
