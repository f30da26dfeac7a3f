"""Archiving the stock ledger: old months leave the table, their sums stay.

The ledger is partitioned by month (migration 0015); `manage.py partitions_archive` detaches and dumps the
oldest months. Before they go, `ledger_carry_forward` writes, for every product × location those months
touched, one movement holding their net effect, dated the first instant kept. So the ledger still sums to
every stock level (inventory.selectors.stock_ledger_mismatches) with the detail of old months in the dump.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from inventory.models import InventoryMovement


def ledger_carry_forward(*, partitions: list[str], at: datetime) -> int:
    """One movement per product × location with the net deltas held in `partitions` (ledger partitions about
    to be archived, in the caller's transaction), dated `at`. Returns the rows written."""
    if not partitions:
        return 0
    q = connection.ops.quote_name
    union = " UNION ALL ".join(
        f"SELECT product_id, location_id, delta_on_hand, delta_reserved FROM ONLY {q(p)}" for p in partitions
    )
    months = ", ".join(sorted(p.rsplit("_p", 1)[-1] for p in partitions))
    with connection.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {q(InventoryMovement._meta.db_table)}
                    (product_id, location_id, delta_on_hand, delta_reserved, reason, reference, actor_id, created_at)
                SELECT product_id, location_id, SUM(delta_on_hand), SUM(delta_reserved), %s, %s, NULL, %s
                FROM ({union}) m GROUP BY product_id, location_id
                HAVING SUM(delta_on_hand) <> 0 OR SUM(delta_reserved) <> 0""",
            [InventoryMovement.Reason.INITIAL, f"Carried forward from archived months {months}"[:200], at],
        )
        return cur.rowcount
