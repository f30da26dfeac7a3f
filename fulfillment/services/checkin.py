"""Customer "I'm here" check-in for pickup orders.

Each pickup fulfilment order has a signed, expiring link (`pickup_checkin_url`), sent in the ready-for-pickup
e-mail. Opening it shows a public page where the customer confirms that they arrived, optionally with their
parking spot or car; `pickup_checkin_record` then stamps the fulfilment order, which moves it to the top of the
store's queue with a "Customer is here" badge, and writes a timeline event. Checking in twice keeps the first
arrival time (and updates the note): the link is safe to tap again.

The token carries only the fulfilment order's id, signed with the project's SECRET_KEY (a salt of its own),
with a timestamp: a link older than `DOM["CHECKIN_LINK_DAYS"]` is refused, as is any tampered token.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import FulfillmentOrder
from orders.services import order_event_add

SALT = "fulfillment.pickup-checkin"
NOTE_MAX = 120
TOKEN_MAX = 300
S = FulfillmentOrder.Status
# Statuses in which a customer can still be on the way to collect the order.
CHECKIN_OPEN = (S.CREATED, S.RELEASED, S.PICKING, S.READY_FOR_PICKUP)


class CheckinLinkInvalid(Exception):
    """The token is malformed or was tampered with (HTTP 404: it names no order)."""


class CheckinLinkExpired(Exception):
    """The token is genuine but older than the link's lifetime (HTTP 410)."""


class CheckinClosed(Exception):
    """The order was already collected, cancelled or expired (HTTP 409); `fo` says which."""

    def __init__(self, fo: FulfillmentOrder) -> None:
        self.fo = fo
        super().__init__(f"Order {fo.order.number} is {fo.get_status_display().lower()}.")


@dataclass(frozen=True)
class CheckinResult:
    fo: FulfillmentOrder
    first: bool  # False when the customer had already checked in


def pickup_checkin_token(*, fo: FulfillmentOrder) -> str:
    """The signed token of a pickup fulfilment order's check-in link."""
    if fo.method != FulfillmentOrder.Method.PICKUP:
        raise ValidationError(f"FO-{fo.pk} is not a pickup order: only pickups have a check-in link.")
    return signing.dumps({"fo": fo.pk}, salt=SALT, compress=False)


def pickup_checkin_url(*, fo: FulfillmentOrder) -> str:
    """The absolute "I'm here" link of a pickup fulfilment order (settings.DOM_PUBLIC_BASE_URL + path);
    valid for DOM["CHECKIN_LINK_DAYS"] days from now."""
    path = reverse("fulfillment:checkin", args=[pickup_checkin_token(fo=fo)])
    base = getattr(settings, "DOM_PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}{path}"


def pickup_checkin_resolve(*, token: str) -> FulfillmentOrder:
    """The fulfilment order a check-in token names; raises CheckinLinkInvalid / CheckinLinkExpired."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX:
        raise CheckinLinkInvalid("This check-in link is not valid.")
    max_age = int(settings.DOM.get("CHECKIN_LINK_DAYS", 14)) * 86400
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise CheckinLinkExpired("This check-in link has expired.") from None
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        raise CheckinLinkInvalid("This check-in link is not valid.") from None
    fo_id = payload.get("fo") if isinstance(payload, dict) else None
    if not isinstance(fo_id, int) or isinstance(fo_id, bool):
        raise CheckinLinkInvalid("This check-in link is not valid.")
    fo = (
        FulfillmentOrder.objects.select_related("order", "order__customer", "location")
        .filter(pk=fo_id, method=FulfillmentOrder.Method.PICKUP)
        .first()
    )
    if fo is None:
        raise CheckinLinkInvalid("This check-in link is not valid.")
    return fo


def _clean_note(note: str) -> str:
    if not isinstance(note, str):
        raise ValidationError({"note": "Parking spot or car must be text."})
    cleaned = "".join(ch for ch in " ".join(note.split()) if ch.isprintable())
    if len(cleaned) > NOTE_MAX:
        raise ValidationError({"note": f"Parking spot or car: at most {NOTE_MAX} characters."})
    return cleaned


def pickup_checkin_record(*, token: str, note: str = "") -> CheckinResult:
    """The customer says "I'm here": stamp the arrival (the first one is kept), keep the parking spot or
    car, and write a timeline event on the first check-in or when the note changes. Idempotent."""
    fo = pickup_checkin_resolve(token=token)
    note = _clean_note(note)
    with transaction.atomic():
        fo = FulfillmentOrder.objects.select_for_update().select_related("order", "location").get(pk=fo.pk)
        if fo.status not in CHECKIN_OPEN:
            raise CheckinClosed(fo)
        first = fo.customer_arrived_at is None
        if not first and note == fo.customer_arrival_note:
            return CheckinResult(fo=fo, first=False)
        if first:
            fo.customer_arrived_at = timezone.now()
        fo.customer_arrival_note = note
        fo.save(update_fields=["customer_arrived_at", "customer_arrival_note", "updated_at"])
        where = f" ({note})" if note else ""
        order_event_add(
            order=fo.order,
            type="fulfillment.customer_arrived",
            message=(f"Customer is here{where}." if first else f"Customer is here: now at {note or 'the store'}."),
            data={"fulfillment_order": fo.pk, "note": note},
        )
    return CheckinResult(fo=fo, first=first)
