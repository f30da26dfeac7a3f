"""Who may point a feed (or an outbound endpoint) somewhere: admins and holders of the dedicated
permission; Inventory managers (and Operations, for endpoints) keep pausing, resuming and running."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from common import roles
from conftest import make_user
from fulfillment.models import Endpoint
from inventory.models import FeedRun, WmsFeed

pytestmark = pytest.mark.django_db

FEEDS = "/admin/inventory/wmsfeed/"
SECRET_VALUE = "sup3r-s3cret-token-value"


def staff(username: str, *role_names: str, perms: tuple[str, ...] = ()) -> Client:
    user = make_user(username, *role_names)
    user.is_staff = True
    user.save()
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    c = Client()
    c.force_login(user)
    return c


def superuser() -> Client:
    c = Client()
    c.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return c


@pytest.fixture
def feed(tmp_path, settings, dc) -> WmsFeed:
    settings.DOM_FEED_ROOT = str(tmp_path)
    (tmp_path / "east").mkdir()
    return WmsFeed.objects.create(
        name="east",
        format=WmsFeed.Format.CSV_SNAPSHOT,
        transport=WmsFeed.Transport.DIRECTORY,
        directory="east",
        secret_env="DOM_FEED_EAST_TOKEN",
        location_map={},
        default_location=dc,
    )


def form(feed: WmsFeed, **changes) -> dict:
    data = {
        "name": feed.name,
        "format": feed.format,
        "is_active": "on" if feed.is_active else "",
        "every_minutes": str(feed.every_minutes),
        "transport": feed.transport,
        "directory": feed.directory,
        "url": feed.url,
        "auth": feed.auth,
        "secret_env": feed.secret_env,
        "location_map": "{}",
        "default_location": str(feed.default_location_id or ""),
        "_save": "Save",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


HOSTILE = {
    "transport": "http_pull",
    "url": "https://attacker.example.com/collect",
    "directory": "/etc",
    "secret_env": "SECRET_KEY",
    "auth": "hmac",
}


def test_an_inventory_manager_cannot_change_where_a_feed_reads_or_its_secret(feed):
    c = staff("inv", roles.INVENTORY_MANAGER)
    page = c.get(f"{FEEDS}{feed.pk}/change/").content.decode()
    for field in ("transport", "directory", "url", "auth", "secret_env"):
        assert f'name="{field}"' not in page
    resp = c.post(f"{FEEDS}{feed.pk}/change/", form(feed, every_minutes="5", **HOSTILE))
    assert resp.status_code == 302
    feed.refresh_from_db()
    assert feed.every_minutes == 5  # what the role may change, it changes
    assert (feed.transport, feed.url, feed.directory, feed.secret_env, feed.auth) == (
        "directory",
        "",
        "east",
        "DOM_FEED_EAST_TOKEN",
        "token",
    )


def test_an_inventory_manager_cannot_add_a_feed(feed):
    c = staff("inv", roles.INVENTORY_MANAGER)
    assert c.get(f"{FEEDS}add/").status_code == 403
    assert c.post(f"{FEEDS}add/", form(feed, name="new", **HOSTILE)).status_code == 403
    assert list(WmsFeed.objects.values_list("name", flat=True)) == ["east"]


def test_an_inventory_manager_pauses_resumes_and_runs_a_feed(
    feed, tmp_path, product, django_capture_on_commit_callbacks
):
    c = staff("inv", roles.INVENTORY_MANAGER)
    act = {"_selected_action": [str(feed.pk)], "index": "0"}
    assert c.post(FEEDS, {**act, "action": "feeds_pause"}).status_code == 302
    feed.refresh_from_db()
    assert not feed.is_active
    assert c.post(FEEDS, {**act, "action": "feeds_resume"}).status_code == 302
    feed.refresh_from_db()
    assert feed.is_active
    (tmp_path / "east" / "s.csv").write_text("sku,location,on_hand\nSKU-A,DC-EAST,4\n")
    with django_capture_on_commit_callbacks(execute=True):
        assert c.post(FEEDS, {**act, "action": "feeds_run_now"}).status_code == 302
    assert FeedRun.objects.get(feed=feed).status == FeedRun.Status.SUCCEEDED
    assert c.get("/admin/inventory/feedrun/").status_code == 200


@pytest.mark.parametrize("who", ["admin", "holder"])
def test_admins_and_holders_of_the_permission_configure_feeds_within_the_rules(feed, who):
    c = superuser() if who == "admin" else staff("cfg", roles.INVENTORY_MANAGER, perms=("inventory.configure_wmsfeed",))
    assert c.get(f"{FEEDS}add/").status_code == 200
    resp = c.post(f"{FEEDS}{feed.pk}/change/", form(feed, secret_env="SECRET_KEY"))
    assert resp.status_code == 200 and "DOM_FEED_" in resp.content.decode()
    resp = c.post(f"{FEEDS}{feed.pk}/change/", form(feed, directory="/etc"))
    assert resp.status_code == 200 and "feed root" in resp.content.decode()
    feed.refresh_from_db()
    assert (feed.secret_env, feed.directory) == ("DOM_FEED_EAST_TOKEN", "east")
    resp = c.post(f"{FEEDS}{feed.pk}/change/", form(feed, secret_env="DOM_FEED_EAST_V2"))
    assert resp.status_code == 302
    feed.refresh_from_db()
    assert feed.secret_env == "DOM_FEED_EAST_V2"


def test_no_role_is_granted_the_configure_permissions(db):
    for name in roles.ALL_ROLES:
        codenames = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert not codenames & {"configure_wmsfeed", "configure_endpoint"}, name


def test_the_secret_value_is_never_on_an_admin_page(feed, monkeypatch):
    monkeypatch.setenv("DOM_FEED_EAST_TOKEN", SECRET_VALUE)
    for c in (superuser(), staff("inv", roles.INVENTORY_MANAGER)):
        for url in (FEEDS, f"{FEEDS}{feed.pk}/change/"):
            resp = c.get(url)
            assert resp.status_code == 200 and SECRET_VALUE not in resp.content.decode()


# --- Outbound endpoints (fulfillment) --------------------------------------------------------------------

ENDPOINTS = "/admin/fulfillment/endpoint/"


@pytest.fixture
def endpoint(dc) -> Endpoint:
    return Endpoint.objects.create(location=dc, url="https://3pl.example.com/orders", token_env="DOM_ENDPOINT_3PL")


def test_operations_cannot_repoint_an_endpoint_but_can_pause_it(endpoint, monkeypatch):
    monkeypatch.setenv("DOM_ENDPOINT_3PL", SECRET_VALUE)
    c = staff("ops", roles.OPERATIONS)
    page = c.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert 'name="url"' not in page and 'name="token_env"' not in page and SECRET_VALUE not in page
    data = {"location": str(endpoint.location_id), "url": "https://attacker.example.com/", "token_env": "SECRET_KEY"}
    resp = c.post(f"{ENDPOINTS}{endpoint.pk}/change/", {**data, "_save": "Save"})  # is_active unticked
    assert resp.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert (endpoint.url, endpoint.token_env) == ("https://3pl.example.com/orders", "DOM_ENDPOINT_3PL")
    assert c.get(f"{ENDPOINTS}add/").status_code == 403


def test_an_admin_cannot_point_an_endpoint_at_a_server_secret_or_private_address(endpoint, settings):
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False
    c = superuser()
    base = {"location": str(endpoint.location_id), "is_active": "on", "_save": "Save"}
    for url, token in (
        ("https://3pl.example.com/orders", "SECRET_KEY"),
        ("https://169.254.169.254/latest/", "DOM_ENDPOINT_3PL"),
        ("file:///etc/cron.d", "DOM_ENDPOINT_3PL"),
    ):
        resp = c.post(f"{ENDPOINTS}{endpoint.pk}/change/", {**base, "url": url, "token_env": token})
        assert resp.status_code == 200, url
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.token_env) == ("https://3pl.example.com/orders", "DOM_ENDPOINT_3PL")
