"""Helpers of the compose test (tests/compose/compose_check.py): the running
compose project's containers, read through the Docker CLI (labels, inspect,
events, logs, exec), and the HTTP side borrowed from the stack tests
(tests/stack/stacklib.py: client, load generator, checks). Standard library
only.

Every request goes to nginx's published port on 127.0.0.1, as a user's
would; the containers are only looked at (metrics and psql through
`docker exec`, never over the network).
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stack"))

import stacklib  # noqa: E402  (path set above)
from stacklib import TestFailure, check, log  # noqa: E402,F401  (re-exported)

# nginx's fixed address on the compose network (docker-compose.yml).
NGINX_ADDRESS = "172.28.0.10"


def docker(*args, timeout=120, check_rc=True):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check_rc and proc.returncode != 0:
        raise TestFailure(f"docker {' '.join(args[:3])}... exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
    return proc.stdout


class Endpoint:
    """What stacklib's Client and Load need: nginx's host and port."""

    def __init__(self, port):
        self.host = "127.0.0.1"
        self.port = int(port)


class Project:
    """A compose project, found by the labels compose puts on its containers."""

    def __init__(self, name, env_file=None):
        self.name = name
        self.env = read_env_file(env_file) if env_file else {}

    def containers(self, service, running_only=True):
        args = ["ps", "-q", "--no-trunc"]
        if not running_only:
            args.append("-a")
        args += [
            "--filter", f"label=com.docker.compose.project={self.name}",
            "--filter", f"label=com.docker.compose.service={service}",
        ]
        return docker(*args).split()

    def one(self, service):
        ids = self.containers(service)
        check(len(ids) == 1, f"expected one running {service} container, found {len(ids)}")
        return ids[0]

    def inspect(self, cid):
        return json.loads(docker("inspect", cid))[0]

    def name_of(self, cid):
        return self.inspect(cid)["Name"].lstrip("/")

    def psql(self, sql):
        """One statement in the db container as the app's role, over the
        local socket; the output unaligned, without headers."""
        user = self.env.get("POSTGRES_USER", "auth")
        db = self.env.get("POSTGRES_DB", "auth")
        out = docker("exec", "-i", self.one("db"), "psql", "-U", user, "-d", db, "-At",
                     "-v", "ON_ERROR_STOP=1", "-c", sql)
        return out.strip()

    def requests_served(self, cid):
        """API requests a replica has answered, from its own /metrics (read
        inside the container): http_requests_total without the health
        checks and metrics scrapes."""
        text = docker("exec", cid, "busybox", "wget", "-q", "-O", "-",
                      "http://127.0.0.1:8000/metrics", timeout=30)
        total = 0
        for line in text.splitlines():
            if not line.startswith("http_requests_total{"):
                continue
            labels, _, value = line.rpartition(" ")
            if any(f'route="{r}"' in labels for r in ("/healthz", "/readyz", "/metrics")):
                continue
            total += int(float(value))
        return total

    def events(self, since, until):
        """Container events of this project between two Unix times."""
        out = docker("events", "--since", f"{since:.6f}", "--until", f"{until:.6f}",
                     "--format", "{{json .}}",
                     "--filter", "type=container",
                     "--filter", f"label=com.docker.compose.project={self.name}")
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        for e in events:
            e["service"] = e["Actor"]["Attributes"].get("com.docker.compose.service")
        return sorted(events, key=lambda e: e["timeNano"])

    def logs(self, cid):
        proc = subprocess.run(["docker", "logs", cid], capture_output=True, text=True, timeout=60)
        return proc.stdout + proc.stderr


def read_env_file(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key] = value
    return env


def nginx_access(project, request_id):
    """nginx's access-log entry (JSON) of one request, by its request id."""
    for line in project.logs(project.one("nginx")).splitlines():
        if request_id in line and line.lstrip().startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("request_id") == request_id:
                return entry
    raise TestFailure(f"no nginx access-log line for request id {request_id}")


# Re-exported from the stack tests.
Client = stacklib.Client
Load = stacklib.Load
PASSWORD = stacklib.PASSWORD
one = stacklib.one
register_and_login = stacklib.register_and_login
wait_until = stacklib.wait_until
