"""Stock shortages: reservations a merge left uncovered, recorded for re-routing and resolved."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from inventory.models import (
    StockLevel,
    StockShortage,
)

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser
    from django.db.backends.utils import CursorWrapper


def _shortages_from_diff(
    cur: CursorWrapper, diff: str, source: str, now: datetime, *, any_short: bool
) -> tuple[int, int]:
    """Open, refresh or resolve shortages for the keys a merge changed (`any_short`: one ends below reserved)."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM inventory_stockshortage WHERE resolved_at IS NULL)")
    any_open = bool(cur.fetchone()[0])
    opened = resolved = 0
    if any_open:
        cur.execute(
            f"UPDATE inventory_stockshortage SET resolved_at = %s FROM {diff} d"
            f" WHERE inventory_stockshortage.product_id = d.product_id"
            f" AND inventory_stockshortage.location_id = d.location_id"
            f" AND inventory_stockshortage.resolved_at IS NULL AND d.new_on_hand >= d.reserved",
            [now],
        )
        resolved = cur.rowcount
        cur.execute(
            f"UPDATE inventory_stockshortage SET on_hand = d.new_on_hand, reserved = d.reserved FROM {diff} d"
            f" WHERE inventory_stockshortage.product_id = d.product_id"
            f" AND inventory_stockshortage.location_id = d.location_id"
            f" AND inventory_stockshortage.resolved_at IS NULL AND d.new_on_hand < d.reserved"
        )
    if any_short:
        cur.execute(
            f"INSERT INTO inventory_stockshortage (product_id, location_id, on_hand, reserved, source, detected_at)"
            f" SELECT d.product_id, d.location_id, d.new_on_hand, d.reserved, %s, %s FROM {diff} d"
            f" WHERE d.new_on_hand < d.reserved AND NOT EXISTS (SELECT 1 FROM inventory_stockshortage x"
            f" WHERE x.product_id = d.product_id AND x.location_id = d.location_id AND x.resolved_at IS NULL)",
            [source[:200], now],
        )
        opened = cur.rowcount
    return opened, resolved


def stock_shortages_sync(*, keys: Iterable[tuple[int, int]], source: str = "") -> tuple[int, int]:
    """Open or resolve shortages for a few product × location keys after a change (counts, admin imports).

    Returns (opened, resolved). Runs in the caller's transaction.
    """
    keys = set(keys)
    if not keys:
        return 0, 0
    now = timezone.now()
    levels = {
        (lv.product_id, lv.location_id): lv
        for lv in StockLevel.objects.filter(
            product_id__in={p for p, _ in keys}, location_id__in={loc for _, loc in keys}
        )
        if (lv.product_id, lv.location_id) in keys
    }
    open_ = {
        (s.product_id, s.location_id): s
        for s in StockShortage.objects.filter(
            resolved_at__isnull=True, product_id__in={p for p, _ in keys}, location_id__in={loc for _, loc in keys}
        )
    }
    opened = resolved = 0
    for key in keys:
        level, shortage = levels.get(key), open_.get(key)
        short = level is not None and level.on_hand < level.reserved
        if short and shortage is None:
            StockShortage.objects.create(
                product_id=key[0],
                location_id=key[1],
                on_hand=level.on_hand,
                reserved=level.reserved,
                source=source[:200],
                detected_at=now,
            )
            opened += 1
        elif short:
            StockShortage.objects.filter(pk=shortage.pk).update(on_hand=level.on_hand, reserved=level.reserved)
        elif shortage is not None:
            StockShortage.objects.filter(pk=shortage.pk).update(resolved_at=now)
            resolved += 1
    return opened, resolved


def stock_shortage_resolve(*, shortage_id: int, actor: AbstractBaseUser | None = None) -> StockShortage:
    """Close an open shortage (e.g. once routing has re-routed what it left uncovered). Idempotent."""
    with transaction.atomic():
        shortage = StockShortage.objects.select_for_update().get(pk=shortage_id)
        if shortage.resolved_at is None:
            shortage.resolved_at = timezone.now()
            shortage.save(update_fields=["resolved_at"])
        return shortage
