"""Shipping: pack, ship (labels, customs items, carrier checks), hand off to the carrier, deliver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from common.errors import StateConflict
from fulfillment.carriers import carrier_service_get, handling_problems
from fulfillment.models import (
    FulfillmentLine,
    FulfillmentOrder,
    PurchaseOrder,
    Shipment,
    ShipmentLine,
)
from fulfillment.services.workflow import (
    M,
    S,
    _check_scope,
    _consume,
    _lines,
    _lock,
    _order_refresh,
    _sku_list,
    _transition,
)
from inventory.models import (
    Location,
)
from orders.models import Order

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from fulfillment.carriers import CarrierService


def fulfillment_order_pack(
    *,
    fo_id: int,
    weight_grams: int,
    length_cm: int = 0,
    width_cm: int = 0,
    height_cm: int = 0,
    package_type: str = "default box",
    actor: AbstractBaseUser | None = None,
) -> Shipment:
    """Everything picked goes into a package (weight and dimensions recorded)."""
    if weight_grams is None or weight_grams <= 0:
        raise ValidationError({"weight_grams": "Weigh the package: weight must be more than 0 g."})
    if min(length_cm, width_cm, height_cm) < 0:
        raise ValidationError({"length_cm": "Dimensions cannot be negative."})
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        if fo.method == M.PICKUP:
            raise ValidationError(f"FO-{fo.pk} is a pickup; mark it ready instead of packing.")
        lines = list(fo.lines.select_related("order_line"))
        open_lines = [ln for ln in lines if ln.quantity_open > 0]
        if open_lines:
            raise ValidationError(
                "Pick or report short every line before packing: " + _sku_list(open_lines, "quantity_open") + "."
            )
        if not any(ln.quantity_picked for ln in lines):
            raise ValidationError(f"FO-{fo.pk} has nothing picked to pack.")
        shipment = Shipment.objects.create(
            fulfillment_order=fo,
            package_type=package_type[:40],
            weight_grams=weight_grams,
            length_cm=length_cm,
            width_cm=width_cm,
            height_cm=height_cm,
            packed_at=timezone.now(),
            packed_by=actor if getattr(actor, "pk", None) else None,
            currency=fo.order.currency,
        )
        _transition(fo, S.PACKED, actor=actor, message=f"FO-{fo.pk} packed at {fo.location.code} ({weight_grams} g).")
        return shipment


def _destination_country(order: Order) -> str:
    addr = order.shipping_address or {}
    return (addr.get("country_code") or addr.get("country") or "US").upper()[:2]


def _customs_items(fo: FulfillmentOrder, shipped: dict[int, int]) -> list[dict]:
    items, missing = [], []
    for ln in fo.lines.select_related("order_line", "order_line__product"):
        q = shipped.get(ln.pk, 0)
        if not q:
            continue
        p = ln.order_line.product
        if p is None or not p.hs_code or not p.country_of_origin:
            missing.append(ln.order_line.sku)
            continue
        unit = ln.order_line.unit_price
        items.append(
            {
                "sku": p.sku,
                "description": p.name,
                "hs_code": p.hs_code,
                "origin": p.country_of_origin,
                "quantity": q,
                "unit_value": str(unit),
                "value": str(unit * q),
                "weight_grams": p.weight_grams * q,
            }
        )
    if missing:
        raise ValidationError(
            f"International shipment needs an HS code and country of origin for SKU(s) {', '.join(missing)}; "
            "add them to the product."
        )
    return items


def fulfillment_order_ship(
    *,
    fo_id: int,
    service: str,
    tracking_number: str = "",
    tracking_url: str = "",
    carrier: str = "",
    cost: Decimal | None = None,
    weight_grams: int | None = None,
    actor: AbstractBaseUser | None = None,
) -> Shipment:
    """The parcel leaves: stock is consumed (on hand and reserved down together), the shipment gets its
    carrier, service and tracking, customs data when it crosses a border, and the order's status follows.

    A warehouse or 3PL may confirm shipping without separate pick/pack events: open units count as picked.
    A transfer becomes "in transit" to the pickup store.
    """
    svc = carrier_service_get(code=service)
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        lines, to_ship = _ship_quantities(fo)
        products = [ln.order_line.product for ln in lines if to_ship[ln.pk] and ln.order_line.product]
        problems = handling_problems(
            service=svc, products=products, location=fo.location, same_day=fo.method == M.SAME_DAY
        )
        if problems:
            raise ValidationError({"service": problems})
        shipment = _shipment_record(
            fo=fo,
            svc=svc,
            to_ship=to_ship,
            products=products,
            parcel=_Parcel(tracking_number, tracking_url, carrier, cost, weight_grams),
        )
        _consume(fo, to_ship, actor=actor, reference=f"fo:{fo.pk}:ship")
        for ln in lines:
            ln.quantity_shipped += to_ship[ln.pk]
        FulfillmentLine.objects.bulk_update(lines, ["quantity_shipped"])
        fo.carrier_service = svc.code
        _transition(
            fo,
            S.IN_TRANSIT if fo.method == M.TRANSFER else S.SHIPPED,
            actor=actor,
            message=f"FO-{fo.pk} shipped from {fo.location.code} with {svc.name}"
            + (f", tracking {shipment.tracking_number}" if shipment.tracking_number else " (no tracking number yet)")
            + ".",
            data=_shipped_event_data(shipment=shipment, lines=lines, to_ship=to_ship),
        )
        if fo.method == M.DROPSHIP:
            PurchaseOrder.objects.filter(fulfillment_order=fo).update(status=PurchaseOrder.Status.SHIPPED)
        if fo.method != M.TRANSFER:
            _order_refresh(fo.order, actor=actor)
        return shipment


def _ship_quantities(fo: FulfillmentOrder) -> tuple[list[FulfillmentLine], dict[int, int]]:
    """The fulfilment order's lines and the units each ships now. A warehouse or 3PL confirming a shipment
    without pick events has its open units counted as picked; a store must pick or short every line first."""
    if fo.status in (S.SHIPPED, S.DELIVERED, S.IN_TRANSIT, S.RECEIVED):
        tn = fo.shipments.exclude(tracking_number="").values_list("tracking_number", flat=True).first()
        raise StateConflict(
            f"FO-{fo.pk} was already shipped" + (f" (tracking {tn})" if tn else "") + "; nothing to confirm."
        )
    if fo.method == M.PICKUP:
        raise ValidationError(f"FO-{fo.pk} is a pickup; hand it over at the counter instead of shipping.")
    lines = _lines(fo)
    if fo.status in (S.CREATED, S.RELEASED):
        for ln in lines:
            ln.quantity_picked = ln.quantity - ln.quantity_short
        FulfillmentLine.objects.bulk_update(lines, ["quantity_picked"])
    elif any(ln.quantity_open for ln in lines):
        raise ValidationError(
            "Pick or report short every line before shipping: "
            + _sku_list([ln for ln in lines if ln.quantity_open], "quantity_open")
            + "."
        )
    to_ship = {ln.pk: ln.quantity_picked - ln.quantity_shipped for ln in lines}
    if not any(to_ship.values()):
        raise ValidationError(f"FO-{fo.pk} has nothing picked to ship.")
    return lines, to_ship


@dataclass(frozen=True, slots=True)
class _Parcel:
    """What the shipper says about the parcel; empty values keep what the shipment already has."""

    tracking_number: str
    tracking_url: str
    carrier: str
    cost: Decimal | None
    weight_grams: int | None


def _shipment_record(
    *, fo: FulfillmentOrder, svc: CarrierService, to_ship: dict[int, int], products: list, parcel: _Parcel
) -> Shipment:
    """The open shipment of the fulfilment order (or a new one) filled in and saved with its lines; customs
    items when the parcel crosses a border."""
    customs = _customs_items(fo, to_ship) if _destination_country(fo.order) != fo.location.country else []
    shipment = fo.shipments.filter(shipped_at__isnull=True).order_by("pk").first() or Shipment(
        fulfillment_order=fo, currency=fo.order.currency
    )
    shipment.carrier = parcel.carrier or svc.carrier
    shipment.service = svc.code
    shipment.tracking_number = parcel.tracking_number.strip()[:80]
    shipment.tracking_url = parcel.tracking_url or svc.tracking_link(shipment.tracking_number)
    shipment.cost = parcel.cost if parcel.cost is not None else shipment.cost
    if parcel.weight_grams:
        shipment.weight_grams = parcel.weight_grams
    elif not shipment.weight_grams:
        shipment.weight_grams = sum(p.weight_grams for p in products)
    shipment.customs_items = customs
    shipment.shipped_at = timezone.now()
    shipment.save()
    ShipmentLine.objects.bulk_create(
        [ShipmentLine(shipment=shipment, fulfillment_line_id=k, quantity=q) for k, q in to_ship.items() if q]
    )
    return shipment


def _shipped_event_data(*, shipment: Shipment, lines: list[FulfillmentLine], to_ship: dict[int, int]) -> dict:
    return {
        "shipment": shipment.pk,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "lines": [
            {"line_number": ln.order_line.line_number, "sku": ln.order_line.sku, "quantity": to_ship[ln.pk]}
            for ln in lines
            if to_ship[ln.pk]
        ],
        "units": sum(to_ship.values()),
    }


def shipments_hand_off(*, shipment_ids: list[int], location: Location, actor: AbstractBaseUser | None = None) -> int:
    """The carrier collected these packages from the store. Idempotent; other stores' packages refused."""
    shipments = list(Shipment.objects.filter(pk__in=shipment_ids).select_related("fulfillment_order__location"))
    for sh in shipments:
        if sh.fulfillment_order.location_id != location.pk:
            raise PermissionDenied(f"Shipment {sh.pk} is not from {location.code}.")
        _check_scope(sh.fulfillment_order, actor)
        if sh.shipped_at is None:
            raise ValidationError(f"Shipment {sh.pk} has not been shipped yet; create the shipment first.")
    return Shipment.objects.filter(pk__in=[s.pk for s in shipments], handed_off_at__isnull=True).update(
        handed_off_at=timezone.now()
    )


def fulfillment_order_deliver(
    *, fo_id: int, delivered_at: datetime | None = None, actor: AbstractBaseUser | None = None
) -> FulfillmentOrder:
    """The carrier delivered the parcel."""
    with transaction.atomic():
        fo = _lock(fo_id)
        _check_scope(fo, actor)
        at = delivered_at or timezone.now()
        fo.shipments.filter(delivered_at__isnull=True).update(delivered_at=at)
        _transition(fo, S.DELIVERED, actor=actor, message=f"FO-{fo.pk} delivered.")
        _order_refresh(fo.order, actor=actor)
        return fo
