#!/usr/bin/env bash
# django-test.sh — prove the move from Django against a real Django project
# (tests/django/run.py): users made by Django's own hashers, dumped with
# `manage.py dumpdata auth.user` and read straight from Django's SQLite
# database, imported with `app-server import-django-users`, then logged in
# to a real app-server, on SQLite and, when TEST_DATABASE_URL is set, on
# PostgreSQL (a database made there per run, dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HERE=$ROOT/tests/django
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$TARGET_DIR/django-venv

# The pinned Django, in a venv made once and remade when the pins change.
if ! cmp -s "$HERE/requirements.txt" "$VENV/installed-requirements.txt"; then
  echo "django-test.sh: installing tests/django/requirements.txt into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/installed-requirements.txt"
fi

cargo build -q -p app-server -p migrate --locked
"$VENV/bin/python" "$HERE/run.py" "$TARGET_DIR/debug/app-server" "$TARGET_DIR/debug/migrate"
