"""Fulfilment: every change to a fulfilment order, shipment, purchase order, outbox message or store setting.

Each transition is checked against the method's state machine, runs in one transaction with the fulfilment
order locked, and writes an event on the customer order's timeline. Stock moves only through
`inventory.services`: shipping and handing over consume the fulfilment order's reservation, a short pick or
a rejection releases the short units (and applies the reason's stock effect), and the short units are handed
to routing for a new location (`routing.tasks.reroute_order`, enqueued on commit)."""

from fulfillment.services.cancel_requests import (
    fulfillment_cancel_request_add,
    fulfillment_cancel_request_confirm,
    fulfillment_cancel_request_refuse,
    fulfillment_cancel_requested_units,
    fulfillment_cancel_requests_waiting,
)
from fulfillment.services.cancellation import (
    fulfillment_orders_cancel_for_order,
)
from fulfillment.services.changes import (
    LineWork,
    ReleasedWork,
    fulfillment_line_work,
    fulfillment_orders_lock,
    fulfillment_orders_withdraw,
    fulfillment_orders_withdraw_unreleased,
    fulfillment_units_withdraw,
)
from fulfillment.services.checkin import (
    CHECKIN_OPEN,
    CheckinClosed,
    CheckinLinkExpired,
    CheckinLinkInvalid,
    CheckinResult,
    pickup_checkin_record,
    pickup_checkin_resolve,
    pickup_checkin_token,
    pickup_checkin_url,
)
from fulfillment.services.counts import (
    COUNT_MAX_LINES,
    CountLine,
    CountOutcome,
    store_count_effect,
    store_count_on_hand,
    store_count_record,
    store_count_validate,
)
from fulfillment.services.creation import (
    FulfillmentOrderNew,
    fulfillment_line_take_back,
    fulfillment_orders_create_bulk,
)
from fulfillment.services.dropship import (
    CSV_COLUMNS,
    purchase_order_confirm_shipment,
    purchase_order_create,
    purchase_orders_confirm_csv,
)
from fulfillment.services.outbox import (
    DeliveryError,
    outbox_deliver_due,
    outbox_message_add,
    outbox_message_deliver,
)
from fulfillment.services.picking import (
    PickSource,
    ScanResult,
    fulfillment_line_pick,
    fulfillment_line_scan,
    fulfillment_line_short,
    fulfillment_order_pick_confirm,
    fulfillment_order_reject,
)
from fulfillment.services.pickup import (
    fulfillment_order_handover,
    fulfillment_order_ready,
    fulfillment_order_resend_ready_email,
    pickup_no_shows_expire,
    pickup_reminders_send,
)
from fulfillment.services.release import (
    EVENT_TYPES,
    fulfillment_event_apply,
    fulfillment_order_release,
    fulfillment_order_release_now,
    fulfillment_orders_release_due,
)
from fulfillment.services.shipping import (
    fulfillment_order_deliver,
    fulfillment_order_pack,
    fulfillment_order_ship,
    shipments_hand_off,
)
from fulfillment.services.store_settings import (
    WALK_IN_NOTE,
    store_pause_today,
    store_pauses_expire,
    store_resume,
    store_settings_ensure,
    store_settings_update,
)
from fulfillment.services.transfers import (
    transfer_receive,
)
from fulfillment.services.workflow import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    PICKUP_CODE_ALPHABET,
    TRANSITIONS,
    M,
    S,
    logger,
)

__all__ = [
    "fulfillment_cancel_request_add",
    "fulfillment_cancel_request_confirm",
    "fulfillment_cancel_request_refuse",
    "fulfillment_cancel_requested_units",
    "fulfillment_cancel_requests_waiting",
    "COUNT_MAX_LINES",
    "store_count_validate",
    "CountLine",
    "CountOutcome",
    "store_count_effect",
    "store_count_on_hand",
    "store_count_record",
    "CHECKIN_OPEN",
    "CheckinClosed",
    "CheckinLinkExpired",
    "CheckinLinkInvalid",
    "CheckinResult",
    "pickup_checkin_record",
    "pickup_checkin_resolve",
    "pickup_checkin_token",
    "pickup_checkin_url",
    "PickSource",
    "CLOSED_STATUSES",
    "CSV_COLUMNS",
    "DeliveryError",
    "EVENT_TYPES",
    "FulfillmentOrderNew",
    "LineWork",
    "ReleasedWork",
    "M",
    "OPEN_STATUSES",
    "PICKUP_CODE_ALPHABET",
    "S",
    "ScanResult",
    "TRANSITIONS",
    "WALK_IN_NOTE",
    "fulfillment_event_apply",
    "fulfillment_line_pick",
    "fulfillment_line_work",
    "fulfillment_orders_lock",
    "fulfillment_orders_withdraw",
    "fulfillment_orders_withdraw_unreleased",
    "fulfillment_units_withdraw",
    "fulfillment_line_scan",
    "fulfillment_line_short",
    "fulfillment_line_take_back",
    "fulfillment_order_deliver",
    "fulfillment_order_handover",
    "fulfillment_order_pack",
    "fulfillment_order_pick_confirm",
    "fulfillment_order_ready",
    "fulfillment_order_reject",
    "fulfillment_order_release",
    "fulfillment_order_release_now",
    "fulfillment_order_resend_ready_email",
    "fulfillment_order_ship",
    "fulfillment_orders_cancel_for_order",
    "fulfillment_orders_create_bulk",
    "fulfillment_orders_release_due",
    "logger",
    "outbox_deliver_due",
    "outbox_message_add",
    "outbox_message_deliver",
    "pickup_no_shows_expire",
    "pickup_reminders_send",
    "purchase_order_confirm_shipment",
    "purchase_order_create",
    "purchase_orders_confirm_csv",
    "shipments_hand_off",
    "store_pause_today",
    "store_pauses_expire",
    "store_resume",
    "store_settings_ensure",
    "store_settings_update",
    "transfer_receive",
]
