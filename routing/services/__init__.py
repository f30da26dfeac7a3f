"""Writes of routing: route and re-route orders, route everything pending in set-based batches, retry
backorders, re-route after shortages, publish rule sets, bump the cache revision.

Every routing runs in one transaction: lock the orders, lock the stock rows of their products in primary-key
order and read fresh ATS, decide in memory with the pure core (`routing.core.order_decide`), then write
capacity (conditional updates, never past the limit) and the decision itself, and have each owning app write
the rest through its bulk services: reservations and the stock they hold (`inventory.services`), fulfilment
orders (`fulfillment.services`), allocated units, order status through the lifecycle and the timeline event
(`orders.services`) — together or not at all."""

from routing.services.batch import (
    BACKGROUND,
    INTERACTIVE,
    REROUTABLE_STATUSES,
    ROUTABLE_STATUSES,
    BatchMode,
    BatchResult,
    CapacityTaken,
    PendingResult,
    StockMoved,
    location_capacity_day_set,
    log,
    orders_route_pending,
)
from routing.services.changes import (
    PlanCheck,
    order_plan_recheck,
)
from routing.services.drain import (
    DrainResult,
    orders_route_draining,
)
from routing.services.live import (
    order_reroute,
    order_route,
    orders_reroute_now,
)
from routing.services.ratecards import (
    RATECARD_MAX_VERSION,
    RateCardRejected,
    ratecard_csv_filename,
    ratecard_csv_import,
    ratecard_csv_rows,
    ratecard_rows_parse,
)
from routing.services.recovery import (
    backorders_retry,
    shortages_open_reroute,
    shortages_reroute,
    shortages_reroute_now,
)
from routing.services.reopt import ReoptResult, orders_reoptimise
from routing.services.rulesets import (
    routing_revision_bump,
    ruleset_version_draft,
    ruleset_version_publish,
)

__all__ = [
    "DrainResult",
    "orders_route_draining",
    "BACKGROUND",
    "BatchMode",
    "BatchResult",
    "CapacityTaken",
    "INTERACTIVE",
    "PendingResult",
    "PlanCheck",
    "RateCardRejected",
    "ReoptResult",
    "REROUTABLE_STATUSES",
    "ROUTABLE_STATUSES",
    "StockMoved",
    "backorders_retry",
    "location_capacity_day_set",
    "log",
    "order_plan_recheck",
    "RATECARD_MAX_VERSION",
    "ratecard_csv_filename",
    "ratecard_csv_import",
    "ratecard_csv_rows",
    "ratecard_rows_parse",
    "orders_reoptimise",
    "order_reroute",
    "order_route",
    "orders_reroute_now",
    "orders_route_pending",
    "routing_revision_bump",
    "ruleset_version_draft",
    "ruleset_version_publish",
    "shortages_open_reroute",
    "shortages_reroute",
    "shortages_reroute_now",
]
