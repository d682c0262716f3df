"""Browser tests: a real server process (daphne's runserver, so websockets work) on the test database,
and Playwright driving Debian's Chromium. Screenshots land in test-output/screenshots/."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from accounts.models import User
from accounts.services import user_ensure
from tests.platform.modelling.conftest import celery_worker  # noqa: F401  (the admin job flow needs a worker)

# Playwright's sync API runs an event loop in the test thread; the ORM calls in tests are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PASSWORD = "browser-test-password-1"
VIEWPORT = {"width": 1280, "height": 800}

pytestmark = [pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    media: Path
    log: Path
    process: subprocess.Popen

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="session")
def browser_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the session, on the test database (tests commit their data: transactional_db)."""
    media = tmp_path_factory.mktemp("browser-media")
    log = tmp_path_factory.mktemp("browser-server") / "server.log"
    db = connection.settings_dict
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="pleura.settings.test", PYTHONUNBUFFERED="1",
               DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               PLEURA_MEDIA_ROOT=str(media), CELERY_BROKER_URL=django_settings.CELERY_BROKER_URL,
               CHANNEL_REDIS_URL=django_settings.CHANNEL_REDIS_URL)
    handle = log.open("w")
    process = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
                                "--insecure"], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)
    server = LiveServer(f"http://127.0.0.1:{port}", media, log, process)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/login/", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the test server did not start:\n{server.output()}")
        time.sleep(0.3)
    yield server
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    handle.close()


@pytest.fixture
def media_root(settings, browser_server: LiveServer) -> Path:  # type: ignore[no-untyped-def]
    """The server process reads the same media folder the test writes to."""
    settings.MEDIA_ROOT = browser_server.media
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(browser_server.media)}}}
    return browser_server.media


@pytest.fixture
def live(django_db_serialized_rollback: None, transactional_db: None,
         browser_server: LiveServer, media_root: Path) -> LiveServer:
    """The server, with this test's committed data visible to it (seeded scales restored afterwards)."""
    return browser_server


@pytest.fixture(scope="module")
def chromium(serialized_db: dict[str, str]) -> Iterator[object]:
    """Per module: Playwright's event loop must not outlive the browser tests (async_to_sync elsewhere
    refuses to run in a thread with a running loop)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Session:
    """One logged-in browser context: its page, the console errors it saw, and helpers."""

    server: LiveServer
    context: object
    page: object
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def login(self, username: str, password: str = PASSWORD) -> None:
        page = self.page
        page.goto(f"{self.server.url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login/" not in url)

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.server.url}{path}")
        self.page.wait_for_selector("#app[aria-busy='false']", timeout=15000)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def allow_console(self, pattern: str) -> None:
        """Expected console messages (e.g. the 409 a conflict test provokes)."""
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


def _wait_for_function_under_csp(page):  # type: ignore[no-untyped-def]
    """A stand-in for ``page.wait_for_function``: Playwright's evaluates the predicate with ``eval`` inside the
    page, which the Content-Security-Policy (no 'unsafe-eval') refuses; ``page.evaluate`` goes over the
    DevTools protocol instead, so the tests keep the policy enforced on every page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    def wait_for_function(expression: str, *, arg: object = None, timeout: float | None = None,
                          polling: object = None) -> None:
        function = expression if re.match(r"^\s*(\(|async\b|function\b|\w+\s*=>)", expression) \
            else f"() => ({expression})"
        deadline = time.monotonic() + (30_000 if timeout is None else timeout) / 1000
        while not page.evaluate(function, arg):
            if time.monotonic() > deadline:
                raise PlaywrightTimeoutError(f"wait_for_function: timed out waiting for {expression}")
            page.wait_for_timeout(25)

    return wait_for_function


@pytest.fixture
def browse(chromium, live: LiveServer) -> Iterator[callable]:  # type: ignore[no-untyped-def,valid-type]
    """browse() → a new logged-out Session (call twice for two users). No console errors allowed."""
    sessions: list[Session] = []

    def open_session() -> Session:
        context = chromium.new_context(viewport=VIEWPORT, base_url=live.url)
        page = context.new_page()
        page.wait_for_function = _wait_for_function_under_csp(page)
        session = Session(live, context, page)
        page.on("console", lambda msg: msg.type == "error" and session.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: session.errors.append(f"page error: {exc}"))
        sessions.append(session)
        return session

    yield open_session
    problems = [e for s in sessions for e in s.unexpected_errors()]
    for session in sessions:
        session.context.close()
    assert not problems, "console errors:\n" + "\n".join(problems) + f"\n--- server log ---\n{live.output()}"


def make_user(username: str, role: str, level: int = 1) -> User:
    return user_ensure(username=username, role=role, validation_level=level, password=PASSWORD,
                       is_staff=role == "admin", is_superuser=role == "admin")


def open_page(session: Session, path: str, timeout: float = 60_000) -> None:
    """Session.goto with more patience: a page's first load on a busy machine can take longer than 15 s."""
    session.page.goto(f"{session.server.url}{path}")
    session.page.wait_for_selector("#app[aria-busy='false']", timeout=timeout)


def as_worker(call: Callable[[], object]) -> None:
    """Run a service in another thread, as a worker would (its own database connection; Playwright's event
    loop owns the test's thread, where publishing to the channel layer cannot run)."""

    def run() -> None:
        try:
            call()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
