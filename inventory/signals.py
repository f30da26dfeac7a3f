"""Signals sent by inventory. Inventory sits below the apps that react to stock (routing, fulfilment,
outbound events, notifications) and never imports them: it announces, they listen."""

from django.dispatch import Signal

from inventory.selectors import low_stock_candidates

# Sent inside the transaction of every central stock write (`stock_apply_changes`, `stock_merge_staged`),
# after the rows are written and before commit, so a receiver's writes commit or roll back with the change.
# Keyword arguments: `product_ids` (the products whose free stock, on hand − reserved, changed; None when
# the write was too large to list and every product may have changed), `location_ids` (a set of location
# ids, or None likewise) and `lowered_ids` (the products whose free stock went down somewhere and that
# the written rows do not prove above their thresholds: only these can have crossed below one; None when
# not known, as after a bulk merge). A write that leaves free stock as it was (a shipment
# consumes on hand and reserved together) sends nothing.
# Receivers must stay cheap: one query per call, never one per row (a routing batch sends one call for
# thousands of units).
stock_levels_changed = Signal()

# Sent after an inventory transaction has committed its rows (outside its atomic block):
# `inbound_received(order_ids=[…], product_ids={…})`: an inbound receipt released the allocations of these
# orders (highest priority first); routing routes them now and re-plans what still waits.
inbound_received = Signal()
# `inbound_redated(product_ids={…})`: an inbound line's expected date moved (or it closed short); the
# backorders of these products are re-planned and their orders re-dated.
inbound_redated = Signal()

# Above this many products a bulk merge announces "every product" (None) instead of listing them: the
# receivers then run their set-based whole-network check once, which beats an enormous id list.
LIST_PRODUCTS_UP_TO = 20_000


def stock_levels_changed_send(
    *, product_ids: set[int] | None, location_ids: set[int] | None, lowered_ids: set[int] | None = None
) -> None:
    """Announce a stock write (see `stock_levels_changed`); a no-op without listeners."""
    if stock_levels_changed.has_listeners():
        stock_levels_changed.send(
            sender="inventory", product_ids=product_ids, location_ids=location_ids, lowered_ids=lowered_ids
        )


def stock_levels_changed_send_for_deltas(*, deltas: dict[tuple[int, int], list[int]], levels: dict) -> None:
    """Announce `stock_apply_changes`' merged deltas {(product, location): [Δ on hand, Δ reserved]}; `levels`
    {(product, location): StockLevel} are the rows as written. Only the products whose stock went down and
    that the rows do not prove safe (`inventory.selectors.low_stock_candidates`) are `lowered_ids`."""
    if not stock_levels_changed.has_listeners():
        return
    moved = {key: d_on_hand - d_reserved for key, (d_on_hand, d_reserved) in deltas.items() if d_on_hand != d_reserved}
    if not moved:
        return
    down = [levels[key] for key, d in moved.items() if d < 0]
    lowered = low_stock_candidates(levels=[(lv.product_id, lv.location_id, lv.on_hand, lv.reserved) for lv in down])
    stock_levels_changed_send(
        product_ids={p for p, _ in moved}, location_ids={loc for _, loc in moved}, lowered_ids=lowered
    )


def stock_levels_changed_send_for_table(*, cursor, table: str) -> None:
    """Announce the rows of a merge's diff table (columns product_id, location_id): two small reads."""
    if not stock_levels_changed.has_listeners():
        return
    cursor.execute(f"SELECT DISTINCT product_id FROM {table} LIMIT %s", [LIST_PRODUCTS_UP_TO + 1])
    products = {r[0] for r in cursor.fetchall()}
    if not products:
        return
    cursor.execute(f"SELECT DISTINCT location_id FROM {table}")
    locations = {r[0] for r in cursor.fetchall()}
    stock_levels_changed_send(
        product_ids=products if len(products) <= LIST_PRODUCTS_UP_TO else None, location_ids=locations
    )
