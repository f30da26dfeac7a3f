"""The demo's set pieces, each through the owning app's services: routing rule set history and a past
simulation, a WMS feed with runs (one failed), webhook subscriptions with deliveries (one dead-lettered),
holds of every kind, backorders, store work in every stage at the demo stores and returns in every state."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.db.models import Sum
from django.test.utils import override_settings
from django.utils import timezone

from bench.demo_clock import demo_backdate
from bench.demo_history import CUSTOMERS, DEMO_STORES, at_local, demo_order_in, demo_order_place, demo_skus
from inventory.models import Location, StockLevel
from orders.models import Order
from orders.services import order_hold_place

SCENE_PREFIX = "SCENE-"
STORE_RULE = {
    "name": "New York and Los Angeles orders ship from the city store",
    "conditions": {"any": [{"field": "destination.region", "op": "in", "value": ["NY", "CA"]}]},
    "action": {"type": "prefer", "locations": list(DEMO_STORES), "adjustment": -6},
}
EXPRESS_RULE = {
    "name": "Express orders never from dropship suppliers",
    "conditions": {"all": [{"field": "order.service_level", "op": "in", "value": ["express", "overnight"]}]},
    "action": {"type": "exclude", "kinds": ["dropship"]},
}


# --- Routing rules: two published changes, an open draft and its simulation ----------------------------


def _rule_set():
    from routing.models import RuleSet

    return RuleSet.objects.filter(is_active=True).first()


def demo_rules_publish(*, day: date, ctx: dict, rule: dict, comment: str) -> None:
    """A merchandiser drafts a change, adds `rule` and publishes it, on `day`."""
    from routing.editor.services import rule_add, ruleset_draft_create, version_publish

    merch, rule_set = ctx["merch"], _rule_set()
    if rule_set is None:  # a database without routing's shipped defaults: nothing to change
        return
    with demo_backdate(at_local(day, 10)):
        draft = ruleset_draft_create(rule_set=rule_set, actor=merch, comment=comment)
        rule_add(version=draft, actor=merch, comment=comment, **rule)
    with demo_backdate(at_local(day, 11)):
        version_publish(version=draft, actor=merch, comment=comment)


def demo_simulation_seed(*, ctx: dict) -> None:
    """An open draft (one more preference) and its simulation over the last seven days, run yesterday."""
    from routing.editor.services import rule_add, ruleset_draft_create
    from routing.editor.simulation import simulation_create, simulation_run

    merch, rule_set = ctx["merch"], _rule_set()
    if rule_set is None:
        return
    yesterday = timezone.localdate() - timedelta(days=1)
    with demo_backdate(at_local(yesterday, 16)):
        draft = ruleset_draft_create(rule_set=rule_set, actor=merch, comment="Try Edison first for the East")
        rule_add(
            version=draft,
            name="East coast orders prefer the Edison DC",
            conditions={"all": [{"field": "destination.region", "op": "in", "value": ["NY", "NJ", "PA", "CT"]}]},
            action={"type": "prefer", "locations": ["DC-EDISON"], "adjustment": -2},
            actor=merch,
        )
        sim = simulation_create(draft=draft, actor=merch, date_from=yesterday - timedelta(days=6), date_to=yesterday)
    with demo_backdate(at_local(yesterday, 16.1)):
        simulation_run(simulation_id=sim.pk)


# --- WMS feed ----------------------------------------------------------------------------------------


def demo_feed_seed(*, day: date, ctx: dict) -> None:
    """The Edison DC's WMS pushes receipts every few days; one push named an unknown SKU and failed."""
    from inventory.feeds import wms_events_apply, wms_feed_create

    feed = wms_feed_create(
        name="edison-wms",
        format="json_events",
        transport="http_push",
        secret_env="DOM_FEED_EDISON_TOKEN",
        location_map={"EDI1": "DC-EDISON"},
        every_minutes=15,
    )
    skus = ctx["skus"][:6]
    seq = 0
    for k, offset in enumerate((0, 3, 6, 8)):
        seq += len(skus)
        events = [
            {
                "id": f"edi-{seq + i}",
                "sequence": seq + i,
                "sku": sku,
                "location": "EDI1",
                "type": "receive",
                "quantity": 12,
                "at": at_local(day + timedelta(days=offset), 6).isoformat(),
            }
            for i, sku in enumerate(skus)
        ]
        when = at_local(day + timedelta(days=offset), 6.05)
        if when >= timezone.now():
            break
        # The third push arrived cut off (no event list): the run fails and names why.
        payload = {"events": events} if k != 2 else {"evnts": events[:1]}
        with demo_backdate(when):
            wms_events_apply(feed_id=feed.pk, payload=payload, source="push")


def demo_imports_seed(*, day: date, ctx: dict) -> None:
    """Two stock files uploaded by the inventory manager: a recount applied, and one rejected for its bad rows."""
    import io

    from inventory.imports import stock_import_create, stock_import_run

    skus = ctx["store_skus"][DEMO_STORES[0]][:4]
    good = "sku,location,delta\n" + "".join(f"{sku},{DEMO_STORES[0]},2\n" for sku in skus)
    bad = f"sku,location,delta\n{skus[0]},{DEMO_STORES[0]},1\nSKU-NOPE,{DEMO_STORES[0]},3\n{skus[1]},STORE-9999,1\n"
    for k, (name, text) in enumerate((("recount-store-0001.csv", good), ("recount-typos.csv", bad))):
        with demo_backdate(at_local(day, 9 + k)):
            job = stock_import_create(
                fileobj=io.BytesIO(text.encode()), name=name, mode="delta", user=ctx.get("inventory")
            )
            stock_import_run(import_id=job.pk)


# --- Webhooks: a local receiver for the seed, one subscription that keeps failing ---------------------


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = self.path.startswith("/ok")
        self.send_response(204 if ok else 503)
        self.end_headers()

    def log_message(self, *args):
        return


@contextmanager
def demo_receiver() -> Iterator[int]:
    """A webhook receiver on a free local port for the length of the seed: paths under /ok answer 204,
    the others 503. Outbound requests to it are allowed while it runs (it is the demo's own machine)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with override_settings(DOM_OUTBOUND_ALLOW_PRIVATE=True, DOM_OUTBOUND_ALLOW_HTTP=True):
            yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def demo_subscriptions_seed(*, day: date, ctx: dict) -> None:
    """Two subscriptions, created two days ago: the ERP takes the main order events, the loyalty CRM the
    pickups and refunds (its endpoint keeps answering 503)."""
    from webhooks.services import subscription_create

    base = f"http://127.0.0.1:{ctx['receiver_port']}"
    with demo_backdate(at_local(day, 9)):
        ctx["subs"] = [
            subscription_create(
                name="Warehouse ERP (demo receiver)",
                url=f"{base}/ok/erp",
                event_types=[
                    "order.accepted",
                    "order.routed",
                    "fulfillment.shipped",
                    "order.delivered",
                    "order.cancelled",
                ],
            )[0],
            subscription_create(
                name="Loyalty CRM",
                url=f"{base}/fail/crm",
                event_types=["order.picked_up", "refund.issued", "order.ready_for_pickup"],
            )[0],
        ]


def demo_deliveries_seed(*, ctx: dict) -> None:
    """Deliver what is due: the ERP's events arrive; the CRM's first delivery is retried until it is
    dead-lettered. The ERP subscription is then paused, since its receiver only lives during the seed."""
    from webhooks.models import Delivery
    from webhooks.services import deliveries_deliver_due, delivery_deliver, subscription_active_set

    subs = ctx.get("subs") or []
    if not subs:
        return
    deliveries_deliver_due(batch=300)
    first = Delivery.objects.filter(subscription=subs[1]).order_by("pk").first()
    when = timezone.now()
    for _ in range(settings.DOM["OUTBOX_MAX_ATTEMPTS"]):
        when += timedelta(hours=1, minutes=1)
        if first is not None:
            delivery_deliver(delivery_id=first.pk, now=when)
    subscription_active_set(subscription=subs[0], is_active=False)


# --- Today's open work ---------------------------------------------------------------------------------


def _scene_order(*, ctx: dict, n: int, skus: list[str], pickup: str = "", customer: int = 0, channel: str = "web"):
    rng = random.Random(n)
    order_in = demo_order_in(
        external_id=f"{SCENE_PREFIX}{n:03d}",
        rng=rng,
        placed=timezone.now() - timedelta(minutes=90 - n),
        skus=skus,
        pickup=pickup,
        customer=customer,
    )
    return demo_order_place(channel=ctx["channels"][channel], order_in=order_in, number=900 + n)


def demo_holds_seed(*, ctx: dict) -> None:
    """Orders held at intake — payment not authorised, an address that does not match its ZIP, a SKU not in
    the catalogue — and fraud-review and manual holds placed by operations on held orders."""
    from dataclasses import replace

    def held(n: int, **changes) -> Order:
        rng = random.Random(n)
        order_in = demo_order_in(
            external_id=f"{SCENE_PREFIX}{n:03d}",
            rng=rng,
            placed=timezone.now() - timedelta(hours=2, minutes=n),
            skus=ctx["skus"],
            customer=n,
        )
        return demo_order_place(channel=ctx["channels"]["web"], order_in=replace(order_in, **changes), number=900 + n)

    payment = held(1, payment_status="pending")
    wrong_zip = {
        "name": "Ivy Chen",
        "line1": "5 Bay St",
        "city": "Los Angeles",
        "region": "CA",
        "postal_code": "10004",
        "country": "US",
    }
    held(2, shipping_address=wrong_zip)
    unknown = held(3, payment_status="pending")
    base = demo_order_in(
        external_id=f"{SCENE_PREFIX}004", rng=random.Random(4), placed=timezone.now(), skus=ctx["skus"], customer=4
    )
    line = base.lines[0]
    held(4, lines=[line, replace(line, sku="SKU-NEW-2027")])
    order_hold_place(
        order=payment,
        kind="fraud",
        actor=ctx["ops"],
        reason="Billing and shipping countries differ on a first order of $640.",
    )
    order_hold_place(order=unknown, kind="manual", actor=ctx["ops"], reason="Customer asked to hold until Friday.")


def demo_backorders_seed(*, ctx: dict) -> None:
    """Two orders for more than the network holds: routed in part, the rest backordered."""
    from routing.services import orders_route_pending

    totals = (
        StockLevel.objects.filter(product__handling_class="ambient", on_hand__gt=0)
        .values("product__sku")
        .annotate(total=Sum("on_hand"))
        .order_by("total", "product__sku")[:2]
    )
    for k, row in enumerate(totals, start=10):
        rng = random.Random(k)
        order_in = demo_order_in(
            external_id=f"{SCENE_PREFIX}{k:03d}",
            rng=rng,
            placed=timezone.now() - timedelta(hours=3),
            skus=[row["product__sku"]],
            customer=k,
        )
        line = order_in.lines[0]
        order_in.lines[0] = type(line)(sku=line.sku, quantity=row["total"] + 6, unit_price=line.unit_price)
        demo_order_place(channel=ctx["channels"]["app"], order_in=order_in, number=900 + k)
    orders_route_pending(batch=100)


def demo_store_work_seed(*, ctx: dict) -> None:
    """Ship-from-store and pickup work at the demo stores, in every stage of the store queue."""
    from fulfillment.models import FulfillmentOrder
    from fulfillment.services import fulfillment_order_pack, fulfillment_order_pick_confirm, fulfillment_order_ready
    from routing.services import orders_route_pending

    n = 20
    for store_code, customers in zip(DEMO_STORES, ((0, 1), (3, 3)), strict=False):
        skus = ctx["store_skus"][store_code]
        for c in customers + customers:
            n += 1
            _scene_order(ctx=ctx, n=n, skus=skus, customer=c)  # NY / LA addresses: the store rule sends them there
            n += 1
            _scene_order(ctx=ctx, n=n, skus=skus, pickup=store_code, customer=c + 1, channel="app")
    orders_route_pending(batch=100)
    for store_code in DEMO_STORES:
        actor = ctx["staff"].get(store_code)
        open_fos = FulfillmentOrder.objects.filter(location__code=store_code, status="created").order_by("pk")
        ship = list(open_fos.filter(method="ship")[:2])
        pickup = list(open_fos.filter(method="pickup")[:3])
        for fo in ship[:1]:
            fulfillment_order_pick_confirm(fo_id=fo.pk, actor=actor)
            fulfillment_order_pack(fo_id=fo.pk, weight_grams=900, actor=actor)
        for fo in pickup[:2]:
            fulfillment_order_pick_confirm(fo_id=fo.pk, actor=actor)
        for fo in pickup[1:2]:
            fulfillment_order_ready(fo_id=fo.pk, staging_location="Pickup shelf B2", actor=actor)


def demo_returns_seed(*, ctx: dict) -> None:
    """Returns in every open state (requested, approved, in transit, inspected, rejected), one of them
    brought back to STORE-0001; closed (refunded) ones come from the history."""
    from returns.services import ReceiveLineIn, ReturnLineIn, rma_create, rma_mark_in_transit, rma_receive, rma_reject

    delivered = list(
        Order.objects.filter(status="delivered", external_id__startswith="HIST-").order_by("-placed_at")[:8]
    )
    ops = ctx["ops"]
    store = Location.objects.get(code=DEMO_STORES[0])
    plans = ["requested", "approved", "in_transit", "inspected", "rejected", "in_store"]
    for order, plan in zip(delivered, plans, strict=False):
        line = order.lines.order_by("line_number").first()
        lines = [ReturnLineIn(quantity=1, line_number=line.line_number, reason="size_fit")]
        if plan == "requested":
            dom = {**settings.DOM, "RETURNS_AUTO_APPROVE": False}
            with override_settings(DOM=dom):
                rma_create(order=order, lines=lines, actor=ops, customer_note="Too small, may I swap?")
            continue
        if plan == "in_store":
            rma_create(order=order, lines=lines, method="in_store", store=store, actor=ctx["staff"].get(store.code))
            continue
        rma = rma_create(order=order, lines=lines, actor=ops).rma
        if plan == "rejected":
            rma_reject(rma=rma, reason="Outside the 30-day window for worn items.", actor=ops)
        if plan in ("in_transit", "inspected"):
            rma_mark_in_transit(rma=rma, tracking_number=f"RET{rma.pk:06d}", actor=ops)
        if plan == "inspected":
            rl = rma.lines.first()
            rma_receive(
                rma=rma,
                actor=ops,
                lines=[ReceiveLineIn(return_line_id=rl.pk, quantity=1, condition="damaged", disposition="write_off")],
            )


def demo_scenes_seed(*, ctx: dict) -> None:
    demo_holds_seed(ctx=ctx)
    demo_backorders_seed(ctx=ctx)
    demo_store_work_seed(ctx=ctx)
    demo_returns_seed(ctx=ctx)
    demo_simulation_seed(ctx=ctx)
    demo_deliveries_seed(ctx=ctx)


def demo_customers() -> list[tuple]:
    return CUSTOMERS


def demo_ship_skus() -> list[str]:
    return demo_skus(minimum=40)
