"""The demo's later set pieces, through the owning apps' services: supply on its way (purchase orders, an ASN
to a store, a transfer in transit), a pickup customer who said "I'm here", a customer with a tier and a
preferred store, an order changed after it was placed (a unit cancelled), a store closed for a day and the
demand forecasts with their safety-stock proposals."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from bench.demo_history import DEMO_STORES
from inventory.models import Location, LocationKind, StockLevel

EXTRA_PREFIX = "DEMO-"


def _warehouse() -> Location:
    return Location.objects.filter(kind=LocationKind.WAREHOUSE, is_active=True).order_by("code").first()


def _low_skus(*, location: Location, n: int) -> list[str]:
    """The SKUs this location holds least of: what a buyer would reorder first."""
    rows = (
        StockLevel.objects.filter(location=location, product__is_active=True)
        .values("product__sku")
        .annotate(total=Sum("on_hand"))
        .order_by("total", "product__sku")[:n]
    )
    return [r["product__sku"] for r in rows]


def demo_supply_seed(*, ctx: dict) -> None:
    """A purchase order to the first warehouse (three lines over two weeks, one partly received, one delayed),
    an ASN to STORE-0001 due tomorrow, and a rebalancing transfer from the warehouse to STORE-0002 on its way."""
    from inventory.inbound import (
        InboundIn,
        InboundLineIn,
        ReceiptIn,
        inbound_create,
        inbound_line_redate,
        inbound_receive,
    )
    from inventory.transfers import TransferLineIn, transfer_create, transfer_ship

    today, dc = timezone.localdate(), _warehouse()
    if dc is None:
        return
    skus = _low_skus(location=dc, n=3)
    po = inbound_create(
        data=InboundIn(
            number=f"{EXTRA_PREFIX}PO-1001",
            supplier="Acme Audio Ltd",
            location_code=dc.code,
            lines=[InboundLineIn(sku, 24 * (k + 1), today + timedelta(days=3 + 5 * k)) for k, sku in enumerate(skus)],
        ),
        actor=ctx["ops"],
    )
    inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn(skus[0], 10)], actor=ctx["ops"])
    inbound_line_redate(
        shipment_id=po.pk, sku=skus[-1], new_date=today + timedelta(days=20), reason="Supplier short on cartons"
    )
    store = Location.objects.get(code=DEMO_STORES[0])
    inbound_create(
        data=InboundIn(
            number=f"{EXTRA_PREFIX}ASN-2001",
            supplier="Acme Audio Ltd",
            location_code=store.code,
            kind="asn",
            lines=[InboundLineIn(sku, 6, today + timedelta(days=1)) for sku in ctx["store_skus"][store.code][:2]],
        ),
        actor=ctx["ops"],
    )
    stocked = [sku for sku in ctx["store_skus"][DEMO_STORES[1]] if sku not in skus][:2]
    transfer = transfer_create(
        source_code=dc.code,
        destination_code=DEMO_STORES[1],
        lines=[TransferLineIn(sku, 2) for sku in stocked],
        expected_date=today + timedelta(days=2),
        note="Rebalance before the weekend",
        actor=ctx["ops"],
    )
    transfer_ship(transfer_id=transfer.pk, actor=ctx["ops"])


def demo_customer_seed(*, ctx: dict) -> None:
    """A loyal customer: gold tier, STORE-0001 as preferred store (pickup suggestions put it first)."""
    from orders.models import Customer
    from orders.services import customer_profile_update

    customer = Customer.objects.exclude(email="").order_by("pk").first()
    if customer is not None:
        customer_profile_update(
            customer_id=customer.pk, tier="gold", preferred_store_code=DEMO_STORES[0], actor=ctx["ops"]
        )


def demo_checkin_seed(*, ctx: dict) -> None:
    """The pickup waiting at STORE-0001's counter: its customer has said "I'm here"."""
    from fulfillment.models import FulfillmentOrder
    from fulfillment.services import pickup_checkin_record, pickup_checkin_token

    fo = (
        FulfillmentOrder.objects.filter(location__code=DEMO_STORES[0], status="ready_for_pickup").order_by("pk").first()
    )
    if fo is not None:
        pickup_checkin_record(token=pickup_checkin_token(fo=fo), note="Blue hatchback, bay 3")


def demo_order_change_seed(*, ctx: dict) -> None:
    """A customer changed their mind: one unit of an order not yet released is cancelled."""
    from django.core.exceptions import ValidationError

    from orders.models import Order
    from orders.services import OrderChangeConflict, order_units_cancel

    candidates = Order.objects.filter(status="routed", lines__quantity__gte=2).order_by("-pk").distinct()
    for order in candidates[:10]:
        line = order.lines.filter(quantity__gte=2).order_by("line_number").first()
        try:
            order_units_cancel(
                order=order, lines={line.line_number: 1}, reason="Customer wants one fewer", actor=ctx["ops"]
            )
        except (OrderChangeConflict, ValidationError):  # released work refuses: try the next order
            continue
        return


def demo_closure_seed(*, ctx: dict) -> None:
    """STORE-0002 closes for its inventory day on the next weekday: routing ships its orders the day after."""
    from inventory.services import location_closure_set

    day = timezone.localdate() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    store = Location.objects.filter(code=DEMO_STORES[1]).first()
    if store is not None:
        location_closure_set(location=store, day=day, reason="Inventory day (annual stock count)")


def demo_forecast_seed(*, ctx: dict) -> None:
    """The forecast run the daily schedule makes, once now: the safety-stock screen has proposals to decide
    (the ten busiest series modelled, the rest seasonal naive, to keep the seed quick); the inventory manager
    has already approved one and rejected another, so the screen shows recent decisions too."""
    from inventory.models import SafetyStockProposal
    from inventory.services import forecasts_refresh, safety_stock_proposal_decide

    forecasts_refresh(model_max=10)
    pending = SafetyStockProposal.objects.filter(status=SafetyStockProposal.Status.PENDING).order_by("pk")
    for proposal, decision in zip(pending[:2], ("approve", "reject"), strict=False):
        safety_stock_proposal_decide(proposal_id=proposal.pk, decision=decision, actor=ctx.get("inventory"))


def demo_ratecard_seed(*, ctx: dict) -> None:
    """Next month's version of the carrier's rate card (a 4.9 % general rate increase), imported from CSV the way
    a merchandiser would: the admin's rate cards show the card in force and the one to come."""
    from decimal import ROUND_HALF_UP, Decimal

    from common.csv import csv_text
    from routing.models import RateCard
    from routing.services import ratecard_csv_import, ratecard_csv_rows

    current = RateCard.objects.order_by("-effective_from", "-version").first()
    if current is None or RateCard.objects.filter(carrier=current.carrier, version=current.version + 1).exists():
        return
    header, *rows = ratecard_csv_rows(card=current)
    cent = Decimal("0.01")
    raised = [[s, z, m, (b * Decimal("1.049")).quantize(cent, ROUND_HALF_UP), p, t] for s, z, m, b, p, t in rows]
    next_month = (timezone.localdate().replace(day=1) + timedelta(days=32)).replace(day=1)
    ratecard_csv_import(
        text=csv_text(header=header, rows=raised),
        carrier=current.carrier,
        version=current.version + 1,
        effective_from=next_month,
    )


def demo_extras_seed(*, ctx: dict) -> None:
    demo_supply_seed(ctx=ctx)
    demo_closure_seed(ctx=ctx)
    demo_forecast_seed(ctx=ctx)
    demo_ratecard_seed(ctx=ctx)
    demo_customer_seed(ctx=ctx)
    demo_checkin_seed(ctx=ctx)
    demo_order_change_seed(ctx=ctx)
