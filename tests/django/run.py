"""Black-box test: a real Django project's users move to app-server.

Builds users with Django's own hashers (PBKDF2 at Django's default
iterations, Argon2, BCryptSHA256, scrypt, one unusable password, one
password over 72 bytes), runs `manage.py dumpdata auth.user`, imports the
dump into a fresh app-server database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), starts the server, logs in with each password,
checks in the database that the stored hash became bcrypt (the long one
keeps its PBKDF2 hash), and that a second login works. Then the same from
Django's SQLite database directly (`--from-database`).

Usage (scripts/django-test.sh does this): python run.py APP_SERVER MIGRATE
"""

import json
import os
import pathlib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = pathlib.Path(__file__).resolve().parent
PROJECT = HERE / "project"

# username -> (hasher name for make_password, password)
USERS = {
    "pbkdf2-user": ("pbkdf2_sha256", "pbkdf2 correct horse battery"),
    "argon2-user": ("argon2", "argon2 correct horse battery"),
    "bcrypt-sha256-user": ("bcrypt_sha256", "bcrypt correct horse battery"),
    "scrypt-user": ("scrypt", "scrypt correct horse battery"),
    # Over 72 bytes: checked against its PBKDF2 hash, which stays.
    "long-user": ("pbkdf2_sha256", "a passphrase well over seventy-two bytes long, " * 3),
}
UNUSABLE = "unusable-user"
BCRYPT_COST = "04"


def fail(message):
    print(f"django-test: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def build_django_project(work):
    """A migrated Django database with the users; returns (db path, dump path)."""
    db = work / "django.sqlite3"
    env = dict(os.environ, DJANGO_DB=str(db), DJANGO_SETTINGS_MODULE="djangoproject.settings")
    manage = [sys.executable, str(PROJECT / "manage.py")]
    subprocess.run(manage + ["migrate", "--verbosity", "0"], env=env, cwd=PROJECT, check=True)
    script = (
        "import json, sys\n"
        "from django.contrib.auth.hashers import make_password\n"
        "from django.contrib.auth.models import User\n"
        "users = json.loads(sys.stdin.read())\n"
        "for name, (hasher, password) in users.items():\n"
        "    User.objects.create(username=name, password=make_password(password, hasher=hasher),\n"
        "                        email=f'{name}@example.com', is_staff=name == 'pbkdf2-user')\n"
        f"u = User(username={UNUSABLE!r}); u.set_unusable_password(); u.save()\n"
    )
    subprocess.run(
        manage + ["shell", "-c", script], env=env, cwd=PROJECT, check=True, text=True, input=json.dumps(USERS)
    )
    dump = work / "users.json"
    # The command of docs/migrating-from-django.md.
    with open(dump, "w") as out:
        subprocess.run(manage + ["dumpdata", "auth.user", "--indent", "2"], env=env, cwd=PROJECT, check=True, stdout=out)
    records = json.loads(dump.read_text())
    hashes = {r["fields"]["username"]: r["fields"]["password"] for r in records}
    for name, prefix in [
        ("pbkdf2-user", "pbkdf2_sha256$"),
        ("argon2-user", "argon2$argon2id$"),
        ("bcrypt-sha256-user", "bcrypt_sha256$$2b$"),
        ("scrypt-user", "scrypt$"),
        (UNUSABLE, "!"),
    ]:
        if not hashes[name].startswith(prefix):
            fail(f"Django wrote {hashes[name][:20]}... for {name}, expected {prefix}")
    return db, dump


class Database:
    """A fresh app-server database: an SQLite file, or a PostgreSQL database
    made on TEST_DATABASE_URL's server."""

    def __init__(self, kind, work):
        self.kind = kind
        if kind == "sqlite":
            self.path = work / f"auth-{uuid.uuid4().hex[:8]}.db"
            self.url = f"sqlite://{self.path}"
        else:
            admin = os.environ["TEST_DATABASE_URL"]
            self.admin = admin
            self.name = f"django_test_{uuid.uuid4().hex[:12]}"
            self.psql(admin, f"CREATE DATABASE {self.name}")
            self.url = admin.rsplit("/", 1)[0] + "/" + self.name

    @staticmethod
    def psql(url, sql):
        out = subprocess.run(["psql", url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def hash_of(self, username):
        sql = "SELECT password_hash FROM users WHERE username = '%s'" % username
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                row = conn.execute(sql).fetchone()
            return row[0] if row else None
        return self.psql(self.url, sql) or None

    def id_of(self, username):
        sql = "SELECT id FROM users WHERE username = '%s'" % username
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                return conn.execute(sql).fetchone()[0]
        return int(self.psql(self.url, sql))

    def drop(self):
        if self.kind == "postgres":
            self.psql(self.admin, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(work, db, port):
    return {
        "PATH": os.environ["PATH"],
        "AUTH_DATA_DIR": str(work),
        "DATABASE_URL": db.url,
        "AUTH_BIND": f"127.0.0.1:{port}",
        "AUTH_BCRYPT_COST": str(int(BCRYPT_COST)),
        "AUTH_WORKERS": "2",
        "AUTH_ENV": "development",
        "RUST_LOG": "warn",
    }


def run_migrate(binary, env, work):
    out = subprocess.run([binary], env=env, cwd=work, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"migrate: {out.stderr}")


def run_import(binary, env, work, args):
    out = subprocess.run([binary, "import-django-users", *args], env=env, cwd=work, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"import-django-users {args}: {out.stderr}")
    return out.stdout.strip()


def post(base, path, body):
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def serve(binary, env, work):
    log = open(work / "server.log", "w")
    server = subprocess.Popen([binary, "serve"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    base = "http://" + env["AUTH_BIND"]
    for _ in range(200):
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2):
                return server, base
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    server.kill()
    fail("the server did not become ready:\n" + (work / "server.log").read_text())


def check_logins(binary, env, work, db, expected_ids):
    server, base = serve(binary, env, work)
    try:
        for name, (_, password) in USERS.items():
            before = db.hash_of(name)
            status, body = post(base, "/api/token/", {"username": name, "password": password})
            if status != 200:
                fail(f"{db.kind}: login {name} with its Django password: {status} {body}")
            after = db.hash_of(name)
            if name == "long-user":
                if after != before:
                    fail(f"{db.kind}: {name}: a password over 72 bytes keeps its Django hash")
            elif not after.startswith(f"$2b${BCRYPT_COST}$"):
                fail(f"{db.kind}: {name}: the stored hash did not become bcrypt: {after[:14]}...")
            status, body = post(base, "/api/token/", {"username": name, "password": password})
            if status != 200:
                fail(f"{db.kind}: second login of {name}: {status} {body}")
            status, body = post(base, "/api/token/", {"username": name, "password": password + "x"})
            if (status, body.get("code")) != (401, "no_active_account"):
                fail(f"{db.kind}: {name} with a wrong password: {status} {body}")
        status, body = post(base, "/api/token/", {"username": UNUSABLE, "password": "anything at all"})
        if (status, body.get("code")) != (401, "no_active_account"):
            fail(f"{db.kind}: the unusable password logged in: {status} {body}")
        for name, django_id in expected_ids.items():
            if db.id_of(name) != django_id:
                fail(f"{db.kind}: {name} has id {db.id_of(name)} here, {django_id} in Django")
    finally:
        server.terminate()
        server.wait(timeout=30)


def expected_summary(n):
    return f"{n} records: {n} created, 0 skipped, 0 updated; 1 with a password that cannot be verified here"


def main():
    binary, migrate = sys.argv[1], sys.argv[2]
    backends = ["sqlite"] + (["postgres"] if os.environ.get("TEST_DATABASE_URL") else [])
    with tempfile.TemporaryDirectory(prefix="django-test.") as tmp:
        work = pathlib.Path(tmp)
        django_db, dump = build_django_project(work)
        with sqlite3.connect(django_db) as conn:
            ids = dict(conn.execute("SELECT username, id FROM auth_user").fetchall())
        n = len(USERS) + 1
        for kind in backends:
            for source in (["dump"], ["--from-database", f"sqlite://{django_db}"]):
                db = Database(kind, work)
                try:
                    env = app_env(work, db, free_port())
                    args = [str(dump)] if source == ["dump"] else source
                    run_migrate(migrate, env, work)
                    summary = run_import(binary, env, work, args)
                    if summary != expected_summary(n):
                        fail(f"{kind} {source[0]}: summary {summary!r}")
                    check_logins(binary, env, work, db, ids)
                    print(f"django-test: {kind}, {source[0]}: {n} users imported, every Django password logs in and became bcrypt")
                finally:
                    db.drop()
    print("django-test: no failures")


if __name__ == "__main__":
    main()
