"""django-q2 entry points. Thin: they take primary keys, call services and are safe to run twice.

Enqueue with `async_task("routing.tasks.route_order", order_id)` inside `transaction.on_commit`.
"""

from routing.services import (
    backorders_retry,
    order_reroute,
    order_route,
    orders_reoptimise,
    orders_route_draining,
    orders_route_pending,
    shortages_open_reroute,
)


def route_order(order_id: int) -> int:
    """Route one order; a second delivery finds it routed and returns the same decision."""
    return order_route(order_id=order_id).pk


def reroute_order(order_id: int, quantities: dict, exclude_location_ids: list, reason: str) -> int:
    """Re-route units of an order away from the excluded locations; units already re-allocated are skipped."""
    return order_reroute(
        order_id=order_id,
        quantities={int(k): int(v) for k, v in quantities.items()},
        exclude_location_ids=[int(i) for i in exclude_location_ids],
        reason=reason,
    ).pk


def route_pending() -> int:
    """Route every waiting order (a safety net behind the per-order tasks)."""
    return orders_route_pending().orders


def route_drain() -> int:
    """Route new orders in batches while they arrive (intake enqueues this; one runs at a time)."""
    return orders_route_draining().orders


def retry_backorders() -> int:
    """Place backordered units where stock has arrived."""
    return backorders_retry()


def reroute_shortages() -> int:
    """Re-route the reservations that stock shortages (WMS snapshots, counts) left uncovered."""
    return shortages_open_reroute()


def reoptimise_window() -> int:
    """Re-solve the recent unreleased orders together and swap the plans worth it (routing.services.reopt)."""
    return orders_reoptimise().replanned
