"""Hardening: the Content-Security-Policy, login throttling, rate-limited webhooks and feeds, the admin's
audit trail and the security settings of production."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone

from common import roles
from conftest import api_for, browser_login, make_user
from orders.models import Channel, Order

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # throttle counters live in the cache
    yield
    cache.clear()


# --- Content-Security-Policy ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_every_page_carries_a_strict_csp_with_a_fresh_nonce(client):
    client.force_login(make_user("o", roles.OPERATIONS))
    first = client.get("/")
    policy = first["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["default-src"] == "'self'"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["script-src"] == directives["style-src"] == "'self'"  # no inline code on this page
    # A page with an inline block gets a nonce in the header, a different one on every response.
    docs = [client.get("/api/docs/") for _ in range(2)]
    nonces = [d.wsgi_request.csp_nonce for d in docs]
    assert nonces[0] != nonces[1]
    for d, n in zip(docs, nonces, strict=True):
        assert f"style-src 'self' 'nonce-{n}'" in d["Content-Security-Policy"]
    # htmx is told not to inject its inline indicator <style>, and the page has no inline handlers.
    body = first.content.decode()
    assert '"includeIndicatorStyles": false' in body
    assert " style=" not in body and "onchange=" not in body and "onclick=" not in body


@pytest.mark.django_db
def test_swagger_ui_is_the_split_view_with_no_unnonced_inline_code(client):
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    nonce = r.wsgi_request.csp_nonce
    assert f'<style nonce="{nonce}">' in html
    assert "<script>" not in html, "inline scripts are blocked by the CSP; the split view loads a URL"
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in script.content


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_and_the_admin_work_under_the_csp_in_a_browser(page):
    # The `page` fixture fails the test on any CSP violation the browser reports.
    page.goto("/api/docs/")
    page.wait_for_selector("text=/api/v1/availability/")
    User.objects.create_superuser("root", "root@example.com", "pw-for-tests")
    browser_login(page, "root")
    page.goto("/admin/routing/rulesetversion/")
    page.wait_for_selector("#changelist")
    page.goto("/admin/admin/logentry/")
    page.wait_for_selector("#changelist")


# --- Login throttling (django-axes) -------------------------------------------------------------------------
def _login(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_five_wrong_passwords_lock_that_user_from_that_address_for_a_while(client):
    make_user("alice", roles.OPERATIONS)
    make_user("bob", roles.OPERATIONS)
    for _ in range(4):
        assert _login(client, "alice", "wrong").status_code == 200  # the form again, with an error
    assert _login(client, "alice", "wrong").status_code == 429  # the fifth failure locks the pair out
    locked = _login(client, "alice", "pw-for-tests")
    assert locked.status_code == 429, "the right password is refused while locked out"
    assert "_auth_user_id" not in client.session
    # Another user from the same address, and the same user from elsewhere, are not affected.
    assert _login(client, "bob", "pw-for-tests").status_code == 302
    client.logout()
    assert _login(client, "alice", "pw-for-tests", ip="10.0.0.2").status_code == 302
    client.logout()
    # The lock-out ends after the cool-off time.
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert _login(client, "alice", "pw-for-tests").status_code == 302


@pytest.mark.django_db
def test_client_address_behind_a_trusted_proxy_is_read_from_x_forwarded_for(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    make_user("carol", roles.OPERATIONS)
    for _ in range(5):
        client.post(
            "/login/", {"username": "carol", "password": "x"}, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.2.3.4"
        )
    # Same proxy, another client address: not locked. The first client: locked.
    ok = client.post(
        "/login/",
        {"username": "carol", "password": "pw-for-tests"},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="5.6.7.8",
    )
    assert ok.status_code == 302
    client.logout()
    spoofed = client.post(
        "/login/",
        {"username": "carol", "password": "pw-for-tests"},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="9.9.9.9, 1.2.3.4",  # a client-supplied left part does not escape the lock
    )
    assert spoofed.status_code == 429


# --- Rate limits on webhooks and feeds ---------------------------------------------------------------------
def _shopify_post(client, channel: Channel, n: int):
    body = json.dumps({"id": n}).encode()
    sig = base64.b64encode(hmac.new(channel.webhook_secret.encode(), body, hashlib.sha256).digest()).decode()
    return client.post(
        f"/api/v1/channels/{channel.code}/shopify/orders-create",
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=sig,
        HTTP_X_SHOPIFY_WEBHOOK_ID=f"w{n}",
    )


@pytest.mark.django_db
def test_webhook_endpoint_is_rate_limited_per_client(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "webhook": "3/min"},
    }
    channel = Channel.objects.create(code="shop", name="Shop", kind="web", webhook_secret="s3cret")
    codes = [_shopify_post(client, channel, n).status_code for n in range(4)]
    assert codes[:3] == [400, 400, 400]  # accepted for processing (and refused as an incomplete order)
    assert codes[3] == 429
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_feed_endpoints_are_rate_limited_per_client(settings, ops_user):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "feed": "2/min"},
    }
    api = api_for(ops_user)
    other = api_for(make_user("ops2", roles.OPERATIONS))
    url = "/api/v1/purchase-orders/confirmations.csv"
    codes = [api.post(url, "purchase_order,tracking_number\n", content_type="text/csv").status_code for _ in range(3)]
    assert codes[2] == 429 and 429 not in codes[:2]
    assert other.post(url, "purchase_order,tracking_number\n", content_type="text/csv").status_code != 429


# --- Audit: admin changes and rule publishing, visible in the admin ----------------------------------------
@pytest.mark.django_db
def test_admin_changes_and_rule_publishing_are_audited_and_visible_in_the_admin(client):
    from routing.models import RuleSetVersion

    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    published = RuleSetVersion.objects.get(rule_set__is_active=True, status="published")
    r = client.post(
        "/admin/routing/rulesetversion/",
        {"action": "copy_as_draft", "_selected_action": [published.pk]},
    )
    assert r.status_code == 302
    draft = RuleSetVersion.objects.get(rule_set=published.rule_set, status="draft")
    client.post("/admin/routing/rulesetversion/", {"action": "publish", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == "published"
    entries = LogEntry.objects.filter(object_id=str(draft.pk), user=root).order_by("action_time")
    assert [e.get_change_message() for e in entries] == [f"Copied from {published} as a draft.", "Published."]
    assert entries.last().action_flag == CHANGE
    # The object's History page and the site-wide list both show who did it.
    history = client.get(f"/admin/routing/rulesetversion/{draft.pk}/history/").content.decode()
    assert "Published." in history and "root" in history
    listing = client.get("/admin/admin/logentry/").content.decode()
    assert "Published." in listing
    # The history cannot be edited or deleted through the admin.
    entry = entries.last()
    assert client.post(f"/admin/admin/logentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_rule_changes_made_in_the_editor_are_audited_and_listed_in_the_admin(client, merch_user):
    from routing.editor.models import RuleSetEvent
    from routing.editor.services import rule_enable, ruleset_draft_create
    from routing.models import RuleSetVersion

    published = RuleSetVersion.objects.get(rule_set__is_active=True, status="published")
    draft = ruleset_draft_create(rule_set=published.rule_set, actor=merch_user, comment="peak prep")
    rule = draft.rules.first()
    rule_enable(rule=rule, enabled=False, actor=merch_user, comment="off for the peak")
    events = list(RuleSetEvent.objects.filter(rule_set=published.rule_set).order_by("id"))
    assert [(e.action, e.actor, e.comment) for e in events][-2:] == [
        ("draft_created", merch_user, "peak prep"),
        ("rule_disabled", merch_user, "off for the peak"),
    ]
    assert all(e.created_at for e in events)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    page = client.get("/admin/routing/rulesetevent/").content.decode()
    assert "off for the peak" in page and "merch" in page
    last = events[-1]
    assert client.post(f"/admin/routing/rulesetevent/{last.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RuleSetEvent.objects.filter(pk=last.pk).exists()


# --- Secrets and production settings -----------------------------------------------------------------------
def _production_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="dom_project.settings",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "a-very-long-and-random-production-secret-key-9f8e7d6c",
        ALLOWED_HOSTS="dom.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    env.update(extra)
    return env


def _settings_value(env: dict, expr: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings as s; print({expr})"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_secrets_come_only_from_the_environment(tmp_path):
    env = _production_env(tmp_path, SECRET_KEY="from-the-environment-" + "k" * 40)
    assert _settings_value(env, "s.SECRET_KEY") == "from-the-environment-" + "k" * 40
    # No secret-looking literal sits in the settings module (only env() reads and the DEBUG-only dev key).
    source = (BASE_DIR / "dom_project" / "settings.py").read_text()
    assert 'SECRET_KEY = env("SECRET_KEY", default="dev-insecure-key-change-me" if DEBUG else None)' in source
    for word in ("PASSWORD", "TOKEN", "API_KEY"):
        for line in source.splitlines():
            if word in line and "=" in line and not line.lstrip().startswith("#"):
                assert "env" in line or "VALIDATORS" in line or "AXES" in line, line


def test_production_settings_secure_cookies_hsts_and_throttle_cache(tmp_path):
    env = _production_env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")
    values = _settings_value(
        env,
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.SECURE_SSL_REDIRECT, "
        "s.CACHES['default']['BACKEND'], s.Q_CLUSTER.get('redis'), s.AUTHENTICATION_BACKENDS[0]",
    )
    assert values == (
        "True True True True django.core.cache.backends.redis.RedisCache redis://127.0.0.1:6379/0 "
        "axes.backends.AxesStandaloneBackend"
    )
