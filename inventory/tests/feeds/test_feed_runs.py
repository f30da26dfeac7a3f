"""Directory and HTTP-pull feeds, schedules, alerts, and a run killed half-way."""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from conftest import BASE_DIR, database_url_for_tests, wait_for
from inventory.feeds import wms_feed_run
from inventory.models import FeedRun, InventoryMovement, Location, Product, StockLevel, WmsFeed
from inventory.tests.helpers import assert_ledger_matches_levels


def on_hand(product, location) -> int:
    s = StockLevel.objects.filter(product=product, location=location).first()
    return s.on_hand if s else 0


def dir_feed(tmp_path, **kw) -> WmsFeed:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    defaults = dict(
        name="memphis",
        format=WmsFeed.Format.CSV_SNAPSHOT,
        transport=WmsFeed.Transport.DIRECTORY,
        directory=str(inbox),
        location_map={"MEM-A": "DC-EAST"},
        every_minutes=5,
    )
    defaults.update(kw)
    return WmsFeed.objects.create(**defaults)


@pytest.mark.django_db
def test_directory_feed_applies_maps_locations_and_archives(tmp_path, product, product_b, dc):
    feed = dir_feed(tmp_path)
    inbox = tmp_path / "inbox"
    (inbox / "001.csv").write_text("sku,location,on_hand\nSKU-A,MEM-A,12\nSKU-B,DC-EAST,3\n")
    [run] = wms_feed_run(feed_id=feed.pk)
    assert run.status == "succeeded", run.message
    assert (on_hand(product, dc), on_hand(product_b, dc)) == (12, 3)
    assert not (inbox / "001.csv").exists() and (inbox / "archive" / "001.csv").exists()
    assert InventoryMovement.objects.filter(reason="feed").count() == 2
    # The same content delivered again is recognised and not applied twice.
    (inbox / "002.csv").write_text("sku,location,on_hand\nSKU-A,MEM-A,12\nSKU-B,DC-EAST,3\n")
    StockLevel.objects.filter(product=product, location=dc).update(on_hand=12)  # unchanged anyway
    [again] = wms_feed_run(feed_id=feed.pk)
    assert again.pk == run.pk and FeedRun.objects.count() == 1
    assert (inbox / "archive" / "002.csv").exists()
    assert wms_feed_run(feed_id=feed.pk) == []  # nothing new


@pytest.mark.django_db
def test_a_bad_file_is_rejected_moved_aside_and_alerted(
    tmp_path, product, dc, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.INVENTORY_ALERT_EMAILS = ["stock@example.com"]
    feed = dir_feed(tmp_path, format=WmsFeed.Format.CSV_DELTA)
    inbox = tmp_path / "inbox"
    (inbox / "bad.csv").write_text("sku,location,delta\nSKU-A,MEM-A,2\nSKU-Z,MEM-A,1\n")
    with django_capture_on_commit_callbacks(execute=True):
        [run] = wms_feed_run(feed_id=feed.pk)
    assert run.status == "rejected" and run.rows_rejected == 1
    assert run.report["errors"][0] == {"row": 3, "column": "sku", "value": "SKU-Z", "reason": "unknown SKU"}
    assert on_hand(product, dc) == 0
    assert (inbox / "rejected" / "bad.csv").exists()
    [mail] = mailoutbox
    assert "memphis" in mail.subject and "unknown SKU" in mail.body


@pytest.mark.django_db
def test_json_events_file_in_a_directory(tmp_path, product, dc):
    feed = dir_feed(tmp_path, format=WmsFeed.Format.JSON_EVENTS)
    events = [{"id": "a", "sequence": 1, "sku": "SKU-A", "location": "MEM-A", "type": "set", "quantity": 9}]
    (tmp_path / "inbox" / "e.json").write_text(json.dumps({"events": events}))
    [run] = wms_feed_run(feed_id=feed.pk)
    assert run.status == "succeeded" and on_hand(product, dc) == 9


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    seen_auth: list = []

    def do_GET(self):  # noqa: N802
        _Handler.seen_auth.append(self.headers.get("Authorization"))
        if self.path != "/stock.csv":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_http_pull_feed(local_server, product, dc, monkeypatch):
    monkeypatch.setenv("DOM_FEED_PULL_SECRET", "pull-token")
    _Handler.body = b"sku,location,on_hand\r\nSKU-A,DC-EAST,21\r\n"
    feed = WmsFeed.objects.create(
        name="tpl",
        format=WmsFeed.Format.CSV_SNAPSHOT,
        transport=WmsFeed.Transport.HTTP_PULL,
        url=f"{local_server}/stock.csv",
        secret_env="DOM_FEED_PULL_SECRET",
    )
    [run] = wms_feed_run(feed_id=feed.pk)
    assert run.status == "succeeded" and on_hand(product, dc) == 21
    assert _Handler.seen_auth[-1] == "Bearer pull-token"
    [same] = wms_feed_run(feed_id=feed.pk)  # unchanged body: recognised, nothing new
    assert same.pk == run.pk
    feed.url = f"{local_server}/missing.csv"
    feed.save()
    [failed] = wms_feed_run(feed_id=feed.pk)
    assert failed.status == "failed" and "404" in failed.message


@pytest.mark.django_db
def test_setup_schedules_creates_one_schedule_per_active_feed_idempotently(tmp_path, dc):
    feed = dir_feed(tmp_path)
    WmsFeed.objects.create(
        name="pushed", format=WmsFeed.Format.JSON_EVENTS, transport=WmsFeed.Transport.HTTP_PUSH
    )  # pushes need no schedule
    call_command("setup_schedules")
    call_command("setup_schedules")
    [schedule] = Schedule.objects.filter(name__startswith="inventory: wms feed ")
    assert (schedule.name, schedule.func, schedule.minutes) == (
        "inventory: wms feed memphis",
        "inventory.tasks.wms_feed_run",
        5,
    )
    assert eval(schedule.args) == (feed.pk,)  # noqa: S307 - django-q literal_evals it the same way
    feed.is_active = False
    feed.save()
    call_command("setup_schedules")
    assert not Schedule.objects.filter(name__startswith="inventory: wms feed ").exists()


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_real_cluster_runs_a_scheduled_feed(qcluster, tmp_path, product, dc):
    feed = dir_feed(tmp_path)
    (tmp_path / "inbox" / "s.csv").write_text("sku,location,on_hand\nSKU-A,MEM-A,33\n")
    call_command("setup_schedules")
    Schedule.objects.filter(name=feed.schedule_name).update(next_run=timezone.now())
    wait_for(
        lambda: FeedRun.objects.filter(feed=feed, status="succeeded").exists(),
        timeout=90,
        what="the cluster to run the feed",
    )
    assert on_hand(product, dc) == 33
    wait_for((tmp_path / "inbox" / "archive" / "s.csv").exists, timeout=10, what="the archive")
    assert_ledger_matches_levels()


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_half_way_leaves_nothing_and_the_next_run_completes_it(tmp_path):
    """A worker process is killed in the middle of applying a feed file (blocked, on PostgreSQL, after it
    has written stock and ledger rows in its transaction); nothing of it stays, and the next run applies
    the file exactly once."""
    locations = [
        Location.objects.create(code=f"K-{i:03d}", name=f"K {i}", kind="store", postal_code="10001") for i in range(20)
    ]
    products = Product.objects.bulk_create([Product(sku=f"K-{i:04d}", name="k") for i in range(200)])
    feed = dir_feed(tmp_path, location_map={})
    lines = ["sku,location,on_hand"] + [
        f"{p.sku},{loc.code},{(i % 7) + 1}" for i, p in enumerate(products) for loc in locations
    ]
    (tmp_path / "inbox" / "big.csv").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dom_project.settings", "DEBUG": "1"}
    env["DATABASE_URL"] = database_url_for_tests()
    code = f"from inventory.feeds import wms_feed_run; wms_feed_run(feed_id={feed.pk})"
    if connection.vendor == "postgresql":
        # Hold the feed row: the worker stops at its last step (recording the run), after the merge.
        with connection.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT id FROM inventory_wmsfeed WHERE id = %s FOR UPDATE", [feed.pk])
        log = tmp_path / "worker.log"
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=BASE_DIR,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

        def _waiting_on_feed():
            if proc.poll() is not None:
                with connection.cursor() as cur:
                    cur.execute("COMMIT")
                pytest.fail(f"the worker ended early: {log.read_text()[-3000:]}")
            with connection.cursor() as cur:
                cur.execute("SELECT pg_stat_clear_snapshot()")  # activity is otherwise frozen per transaction
                cur.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                    ["%inventory_wmsfeed%"],
                )
                return cur.fetchone()[0] == 1

        wait_for(_waiting_on_feed, timeout=60, what="the worker to reach the end of its merge")
        with connection.cursor() as cur:  # the worker's uncommitted stock writes are there, invisible
            cur.execute("SELECT COUNT(*) FROM pg_locks WHERE relation = 'inventory_stocklevel'::regclass")
            assert cur.fetchone()[0] >= 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with connection.cursor() as cur:
            cur.execute("COMMIT")
    else:
        # SQLite has one writer: hold the write lock, let the worker start and block, then kill it.
        with connection.cursor() as cur:
            cur.execute("BEGIN IMMEDIATE")
        proc = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", code], cwd=BASE_DIR, env=env)
        time.sleep(4)
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with connection.cursor() as cur:
            cur.execute("COMMIT")
    assert not StockLevel.objects.exists()
    assert not InventoryMovement.objects.exists()
    assert not FeedRun.objects.exists()
    assert (tmp_path / "inbox" / "big.csv").exists()
    [run] = wms_feed_run(feed_id=feed.pk)
    assert run.status == "succeeded" and run.rows_applied == 4000
    assert StockLevel.objects.count() == 4000
    assert InventoryMovement.objects.count() == 4000
    assert_ledger_matches_levels()
