"""Stock rows stay laid out by product: the loaders write them so, and `cluster_stock` restores it."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from common.bulk import rows_insert
from inventory.maintenance import stock_layout, stock_table_cluster
from inventory.models import InventoryMovement, Location, Product, StockLevel
from inventory.services import stock_merge_staged
from inventory.tests.helpers import assert_ledger_matches_levels, stage_rows

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="heap pages are PostgreSQL's")

N_LOCATIONS, N_PRODUCTS = 30, 40


def _world() -> tuple[list[int], list[int]]:
    locations = Location.objects.bulk_create(
        Location(code=f"L{i:03d}", name=f"L{i}", kind="store", postal_code="10001") for i in range(N_LOCATIONS)
    )
    products = Product.objects.bulk_create(Product(sku=f"P{i:03d}", name=f"P{i}") for i in range(N_PRODUCTS))
    return [p.pk for p in products], [loc.pk for loc in locations]


def _location_major(products: list[int], locations: list[int]) -> list[tuple[int, int]]:
    # As a location-by-location file or WMS feed arrives: one product's rows are spread over the whole table.
    return [(p, loc) for loc in locations for p in products]


def _scattered_stock() -> None:
    """Stock written straight to the table in arrival order, as the loaders before this change left it."""
    products, locations = _world()
    now = timezone.now()
    rows_insert(
        table=StockLevel._meta.db_table,
        columns=["product_id", "location_id", "on_hand", "reserved", "updated_at"],
        rows=[(p, loc, 9, (p + loc) % 3, now) for p, loc in _location_major(products, locations)],
    )


def _stock_snapshot() -> set[tuple]:
    return set(StockLevel.objects.values_list("product_id", "location_id", "on_hand", "reserved"))


@on_postgres
def test_the_staged_merge_writes_new_rows_in_product_order(db):
    products, locations = _world()
    pairs = _location_major(products, locations)
    with transaction.atomic():
        stage_rows("t_layout", [(i, p, loc, 5 + i % 7) for i, (p, loc) in enumerate(pairs)])
        stock_merge_staged(table="t_layout", reason="import")
    layout = stock_layout()
    assert layout.rows == N_LOCATIONS * N_PRODUCTS and layout.products == N_PRODUCTS
    # 30 rows of a product fit on one or two pages; in arrival order they would sit on ~20 pages each.
    assert layout.pages_per_product <= 2, layout
    assert_ledger_matches_levels()


@pytest.mark.django_db(transaction=True)
@on_postgres
def test_cluster_stock_lays_scattered_rows_out_by_product_and_changes_no_figure():
    _scattered_stock()
    scattered = stock_layout()
    assert scattered.pages_per_product > 10, scattered
    before_rows = _stock_snapshot()

    before, after = stock_table_cluster()

    assert before == scattered
    assert after.pages_per_product <= 2, after
    assert after.rows == before.rows
    assert _stock_snapshot() == before_rows


@pytest.mark.django_db(transaction=True)
@on_postgres
def test_cluster_stock_command_reports_before_and_after_and_check_changes_nothing():
    _scattered_stock()
    out = StringIO()
    call_command("cluster_stock", "--check", stdout=out)
    checked = json.loads(out.getvalue())
    assert set(checked) == {"before"} and checked["before"]["pages_per_product"] > 10
    assert stock_layout().pages_per_product > 10  # --check rewrote nothing

    out = StringIO()
    call_command("cluster_stock", stdout=out)
    report = json.loads(out.getvalue())
    assert report["before"]["pages_per_product"] > 10
    assert report["after"]["pages_per_product"] <= 2
    assert report["after"]["rows"] == N_LOCATIONS * N_PRODUCTS


@on_postgres
def test_cluster_stock_refuses_to_run_inside_a_transaction(db):
    with pytest.raises(RuntimeError, match="must not run inside a transaction"):
        stock_table_cluster()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite answer")
def test_cluster_stock_on_sqlite_says_there_is_nothing_to_do(db):
    assert stock_layout() is None
    assert stock_table_cluster() == (None, None)
    out = StringIO()
    call_command("cluster_stock", stdout=out)
    assert "Nothing to do" in out.getvalue()


def test_the_demo_seed_writes_stock_in_product_order(db):
    from bench.demo import demo_seed

    demo_seed(scale="small")
    seen = list(StockLevel.objects.order_by("id").values_list("product_id", "location_id"))
    assert seen and seen == sorted(seen)
    assert InventoryMovement.objects.count() >= len(seen)
