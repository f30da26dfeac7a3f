"""Physical upkeep of the stock table: keep each product's rows together on disk.

Every hot read of stock is by product: a cart's availability, the routing batch's candidates, a reservation's
lock. On PostgreSQL a product's rows (one per location holding it, ~70 in the benchmark world) cost one heap
page each when the table is laid out by location (as a location-by-location load leaves it), and two or three
when laid out by product. The table is larger than a small server's shared buffers, so pages that are not
there are read from the operating system: the difference was the whole tail of the 10-SKU availability call
(p99 5.6 → 3.4 ms, docs/scaling.md).

New rows are written in product order by the loaders (`stock_merge_staged`, `demo_seed`), and the table's
fillfactor (45) leaves room on each page for updates to stay there (HOT), so the layout lasts. Pairs added
one by one over time land at the end of the table; `stock_table_cluster` rewrites it in product order again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

STOCK_TABLE = "inventory_stocklevel"
# The unique (product, location) index: the order every hot read wants.
STOCK_CLUSTER_INDEX = "stock_unique_product_location"


@dataclass(frozen=True, slots=True)
class StockLayout:
    rows: int
    products: int
    pages_per_product: float  # mean heap pages holding one product's rows
    rows_per_product: float

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "products": self.products,
            "pages_per_product": round(self.pages_per_product, 2),
            "rows_per_product": round(self.rows_per_product, 2),
        }


def stock_layout() -> StockLayout | None:
    """How scattered each product's stock rows are on disk (PostgreSQL; None elsewhere). Scans the table."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        # ctid is (page, tuple); its page is the heap block a row lives in.
        cur.execute(
            "SELECT COALESCE(SUM(n), 0), COUNT(*), COALESCE(AVG(pages), 0), COALESCE(AVG(n), 0) FROM ("
            f" SELECT COUNT(*) AS n, COUNT(DISTINCT (ctid::text::point)[0]) AS pages FROM {STOCK_TABLE}"
            " GROUP BY product_id) per_product"
        )
        rows, products, pages, per = cur.fetchone()
    return StockLayout(
        rows=int(rows), products=int(products), pages_per_product=float(pages), rows_per_product=float(per)
    )


def stock_table_cluster() -> tuple[StockLayout | None, StockLayout | None]:
    """Rewrite the stock table in (product, location) order and refresh its statistics. Returns the layout
    before and after (None, None where the database has no such operation: SQLite keeps rows in id order).

    PostgreSQL's CLUSTER holds an exclusive lock on the table while it rewrites it (a few seconds for a
    million rows): reservations and reads wait meanwhile, so run it in a quiet hour, not from a request.
    """
    if connection.vendor != "postgresql":
        return None, None
    if connection.in_atomic_block:
        raise RuntimeError("stock_table_cluster must not run inside a transaction: it locks the whole table.")
    before = stock_layout()
    with connection.cursor() as cur:
        cur.execute(f"CLUSTER {STOCK_TABLE} USING {STOCK_CLUSTER_INDEX}")
        cur.execute(f"ANALYZE {STOCK_TABLE}")
    return before, stock_layout()
