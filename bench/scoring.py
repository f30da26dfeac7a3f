"""One scoring of routing decisions for every policy a benchmark compares (shared/design/BENCHMARK.md).

Every policy is held to the same promises: a shipment delivered after its order's promise costs the same
penalty per business day late and counts as late, whichever policy sent it. The reported cost is the cost
model's (shipping, handling, split penalty) plus those penalties; the cost without them is reported too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np

# BENCHMARK.md: a shipment delivered after its promise costs $10 per business day late.
LATE_FEE_PER_BUSINESS_DAY = 10.0


def late_business_days(*, promise: date | None, delivered: date) -> int:
    """Business days (Monday–Friday) a delivery on `delivered` is after `promise`; 0 when on time or unpromised."""
    if promise is None or delivered <= promise:
        return 0
    return int(np.busday_count(promise, delivered))


def policy_summary(*, decisions: dict, common: Iterable[int], late_fee: float = LATE_FEE_PER_BUSINESS_DAY) -> dict:
    """Cost with and without late penalties, late shipments, shipments per order and placed share of one
    policy's decisions ({order id: routing.core.Decision}); costs over the orders in `common` (the ones every
    compared policy placed in full), the placed share over all of its decisions."""
    chosen = [decisions[i] for i in common]
    n = max(1, len(chosen))
    model = sum(d.model_cost for d in chosen)
    shipments = late = late_days = 0
    on_time_orders = 0
    for d in chosen:
        order_late = False
        for s in d.shipments:
            shipments += 1
            days = late_business_days(promise=d.promise, delivered=s.delivery_date)
            if days:
                late += 1
                late_days += days
                order_late = True
        on_time_orders += not order_late
    penalties = late_fee * late_days
    placed = sum(1 for d in decisions.values() if not d.unplaced)
    return {
        "cost_total": round(model + penalties, 2),
        "cost_without_penalties": round(model, 2),
        "late_penalties": round(penalties, 2),
        "late_shipments": late,
        "late_share_pct": round(100.0 * late / max(1, shipments), 2),
        "shipments_per_order": round(shipments / n, 4),
        "promise_met_pct": round(100.0 * on_time_orders / n, 2),
        "placed_pct": round(100.0 * placed / max(1, len(decisions)), 2),
    }
