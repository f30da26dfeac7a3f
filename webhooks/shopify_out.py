"""Shopify channels: shipments and cancellations reported back to the shop through its Admin GraphQL API.

A Subscription of kind "shopify" (one per Shopify channel; docs/shopify.md) receives the channel's
`fulfillment.shipped` and `order.cancelled` events through the outbox like any subscription (one delivery
per event, retried with backoff, dead after the budget, in order per order), but a delivery is a Shopify job
instead of a signed POST. Every request goes to the subscription's URL (the shop's
`https://SHOP.myshopify.com/admin/api/2025-07/graphql.json`) through common.netguard with the access token
in `X-Shopify-Access-Token`.

One job, two requests:

1. A query of the order (`order(id: "gid://shopify/Order/<external id>")`): its fulfillment orders with
   their line items (`id`, `remainingQuantity`, `lineItem { id sku }`), its fulfilments' tracking numbers
   and `cancelledAt`. Shopify's order webhooks carry line item ids (intake keeps them, OrderLine.external_id)
   but never fulfillment-order ids, and a shop moves and splits fulfillment orders after the order is
   placed, so they are read fresh on every attempt.
2. The mutation: `fulfillmentCreate` for a shipment (`lineItemsByFulfillmentOrder` with
   `fulfillmentOrderId` and `fulfillmentOrderLineItems {id, quantity}`, `trackingInfo {company, number,
   url}`, `notifyCustomer`); `orderCancel` for a cancelled order of which nothing shipped;
   `fulfillmentOrderCancel` of each fulfillment order still open for an order cancelled after a partial
   shipment (Shopify cancels a whole order only before anything is fulfilled).

Exactly once across retries: the query shows what an earlier attempt whose answer was lost already did —
a fulfilment with the shipment's tracking number, a cancelled order, no units remaining — and the job then
sends nothing more. A GraphQL `userErrors` answer or top-level `errors` (throttling) is a failed attempt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.conf import settings

from common.netguard import OutboundError, OutboundRefused, OutboundTooLarge, outbound_request
from orders.models import Order, OrderLine
from webhooks.models import Delivery, EventType

FULFILLABLE = ("OPEN", "IN_PROGRESS")

ORDER_QUERY = """
query DomOrderFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    cancelledAt
    fulfillments(first: 100) { trackingInfo(first: 10) { number } }
    fulfillmentOrders(first: 50) {
      nodes {
        id
        status
        lineItems(first: 250) { nodes { id remainingQuantity lineItem { id sku } } }
      }
    }
  }
}
""".strip()

FULFILLMENT_CREATE = """
mutation DomFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
""".strip()

ORDER_CANCEL = """
mutation DomOrderCancel($orderId: ID!, $reason: OrderCancelReason!, $refundMethod: OrderCancelRefundMethodInput!,
  $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refundMethod: $refundMethod, restock: $restock,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
""".strip()

FULFILLMENT_ORDER_CANCEL = """
mutation DomFulfillmentOrderCancel($id: ID!) {
  fulfillmentOrderCancel(id: $id) {
    fulfillmentOrder { id status }
    userErrors { field message }
  }
}
""".strip()

# Our free-text cancel reason → Shopify's OrderCancelReason (first match wins; else OTHER).
CANCEL_REASONS = [
    (re.compile(r"fraud", re.I), "FRAUD"),
    (re.compile(r"payment|declin", re.I), "DECLINED"),
    (re.compile(r"stock|inventory|unavailable|short", re.I), "INVENTORY"),
    (re.compile(r"customer|buyer|shopper", re.I), "CUSTOMER"),
    (re.compile(r"staff|mistake|error", re.I), "STAFF"),
]


class ShopifyFailed(Exception):
    """One attempt failed (transport, HTTP status, GraphQL errors); the outbox retries it."""

    def __init__(self, message: str, *, code: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.code, self.body = code, body


def shopify_gid(*, kind: str, value: str) -> str:
    """A Shopify global id: `gid://shopify/<kind>/<value>` (a value that already is one is kept)."""
    value = str(value or "").strip()
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


@dataclass
class _Shop:
    url: str
    token: str

    def graphql(self, *, query: str, variables: dict) -> dict:
        """POST one GraphQL document; the `data` object, or ShopifyFailed."""
        body = json.dumps({"query": query, "variables": variables}, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Shopify-Access-Token": self.token,
        }
        try:
            resp = outbound_request(
                url=self.url,
                method="POST",
                body=body,
                headers=headers,
                timeout=settings.DOM["OUTBOX_TIMEOUT_SECONDS"],
                max_bytes=1024 * 1024,
            )
        except (OutboundRefused, OutboundTooLarge, OutboundError) as exc:
            raise ShopifyFailed(str(exc)) from exc
        excerpt = resp.body[:500].decode("utf-8", errors="replace")
        if not 200 <= resp.status < 300:
            raise ShopifyFailed(f"HTTP {resp.status}", code=resp.status, body=excerpt)
        try:
            payload = json.loads(resp.body)
        except ValueError as exc:
            raise ShopifyFailed("The answer is not JSON.", code=resp.status, body=excerpt) from exc
        if not isinstance(payload, dict) or payload.get("errors") or not isinstance(payload.get("data"), dict):
            raise ShopifyFailed("GraphQL errors", code=resp.status, body=excerpt)
        return payload["data"]


def _user_errors(result: dict | None, *keys: str) -> list:
    result = result or {}
    return [e for k in keys for e in (result.get(k) or [])]


def _order_read(shop: _Shop, *, order_gid: str) -> dict:
    order = shop.graphql(query=ORDER_QUERY, variables={"id": order_gid}).get("order")
    if not isinstance(order, dict):
        raise ShopifyFailed(f"Shopify has no order {order_gid} (or the token may not read it).")
    return order


def _fo_nodes(order: dict) -> list[dict]:
    return [fo for fo in (order.get("fulfillmentOrders") or {}).get("nodes") or [] if isinstance(fo, dict)]


def _line_items(fo: dict) -> list[dict]:
    return [li for li in (fo.get("lineItems") or {}).get("nodes") or [] if isinstance(li, dict)]


def shopify_fulfillment_input(*, order: dict, lines: list[dict], external_ids: dict[int, str], tracking: dict) -> dict:
    """The FulfillmentInput for our shipped `lines` ({line_number, sku, quantity}) against the order's open
    fulfillment orders: each line matched by its Shopify line item id (else by SKU), units taken from what
    remains. Lines Shopify already shows fulfilled are left out; a line not on any fulfillment order is an
    error (ShopifyFailed)."""
    remaining = {
        li["id"]: (fo["id"], li) for fo in _fo_nodes(order) if fo.get("status") in FULFILLABLE for li in _line_items(fo)
    }
    left = {k: int(li.get("remainingQuantity") or 0) for k, (_, li) in remaining.items()}
    by_fo: dict[str, list[dict]] = {}
    known = [li for fo in _fo_nodes(order) for li in _line_items(fo)]
    for line in lines:
        ext = external_ids.get(line["line_number"])
        gid = shopify_gid(kind="LineItem", value=ext) if ext else None

        def match(li: dict, gid=gid, line=line) -> bool:
            item = li.get("lineItem") or {}
            return item.get("id") == gid if gid else (item.get("sku") or "") == line["sku"]

        if not any(match(li) for li in known):
            raise ShopifyFailed(f"Line {line['line_number']} ({line['sku']}) is on no fulfillment order in Shopify.")
        want = int(line["quantity"])
        for key, (fo_id, li) in remaining.items():
            take = min(want, left[key]) if match(li) else 0
            if take:
                by_fo.setdefault(fo_id, []).append({"id": key, "quantity": take})
                left[key] -= take
                want -= take
    fulfillment = {
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": items} for fo_id, items in by_fo.items()
        ],
        "notifyCustomer": bool(settings.DOM.get("SHOPIFY_NOTIFY_CUSTOMER", False)),
    }
    info = {k: v for k, v in tracking.items() if v}
    if info:
        fulfillment["trackingInfo"] = info
    return fulfillment


def _ship(shop: _Shop, *, delivery: Delivery, order_gid: str) -> str:
    data = delivery.event.data
    number = data.get("tracking_number") or ""
    order = _order_read(shop, order_gid=order_gid)
    tracked = {t.get("number") for f in order.get("fulfillments") or [] for t in (f or {}).get("trackingInfo") or []}
    if number and number in tracked:
        return f"Shopify already has a fulfilment with tracking {number}; nothing sent."
    external_ids = dict(OrderLine.objects.filter(order_id=delivery.order_id).values_list("line_number", "external_id"))
    fulfillment = shopify_fulfillment_input(
        order=order,
        lines=data.get("lines") or [],
        external_ids=external_ids,
        tracking={"company": data.get("carrier") or "", "number": number, "url": data.get("tracking_url") or ""},
    )
    if not fulfillment["lineItemsByFulfillmentOrder"]:
        return "Shopify shows nothing of this shipment left to fulfil; nothing sent."
    result = shop.graphql(query=FULFILLMENT_CREATE, variables={"fulfillment": fulfillment}).get("fulfillmentCreate")
    if errors := _user_errors(result, "userErrors"):
        raise ShopifyFailed("fulfillmentCreate refused", code=200, body=json.dumps(errors)[:500])
    return f"fulfillmentCreate: {((result or {}).get('fulfillment') or {}).get('id', '')}"


def shopify_cancel_reason(*, reason: str) -> str:
    """Shopify's OrderCancelReason for our free-text reason."""
    return next((code for rx, code in CANCEL_REASONS if rx.search(reason or "")), "OTHER")


def _cancel(shop: _Shop, *, delivery: Delivery, order_gid: str) -> str:
    order = _order_read(shop, order_gid=order_gid)
    if order.get("cancelledAt"):
        return "Shopify shows the order cancelled; nothing sent."
    reason = delivery.event.data.get("reason") or ""
    shipped = OrderLine.objects.filter(order_id=delivery.order_id, quantity_shipped__gt=0).exists()
    if not shipped:
        variables = {
            "orderId": order_gid,
            "reason": shopify_cancel_reason(reason=reason),
            # The payment is Shopify's: cancelling refunds it (or releases the authorisation). The stock is
            # ours: Shopify does not restock. Our own notification tells the customer unless configured.
            "refundMethod": {"originalPaymentMethodsRefund": True},
            "restock": False,
            "notifyCustomer": bool(settings.DOM.get("SHOPIFY_NOTIFY_CUSTOMER", False)),
            "staffNote": reason[:255],
        }
        result = shop.graphql(query=ORDER_CANCEL, variables=variables).get("orderCancel")
        if errors := _user_errors(result, "orderCancelUserErrors", "userErrors"):
            raise ShopifyFailed("orderCancel refused", code=200, body=json.dumps(errors)[:500])
        return f"orderCancel: job {((result or {}).get('job') or {}).get('id', '')}"
    open_fos = [
        fo["id"]
        for fo in _fo_nodes(order)
        if fo.get("status") in FULFILLABLE and any(int(li.get("remainingQuantity") or 0) for li in _line_items(fo))
    ]
    for fo_id in open_fos:
        result = shop.graphql(query=FULFILLMENT_ORDER_CANCEL, variables={"id": fo_id}).get("fulfillmentOrderCancel")
        if errors := _user_errors(result, "userErrors"):
            raise ShopifyFailed(f"fulfillmentOrderCancel {fo_id} refused", code=200, body=json.dumps(errors)[:500])
    return f"fulfillmentOrderCancel: {', '.join(open_fos) or 'nothing open'}"


def shopify_delivery_send(*, delivery: Delivery) -> tuple[int, str]:
    """Report one event of a Shopify subscription to the shop (module docstring). Returns (200, what was
    done) or raises ShopifyFailed; an event type Shopify is not told about is delivered as a no-op."""
    sub = delivery.subscription
    shop = _Shop(url=sub.url, token=sub.access_token)
    order = Order.objects.filter(pk=delivery.order_id).values_list("external_id", flat=True).first()
    if not order:
        raise ShopifyFailed("The event has no order to report.")
    order_gid = shopify_gid(kind="Order", value=order)
    if delivery.event.type == EventType.FULFILLMENT_SHIPPED:
        return 200, _ship(shop, delivery=delivery, order_gid=order_gid)
    if delivery.event.type == EventType.ORDER_CANCELLED:
        return 200, _cancel(shop, delivery=delivery, order_gid=order_gid)
    return 200, f"{delivery.event.type} is not reported to Shopify."
