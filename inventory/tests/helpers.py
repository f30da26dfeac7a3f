from django.db.models import Sum

from inventory.models import InventoryMovement, StockLevel
from inventory.services import StockChange, stock_apply_changes


def put_stock(product, location, on_hand: int) -> None:
    """Give a location stock through the service (so the ledger stays true)."""
    stock_apply_changes(changes=[StockChange(product.pk, location.pk, delta_on_hand=on_hand)], reason="receive")


def assert_ledger_matches_levels() -> None:
    """Invariant 2: summing movements per product × location gives every level."""
    sums = {
        (r["product_id"], r["location_id"]): (r["oh"], r["rs"])
        for r in InventoryMovement.objects.values("product_id", "location_id").annotate(
            oh=Sum("delta_on_hand"), rs=Sum("delta_reserved")
        )
    }
    keys = set()
    for level in StockLevel.objects.all():
        keys.add((level.product_id, level.location_id))
        assert sums.get((level.product_id, level.location_id), (0, 0)) == (level.on_hand, level.reserved), level
    assert all(v == (0, 0) or k in keys for k, v in sums.items())


def stage_rows(table: str, rows: list[tuple[int, int, int, int]]) -> None:
    """A temporary staging table (row_no, product_id, location_id, qty) for stock_merge_staged."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TEMP TABLE {table} (row_no bigint, product_id bigint, location_id bigint, qty integer)")
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", rows)
