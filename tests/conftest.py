"""Shared fixtures: a fresh configuration, a migrated SQLite store and a logged-in web client.

CSRF stays ON in these fixtures, as in production: ``WebClient.post`` sends the session's
token like a real form would; tests that prove CSRF refuses a missing token use ``raw``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance import hooks
from appliance.accounts import create_user
from appliance.store import open_and_migrate
from appliance.store.audit import system_actor
from appliance.store.models import User
from tests.image.building import built  # noqa: F401  (one image per session, for tests/image and tests/boot)

PASSWORD = "motdepasse1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on the built image must carry ON_THE_CARD, or make test's other pytest builds the image too."""
    outside = [item.nodeid for item in items
               if "built" in getattr(item, "fixturenames", ()) and item.get_closest_marker("card") is None]
    if outside:
        raise pytest.UsageError("tests on the built image without ON_THE_CARD (tests/image/building.py): "
                                + ", ".join(outside))


@pytest.fixture
def cfg(tmp_path: Path) -> config_module.Config:
    path = tmp_path / "appliance.toml"
    path.write_text(config_module.dev_config_text(tmp_path), encoding="utf-8")
    return config_module.load(path)


@pytest.fixture
def store(cfg: config_module.Config) -> Iterator:
    db = open_and_migrate(cfg.paths.database)
    yield db
    db.close()


@pytest.fixture
def make_user(store) -> Callable[..., User]:
    def make(role: str = "admin", username: str | None = None, **fields) -> User:
        fields.setdefault("must_change_password", False)
        return create_user(system_actor("tests"), username=username or f"{role}1", first_name="Awa",
                           last_name="Traoré", role=role, password=PASSWORD, **fields)

    return make


@pytest.fixture
def app(cfg, store):
    from appliance.emr import create_app

    with hooks.installed_for(hooks.installed()):  # create_app installs the web's registry; put back the previous
        yield create_app(cfg, testing=True)


@pytest.fixture
def record_hooks() -> Iterator[hooks.Hooks]:
    """The record's hooks as the web composes them (a visit recomputes the follow-up lists)."""
    from appliance.wiring import record_hooks

    with hooks.installed_for(record_hooks()) as registry:
        yield registry


class WebClient:
    """A Flask test client that behaves like a browser with respect to CSRF tokens."""

    def __init__(self, client) -> None:
        self.raw = client
        self.token: str | None = None

    def get(self, url: str, **kwargs):
        response = self.raw.get(url, **kwargs)
        self._remember_token(response)
        return response

    def post(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        if self.token is None:
            self.get("/connexion")
        data.setdefault("csrf_token", self.token)
        response = self.raw.post(url, data=data, **kwargs)
        self._remember_token(response)
        follow, hops = response, 0
        while follow.status_code in (301, 302, 303) and follow.location.startswith("/") and hops < 3:
            follow, hops = self.get(follow.location), hops + 1  # as a browser would: new token
        return response

    def login(self, username: str, password: str = PASSWORD):
        return self.post("/connexion", {"username": username, "password": password})

    def _remember_token(self, response) -> None:
        if response.mimetype == "text/html":
            match = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', response.data)
            if match:
                self.token = match.group(1).decode()


@pytest.fixture
def client(app) -> WebClient:
    return WebClient(app.test_client())


@pytest.fixture
def login_as(app, make_user) -> Callable[[str], WebClient]:
    """``login_as("sage_femme")`` → a client logged in as a new user of that role."""

    def login(role: str, **fields) -> WebClient:
        user = make_user(role, **fields)
        web = WebClient(app.test_client())
        response = web.login(user.username)
        assert response.status_code == 302, response.data[:500]
        web.user = user
        return web

    return login


# --- Real server and real Chromium, for browser tests (marked slow) -------------------------

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(app):
    """The app served by waitress on a free loopback port, in a thread, as in production."""
    import threading

    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone_page(chromium):
    """A page the size of the clinic's cheap phones (360 px wide), in French."""
    context = chromium.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def click_and_wait(page, selector: str) -> None:
    """Clicks what navigates (a link, a form's button) and returns once the new page has loaded.

    A bare ``page.click`` may return before the navigation it starts (a loaded CPU): what is read next
    is then the page being left, or the new one half parsed."""
    with page.expect_navigation():
        page.click(selector)


def sign_in(page, base: str, username: str, password: str = PASSWORD, *, on_login_page: bool = False,
            wait_for_home: bool = False) -> None:
    """A staff member logs in through the real login page of a browser (Playwright) page.

    Returns once the page the login leads to has loaded. ``on_login_page``: the browser is there
    already (where an expired session sent it, its address saying where to go back), so it is not
    opened afresh. ``wait_for_home``: and that page is the home page."""
    if not on_login_page:
        page.goto(f"{base}/connexion")
    page.fill('[name="username"]', username)
    page.fill('[name="password"]', password)
    click_and_wait(page, "button[type=submit]")  # the page after the login, not the login page being left
    if wait_for_home:
        page.wait_for_url(f"{base}/")


def text_of(response) -> str:
    """The page as a person reads it: HTML entities (&#39; for the French apostrophe) decoded."""
    import html

    return html.unescape(response.get_data(as_text=True))
