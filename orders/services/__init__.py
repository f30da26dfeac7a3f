"""Writes of orders: intake (every channel through `order_ingest`), holds, lifecycle, cancellation.

Lifecycle rule: an order's status changes only here, through `_transition` (one order) or
`orders_status_set_bulk` (a batch), which refuse moves that are not in ALLOWED_TRANSITIONS. Timeline events are
written only through `order_event_add` / `order_events_add_bulk`, order-line counters (allocated, shipped,
cancelled, returned) only through the `order_lines_*` services below."""

from orders.services.bulk_actions import (
    BULK_MAX,
    SAVED_FILTER_FIELDS,
    BulkResult,
    order_filter_delete,
    order_filter_save,
    orders_bulk_cancel,
    orders_bulk_holds_release,
)
from orders.services.cancellation import (
    NOT_CANCELLABLE,
    order_cancel,
)
from orders.services.changes import (
    CHANGEABLE,
    OrderChangeConflict,
    OrderChangeResult,
    OrderVersionStale,
    order_address_change,
    order_address_input_errors,
    order_cancel_request_complete,
    order_line_add,
    order_line_quantity_set,
    order_line_remove,
    order_method_change,
    order_reroute_request_complete,
    order_units_cancel,
    order_version_check,
)
from orders.services.channel_updates import (
    ChannelUpdateResult,
    channel_order_update_receive,
)
from orders.services.channels import (
    SECRET_MIN_LENGTH,
    channel_secret_clean,
    channel_secret_retire_previous,
    channel_secret_rotate,
)
from orders.services.customers import (
    customer_profile_update,
)
from orders.services.customers_intake import LIFETIME_VALUE_CAP
from orders.services.holds import (
    HOLDABLE,
    order_hold_place,
    order_hold_release,
)
from orders.services.intake import (
    EARLIEST_PLACED_AT,
    MAX_FUTURE,
    CsvImportResult,
    IngestResult,
    OrderLimits,
    order_csv_import,
    order_ingest,
    order_input_errors,
)
from orders.services.lifecycle import (
    ALLOWED_TRANSITIONS,
    HoldKind,
    Status,
    logger,
    order_lines_allocated_add,
    order_lines_allocated_release,
    order_lines_cancelled_add,
    order_lines_expected_dates_set,
    order_lines_returned_add,
    order_lines_shipped_set,
    order_priorities_refresh,
    order_routing_enqueue,
    order_routing_task,
    order_status_set,
    orders_allocation_status_apply,
    orders_status_set_bulk,
)
from orders.services.promises import (
    order_promise_redate,
)
from orders.services.timeline import (
    order_event_add,
    order_events_add_bulk,
)

__all__ = [
    "customer_profile_update",
    "ChannelUpdateResult",
    "channel_order_update_receive",
    "CHANGEABLE",
    "order_address_change",
    "order_address_input_errors",
    "order_line_add",
    "order_line_quantity_set",
    "order_line_remove",
    "order_method_change",
    "ALLOWED_TRANSITIONS",
    "BULK_MAX",
    "BulkResult",
    "CsvImportResult",
    "EARLIEST_PLACED_AT",
    "HOLDABLE",
    "HoldKind",
    "IngestResult",
    "LIFETIME_VALUE_CAP",
    "MAX_FUTURE",
    "NOT_CANCELLABLE",
    "OrderChangeConflict",
    "OrderChangeResult",
    "OrderLimits",
    "OrderVersionStale",
    "SAVED_FILTER_FIELDS",
    "SECRET_MIN_LENGTH",
    "Status",
    "channel_secret_clean",
    "channel_secret_retire_previous",
    "channel_secret_rotate",
    "logger",
    "order_cancel",
    "order_csv_import",
    "order_event_add",
    "order_events_add_bulk",
    "order_filter_delete",
    "order_filter_save",
    "order_hold_place",
    "order_hold_release",
    "order_ingest",
    "order_input_errors",
    "order_lines_allocated_add",
    "order_lines_expected_dates_set",
    "order_promise_redate",
    "order_lines_allocated_release",
    "order_lines_cancelled_add",
    "order_lines_returned_add",
    "order_lines_shipped_set",
    "order_priorities_refresh",
    "order_routing_enqueue",
    "order_routing_task",
    "order_status_set",
    "order_cancel_request_complete",
    "order_reroute_request_complete",
    "order_units_cancel",
    "order_version_check",
    "orders_allocation_status_apply",
    "orders_bulk_cancel",
    "orders_bulk_holds_release",
    "orders_status_set_bulk",
]
