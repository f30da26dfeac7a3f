"""Recovery: backorders retried as stock arrives, orders re-routed after stock shortages."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from fulfillment.models import FulfillmentLine, FulfillmentOrder
from fulfillment.services import fulfillment_line_take_back
from inventory.models import RefType, ReservationLine, StockLevel
from inventory.services import reservation_release
from orders.services import order_lines_allocated_add
from routing.models import RoutingDecision
from routing.selectors import (
    orders_backordered,
)
from routing.services.backorders import backorders_date
from routing.services.batch import BACKGROUND, _Job, _run
from routing.services.live import order_reroute

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def backorders_retry(*, limit: int = 500, batch: int = 200, now: datetime | None = None) -> int:
    """Try again to place the open units of backordered orders (stock may have arrived); writes a new
    decision only for orders where at least one more unit could be placed. Returns how many moved."""
    ids = orders_backordered(limit=limit)
    moved = 0
    for start in range(0, len(ids), batch):
        jobs = [
            _Job(order_id=i, kind=RoutingDecision.Kind.REROUTE, reason="stock arrived", require_progress=True)
            for i in ids[start : start + batch]
        ]
        moved += len(_run(jobs=jobs, now=now, mode=BACKGROUND).outcomes)
    # The periodic re-plan: what still waits is allocated against inbound by priority and (re-)dated.
    backorders_date(product_ids=None)
    return moved


def shortages_reroute(
    *,
    shortages: list[tuple[int, int]],
    reason: str = "stock shortage at the location",
    actor: AbstractBaseUser | None = None,
) -> list[RoutingDecision]:
    """A WMS snapshot (or a count) found fewer units than are reserved at (product_id, location_id): take
    the shortfall off the newest open fulfilment orders there (release their reserved units) and re-route
    those units elsewhere, excluding that location. Idempotent: with no shortfall left it does nothing."""
    decisions = []
    for product_id, location_id in shortages:
        with transaction.atomic():
            level = (
                StockLevel.objects.select_for_update()
                .filter(product_id=product_id, location_id=location_id)
                .values_list("on_hand", "reserved")
                .first()
            )
            if level is None or level[1] <= level[0]:
                continue
            short = level[1] - level[0]
            moved: dict[int, dict[int, int]] = defaultdict(dict)  # order id → {line id: units}
            fls = (
                FulfillmentLine.objects.select_related("fulfillment_order", "order_line")
                .filter(
                    fulfillment_order__location_id=location_id,
                    fulfillment_order__status__in=[FulfillmentOrder.Status.CREATED, FulfillmentOrder.Status.RELEASED],
                    order_line__product_id=product_id,
                    quantity_picked=0,
                )
                .order_by("-fulfillment_order__created_at", "-pk")
            )
            for fl in fls:
                if short <= 0:
                    break
                take = min(short, fl.quantity)
                fo = fl.fulfillment_order
                if fo.reservation_id:
                    rl = ReservationLine.objects.filter(
                        reservation_id=fo.reservation_id,
                        product_id=product_id,
                        location_id=location_id,
                        ref_type=RefType.ORDER_LINE,
                        ref_id=fl.order_line_id,
                    ).first()
                    if rl is not None and rl.quantity_open > 0:
                        reservation_release(
                            reservation=fo.reservation,
                            quantities={rl.pk: min(take, rl.quantity_open)},
                            reference=f"shortage:order:{fo.order_id}",
                            actor=actor,
                        )
                fulfillment_line_take_back(line=fl, quantity=take)
                order_lines_allocated_add(amounts={fl.order_line_id: -take})
                moved[fo.order_id][fl.order_line_id] = moved[fo.order_id].get(fl.order_line_id, 0) + take
                short -= take
            # In the same transaction: the released units are either placed elsewhere or backordered.
            for order_id, qty in moved.items():
                decisions.append(
                    order_reroute(
                        order_id=order_id,
                        quantities=qty,
                        exclude_location_ids=[location_id],
                        reason=reason,
                        actor=actor,
                    )
                )
    return decisions


def shortages_reroute_now(*, shortage_ids: list[int], actor: AbstractBaseUser | None = None) -> int:
    """Re-route, now, what the chosen open shortages leave uncovered, then close them (the "re-route now"
    of the shortages screen; the scheduled task does the same for every open shortage). Returns how many."""
    from inventory.selectors import stock_shortages_open
    from inventory.services import stock_shortage_resolve

    handled = 0
    for shortage in stock_shortages_open().filter(pk__in=shortage_ids):
        shortages_reroute(shortages=[(shortage.product_id, shortage.location_id)], actor=actor)
        stock_shortage_resolve(shortage_id=shortage.pk, actor=actor)
        handled += 1
    return handled


def shortages_open_reroute(*, limit: int = 200, actor: AbstractBaseUser | None = None) -> int:
    """Re-route what every open inventory shortage leaves uncovered, then close the shortage. Idempotent:
    a shortage with nothing left to move is simply closed. Returns how many shortages were handled."""
    from inventory.selectors import stock_shortages_open
    from inventory.services import stock_shortage_resolve

    handled = 0
    for shortage in stock_shortages_open()[:limit]:
        shortages_reroute(shortages=[(shortage.product_id, shortage.location_id)], actor=actor)
        stock_shortage_resolve(shortage_id=shortage.pk, actor=actor)
        handled += 1
    return handled
