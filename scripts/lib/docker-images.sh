# shellcheck shell=bash
# docker-images.sh — the base images that Dockerfile and docker-compose.yml
# name, present in the local Docker engine: pulled when the registry answers,
# otherwise built locally under the same names from Debian's packages (a
# "stand-in"), so that the compose file stays the one users run with the
# official images:
#   debian:SUITE        debootstrap (minbase) of SUITE, imported; apt sources
#                       laid out as in the official image (deb822); the CAs
#                       the machine trusts beyond Debian's in
#                       /usr/local/share/ca-certificates (scripts/lib/host_ca_certs.py)
#   postgres:MAJOR      scripts/docker-standins/postgres on the Debian suite
#                       that ships PostgreSQL MAJOR
#   nginx:TAG           scripts/docker-standins/nginx (Debian's nginx)
# Stand-ins carry the label $STANDIN_LABEL. An official image already present
# is used as it is; a stand-in is kept between runs (until a pull succeeds).
# The caller defines say() and die(), and ROOT (the repository).
#
# Env: DEBIAN_MIRROR, the archive debootstrap uses (default: debootstrap's).

STANDIN_LABEL=org.auth-service.stand-in

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

image_is_standin() {
  [ -n "$(docker image inspect -f "{{ index .Config.Labels \"$STANDIN_LABEL\" }}" "$1" 2>/dev/null | sed 's/<no value>//')" ]
}

ensure_image() {
  local name=$1 err
  if image_present "$name" && ! image_is_standin "$name"; then
    say "base image $name: present"
    return 0
  fi
  if image_present "$name" && ! standin_is_current "$name"; then
    say "base image $name: its stand-in recipe changed; rebuilding it"
    docker rmi "$name" >/dev/null
  fi
  err=$(mktemp)
  # A registry that does not resolve fails at once; one that is merely slow
  # gets ten minutes.
  if timeout 600 docker pull -q "$name" >/dev/null 2>"$err"; then
    say "base image $name: pulled"
    rm -f "$err"
    return 0
  fi
  if image_present "$name"; then
    say "base image $name: registry unreachable ($(head -c 120 "$err")); reusing the local stand-in"
    rm -f "$err"
    return 0
  fi
  say "base image $name: registry unreachable ($(head -c 120 "$err")); building a stand-in from Debian packages"
  rm -f "$err"
  local started=$SECONDS
  case $name in
    debian:*) standin_debian "$name" ;;
    postgres:*) standin_postgres "$name" ;;
    nginx:*) standin_nginx "$name" ;;
    *) die "no stand-in recipe for $name, and it cannot be pulled" ;;
  esac
  say "base image $name: stand-in built in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}

# debian:SUITE: a minbase debootstrap, imported as one layer.
standin_debian() {
  local name=$1 suite=${1#debian:} rootfs mirror
  case $suite in
    *-slim | *:* | "") die "no stand-in recipe for $name (only debian:SUITE)" ;;
  esac
  command -v debootstrap >/dev/null 2>&1 || docker_apt_install debootstrap
  rootfs=$(mktemp -d /var/tmp/auth-standin-rootfs.XXXXXX)
  if ! nice -n 10 debootstrap --variant=minbase "$suite" "$rootfs" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$rootfs.log" 2>&1; then
    tail -n 20 "$rootfs.log" >&2
    standin_rootfs_remove "$rootfs"
    die "debootstrap $suite failed"
  fi
  # The mirror debootstrap used, for the image's own apt sources.
  mirror=$(awk '$1 == "deb" { print $2; exit }' "$rootfs/etc/apt/sources.list")
  [ -n "$mirror" ] || die "debootstrap $suite left no apt source"
  rm -f "$rootfs/etc/apt/sources.list" "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf"
  printf '%s\n' \
    "Types: deb" "URIs: $mirror" "Suites: $suite $suite-updates" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" "" \
    "Types: deb" "URIs: $mirror-security" "Suites: $suite-security" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
    >"$rootfs/etc/apt/sources.list.d/debian.sources"
  # The CAs this machine adds to Debian's (a TLS-intercepting egress proxy's):
  # installing ca-certificates in an image built on this base trusts them too.
  local cas
  cas=$(python3 "$ROOT/scripts/lib/host_ca_certs.py" "$rootfs/usr/local/share/ca-certificates")
  [ "$cas" = 0 ] || say "base image $name: with this machine's $cas own CA certificate(s)"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/debootstrap
  tar -C "$rootfs" --numeric-owner -c . \
    | docker import \
      --change 'CMD ["bash"]' \
      --change "LABEL $STANDIN_LABEL=\"debootstrap --variant=minbase $suite\"" \
      - "$name" >/dev/null
  standin_rootfs_remove "$rootfs"
}

standin_rootfs_remove() {
  local rootfs=$1
  # debootstrap unmounts what it mounted; never delete through a mount.
  if grep -q " $rootfs/" /proc/mounts; then
    die "mounts left under $rootfs; not deleting it"
  fi
  rm -rf "$rootfs" "$rootfs.log"
}

# postgres:MAJOR on the Debian suite whose archive has postgresql-MAJOR (the
# official postgres:15 is built on bookworm too).
standin_postgres() {
  local name=$1 major suite
  major=${name#postgres:}
  major=${major%%[.-]*}
  case $major in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    *) die "no Debian suite known to ship PostgreSQL $major (for $name)" ;;
  esac
  ensure_image "debian:$suite"
  standin_build "$name" "$ROOT/scripts/docker-standins/postgres" \
    --build-arg "DEBIAN_SUITE=$suite" --build-arg "PG_MAJOR=$major"
}

standin_nginx() {
  ensure_image debian:trixie
  standin_build "$1" "$ROOT/scripts/docker-standins/nginx" --build-arg DEBIAN_SUITE=trixie
}

# A digest of a stand-in recipe directory (its files' names and contents).
recipe_digest() {
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# False when a stand-in built from scripts/docker-standins/ has a recipe
# digest other than its directory's today.
standin_is_current() {
  local built dir
  built=$(docker image inspect -f "{{ index .Config.Labels \"$STANDIN_LABEL.recipe\" }}" "$1" 2>/dev/null | sed 's/<no value>//')
  case $1 in
    postgres:*) dir=$ROOT/scripts/docker-standins/postgres ;;
    nginx:*) dir=$ROOT/scripts/docker-standins/nginx ;;
    *) return 0 ;;
  esac
  [ "$built" = "$(recipe_digest "$dir")" ]
}

standin_build() {
  local name=$1 dir=$2 log
  shift 2
  log=$(mktemp)
  if ! nice -n 10 docker build --label "$STANDIN_LABEL=$(basename "$dir") from Debian packages" \
      --label "$STANDIN_LABEL.recipe=$(recipe_digest "$dir")" \
      -t "$name" "$@" "$dir" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "building the stand-in $name failed"
  fi
  rm -f "$log"
}

# Removes every stand-in and the images built on them, which inherit its
# label (a cold start).
remove_standins() {
  docker image prune -af --filter "label=$STANDIN_LABEL" >/dev/null
}
