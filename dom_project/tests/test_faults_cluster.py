"""A django-q2 cluster killed with SIGKILL in the middle of a routing batch, a stock import and a WMS feed
run: after the kill nothing of the interrupted transaction is left, and after a restart django-q2 hands the
task out again and it completes exactly once.

On PostgreSQL the kill is deterministic: another connection holds one row the job must update, the worker
blocks on it in the middle of its transaction (pg_stat_activity shows it waiting), and only then is the
cluster killed. SQLite has no row locks: the cluster is killed as soon as the job is seen under way.
Both clusters run with Q_TIMEOUT/Q_RETRY of a few seconds so the redelivery comes within the test.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.db.models import Count, F, Sum
from django_q.models import OrmQ
from django_q.tasks import async_task

from conftest import database_url_for_tests, wait_for
from fulfillment.models import FulfillmentOrder
from inventory.imports import stock_import_create
from inventory.models import FeedRun, InventoryMovement, Product, ReservationLine, StockImport, StockLevel, WmsFeed
from inventory.selectors import stock_ledger_mismatches
from inventory.services import stock_receive
from orders.models import Order
from routing.models import RoutingDecision
from routing.tests.helpers import make_order

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
BASE_DIR = Path(__file__).resolve().parents[2]
Q_TIMEOUT, Q_RETRY = 12, 14


@contextmanager
def cluster(log: Path, *, media: Path | None = None):
    """`manage.py qcluster` in its own process group (so SIGKILL takes the sentinel and its workers)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dom_project.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url_for_tests(),
        "Q_SYNC": "0",
        "Q_WORKERS": "1",
        "Q_TIMEOUT": str(Q_TIMEOUT),
        "Q_RETRY": str(Q_RETRY),
    }
    if media is not None:
        env["MEDIA_ROOT"] = str(media)
    env.pop("REDIS_URL", None)
    with log.open("a") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    handle = {"proc": proc}
    try:
        yield handle
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait(predicate, *, timeout: float, what: str, log: Path) -> None:
    """wait_for, and on a timeout the cluster's log (read then, not when the wait began)."""
    try:
        wait_for(predicate, timeout=timeout, what=what)
    except pytest.fail.Exception:
        pytest.fail(f"Timed out waiting for {what}; cluster log:\n{log.read_text()[-3000:]}")


def kill9(handle) -> None:
    proc = handle["proc"]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@contextmanager
def row_held(table: str, pk: int):
    """PostgreSQL: another connection locks one row (FOR UPDATE) until the block ends (then rolls back)."""
    s = connection.settings_dict
    dsn = f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} user={s['USER']} dbname={s['NAME']}"
    with psycopg.connect(dsn) as other:
        other.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [pk])
        yield
        other.rollback()


def kill_mid_job(handle, log: Path, *, table: str, pk: int) -> None:
    """Kill the cluster while its worker is inside the job's transaction, blocked on a write.

    PostgreSQL: hold row `pk` of `table` (one the job must update) until pg_stat_activity shows the worker
    waiting for it. SQLite: as soon as the task is taken from the queue, take the database's write lock
    (waiting for a transaction the worker may have under way to commit first); its next write blocks."""
    if connection.vendor == "postgresql":
        with row_held(table, pk):
            wait(worker_blocked_on_a_row_lock, timeout=120, what="the worker to block on the held row", log=log)
            kill9(handle)
        return
    locker = sqlite3.connect(connection.settings_dict["NAME"], timeout=120, isolation_level=None)
    try:
        deadline = time.monotonic() + 120
        while not OrmQ.objects.filter(lock__isnull=False).exists():
            assert time.monotonic() < deadline, f"the task was never taken; log:\n{log.read_text()[-3000:]}"
            time.sleep(0.01)
        locker.execute("BEGIN IMMEDIATE")
        time.sleep(1.0)  # the worker reaches its next write and waits for the lock
        kill9(handle)
        locker.execute("ROLLBACK")
    finally:
        locker.close()


def worker_blocked_on_a_row_lock() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cur.fetchone()[0] >= 1


def assert_stock_consistent() -> None:
    assert stock_ledger_mismatches() == []
    assert not StockLevel.objects.filter(reserved__gt=F("on_hand")).exists()
    open_by_level = {
        (r["product_id"], r["location_id"]): r["open"]
        for r in ReservationLine.objects.filter(reservation__status="active")
        .values("product_id", "location_id")
        .annotate(open=Sum(F("quantity") - F("quantity_closed")))
    }
    for level in StockLevel.objects.all():
        assert level.reserved == open_by_level.get((level.product_id, level.location_id), 0), level


def assert_routing_all_or_nothing(orders: list[Order]) -> int:
    """Each order is either fully routed (decision, fulfilment order, reservation for every unit) or untouched."""
    decided = set(RoutingDecision.objects.values_list("order_id", flat=True))
    fos = dict(FulfillmentOrder.objects.values_list("order_id").annotate(n=Count("id")))
    reserved = dict(
        ReservationLine.objects.filter(reservation__status="active", reservation__reference__startswith="order:")
        .values_list("reservation__reference")
        .annotate(q=Sum("quantity"))
    )
    statuses = dict(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "status"))
    for o in orders:
        if o.pk in decided:
            assert statuses[o.pk] == "routed" and fos.get(o.pk) == 1, o.pk
            assert reserved.get(f"order:{o.pk}") == 1, o.pk
        else:
            assert statuses[o.pk] == "validated" and o.pk not in fos and f"order:{o.pk}" not in reserved, o.pk
    assert_stock_consistent()
    return len(decided)


def test_worker_killed_during_a_routing_batch(tmp_path, web, dc, product, product_b):
    """route_pending routes 500 orders per transaction: the first batch commits, the cluster dies inside the
    second; after a restart the task is delivered again and routes the rest, each order exactly once."""
    stock_receive(product=product, location=dc, quantity=1000, reference="t")
    stock_receive(product=product_b, location=dc, quantity=100, reference="t")
    urgent = [make_order(channel=web, lines=[(product, 1)], priority=10) for _ in range(500)]
    later = [make_order(channel=web, lines=[(product_b, 1)]) for _ in range(20)]
    orders = urgent + later
    log = tmp_path / "cluster.log"
    with cluster(log) as first:
        async_task("routing.tasks.route_pending", sync=False)  # (tests run tasks inline by default)
        level_b = StockLevel.objects.get(product=product_b, location=dc)
        kill_mid_job(first, log, table="inventory_stocklevel", pk=level_b.pk)
    if connection.vendor == "postgresql":
        assert RoutingDecision.objects.count() == 500  # batch 1 committed; batch 2 died mid-transaction
    routed = assert_routing_all_or_nothing(orders)
    assert routed < len(orders), "the kill came too late to interrupt anything"
    assert OrmQ.objects.count() == 1  # the task is still owed
    with cluster(log):
        wait(
            lambda: not Order.objects.filter(status="validated").exists(),
            timeout=Q_RETRY + 90,
            what="the redelivered task to finish",
            log=log,
        )
        wait_for(lambda: not OrmQ.objects.exists(), timeout=30, what="the task to be acknowledged")
    assert assert_routing_all_or_nothing(orders) == len(orders)
    assert RoutingDecision.objects.count() == len(orders)  # one decision each: nothing routed twice


def _snapshot_csv(products, locations) -> str:
    rows = [f"{p.sku},{loc.code},{(i % 9) + 1}" for i, p in enumerate(products) for loc in locations]
    return "sku,location,on_hand\n" + "\n".join(rows) + "\n"


def test_worker_killed_during_a_stock_import(tmp_path, settings, dc, dc_west):
    settings.MEDIA_ROOT = tmp_path / "media"
    products = Product.objects.bulk_create([Product(sku=f"IMP-{i:04d}", name="i") for i in range(500)])
    stock_receive(product=products[-1], location=dc_west, quantity=50, reference="before")
    from io import BytesIO

    job = stock_import_create(
        fileobj=BytesIO(_snapshot_csv(products, [dc, dc_west]).encode()), name="snapshot.csv", mode="snapshot"
    )
    log = tmp_path / "cluster.log"
    with cluster(log, media=settings.MEDIA_ROOT) as first:
        async_task("inventory.tasks.stock_import_run", job.pk, sync=False)
        held = StockLevel.objects.get(product=products[-1], location=dc_west)
        kill_mid_job(first, log, table="inventory_stocklevel", pk=held.pk)
    # Nothing of the import: only the level that was there before, its one movement.
    assert StockLevel.objects.count() == 1 and StockLevel.objects.get().on_hand == 50
    assert InventoryMovement.objects.count() == 1
    assert StockImport.objects.get(pk=job.pk).status in ("pending", "running")
    with cluster(log, media=settings.MEDIA_ROOT):
        wait(
            lambda: StockImport.objects.filter(pk=job.pk, status="succeeded").exists(),
            timeout=Q_RETRY + 90,
            what="the redelivered import",
            log=log,
        )
    assert StockLevel.objects.count() == 1000
    assert StockLevel.objects.get(product=products[-1], location=dc_west).on_hand == ((499 % 9) + 1)
    # Each level changed once by the import (plus the one receipt before it).
    assert InventoryMovement.objects.filter(reference=f"import:{job.pk}").count() == 1000
    assert_stock_consistent()


def test_worker_killed_during_a_wms_feed_run(tmp_path, dc):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    feed = WmsFeed.objects.create(
        name="east",
        format=WmsFeed.Format.CSV_SNAPSHOT,
        transport=WmsFeed.Transport.DIRECTORY,
        directory=str(inbox),
        location_map={},
    )
    products = Product.objects.bulk_create([Product(sku=f"FD-{i:04d}", name="f") for i in range(400)])
    stock_receive(product=products[-1], location=dc, quantity=7, reference="before")
    (inbox / "snap.csv").write_text(_snapshot_csv(products, [dc]))
    log = tmp_path / "cluster.log"
    with cluster(log) as first:
        async_task("inventory.tasks.wms_feed_run", feed.pk, sync=False)
        held = StockLevel.objects.get(product=products[-1], location=dc)
        kill_mid_job(first, log, table="inventory_stocklevel", pk=held.pk)
    assert not FeedRun.objects.filter(status="succeeded").exists()
    assert StockLevel.objects.count() == 1 and StockLevel.objects.get().on_hand == 7
    assert InventoryMovement.objects.count() == 1
    assert (inbox / "snap.csv").exists()
    with cluster(log):
        wait(
            lambda: FeedRun.objects.filter(feed=feed, status="succeeded").exists() and not OrmQ.objects.exists(),
            timeout=Q_RETRY + 90,
            what="the redelivered feed run",
            log=log,
        )
    assert FeedRun.objects.filter(feed=feed, status="succeeded").count() == 1  # applied once
    assert StockLevel.objects.count() == 400
    assert StockLevel.objects.get(product=products[-1], location=dc).on_hand == (399 % 9) + 1
    assert (inbox / "archive" / "snap.csv").exists() and not (inbox / "snap.csv").exists()
    assert_stock_consistent()
