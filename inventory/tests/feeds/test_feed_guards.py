"""A feed's configuration cannot reach the server's secrets, network or files: checked when the row is
saved and again when the worker uses it (rows written around the forms included)."""

import json

import pytest
from django.core.exceptions import ValidationError

from common.tests.httpserver import Route, http_server
from inventory.feeds import wms_feed_run
from inventory.models import FeedRun, StockLevel, WmsFeed
from inventory.tests.feeds.test_wms_events import body_and_headers, ev

pytestmark = pytest.mark.django_db

SERVER_SECRET = "the-django-secret-key-value"


def pull_feed(url: str, **kw) -> WmsFeed:
    return WmsFeed.objects.create(
        name="pull",
        format=WmsFeed.Format.CSV_SNAPSHOT,
        transport=WmsFeed.Transport.HTTP_PULL,
        url=url,
        location_map={"MEM-A": "DC-EAST"},
        **kw,
    )


@pytest.fixture
def strict(settings):
    settings.DOM_OUTBOUND_ALLOW_HTTP = False
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False
    return settings


# --- 1. Credentials --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "dom_feed_x", "DOM_FEED_", "DOM_FEEDX", "PATH"])
def test_a_secret_variable_outside_the_allow_list_is_refused_on_save(name, dc):
    feed = WmsFeed(name="f", format="csv_snapshot", transport="http_push", secret_env=name)
    with pytest.raises(ValidationError) as exc:
        feed.full_clean()
    assert "DOM_FEED_" in str(exc.value)
    WmsFeed(name="g", format="csv_snapshot", transport="http_push", secret_env="DOM_FEED_EAST_TOKEN").full_clean()


def test_the_prefix_is_a_setting(settings, dc):
    settings.DOM_FEED_SECRET_PREFIX = "WMS_"
    WmsFeed(name="f", format="csv_snapshot", transport="http_push", secret_env="WMS_EAST").full_clean()
    with pytest.raises(ValidationError):
        WmsFeed(name="g", format="csv_snapshot", transport="http_push", secret_env="DOM_FEED_EAST").full_clean()


def test_a_pull_never_sends_a_server_secret_even_when_the_row_was_written_around_the_form(monkeypatch, product, dc):
    monkeypatch.setenv("SECRET_KEY", SERVER_SECRET)
    with http_server({"/stock.csv": Route(body=b"sku,location,on_hand\nSKU-A,MEM-A,5\n")}) as srv:
        feed = pull_feed(f"{srv.url}/stock.csv")
        WmsFeed.objects.filter(pk=feed.pk).update(secret_env="SECRET_KEY")  # e.g. SQL, a fixture
        [run] = wms_feed_run(feed_id=feed.pk)
        assert run.status == FeedRun.Status.FAILED and "DOM_FEED_" in run.message
        assert srv.requests == []
    assert SERVER_SECRET not in run.message and not StockLevel.objects.exists()


def test_a_push_is_not_checked_against_a_server_secret(monkeypatch, settings, product, dc):
    from conftest import api_for

    monkeypatch.setenv("SECRET_KEY", SERVER_SECRET)
    WmsFeed.objects.create(name="edison", format="json_events", transport="http_push", location_map={"EDI1": "DC-EAST"})
    WmsFeed.objects.filter(name="edison").update(secret_env="SECRET_KEY")
    for secret in (SERVER_SECRET, settings.SECRET_KEY):
        body, headers = body_and_headers([ev(1)], secret)
        resp = api_for(None).post("/api/v1/wms/edison/events", body, content_type="application/json", **headers)
        assert resp.status_code == 403 and SERVER_SECRET not in resp.content.decode()
    assert not StockLevel.objects.exists()


# --- 2. Pull URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/stock.csv",
        "https://127.0.0.1:{port}/stock.csv",
        "https://localhost:{port}/stock.csv",
        "https://10.0.0.5/stock.csv",
        "https://169.254.169.254/latest/meta-data/",
        "http://wms.example.com/stock.csv",
    ],
)
def test_a_pull_to_a_private_address_or_plain_http_is_refused_on_save_and_at_run_time(strict, url, product, dc):
    with http_server({"/stock.csv": Route(body=b"sku,location,on_hand\nSKU-A,MEM-A,5\n")}) as srv:
        url = url.format(port=srv.port)
        if "localhost" not in url:  # a name is only checked when resolved, at run time
            with pytest.raises(ValidationError):
                WmsFeed(name="f", format="csv_snapshot", transport="http_pull", url=url).full_clean()
        feed = pull_feed(url)
        [run] = wms_feed_run(feed_id=feed.pk)
        assert run.status == FeedRun.Status.FAILED and "not allowed" in run.message
        assert srv.requests == []
    assert not StockLevel.objects.exists()


def test_an_oversized_pull_is_refused_with_a_clear_run_error(settings, product, dc):
    settings.DOM_OUTBOUND_MAX_BYTES = 1000
    body = b"sku,location,on_hand\n" + b"SKU-A,MEM-A,5\n" * 200
    with http_server({"/stock.csv": Route(body=body, send_length=False)}) as srv:
        feed = pull_feed(f"{srv.url}/stock.csv")
        [run] = wms_feed_run(feed_id=feed.pk)
    assert run.status == FeedRun.Status.FAILED and "1,000-byte limit" in run.message
    assert not StockLevel.objects.exists()


# --- 3. Directory feeds ----------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path, settings):
    """A feed root with an inbox, and a folder beside it (outside the root) holding a server file."""
    (tmp_path / "root" / "east").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.csv").write_text("root:x:0:0:" + "S" * 500 + "\nSKU-A,MEM-A,5\n")
    settings.DOM_FEED_ROOT = str(tmp_path / "root")
    return tmp_path


def dir_feed(directory: str) -> WmsFeed:
    return WmsFeed.objects.create(
        name="dir", format="csv_snapshot", transport="directory", directory=directory, location_map={}
    )


def _outside_untouched(root) -> None:
    assert sorted(p.name for p in (root / "outside").iterdir()) == ["passwd.csv"]


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
def test_a_directory_outside_the_root_is_refused_on_save_and_never_read_or_moved(root, kind, product, dc):
    if kind == "absolute":
        directory = str(root / "outside")
    elif kind == "dotdot":
        directory = "east/../../outside"
    else:
        (root / "root" / "link").symlink_to(root / "outside", target_is_directory=True)
        directory = "link"
    with pytest.raises(ValidationError):
        WmsFeed(name="f", format="csv_snapshot", transport="directory", directory=directory).full_clean()
    feed = dir_feed(directory)
    [run] = wms_feed_run(feed_id=feed.pk)
    assert run.status == FeedRun.Status.FAILED and "refused" in run.message
    assert "SSSS" not in run.message and "root:x" not in run.message
    _outside_untouched(root)
    assert not StockLevel.objects.exists()


def test_inside_the_root_relative_and_absolute_folders_work(root, product, dc):
    (root / "root" / "east" / "s.csv").write_text("sku,location,on_hand\nSKU-A,DC-EAST,4\n")
    WmsFeed(name="f", format="csv_snapshot", transport="directory", directory="east").full_clean()
    WmsFeed(name="g", format="csv_snapshot", transport="directory", directory=str(root / "root" / "east")).full_clean()
    [run] = wms_feed_run(feed_id=dir_feed("east").pk)
    assert run.status == FeedRun.Status.SUCCEEDED
    assert (root / "root" / "east" / "archive" / "s.csv").exists()


def test_a_symlinked_file_in_the_inbox_is_not_read_and_a_symlinked_archive_not_written(root, product, dc):
    inbox = root / "root" / "east"
    (inbox / "evil.csv").symlink_to(root / "outside" / "passwd.csv")
    assert wms_feed_run(feed_id=dir_feed("east").pk) == []
    assert (inbox / "evil.csv").is_symlink()
    _outside_untouched(root)
    # An archive folder that leads outside: the file is applied but not moved out of the root.
    (inbox / "archive").symlink_to(root / "outside", target_is_directory=True)
    (inbox / "s.csv").write_text("sku,location,on_hand\nSKU-A,DC-EAST,4\n")
    applied, refused = wms_feed_run(feed_id=WmsFeed.objects.get(name="dir").pk)
    assert applied.status == FeedRun.Status.SUCCEEDED
    assert refused.status == FeedRun.Status.FAILED and "outside the feed root" in refused.message
    assert (inbox / "s.csv").exists()
    _outside_untouched(root)


def test_a_run_quotes_at_most_a_truncated_row_of_an_unknown_file(root, product, dc):
    inbox = root / "root" / "east"
    (inbox / "notes.csv").write_text("root:x:0:0:" + "S" * 5000 + "\n" + "T" * 5000 + "\n")
    [run] = wms_feed_run(feed_id=dir_feed("east").pk)
    assert run.status == FeedRun.Status.REJECTED
    stored = run.message + json.dumps(run.report)
    assert "S" * 101 not in stored and "T" * 20 not in stored
    assert len(run.message) <= 300


# --- 5. Existing rows -------------------------------------------------------------------------------------


def test_the_migration_fails_closed_on_secret_variables_outside_the_allow_list(dc):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("inventory.migrations.0009_wmsfeed_secret_env_allow_list")
    make = WmsFeed.objects.create
    push = make(name="push", format="json_events", transport="http_push", secret_env="SECRET_KEY")
    pull = make(name="pull", format="csv_snapshot", transport="http_pull", url="https://wms.example.com/s.csv")
    WmsFeed.objects.filter(pk=pull.pk).update(secret_env="AWS_SECRET_ACCESS_KEY")
    fine = make(name="fine", format="json_events", transport="http_push", secret_env="DOM_FEED_FINE")
    migration.forwards(apps, None)
    push.refresh_from_db(), pull.refresh_from_db(), fine.refresh_from_db()
    assert (push.secret_env, push.is_active) == ("", True)  # a push is then refused: no secret
    assert (pull.secret_env, pull.is_active) == ("", False)  # a pull does not go out without its secret
    assert (fine.secret_env, fine.is_active) == ("DOM_FEED_FINE", True)
