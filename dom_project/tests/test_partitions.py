"""History tables partitioned by month (common.partitions, dom_project.partitions, the two migrations)."""

import gzip
from datetime import UTC, date, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from common.partitions import partition_name, partitioned_tables, partitions_of, table_is_partitioned
from dom_project.partitions import history_partitions_archive, history_partitions_ensure
from inventory.models import InventoryMovement
from inventory.selectors import stock_ledger_mismatches
from inventory.services import stock_adjust
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

LEDGER = "inventory_inventorymovement"
EVENTS = "orders_orderevent"


@pytest.fixture
def pg(db):
    if connection.vendor != "postgresql":
        pytest.skip("Declarative partitioning is PostgreSQL's: on SQLite the migrations leave the tables plain.")


def partition_of_row(*, table: str, pk: int) -> str:
    with connection.cursor() as cur:
        cur.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


def at(y: int, m: int, d: int):
    return time_machine.travel(datetime(y, m, d, 12, tzinfo=UTC), tick=False)


def test_ledger_and_order_events_are_partitioned_outbox_is_not(pg):
    assert dict(partitioned_tables()) == {LEDGER: "created_at", EVENTS: "created_at"}
    # Outbound events are referenced by deliveries and e-mails; a delivery's one-per-(event, subscription)
    # uniqueness would hold only within a month if deliveries were partitioned: both stay plain tables.
    assert not table_is_partitioned(table="webhooks_event")
    assert not table_is_partitioned(table="webhooks_delivery")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = %s::regclass AND i.indisprimary",
            [LEDGER],
        )
        assert cur.fetchone()[0] == ["created_at", "id"]


def test_ensure_creates_next_months_before_they_are_needed(pg, product, dc):
    with at(2029, 6, 20):
        assert date(2029, 8, 1) not in partitions_of(table=LEDGER)
        out = StringIO()
        call_command("partitions_ensure", "--months-ahead", "2", stdout=out)
        for table in (LEDGER, EVENTS):
            for month in (date(2029, 6, 1), date(2029, 7, 1), date(2029, 8, 1)):
                assert partition_name(table=table, month=month) in out.getvalue()
                assert month in partitions_of(table=table)
        assert history_partitions_ensure(months_ahead=2) == []  # idempotent
    with at(2029, 8, 3):
        put_stock(product, dc, 7)
    row = InventoryMovement.objects.get(product=product)
    assert row.created_at.date() == date(2029, 8, 3)
    assert partition_of_row(table=LEDGER, pk=row.pk) == f"{LEDGER}_p202908"
    assert stock_ledger_mismatches() == []


def test_rows_beyond_every_partition_land_in_default_and_move_when_their_month_is_created(pg, product, dc):
    with at(2031, 1, 9):
        put_stock(product, dc, 3)  # no partition for January 2031 yet
    row = InventoryMovement.objects.get(product=product)
    assert partition_of_row(table=LEDGER, pk=row.pk) == f"{LEDGER}_default"
    with at(2031, 1, 1):
        assert f"{LEDGER}_p203101" in history_partitions_ensure(months_ahead=0)
    assert partition_of_row(table=LEDGER, pk=row.pk) == f"{LEDGER}_p203101"
    assert InventoryMovement.objects.count() == 1


def test_archive_detaches_dumps_and_drops_old_months_and_the_ledger_still_sums(pg, product, dc, store, tmp_path):
    with at(2030, 1, 5):
        history_partitions_ensure(months_ahead=3)
        put_stock(product, dc, 10)
        put_stock(product, store, 4)
    with at(2030, 2, 11):
        stock_adjust(product=product, location=dc, delta=-3)
    with at(2030, 4, 2):
        stock_adjust(product=product, location=dc, delta=5)
    assert InventoryMovement.objects.count() == 4

    with at(2030, 4, 20):
        written = history_partitions_archive(older_than_months=1, dump_dir=tmp_path)
    names = {p.name for p in written}
    assert {f"{LEDGER}_p203001.csv.gz", f"{LEDGER}_p203002.csv.gz"} <= names
    assert f"{LEDGER}_p203003.csv.gz" not in names  # kept: this month and one full month before it
    months = partitions_of(table=LEDGER)
    assert date(2030, 1, 1) not in months and date(2030, 2, 1) not in months
    assert date(2030, 3, 1) in months and date(2030, 4, 1) in months
    with gzip.open(tmp_path / f"{LEDGER}_p203001.csv.gz", "rt") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 3  # header + the two receipts of January

    # The archived months' net effect is carried forward: the ledger still equals the levels.
    carried = InventoryMovement.objects.filter(reference__startswith="Carried forward")
    assert {(m.location_id, m.delta_on_hand) for m in carried} == {(dc.pk, 7), (store.pk, 4)}
    assert all(m.created_at == datetime(2030, 3, 1, tzinfo=UTC) for m in carried)
    assert stock_ledger_mismatches() == []
    assert_ledger_matches_levels()


def test_archive_keeps_at_least_a_month(pg, tmp_path):
    with pytest.raises(ValueError, match="at least one month"):
        history_partitions_archive(older_than_months=0, dump_dir=tmp_path)


@pytest.mark.django_db
def test_commands_do_nothing_where_tables_are_not_partitioned(tmp_path):
    if connection.vendor == "postgresql":
        pytest.skip("Covered above on PostgreSQL, where the tables are partitioned.")
    assert history_partitions_ensure(months_ahead=2) == []
    assert history_partitions_archive(older_than_months=3, dump_dir=tmp_path) == []


def test_schedules_keep_months_ahead_and_archive_only_with_a_retention(pg, settings, tmp_path):
    from django_q.models import Schedule

    from dom_project.tasks import partitions_archive_task, partitions_ensure_task

    call_command("setup_schedules", stdout=StringIO())
    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {"dom_project.tasks.partitions_ensure_task", "dom_project.tasks.partitions_archive_task"} <= funcs
    settings.DOM_PARTITION_ARCHIVE_DIR = str(tmp_path)
    with at(2032, 5, 2):
        assert partitions_ensure_task() == 2 * 3  # May, June, July of both tables
        settings.DOM_PARTITION_RETENTION_MONTHS = 0
        assert partitions_archive_task() == 0  # no retention set: nothing dropped
        settings.DOM_PARTITION_RETENTION_MONTHS = 1
        assert partitions_archive_task() > 0
    assert date(2032, 4, 1) not in partitions_of(table=LEDGER)  # never created, so nothing to keep
    assert date(2032, 5, 1) in partitions_of(table=LEDGER)
    assert not [m for m in partitions_of(table=EVENTS) if m < date(2032, 4, 1)]
