"""Unit tests of check_compose.py on a small compose document built here (the
repository's own docker-compose.yml is checked by scripts/check-compose.sh).
Run by scripts/stack-test.sh: python3 -m unittest discover -s tests/stack"""

import contextlib
import copy
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check_compose  # noqa: E402
from check_compose import CheckFailed, checks, parse_env_file  # noqa: E402

EXAMPLE = {
    "AUTH_JWT_SECRET": "CHANGE-ME-to-64-random-bytes-of-your-own-please",
    "AUTH_ENV": "production",
    "POSTGRES_USER": "auth",
    "POSTGRES_PASSWORD": "CHANGE-ME",
    "POSTGRES_DB": "auth",
}

APP_ENV = {
    "DATABASE_URL": "postgres://${POSTGRES_USER}:${POSTGRES_PASSWORD}@db:5432/${POSTGRES_DB}",
    "AUTH_BIND": "0.0.0.0:8000",
    "AUTH_ENV": "${AUTH_ENV:-production}",
    "AUTH_TRUSTED_PROXIES": "${AUTH_TRUSTED_PROXIES:-172.28.0.10}",
}

DOC = {
    "services": {
        "db": {
            "image": "postgres:15-bookworm",
            "healthcheck": {"test": ["CMD-SHELL", "pg_isready -U auth"]},
            "volumes": ["pgdata:/var/lib/postgresql/data"],
        },
        "migrate": {
            "image": "auth:latest",
            "command": ["migrate"],
            "env_file": ".env",
            "environment": APP_ENV,
            "depends_on": {"db": {"condition": "service_healthy"}},
        },
        "app": {
            "image": "auth:latest",
            "env_file": [{"path": ".env", "required": True}],
            "environment": APP_ENV,
            "depends_on": {"migrate": {"condition": "service_completed_successfully"}},
        },
        "nginx": {
            "image": "nginx:1.28-alpine",
            "ports": ["${NGINX_HTTP_PORT:-8080}:8080"],
            "volumes": ["./nginx:/etc/nginx/auth:ro", "./web/demo:/var/cache/nginx/demo:ro"],
            "command": ["nginx", "-p", "/var/cache/nginx/", "-c", "/etc/nginx/auth/nginx.conf", "-g", "daemon off;"],
            "networks": {"default": {"ipv4_address": "172.28.0.10"}},
            "depends_on": ["app"],
        },
    },
    "volumes": {"pgdata": {}},
    "networks": {
        "default": {"ipam": {"config": [{"subnet": "172.28.0.0/24", "ip_range": "172.28.0.128/25"}]}}
    },
}


def run(doc=DOC, example=EXAMPLE, resolved=None):
    return list(checks(doc, example, resolved))


def edited(edit):
    doc = copy.deepcopy(DOC)
    edit(doc)
    return doc


class ChecksTest(unittest.TestCase):
    def assertFails(self, pattern, doc=DOC, example=EXAMPLE, resolved=None):
        with self.assertRaisesRegex(CheckFailed, pattern):
            run(doc, example, resolved)

    def test_a_sound_stack_passes_every_check(self):
        passed = run()
        self.assertEqual(len(passed), 18)
        self.assertIn("nginx has the fixed address 172.28.0.10 in 172.28.0.0/24, trusted by AUTH_TRUSTED_PROXIES", passed)

    def test_no_services(self):
        self.assertFails("no `services` mapping", doc={"services": []})
        self.assertFails("no `services` mapping", doc=None)

    def test_missing_service(self):
        self.assertFails("service `migrate` is missing", edited(lambda d: d["services"].pop("migrate")))

    def test_dependency_conditions(self):
        def started(d):
            d["services"]["migrate"]["depends_on"] = ["db"]  # short form: service_started

        self.assertFails("migrate must depend on db with condition service_healthy", edited(started))

        def app_on_db(d):
            d["services"]["app"]["depends_on"] = {"db": {"condition": "service_healthy"}}

        self.assertFails("app must depend on migrate", edited(app_on_db))
        self.assertFails("nginx must depend on app", edited(lambda d: d["services"]["nginx"].pop("depends_on")))

    def test_db_healthcheck_volume_image(self):
        def disabled(d):
            d["services"]["db"]["healthcheck"]["disable"] = True

        self.assertFails("db needs a healthcheck", edited(disabled))

        def curl(d):
            d["services"]["db"]["healthcheck"]["test"] = "curl -f http://localhost"

        self.assertFails("should use pg_isready", edited(curl))

        def bind_mount(d):
            d["services"]["db"]["volumes"] = ["./data:/var/lib/postgresql/data"]

        self.assertFails("db needs a named volume", edited(bind_mount))

        def long_form(d):
            d["services"]["db"]["volumes"] = [{"type": "volume", "source": "pgdata", "target": "/x"}]

        self.assertEqual(len(run(edited(long_form))), 18)

        def pg16(d):
            d["services"]["db"]["image"] = "postgres:16"

        self.assertFails("db should run postgres:15", edited(pg16))

    def test_app_is_scalable_and_shares_the_image(self):
        def named(d):
            d["services"]["app"]["container_name"] = "auth-app"

        self.assertFails("app must not set `container_name`", edited(named))

        def published(d):
            d["services"]["app"]["ports"] = ["8000:8000"]

        self.assertFails("app must not set `ports`", edited(published))

        def other_image(d):
            d["services"]["migrate"]["image"] = "auth:old"

        self.assertFails("app and migrate must run the same image", edited(other_image))

        def serve(d):
            d["services"]["migrate"]["command"] = "app-server serve"

        self.assertFails("the migrate service must run `migrate`", edited(serve))

    def test_required_variables(self):
        def no_bind(d):
            env = dict(APP_ENV)
            env.pop("AUTH_BIND")
            d["services"]["migrate"]["environment"] = env

        self.assertFails("migrate: not set .*: AUTH_BIND", edited(no_bind))

        def list_form(d):
            # `- AUTH_BIND` alone passes the shell's value through: not set here.
            d["services"]["app"]["environment"] = [f"{k}={v}" for k, v in APP_ENV.items() if k != "AUTH_BIND"] + [
                "AUTH_BIND"
            ]

        self.assertFails("app: not set .*: AUTH_BIND", edited(list_form))

        def other_env_file(d):
            d["services"]["app"]["env_file"] = "prod.env"

        self.assertFails("app: unexpected env_file 'prod.env'", edited(other_env_file))

    def test_the_example_secret_is_a_long_placeholder(self):
        self.assertFails("obvious placeholder", example=dict(EXAMPLE, AUTH_JWT_SECRET="x" * 40))
        self.assertFails("at least 32 bytes", example=dict(EXAMPLE, AUTH_JWT_SECRET="CHANGE-ME"))
        self.assertFails("must set AUTH_ENV=production", example=dict(EXAMPLE, AUTH_ENV="development"))
        no_db = dict(EXAMPLE)
        no_db.pop("POSTGRES_DB")
        self.assertFails("must set POSTGRES_DB", example=no_db)

    def test_database_url(self):
        def literal(d):
            d["services"]["app"]["environment"] = dict(APP_ENV, DATABASE_URL="postgres://auth:pw@db:5432/auth")

        self.assertFails("built from POSTGRES_USER", edited(literal))

        def localhost(d):
            url = "postgres://$POSTGRES_USER:$POSTGRES_PASSWORD@localhost:5432/$POSTGRES_DB"
            d["services"]["app"]["environment"] = dict(APP_ENV, DATABASE_URL=url)

        self.assertFails("should point at the db service", edited(localhost))

    def test_nginx_address_subnet_and_trust(self):
        def unpublished(d):
            d["services"]["nginx"].pop("ports")

        self.assertFails("nginx must publish a port", edited(unpublished))

        def dynamic(d):
            d["services"]["nginx"]["networks"] = ["default"]

        self.assertFails("needs a fixed ipv4_address", edited(dynamic))

        def no_subnet(d):
            d["networks"] = {"default": {}}

        self.assertFails("explicit ipam subnet", edited(no_subnet))

        def outside(d):
            d["services"]["nginx"]["networks"]["default"]["ipv4_address"] = "10.0.0.10"

        self.assertFails("outside the subnet 172.28.0.0/24", edited(outside))

        def in_range(d):
            d["services"]["nginx"]["networks"]["default"]["ipv4_address"] = "172.28.0.200"

        self.assertFails("inside the dynamic ip_range", edited(in_range))

    def test_trusted_proxies_default_and_example_value_both_count(self):
        # The compose default trusts nginx, .env.example overrides it with a
        # network that does not hold nginx: the deployment would not trust it.
        self.assertFails(
            "AUTH_TRUSTED_PROXIES=10.0.0.0/8 does not include",
            example=dict(EXAMPLE, AUTH_TRUSTED_PROXIES="10.0.0.0/8"),
        )
        self.assertEqual(len(run(example=dict(EXAMPLE, AUTH_TRUSTED_PROXIES="10.0.0.0/8, 172.28.0.0/28"))), 18)

        def wrong_default(d):
            env = dict(APP_ENV, AUTH_TRUSTED_PROXIES="${AUTH_TRUSTED_PROXIES:-127.0.0.1}")
            d["services"]["app"]["environment"] = env

        self.assertFails("AUTH_TRUSTED_PROXIES=127.0.0.1 does not include nginx's address 172.28.0.10", edited(wrong_default))

    def test_nginx_runs_the_repository_config(self):
        def image_config(d):
            d["services"]["nginx"]["command"] = ["nginx", "-g", "daemon off;"]

        self.assertFails("nginx must mount ./nginx and run its nginx.conf", edited(image_config))

    def test_nginx_mounts_the_demo_page_under_its_prefix(self):
        def unmounted(d):
            d["services"]["nginx"]["volumes"] = ["./nginx:/etc/nginx/auth:ro"]

        def writable(d):
            d["services"]["nginx"]["volumes"][1] = "./web/demo:/var/cache/nginx/demo"

        def other_prefix(d):
            d["services"]["nginx"]["command"][2] = "/srv/nginx/"

        def no_prefix(d):
            del d["services"]["nginx"]["command"][1:3]

        for edit in (unmounted, writable):
            self.assertFails("nginx must mount ./web/demo read-only at /var/cache/nginx/demo", edited(edit))
        self.assertFails("at /srv/nginx/demo", edited(other_prefix))
        self.assertFails("at /etc/nginx/demo", edited(no_prefix))

    def test_resolved_config_needs_non_empty_values(self):
        resolved = {"services": {n: {"environment": {v: "x" for v in check_compose.REQUIRED}} for n in ("app", "migrate")}}
        self.assertEqual(len(run(resolved=resolved)), 19)
        resolved["services"]["migrate"]["environment"]["AUTH_JWT_SECRET"] = ""
        self.assertFails("resolved config: migrate has empty or missing AUTH_JWT_SECRET", resolved=resolved)


class EnvFileTest(unittest.TestCase):
    def test_comments_blank_lines_and_values_with_equals(self):
        text = "# a comment\n\nAUTH_ENV=production\n  POSTGRES_PASSWORD=a=b  \nEMPTY=\n"
        self.assertEqual(
            parse_env_file(text), {"AUTH_ENV": "production", "POSTGRES_PASSWORD": "a=b", "EMPTY": ""}
        )

    def test_a_line_that_is_not_an_assignment_names_its_line(self):
        with self.assertRaisesRegex(CheckFailed, r"^\.env\.example:2: not a KEY=VALUE line: 'export X=1'$"):
            parse_env_file("A=1\nexport X=1\n", ".env.example")


class MainTest(unittest.TestCase):
    def main(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = check_compose.main(["check_compose.py", *args])
        return rc, out.getvalue(), err.getvalue()

    def test_exit_status_and_output(self):
        import yaml

        with tempfile.TemporaryDirectory() as tmp:
            compose = os.path.join(tmp, "docker-compose.yml")
            example = os.path.join(tmp, ".env.example")
            with open(compose, "w") as f:
                yaml.safe_dump(DOC, f)
            with open(example, "w") as f:
                f.write("".join(f"{k}={v}\n" for k, v in EXAMPLE.items()))
            rc, out, err = self.main(compose, example)
            self.assertEqual((rc, err), (0, ""))
            self.assertTrue(out.startswith("check-compose: ok: services db, migrate, app, nginx exist\n"))
            self.assertTrue(out.endswith("check-compose: all 18 checks passed\n"))
            with open(example, "a") as f:
                f.write("AUTH_ENV=development\n")
            rc, out, err = self.main(compose, example)
            self.assertEqual(rc, 1)
            self.assertEqual(err, "check-compose: FAIL: .env.example must set AUTH_ENV=production\n")
            self.assertNotIn("checks passed", out)
            self.assertEqual(self.main(compose)[0], 2)

if __name__ == "__main__":
    unittest.main()
