"""Dropship purchase orders: created from a fulfilment order, confirmed by the supplier (one by one or by CSV)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fulfillment.carriers import carrier_service_get
from fulfillment.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    SupplierItem,
)
from fulfillment.services.outbox import outbox_message_add
from fulfillment.services.shipping import fulfillment_order_ship
from fulfillment.services.workflow import M, S, _lock, _transition
from inventory.models import (
    Location,
    LocationKind,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def purchase_order_create(*, fo_id: int, actor: AbstractBaseUser | None = None) -> PurchaseOrder:
    """Turn a dropship fulfilment order into a purchase order to the supplier, sent through the outbox.
    Idempotent: a second call returns the existing purchase order."""
    with transaction.atomic():
        fo = _lock(fo_id)
        existing = PurchaseOrder.objects.filter(fulfillment_order=fo).first()
        if existing:
            return existing
        if fo.method != M.DROPSHIP or fo.location.kind != LocationKind.DROPSHIP:
            raise ValidationError(f"FO-{fo.pk} is not a dropship order at a supplier.")
        lines = list(fo.lines.select_related("order_line", "order_line__product").order_by("pk"))
        costs = {
            si.product_id: si
            for si in SupplierItem.objects.filter(
                supplier=fo.location, product_id__in=[ln.order_line.product_id for ln in lines]
            )
        }
        missing = [ln.order_line.sku for ln in lines if ln.order_line.product_id not in costs]
        if missing:
            raise ValidationError(
                f"No supplier cost at {fo.location.code} for SKU(s) {', '.join(missing)}; add them as supplier items."
            )
        po = PurchaseOrder.objects.create(
            number=f"PO-{fo.pk:07d}", supplier=fo.location, fulfillment_order=fo, currency=fo.order.currency
        )
        po_lines = [
            PurchaseOrderLine(
                purchase_order=po,
                fulfillment_line=ln,
                product=ln.order_line.product,
                quantity=ln.quantity - ln.quantity_short,
                unit_cost=costs[ln.order_line.product_id].unit_cost,
            )
            for ln in lines
            if ln.quantity - ln.quantity_short > 0
        ]
        PurchaseOrderLine.objects.bulk_create(po_lines)
        po.total_cost = sum((pl.unit_cost * pl.quantity for pl in po_lines), Decimal("0"))
        po.save(update_fields=["total_cost"])
        fo.released_at = timezone.now()
        _transition(fo, S.RELEASED, actor=actor, message=f"Purchase order {po.number} sent to {fo.location.code}.")
        outbox_message_add(
            kind="purchase_order",
            location=fo.location,
            key=f"po:{po.number}",
            payload={
                "purchase_order": po.number,
                "order": fo.order.number,
                "currency": po.currency,
                "total_cost": str(po.total_cost),
                "ship_to": fo.order.shipping_address,
                "lines": [
                    {
                        "sku": pl.product.sku,
                        "supplier_sku": costs[pl.product_id].supplier_sku,
                        "quantity": pl.quantity,
                        "unit_cost": str(pl.unit_cost),
                    }
                    for pl in po_lines
                ],
            },
        )
        return po


def purchase_order_confirm_shipment(
    *,
    po_number: str,
    tracking_number: str,
    carrier: str = "",
    service: str = "ups_ground",
    tracking_url: str = "",
    actor: AbstractBaseUser | None = None,
) -> Shipment:
    """The supplier shipped the purchase order to the customer (API or CSV)."""
    po = PurchaseOrder.objects.filter(number=po_number).first()
    if po is None:
        raise ValidationError({"purchase_order": f"Unknown purchase order {po_number!r}."})
    if po.status == PurchaseOrder.Status.CANCELLED:
        raise ValidationError({"purchase_order": f"{po.number} was cancelled; do not ship it."})
    if po.status == PurchaseOrder.Status.SHIPPED:
        raise ValidationError({"purchase_order": f"{po.number} was already confirmed as shipped."})
    with transaction.atomic():
        shipment = fulfillment_order_ship(
            fo_id=po.fulfillment_order_id,
            service=service,
            tracking_number=tracking_number,
            carrier=carrier,
            tracking_url=tracking_url,
            actor=actor,
        )
        PurchaseOrderLine.objects.filter(purchase_order=po).update(quantity_shipped=F("quantity"))
        return shipment


CSV_COLUMNS = ("purchase_order", "tracking_number", "carrier", "service")


def purchase_orders_confirm_csv(
    *, text: str, supplier: Location | None = None, actor: AbstractBaseUser | None = None
) -> list[Shipment]:
    """Confirm shipments from a supplier's CSV (`purchase_order,tracking_number,carrier,service` per row).
    Every row is checked first; any error names the row and nothing is applied."""
    reader = csv.DictReader(io.StringIO(text))
    missing_cols = [c for c in CSV_COLUMNS[:2] if c not in (reader.fieldnames or [])]
    if missing_cols:
        raise ValidationError(f"The CSV needs the column(s) {', '.join(missing_cols)} (header row).")
    rows, errors = [], []
    seen = set()
    for i, row in enumerate(reader, start=2):
        number = (row.get("purchase_order") or "").strip()
        tracking = (row.get("tracking_number") or "").strip()
        po = PurchaseOrder.objects.filter(number=number).first()
        if not number or po is None:
            errors.append(f"Row {i}: purchase_order {number!r} is unknown.")
        elif supplier is not None and po.supplier_id != supplier.pk:
            errors.append(f"Row {i}: {number} belongs to another supplier.")
        elif po.status != PurchaseOrder.Status.SENT:
            errors.append(f"Row {i}: {number} is {po.get_status_display().lower()}; only sent orders can be confirmed.")
        elif number in seen:
            errors.append(f"Row {i}: {number} appears twice.")
        if not tracking:
            errors.append(f"Row {i}: tracking_number is empty.")
        service = (row.get("service") or "").strip() or "ups_ground"
        try:
            carrier_service_get(code=service)
        except ValidationError:
            errors.append(f"Row {i}: service {service!r} is unknown.")
        seen.add(number)
        rows.append((number, tracking, (row.get("carrier") or "").strip(), service))
    if not rows and not errors:
        errors.append("The CSV has no rows.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        return [
            purchase_order_confirm_shipment(po_number=n, tracking_number=t, carrier=c, service=s, actor=actor)
            for n, t, c, s in rows
        ]
