"""Browser-test harness for the Vane dashboard: headless Chromium through Selenium (Debian's chromium and
chromium-driver, Selenium <4.52 from .venv), a small API client, waits, screenshots and console checks.

Scenarios are functions decorated with @scenario in modules under Tests/Browser/scenarios/; run them with
run_dashboard_tests.py (make test does, from Tests/BrowserTests).
"""
import json
import os
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import ElementNotInteractableException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

SCENARIOS = []

# How long a wait lasts unless a scenario names its own limit (a latency it promises). Generous: under a full
# `make test` Chromium shares two cores with every other suite, and a page can take seconds to render.
WAIT_SECONDS = 25


def scenario(fn):
    """Registers a scenario: fn(t) with t a Session."""
    SCENARIOS.append(fn)
    return fn


class Failure(AssertionError):
    pass


class API:
    """The management API, as a given token."""

    def __init__(self, base, token):
        self.base = base.rstrip("/") + "/api/v1"
        self.token = token

    def call(self, method, path, body=None, headers=None, expect=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as e:
            status, raw, got = e.code, e.read(), dict(e.headers)
        value = json.loads(raw) if raw else None
        if expect is not None and status != expect:
            raise Failure(f"{method} {path}: expected {expect}, got {status}: {raw[:500]!r}")
        return status, value, got

    def get(self, path):
        return self.call("GET", path, expect=200)[1]

    def post(self, path, body, expect=201):
        return self.call("POST", path, body, expect=expect)[1]

    def put(self, path, body, expect=200):
        return self.call("PUT", path, body, expect=expect)[1]

    def patch(self, path, body, expect=200, headers=None):
        return self.call("PATCH", path, body, headers=headers, expect=expect)[1]


class Session:
    """One headless Chromium, signed in or not, with helpers. `t.base` is the management-api URL."""

    def __init__(self, base, admin_token, screenshots):
        self.base = base.rstrip("/")
        self.admin = API(self.base, admin_token)
        self.admin_token = admin_token
        self.screenshots = screenshots
        self.allowed_console = []  # substrings of SEVERE console entries a scenario expects (e.g. its own 412)
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("VANE_CHROMIUM", "/usr/bin/chromium")
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                  "--disable-gpu", "--no-first-run", "--disable-extensions", "--lang=en-US"):
            options.add_argument(a)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(os.environ.get("VANE_CHROMEDRIVER", "/usr/bin/chromedriver")),
                                       options=options)
        self.driver.set_page_load_timeout(30)
        self.console = []

    def quit(self):
        try:
            self.driver.quit()
        except Exception:
            pass

    # Navigation and sign-in

    def open(self, path):
        self.driver.get(self.base + path)

    def sign_in(self, token=None, path="/ui/"):
        self.open(path)
        field = self.wait_testid("token")
        field.clear()
        field.send_keys(token or self.admin_token)
        self.click_testid("sign-in")
        self.wait_testid("identity")

    # Finding and waiting

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def testid(self, name):
        return f'[data-testid="{css_escape(name)}"]'

    def wait(self, condition, timeout=WAIT_SECONDS, message="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except StaleElementReferenceException as e:
                last = e
            time.sleep(0.05)
        raise Failure(f"timed out after {timeout} s waiting for {message} ({last or ''}) on {self.driver.current_url}")

    def displayed(self, css, timeout=WAIT_SECONDS):
        """The first displayed element matching css (a plain WebElement), waiting for one."""
        def present():
            found = [e for e in self.find(css) if e.is_displayed()]
            return found[0] if found else None
        return self.wait(present, timeout, f"an element {css}")

    def wait_css(self, css, timeout=WAIT_SECONDS):
        """The first displayed element matching css, as a LiveElement: it is found again when a re-render (a live
        update) replaced it, so scenarios need not catch StaleElementReferenceException."""
        return LiveElement(self, css, self.displayed(css, timeout), timeout)

    def wait_testid(self, name, timeout=WAIT_SECONDS):
        return self.wait_css(self.testid(name), timeout)

    def gone(self, css, timeout=WAIT_SECONDS):
        self.wait(lambda: not [e for e in self.find(css) if e.is_displayed()], timeout, f"{css} to disappear")

    def retrying(self, action, attempts=5):
        """Runs action(); a page that re-rendered in between (live updates) makes elements stale, or leaves the old node
        not interactable while the new one takes its place (chromedriver reports either): find them again."""
        for attempt in range(attempts):
            try:
                return action()
            except (StaleElementReferenceException, ElementNotInteractableException):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)

    def click_testid(self, name, timeout=WAIT_SECONDS):
        def act():
            element = self.wait_testid(name, timeout)
            self.js("arguments[0].scrollIntoView({block: 'center'})", element)
            element.click()
            return element
        return self.retrying(act)

    def type_testid(self, name, text, clear=True, timeout=WAIT_SECONDS):
        def act():
            element = self.wait_testid(name, timeout)
            if clear:
                element.clear()
            element.send_keys(text)
            return element
        return self.retrying(act)

    def select_testid(self, name, value):
        """Chooses an option of a <select> (and fires change, as a person would)."""
        return self.retrying(lambda: self.js(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}))",
            self.wait_testid(name), value))

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def js(self, script, *args):
        return self.driver.execute_script(script, *[a.unwrap() if isinstance(a, LiveElement) else a for a in args])

    # Evidence

    def screenshot(self, name):
        os.makedirs(self.screenshots, exist_ok=True)
        self.driver.save_screenshot(os.path.join(self.screenshots, f"{name}.png"))

    def collect_console(self):
        self.console.extend(self.driver.get_log("browser"))

    def severe(self):
        self.collect_console()
        return [e for e in self.console if e.get("level") == "SEVERE"
                and not any(a in e.get("message", "") for a in self.allowed_console)]

    def assert_not_pwned(self):
        if self.js("return typeof window.pwned") != "undefined":
            raise Failure("window.pwned is defined: data was rendered as HTML")


class LiveElement:
    """A WebElement found by a CSS selector that is found again (the same selector) when the page re-rendered it:
    every attribute and method of the element is available, and a stale reference is retried on the new element.
    An action is retried only when the old element was already gone, so nothing is done twice."""

    ATTEMPTS = 10

    def __init__(self, session, css, element, timeout):
        self._session, self._css, self._element, self._timeout = session, css, element, timeout

    def unwrap(self):
        """The current WebElement (for execute_script arguments)."""
        return self._element

    def _retrying(self, use):
        for attempt in range(self.ATTEMPTS):
            try:
                return use(self._element)
            except StaleElementReferenceException:
                if attempt == self.ATTEMPTS - 1:
                    raise
                time.sleep(0.1)
                self._element = self._session.displayed(self._css, self._timeout)

    def __getattr__(self, name):
        value = self._retrying(lambda element: getattr(element, name))
        if callable(value):
            return lambda *args, **kwargs: self._retrying(lambda element: getattr(element, name)(*args, **kwargs))
        return value


def css_escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_until(condition, timeout=WAIT_SECONDS, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise Failure(f"timed out after {timeout} s waiting for {message}")


__all__ = ["API", "WAIT_SECONDS", "Session", "Failure", "scenario", "check", "wait_until", "SCENARIOS", "TimeoutException"]
