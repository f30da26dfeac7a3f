"""Shared fixtures: users per role, a tiny network, API clients, and a real django-q2 cluster."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from common import roles
from inventory.models import Location, Product
from orders.models import ApiClient, Channel

BASE_DIR = Path(__file__).resolve().parent


def make_user(username: str, *role_names: str, stores=()) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests", is_staff=False)
    for name in role_names:
        user.groups.add(Group.objects.get(name=name))
    for store in stores:
        store.staff.add(user)
    return user


@pytest.fixture
def web(db) -> Channel:
    return Channel.objects.create(code="web", name="Web", kind="web")


@pytest.fixture
def marketplace(db) -> Channel:
    return Channel.objects.create(code="mkt", name="Marketplace", kind="marketplace")


@pytest.fixture
def dc(db) -> Location:
    return Location.objects.create(
        code="DC-EAST",
        name="Edison DC",
        kind="warehouse",
        postal_code="08817",
        can_ship=True,
        handling_classes=["ambient", "chilled"],
        daily_capacity=1000,
    )


@pytest.fixture
def dc_west(db) -> Location:
    return Location.objects.create(
        code="DC-WEST",
        name="Ontario DC",
        kind="warehouse",
        postal_code="91761",
        can_ship=True,
        handling_classes=["ambient", "hazmat"],
        daily_capacity=1000,
    )


@pytest.fixture
def store(db) -> Location:
    return Location.objects.create(
        code="STORE-0001",
        name="Manhattan store",
        kind="store",
        postal_code="10001",
        can_ship=True,
        can_pickup=True,
        accepts_returns=True,
        daily_capacity=40,
    )


@pytest.fixture
def store_b(db) -> Location:
    return Location.objects.create(
        code="STORE-0002",
        name="Brooklyn store",
        kind="store",
        postal_code="11201",
        can_ship=True,
        can_pickup=True,
        accepts_returns=True,
        daily_capacity=40,
    )


@pytest.fixture
def product(db) -> Product:
    return Product.objects.create(sku="SKU-A", name="Widget", weight_grams=400)


@pytest.fixture
def product_b(db) -> Product:
    return Product.objects.create(sku="SKU-B", name="Gadget", weight_grams=900)


@pytest.fixture
def ops_user(db) -> User:
    return make_user("ops", roles.OPERATIONS)


@pytest.fixture
def inventory_user(db) -> User:
    return make_user("inv", roles.INVENTORY_MANAGER)


@pytest.fixture
def merch_user(db) -> User:
    return make_user("merch", roles.MERCHANDISER)


@pytest.fixture
def store_user(db, store) -> User:
    return make_user("clerk", roles.STORE_STAFF, stores=[store])


@pytest.fixture
def api_user(db, web) -> User:
    user = make_user("web-api", roles.API_CLIENT)
    ApiClient.objects.create(user=user, channel=web)
    return user


def api_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(api_user) -> APIClient:
    return api_for(api_user)


@pytest.fixture
def ops_api(ops_user) -> APIClient:
    return api_for(ops_user)


def database_url_for_tests() -> str:
    """A DATABASE_URL pointing at the test database, for subprocesses (qcluster, gunicorn)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def qcluster(transactional_db, monkeypatch):
    """A real django-q2 cluster (`manage.py qcluster`) on the test database, stopped after the test.

    Tasks enqueued by the test process go through the broker to that cluster: the test settings' inline
    (sync) mode is switched off for the duration of the test."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dom_project.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url_for_tests(),
        "Q_SYNC": "0",
        "Q_WORKERS": "1",
    }
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.25, what: str = "condition"):
    """Poll until predicate() is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout}s waiting for {what}.")


# --- Browser tests: Playwright for Python driving Debian's Chromium (never a downloaded browser) --------
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still
    # synchronous, so tell Django it may run them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium package (apt-get install chromium)."
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    # Every browser test also proves the Content-Security-Policy breaks nothing: Chromium reports each
    # blocked inline script, style or handler on the console, and any such report fails the test.
    csp_violations: list[str] = []
    pg.on(
        "console",
        lambda m: (
            csp_violations.append(f"{m.text} [at {m.location}, page {pg.url}]")
            if "Content Security Policy" in m.text
            else None
        ),
    )
    yield pg
    context.close()
    assert not csp_violations, f"Content-Security-Policy violations: {csp_violations}"


def browser_login(page, username: str, password: str = "pw-for-tests") -> None:
    """Sign in through the real login form."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def nav_click(page, label: str) -> None:
    """Follow a link of the main navigation: in the header on a wide screen, through the Menu on a phone."""
    menu = page.locator("header details.menu")
    if menu.is_visible() and menu.get_attribute("open") is None:
        menu.locator("summary").click()
    page.locator("header nav a:visible", has_text=label).first.click()
