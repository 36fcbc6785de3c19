"""The demo page (web/demo) as the tests drive it, and what they need of the
server besides: fresh users, a login as a non-browser client.

The page marks its state on <body data-state="signed-in|signed-out">; every
wait here is on that or on an element, bounded.
"""

import json
import os
import urllib.error
import urllib.request
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ.get("BROWSER_BASE_URL", "http://localhost:8080").rstrip("/")
FOREIGN = os.environ.get("BROWSER_FOREIGN_URL", "").rstrip("/")
ACCESS_LIFETIME = float(os.environ.get("BROWSER_ACCESS_LIFETIME", "20"))
REUSE_INTERVAL = float(os.environ.get("BROWSER_REUSE_INTERVAL", "10"))
COOKIE_MODE = os.environ.get("BROWSER_COOKIE_MODE", "both")
PAGE = BASE + "/demo/"
# The page reads /api/me/ and the sessions every 3 s (demo.js's POLL_MS).
POLL = 3
PASSWORD = "correct horse battery staple"
TIMEOUT = 20


def api(method, path, body=None, headers=None):
    """A request as a non-browser client (no Origin, no cookies): (status, body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as res:
            raw = res.read()
            status = res.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    return status, (json.loads(raw) if raw else None)


def register():
    """A fresh user: (username, password)."""
    username = "demo-" + uuid.uuid4().hex[:12]
    status, body = api("POST", "/api/register/", {"username": username, "password": PASSWORD})
    assert status == 201, body
    return username, PASSWORD


class Demo:
    """One browser on the demo page."""

    def __init__(self, driver):
        self.driver = driver

    # ---- navigation and state

    def open(self, url=PAGE):
        self.driver.get(url)
        return self

    def state(self):
        return self.driver.execute_script("return document.body.dataset.state || null")

    def wait_state(self, wanted, timeout=TIMEOUT):
        last = []

        def reached(_):
            last[:] = [self.state()]
            return last[0] == wanted

        WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            reached, message=f"page state {wanted!r} not reached in {timeout}s (last: {last}; status: {self.status()!r})"
        )

    def status(self):
        try:
            return self.driver.find_element(By.ID, "status").text
        except Exception:  # noqa: BLE001 - only for messages
            return None

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    def click(self, element_id):
        self.driver.find_element(By.ID, element_id).click()

    # ---- actions

    def sign_in(self, username, password):
        self.open()
        self.wait_state("signed-out")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.click("login")
        self.wait_state("signed-in")
        WebDriverWait(self.driver, TIMEOUT).until(
            lambda _: self.text("me-username") == username, message="username not shown"
        )
        return self

    def refresh_count(self):
        return int(self.text("refresh-count"))

    def sessions(self):
        """The session list as shown: [(id, current)]. Read in one script:
        the page renders the rows anew at every poll, so elements found by
        one command may be gone at the next."""
        rows = self.driver.execute_script(
            "return [...document.querySelectorAll('#sessions-body tr')]"
            ".map((r) => [r.dataset.sessionId, r.classList.contains('current')]);"
        )
        return [(sid, current) for sid, current in rows]

    def revoke(self, session_id):
        """Click the Revoke button of a session (found and clicked in one
        script, for the same reason)."""
        clicked = self.driver.execute_script(
            "const b = document.querySelector(`button.revoke[data-id=\"${arguments[0]}\"]`);"
            "if (b) b.click(); return !!b;",
            session_id,
        )
        assert clicked, f"no Revoke button for {session_id}"

    def wait_sessions(self, count, timeout=TIMEOUT):
        WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(
            lambda _: len(self.sessions()) == count, message=f"not {count} session(s) listed: {self.sessions()}"
        )
        return self.sessions()

    def click_at(self, element_id, at_ms):
        """Click an element of this window at a wall-clock time (ms since the
        epoch), from the page's own timer: two windows clicking at the same
        moment, which Selenium's one-command-at-a-time cannot do."""
        self.driver.execute_script(
            "const [id, at] = arguments;"
            "setTimeout(() => document.getElementById(id).click(), Math.max(0, at - Date.now()));",
            element_id,
            at_ms,
        )

    def console_errors(self):
        """The console's errors since the last call (a CSP violation is one)."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    # ---- cookies

    def all_cookies(self):
        """Every cookie of the browser, HttpOnly ones and other paths
        included (Chrome DevTools Protocol: WebDriver's own list only has
        the current page's)."""
        try:
            return self.driver.execute_cdp_cmd("Storage.getCookies", {})["cookies"]
        except Exception:  # noqa: BLE001 - older Chromium
            return self.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]

    def cookie(self, name):
        for c in self.all_cookies():
            if c["name"] == name:
                return c
        return None

    def document_cookie(self):
        return self.driver.execute_script("return document.cookie")

    def fetch(self, url, method="GET", body=None, csrf_from_cookie=True, credentials="include"):
        """fetch() run by the current page's script: {status, body, error}.
        The X-CSRF-Token header is the csrftoken cookie as this page's
        script can read it (document.cookie)."""
        return self.driver.execute_async_script(
            """
            const [url, method, body, withCsrf, credentials, done] = arguments;
            const headers = {"Accept": "application/json"};
            if (body !== null) headers["Content-Type"] = "application/json";
            if (withCsrf) {
              const m = document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]*)/);
              if (m) headers["X-CSRF-Token"] = decodeURIComponent(m[1]);
            }
            fetch(url, {method, headers, credentials,
                        body: body === null ? undefined : JSON.stringify(body)})
              .then(async (r) => done({status: r.status, body: await r.text(), error: null}))
              .catch((e) => done({status: null, body: null, error: String(e)}));
            """,
            url,
            method,
            body,
            csrf_from_cookie,
            credentials,
        )

