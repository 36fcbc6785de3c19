"""The demo page (web/demo) in headless Chromium, through the stack's nginx
(scripts/browser-test.sh starts it): first with cookie mode `both` and a
reuse interval (every test but the marked ones), then with cookie mode
`refresh` and no reuse interval (the tests marked reuse_off and
refresh_mode)."""

import json
import os
import time
import urllib.error
import urllib.request

import pytest

from conftest import ARTIFACTS
from demo import ACCESS_LIFETIME, BASE, COOKIE_MODE, FOREIGN, PAGE, POLL, REUSE_INTERVAL, TIMEOUT, Demo, api

ACCESS = "__Host-access"
REFRESH = "__Secure-refresh"
CSRF = "csrftoken"


def test_nginx_serves_the_page_with_its_own_policies():
    """The page's CSP allows its own files and API calls, nothing inline;
    the API keeps its own, stricter headers."""
    for path, ctype in (("/demo/", "text/html"), ("/demo/demo.js", "text/javascript"), ("/demo/demo.css", "text/css")):
        with urllib.request.urlopen(BASE + path, timeout=TIMEOUT) as res:
            headers = res.headers
        assert headers["Content-Type"].startswith(ctype), (path, headers["Content-Type"])
        csp = headers.get_all("Content-Security-Policy")
        assert len(csp) == 1, (path, csp)
        directives = dict(d.strip().split(" ", 1) for d in csp[0].split(";"))
        assert directives["default-src"] == "'none'"
        for kind in ("script-src", "style-src", "connect-src"):
            assert directives[kind] == "'self'", (path, kind, csp)
        assert "unsafe" not in csp[0]
        assert headers.get_all("Referrer-Policy") == ["same-origin"], path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-cache"
    status, _ = api("GET", "/api/me/")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(BASE + "/api/me/", timeout=TIMEOUT)
    assert status == 401
    assert answer.value.headers.get_all("Content-Security-Policy") == ["default-src 'none'; frame-ancestors 'none'"]
    assert answer.value.headers.get_all("Referrer-Policy") == ["no-referrer"]


def test_sign_in_sets_httponly_cookies_and_survives_a_reload(demo, user):
    username, password = user
    demo.sign_in(username, password)
    # The page runs under its CSP without a violation.
    refused = [m for m in demo.console_errors() if "Content Security Policy" in m or "Refused to" in m]
    assert refused == [], refused
    me = json.loads(demo.text("me"))
    assert me["username"] == username
    assert "password" not in json.dumps(me)
    assert demo.wait_sessions(1)[0][1], "the only session is not marked current"

    refresh = demo.cookie(REFRESH)
    access = demo.cookie(ACCESS)
    csrf = demo.cookie(CSRF)
    assert refresh and access and csrf, [c["name"] for c in demo.all_cookies()]
    assert refresh["httpOnly"] and refresh["secure"] and refresh["sameSite"] == "Strict"
    assert refresh["path"] == "/api/token/"
    assert access["httpOnly"] and access["secure"] and access["sameSite"] == "Strict" and access["path"] == "/"
    assert not csrf["httpOnly"] and csrf["secure"] and csrf["sameSite"] == "Strict"
    # The page's script sees the CSRF token and nothing else: no token.
    seen = demo.document_cookie()
    assert seen.split("=")[0].strip() == CSRF and ";" not in seen, seen
    assert refresh["value"] not in seen and access["value"] not in seen

    # The README's picture: the page signed in.
    demo.driver.save_screenshot(os.path.join(ARTIFACTS, "demo-signed-in.png"))

    demo.driver.refresh()
    demo.wait_state("signed-in")
    demo.driver.get(PAGE)
    demo.wait_state("signed-in")
    assert json.loads(demo.text("me"))["username"] == username
    assert len(demo.wait_sessions(1)) == 1


def test_refreshes_silently_before_the_access_token_expires(demo, user):
    demo.sign_in(*user)
    signed_in_at = time.monotonic()
    # Past the first access token's lifetime, the page is still signed in,
    # having refreshed on its own (no 401 needed: it refreshes ahead).
    deadline = signed_in_at + ACCESS_LIFETIME + 3
    while time.monotonic() < deadline:
        assert demo.state() == "signed-in", demo.status()
        time.sleep(0.5)
    assert demo.refresh_count() >= 1
    # ...and the session goes on after a reload.
    demo.driver.refresh()
    demo.wait_state("signed-in")
    assert json.loads(demo.text("me"))["username"] == user[0]


# Network latency added to both windows around the race (ms): a request's
# cookies are taken when it starts, so both refreshes leave with the same
# refresh token as long as they start within this of each other, however
# the two windows' timers are scheduled on a loaded machine.
RACE_LATENCY_MS = 1000


def _latency(demo, ms):
    demo.driver.execute_cdp_cmd("Network.enable", {})
    demo.driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": ms, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def _two_windows_refresh_together(demo, user):
    """Two windows of one browser (one cookie jar, one session) click
    "Refresh now" at the same moment: both present the same refresh token."""
    demo.sign_in(*user)
    first = demo.driver.current_window_handle
    demo.driver.switch_to.new_window("window")
    second = demo.driver.current_window_handle
    demo.open()
    demo.wait_state("signed-in")
    counts = {}
    at = int(time.time() * 1000) + 1500
    for handle in (first, second):
        demo.driver.switch_to.window(handle)
        _latency(demo, RACE_LATENCY_MS)
        counts[handle] = demo.refresh_count()
        demo.click_at("refresh-now", at)
    # Both answers are in (two latencies: request and response), then the
    # network is back to normal.
    time.sleep(max(0, at / 1000 - time.time()) + 2 * RACE_LATENCY_MS / 1000 + 1)
    for handle in (first, second):
        demo.driver.switch_to.window(handle)
        _latency(demo, 0)
    return first, second, counts


@pytest.mark.skipif(REUSE_INTERVAL <= 0, reason="needs AUTH_REFRESH_REUSE_INTERVAL > 0")
def test_two_windows_refreshing_at_once_stay_signed_in_within_the_reuse_interval(demo, user):
    first, second, counts = _two_windows_refresh_together(demo, user)
    # Both refreshed, and both still work a few polls later (each poll reads
    # /api/me/ and the sessions with the access cookie of the moment).
    for handle in (first, second):
        demo.driver.switch_to.window(handle)
        # Polled rather than timed: on a loaded machine an answer may come late.
        deadline = time.monotonic() + TIMEOUT
        while demo.refresh_count() == counts[handle] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert demo.state() == "signed-in", demo.status()
        assert demo.refresh_count() >= counts[handle] + 1, demo.status()
    time.sleep(2 * POLL + 1)
    for handle in (first, second):
        demo.driver.switch_to.window(handle)
        assert demo.state() == "signed-in", demo.status()
        assert len(demo.sessions()) == 1
    demo.driver.switch_to.window(first)
    demo.click("refresh-now")
    time.sleep(1)
    assert demo.state() == "signed-in", demo.status()


@pytest.mark.reuse_off
def test_two_windows_refreshing_at_once_revoke_the_session_without_a_reuse_interval(demo, user):
    assert REUSE_INTERVAL == 0, "run with AUTH_REFRESH_REUSE_INTERVAL=0s"
    first, second, _ = _two_windows_refresh_together(demo, user)
    # The second presentation of the token is reuse: the whole session is
    # revoked, so both windows end up signed out (the loser at once, the
    # other at its next poll).
    for handle in (first, second):
        demo.driver.switch_to.window(handle)
        demo.wait_state("signed-out", timeout=2 * POLL + 5)
    demo.driver.get(PAGE)
    demo.wait_state("signed-out")


def test_revoking_a_session_from_the_list_signs_its_browser_out(browsers, user):
    laptop = Demo(browsers()).sign_in(*user)
    phone = Demo(browsers()).sign_in(*user)
    listed = laptop.wait_sessions(2, timeout=POLL + TIMEOUT)
    other = [sid for sid, current in listed if not current]
    assert len(other) == 1, listed
    laptop.revoke(other[0])
    # The phone notices at its next poll: its access token is refused
    # (session revoked), and so is its refresh.
    phone.wait_state("signed-out", timeout=POLL + TIMEOUT)
    assert "ended" in phone.status(), phone.status()
    assert laptop.wait_sessions(1)[0][1]
    assert laptop.state() == "signed-in"
    phone.driver.get(PAGE)
    phone.wait_state("signed-out")


def test_another_origin_cannot_refresh_log_out_or_change_the_password(browsers, user):
    assert FOREIGN, "BROWSER_FOREIGN_URL is not set"
    username, password = user
    page = Demo(browsers()).sign_in(username, password)
    count = page.refresh_count()
    legit = page.driver.current_window_handle

    # Another origin of the same site, in the same browser: SameSite=Strict
    # cookies are sent to the API from it, and it can read csrftoken (cookies
    # know no ports). Only its Origin tells it apart.
    page.driver.switch_to.new_window("tab")
    page.open(FOREIGN + "/")
    seen = page.document_cookie()
    assert REFRESH not in seen and ACCESS not in seen and "eyJ" not in seen, seen
    attempts = {
        "refresh": ("POST", "/api/token/refresh/", {}),
        "blacklist": ("POST", "/api/token/blacklist/", {}),
        "logout all": ("POST", "/api/logout/all/", {}),
        "password": ("POST", "/api/me/password/", {"old_password": password, "new_password": "stolen " + password}),
        "login": ("POST", "/api/token/", {"username": username, "password": password}),
    }
    for what, (method, path, body) in attempts.items():
        r = page.fetch(BASE + path, method, body)
        # The origin is allowed to read answers (AUTH_CORS_ORIGINS) but not
        # trusted (AUTH_TRUSTED_ORIGINS): the server's own refusal shows.
        assert r["status"] == 403, (what, r)
        answer = json.loads(r["body"])
        assert answer.get("code") == "csrf_failed", (what, r)
        assert "access" not in answer and "refresh" not in answer, (what, r)
    # Without the CSRF header, no better.
    r = page.fetch(BASE + "/api/token/refresh/", "POST", {}, csrf_from_cookie=False)
    assert r["status"] == 403 and json.loads(r["body"])["code"] == "csrf_failed", r
    seen = page.document_cookie()
    assert REFRESH not in seen and ACCESS not in seen and "eyJ" not in seen, seen

    # Nothing changed: the legitimate page is still signed in and can
    # refresh; the password is the old one.
    page.driver.close()
    page.driver.switch_to.window(legit)
    page.click("refresh-now")
    deadline = time.monotonic() + TIMEOUT
    while page.refresh_count() == count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.refresh_count() == count + 1 and page.state() == "signed-in", page.status()
    status, body = api("POST", "/api/token/", {"username": username, "password": password})
    assert status == 200 and "access" in body, body
    assert len(page.wait_sessions(2, timeout=POLL + TIMEOUT)) == 2  # the page's and the check's


def test_sign_out_clears_the_cookies(demo, user):
    demo.sign_in(*user)
    assert demo.cookie(REFRESH) and demo.cookie(ACCESS)
    demo.click("sign-out")
    demo.wait_state("signed-out")
    assert demo.status() == "Signed out.", demo.status()
    left = [c["name"] for c in demo.all_cookies() if c["name"] in (REFRESH, ACCESS, CSRF)]
    assert left == [], left
    demo.driver.refresh()
    demo.wait_state("signed-out")
    # The session is over on the server too: a new login lists only itself.
    status, body = api("POST", "/api/token/", {"username": user[0], "password": user[1]})
    assert status == 200, body
    status, sessions = api("GET", "/api/sessions/", headers={"Authorization": "Bearer " + body["access"]})
    assert status == 200 and len(sessions) == 1, sessions


@pytest.mark.refresh_mode
def test_refresh_mode_keeps_the_access_token_in_the_page_and_the_refresh_token_in_a_cookie(demo, user):
    assert COOKIE_MODE == "refresh", "run with AUTH_COOKIE_MODE=refresh"
    demo.sign_in(*user)
    assert demo.text("token-mode") == "in this page's memory, the refresh token in an HttpOnly cookie"
    refresh = demo.cookie(REFRESH)
    assert refresh and refresh["httpOnly"] and refresh["path"] == "/api/token/"
    assert demo.cookie(ACCESS) is None
    assert demo.document_cookie().split("=")[0] == CSRF
    assert demo.wait_sessions(1)[0][1]
    # A reload loses the access token in memory; the refresh cookie brings
    # a new one.
    demo.driver.refresh()
    demo.wait_state("signed-in")
    assert json.loads(demo.text("me"))["username"] == user[0]
    demo.click("sign-out")
    demo.wait_state("signed-out")
    left = [c["name"] for c in demo.all_cookies() if c["name"] in (REFRESH, ACCESS, CSRF)]
    assert left == [], left
