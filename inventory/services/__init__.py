"""The only writers of stock. Every change to on_hand or reserved writes an InventoryMovement.

All writes go through `stock_apply_changes`, which locks the affected StockLevel rows in primary-key
order (so two writers can never deadlock), checks the non-negative invariants with messages naming the
SKU and location, updates the rows and appends the ledger, all in the caller's transaction."""

from inventory.services.backorders import (
    BOARD_GROUPS,
    BackorderDemand,
    BackorderRow,
    backorder_demands,
    backorders_board,
    inbound_allocations_release,
    inbound_allocations_replan,
    products_with_inbound_plans,
)
from inventory.services.closures import (
    location_closure_remove,
    location_closure_set,
)
from inventory.services.counts import (
    cycle_count_log,
    cycle_count_record,
)
from inventory.services.forecasts import (
    RefreshResult,
    forecasts_refresh,
    safety_stock_proposal_decide,
    safety_stock_rule_set,
)
from inventory.services.ledger import ledger_carry_forward
from inventory.services.merge import (
    MERGE_INDEX_LOOKUP_RATIO,
    MERGE_TABLE_LOCK_ROWS,
    SNAPSHOT_SET_BASED_ROWS,
    BelowZero,
    MergeResult,
    NegativeRow,
    StockWouldGoNegative,
    stock_merge_staged,
    stock_snapshot_apply,
)
from inventory.services.reservations import (
    HoldLine,
    ReservationHold,
    ReserveLine,
    reservation_consume,
    reservation_expire_due,
    reservation_hold,
    reservation_release,
    reservations_hold_bulk,
    stock_reserve,
)
from inventory.services.shortages import (
    stock_shortage_resolve,
    stock_shortages_sync,
)
from inventory.services.stock import (
    InsufficientStock,
    Reason,
    Shortage,
    StockChange,
    location_safety_stock_set,
    location_settings_set,
    stock_adjust,
    stock_apply_changes,
    stock_receive,
    stock_set_on_hand,
)

__all__ = [
    "BOARD_GROUPS",
    "BackorderRow",
    "backorders_board",
    "BackorderDemand",
    "backorder_demands",
    "inbound_allocations_release",
    "inbound_allocations_replan",
    "products_with_inbound_plans",
    "BelowZero",
    "HoldLine",
    "InsufficientStock",
    "MERGE_INDEX_LOOKUP_RATIO",
    "MERGE_TABLE_LOCK_ROWS",
    "MergeResult",
    "NegativeRow",
    "Reason",
    "ReservationHold",
    "ReserveLine",
    "SNAPSHOT_SET_BASED_ROWS",
    "Shortage",
    "StockChange",
    "StockWouldGoNegative",
    "cycle_count_log",
    "cycle_count_record",
    "ledger_carry_forward",
    "RefreshResult",
    "forecasts_refresh",
    "safety_stock_proposal_decide",
    "safety_stock_rule_set",
    "location_closure_remove",
    "location_closure_set",
    "location_safety_stock_set",
    "location_settings_set",
    "reservation_consume",
    "reservation_expire_due",
    "reservation_hold",
    "reservation_release",
    "reservations_hold_bulk",
    "stock_adjust",
    "stock_apply_changes",
    "stock_merge_staged",
    "stock_receive",
    "stock_reserve",
    "stock_set_on_hand",
    "stock_shortage_resolve",
    "stock_shortages_sync",
    "stock_snapshot_apply",
]
