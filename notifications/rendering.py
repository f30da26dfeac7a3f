"""E-mail contents: the context each template gets (plain dicts, built from the event and the order) and
the rendering of `templates/notifications/email/<template>.{subject.txt,txt,html}`.

The pickup code enters a context only in `notification_context` (the customer's message, at send time);
the preview gives a sample code instead, so no staff screen ever shows a real one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string

from fulfillment.models import FulfillmentOrder, Shipment
from fulfillment.selectors import carrier_service_find
from inventory.models import Location, Product
from notifications.models import Message, Template
from orders.models import Order

PREVIEW_PICKUP_CODE = "SAMPLE"
PREVIEW_CHECKIN_URL = "https://example.com/check-in/sample"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def notification_render(*, template: str, context: dict) -> Rendered:
    base = f"notifications/email/{template}"
    subject = " ".join(render_to_string(f"{base}.subject.txt", context).split())[:200]
    context = {**context, "subject": subject}
    return Rendered(subject, render_to_string(f"{base}.txt", context), render_to_string(f"{base}.html", context))


def _order(order: Order | None) -> dict:
    if order is None:
        return {
            "number": "SAMPLE-1001",
            "customer_name": "Alex Sample",
            "channel": "Web store",
            "currency": "USD",
            "lines": [
                {"line_number": 1, "sku": "SKU-00001", "name": "Sample jacket", "quantity": 2, "unit_price": "49.00"},
                {"line_number": 2, "sku": "SKU-00002", "name": "Sample scarf", "quantity": 1, "unit_price": "19.00"},
            ],
        }
    lines = [
        {
            "line_number": ln.line_number,
            "sku": ln.sku,
            "name": ln.name,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
        }
        for ln in order.lines.all()
    ]
    name = order.customer.name if order.customer_id else (order.shipping_address or {}).get("name", "")
    return {
        "number": order.number,
        "customer_name": name,
        "channel": order.channel.name,
        "currency": order.currency,
        "lines": lines,
    }


def _local(dt, tz: str) -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime("%A %d %B %Y") if dt else ""


def _pickup(fo: FulfillmentOrder | None, *, code: str) -> dict:
    if fo is None:
        return {
            "store": {"name": "Sample Store", "address": "1 Main Street", "city": "Springfield"},
            "pickup_code": code,
            "pickup_by": "Saturday 01 January 2000",
            "items": [{"sku": "SKU-00001", "name": "Sample jacket", "quantity": 2}],
        }
    loc = fo.location
    items = [
        {"sku": ln.order_line.sku, "name": ln.order_line.name, "quantity": ln.quantity_picked or ln.quantity}
        for ln in fo.lines.select_related("order_line")
        if ln.quantity_picked or fo.status != FulfillmentOrder.Status.READY_FOR_PICKUP
    ]
    return {
        "store": {"name": loc.name, "address": loc.address_line1, "city": loc.city},
        "pickup_code": code,
        "pickup_by": _local(fo.pickup_by, loc.timezone),
        "items": items,
    }


def _cancelled(order_ctx: dict, data: dict) -> dict:
    """Lines and units cancelled with their refund amount (units × the line's unit price)."""
    prices = {ln["line_number"]: Decimal(str(ln["unit_price"])) for ln in order_ctx["lines"]}
    lines = data.get("lines") or []
    refund = sum(
        (prices.get(ln.get("line_number"), Decimal(0)) * int(ln.get("quantity") or 0) for ln in lines), Decimal(0)
    )
    ordered = sum(int(ln["quantity"]) for ln in order_ctx["lines"])
    units = int(data.get("units") or sum(int(ln.get("quantity") or 0) for ln in lines))
    return {
        "lines": lines,
        "units": units,
        "refund_amount": f"{refund:.2f}",
        "partly": 0 < units < ordered,
        "reason": data.get("reason") or "",
    }


def _shipped(data: dict) -> dict:
    svc = carrier_service_find(code=data.get("service") or "")
    return {
        "carrier": data.get("carrier") or (svc.carrier if svc else ""),
        "service": svc.name if svc else (data.get("service") or ""),
        "tracking_number": data.get("tracking_number") or "",
        "tracking_url": data.get("tracking_url") or "",
        "items": data.get("lines") or [],
    }


def _stock_low(data: dict) -> dict:
    product = data.get("product") or {}
    name = Product.objects.filter(pk=product.get("id")).values_list("name", flat=True).first() or ""
    loc = data.get("location")
    loc_name = Location.objects.filter(code=loc).values_list("name", flat=True).first() if loc else ""
    return {
        "sku": product.get("sku", ""),
        "product_name": name,
        "location": loc or "",
        "location_name": loc_name or "",
        "scope": data.get("scope") or ("location" if loc else "network"),
        "ats": data.get("ats"),
        "threshold": data.get("threshold"),
    }


def _context(*, template: str, order: Order | None, data: dict, fo: FulfillmentOrder | None, preview: bool) -> dict:
    from notifications.services import notification_checkin_url

    ctx: dict = {"template": template, "preview": preview}
    if template == Template.STOCK_LOW:
        return {**ctx, "alert": _stock_low(data)}
    ctx["order"] = _order(order)
    if template in (Template.READY_FOR_PICKUP, Template.PICKUP_REMINDER):
        code = PREVIEW_PICKUP_CODE if preview else (fo.pickup_code if fo else "")
        ctx["pickup"] = _pickup(fo, code=code)
        ctx["checkin_url"] = PREVIEW_CHECKIN_URL if preview else (notification_checkin_url(order) if order else None)
    elif template == Template.SHIPPED:
        ctx["shipment"] = _shipped(data)
    elif template == Template.DELAYED:
        ctx["delay"] = {"expected_date": data.get("expected_date") or "", "partly": bool(data.get("partial"))}
    elif template == Template.CANCELLED:
        ctx["cancellation"] = _cancelled(ctx["order"], data)
    elif template == Template.REFUND_ISSUED:
        ctx["refund"] = {k: data.get(k) or "" for k in ("amount", "currency", "rma", "reference")}
    return ctx


def _order_full(order_id: int | None) -> Order | None:
    if not order_id:
        return None
    return Order.objects.select_related("channel", "customer").prefetch_related("lines").filter(pk=order_id).first()


def notification_context(*, message: Message) -> dict:
    """The context of a queued message, from its event data and the order as it is now."""
    data = message.data or {}
    fo = None
    if data.get("fulfillment_order") and message.template in (Template.READY_FOR_PICKUP, Template.PICKUP_REMINDER):
        fo = FulfillmentOrder.objects.select_related("location").get(pk=data["fulfillment_order"])
    return _context(template=message.template, order=_order_full(message.order_id), data=data, fo=fo, preview=False)


def _preview_data(template: str, order: Order | None) -> tuple[dict, FulfillmentOrder | None]:
    """Event-like data for a preview, from the order's own records where it has them."""
    if order is None:
        lines = [{"line_number": 1, "sku": "SKU-00001", "quantity": 1}]
    else:
        lines = [{"line_number": ln.line_number, "sku": ln.sku, "quantity": ln.quantity} for ln in order.lines.all()][
            :1
        ]
    fos = FulfillmentOrder.objects.filter(order=order).select_related("location") if order else None
    if template == Template.SHIPPED:
        ship = Shipment.objects.filter(fulfillment_order__order=order).order_by("-id").first() if order else None
        if ship:
            return {
                "carrier": ship.carrier,
                "service": ship.fulfillment_order.carrier_service,
                "tracking_number": ship.tracking_number,
                "tracking_url": ship.tracking_url,
                "lines": lines,
            }, None
        return {
            "carrier": "UPS",
            "service": "ups_ground",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "lines": lines,
        }, None
    if template in (Template.READY_FOR_PICKUP, Template.PICKUP_REMINDER):
        return {}, (fos.filter(method="pickup").first() if fos is not None else None)
    if template == Template.DELAYED:
        return {"expected_date": "", "partial": True}, None
    if template == Template.CANCELLED:
        return {"reason": "Out of stock", "lines": lines, "units": sum(ln["quantity"] for ln in lines)}, None
    if template == Template.REFUND_ISSUED:
        total = order.total if order else "68.00"
        return {
            "amount": str(total),
            "currency": order.currency if order else "USD",
            "rma": "RMA-SAMPLE",
            "reference": "",
        }, None
    if template == Template.STOCK_LOW:
        ln = order.lines.exclude(product=None).first() if order else None
        sku, pid = (ln.sku, ln.product_id) if ln else ("SKU-00001", None)
        return {
            "product": {"id": pid, "sku": sku},
            "scope": "network",
            "location": None,
            "ats": 3,
            "threshold": 5,
        }, None
    return {}, None


def notification_preview(*, template: str, order: Order | None) -> Rendered:
    """A template rendered for a real order (or a sample one), as Operations preview it: a sample pickup
    code and check-in link, never the order's real code."""
    order = _order_full(order.pk) if order else None
    data, fo = _preview_data(template, order)
    return notification_render(
        template=template, context=_context(template=template, order=order, data=data, fo=fo, preview=True)
    )
