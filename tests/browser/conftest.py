"""Fixtures of the browser tests: headless Chromium sessions (Debian's
chromium and chromedriver, driven by Selenium) and fresh users.

The environment (scripts/browser-test.sh sets it):
  BROWSER_BASE_URL      the stack's nginx, as the page's origin: http://localhost:PORT
                        (`localhost`: Chromium keeps Secure cookies from it over http)
  BROWSER_FOREIGN_URL   the second nginx: another origin of the same site
  BROWSER_ARTIFACTS     where screenshots go (on failure; and the signed-in page)
  BROWSER_ACCESS_LIFETIME  AUTH_ACCESS_TOKEN_LIFETIME of the stack, in seconds
  BROWSER_REUSE_INTERVAL   AUTH_REFRESH_REUSE_INTERVAL of the stack, in seconds
  BROWSER_COOKIE_MODE      AUTH_COOKIE_MODE of the stack (both, refresh)
"""

import os
import re
import shutil
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from demo import BASE, Demo

ARTIFACTS = os.environ.get("BROWSER_ARTIFACTS") or tempfile.mkdtemp(prefix="browser-artifacts.")

CHROMIUM_FLAGS = [
    "--headless=new",
    # As root (CI) Chromium refuses to start with its sandbox.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
    # The machine's network is closed: no background connections, no
    # component or sync traffic, no QUIC probing.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Two windows of one browser refresh "at the same moment": timers of a
    # window in the background must not be delayed or aligned.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]


def _binary(name, *fallbacks):
    for candidate in (name, *fallbacks):
        path = shutil.which(candidate)
        if path:
            return path
    pytest.exit(f"{name} is not installed (apt-get install chromium chromium-driver)", returncode=2)


def new_driver():
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"credentials_enable_service": False, "profile.password_manager_enabled": False},
    )
    # The console, for the CSP check (test_demo.py's console_errors).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver named explicitly: Selenium Manager would try to download one.
    service = Service(executable_path=_binary("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def browsers(request):
    """A factory of browsers (each its own profile, so its own cookie jar);
    all quit at the end, after a screenshot of every window on failure."""
    made = []

    def make():
        driver = new_driver()
        made.append(driver)
        return driver

    yield make

    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None
        and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for i, driver in enumerate(made, 1):
        try:
            if failed:
                for j, handle in enumerate(driver.window_handles, 1):
                    driver.switch_to.window(handle)
                    path = os.path.join(ARTIFACTS, f"{name}-browser{i}-window{j}.png")
                    driver.save_screenshot(path)
                    print(f"screenshot: {path}")
        finally:
            driver.quit()


@pytest.fixture
def demo(browsers):
    """The demo page in a fresh browser."""
    return Demo(browsers())


@pytest.fixture
def user():
    from demo import register

    return register()


@pytest.fixture(scope="session", autouse=True)
def _artifacts_dir():
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert BASE.startswith("http://localhost:"), "the page must be served from localhost"
