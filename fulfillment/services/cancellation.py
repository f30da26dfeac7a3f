"""Cancelling the open fulfilment orders of a customer order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from fulfillment.models import (
    FulfillmentOrder,
    PurchaseOrder,
)
from fulfillment.services.outbox import outbox_message_add
from fulfillment.services.workflow import OPEN_STATUSES, S, _lock, _release, _transition
from inventory.models import (
    LocationKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def fulfillment_orders_cancel_for_order(*, order_id: int, actor: AbstractBaseUser | None = None) -> int:
    """The customer order was cancelled: stop every fulfilment order that has not left the building, release
    its stock (idempotent with the order's own release) and tell suppliers to drop their purchase orders."""
    count = 0
    with transaction.atomic():
        ids = list(
            FulfillmentOrder.objects.filter(order_id=order_id, status__in=OPEN_STATUSES)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for pk in ids:
            fo = _lock(pk)
            if fo.status not in OPEN_STATUSES:
                continue
            _release(fo, None, actor=actor, reference=f"fo:{fo.pk}:cancel")
            _transition(
                fo, S.CANCELLED, actor=actor, message=f"FO-{fo.pk} at {fo.location.code} cancelled with the order."
            )
            po = (
                PurchaseOrder.objects.filter(fulfillment_order=fo)
                .exclude(status=PurchaseOrder.Status.CANCELLED)
                .first()
            )
            if po is not None:
                po.status = PurchaseOrder.Status.CANCELLED
                po.save(update_fields=["status", "updated_at"])
                outbox_message_add(
                    kind="purchase_order.cancel",
                    location=fo.location,
                    key=f"po-cancel:{po.number}",
                    payload={"purchase_order": po.number, "cancelled": True},
                )
            elif fo.released_at and fo.location.kind in (LocationKind.WAREHOUSE, LocationKind.THIRD_PARTY):
                outbox_message_add(
                    kind="fulfillment_order.cancel",
                    location=fo.location,
                    key=f"fo-cancel:{fo.pk}",
                    payload={"fulfillment_order": fo.pk, "cancelled": True},
                )
            count += 1
    return count
