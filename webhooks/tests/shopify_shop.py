"""A local stand-in for a shop's Admin GraphQL API (there is no network here): a real HTTP server in a
thread that answers the documented operations the way Shopify does and refuses anything off-shape.

It checks, per request: POST to /admin/api/<version>/graphql.json, JSON body {"query", "variables"}, the
`X-Shopify-Access-Token` header (401 otherwise, as Shopify answers), and per operation the documented
variables: `order(id:)` with an Order gid; `fulfillmentCreate(fulfillment: FulfillmentInput!)` with
`lineItemsByFulfillmentOrder: [{fulfillmentOrderId, fulfillmentOrderLineItems: [{id, quantity}]}]`,
`trackingInfo {company, number, url}` and `notifyCustomer`; `orderCancel(orderId, reason, refundMethod,
restock, notifyCustomer, staffNote)`; `fulfillmentOrderCancel(id)`. An off-shape request is answered with
GraphQL `errors` (and recorded in `rejected`) so a test fails on it. Accepted mutations change the shop's
state (remaining quantities, fulfilments with tracking, cancellation) like the real thing.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "2025-07"
CANCEL_REASONS = {"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"}
GID = re.compile(r"^gid://shopify/(\w+)/\d+$")


def _check_gid(value, kind: str) -> None:
    m = GID.match(value) if isinstance(value, str) else None
    if not m or m.group(1) != kind:
        raise ValueError(f"{value!r} is not a {kind} gid")


def _keys(obj, allowed: set, required: set, where: str) -> None:
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be an object")
    if set(obj) - allowed:
        raise ValueError(f"{where}: unknown fields {sorted(set(obj) - allowed)}")
    if required - set(obj):
        raise ValueError(f"{where}: missing {sorted(required - set(obj))}")


class Shop:
    def __init__(self, *, token: str = "shpat_test_token") -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = token
        self.orders: dict[str, dict] = {}
        self.requests: list[dict] = []  # every request: {"token", "operation", "variables"}
        self.mutations: list[tuple[str, dict]] = []  # accepted mutations (operation, variables)
        self.rejected: list[str] = []
        self.fail_next_after_apply = 0  # answer 502 after applying (an answer lost on the way back)
        self.mode = "ok"  # "500": every request answered 500 untouched; "slow": answered after `slow_seconds`
        self.slow_seconds = 2.5
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/admin/api/{VERSION}/graphql.json"

    def add_order(self, *, order_id: int, line_items: list[tuple[int, str, int]], fo_ids=(1001,)) -> None:
        """An order with its fulfillment orders: line items (id, sku, quantity) spread over `fo_ids`
        round-robin; each fulfillment-order line item id is the line item id with a 9 in front."""
        fos = {fo: [] for fo in fo_ids}
        for i, (li_id, sku, qty) in enumerate(line_items):
            fos[fo_ids[i % len(fo_ids)]].append(
                {
                    "id": f"gid://shopify/FulfillmentOrderLineItem/9{li_id}",
                    "remainingQuantity": qty,
                    "lineItem": {"id": f"gid://shopify/LineItem/{li_id}", "sku": sku},
                }
            )
        self.orders[f"gid://shopify/Order/{order_id}"] = {
            "cancelledAt": None,
            "fulfillments": [],
            "fulfillmentOrders": {
                fo: {"id": f"gid://shopify/FulfillmentOrder/{fo}", "status": "OPEN", "items": items}
                for fo, items in fos.items()
            },
        }

    # --- operations --------------------------------------------------------------------------------------

    def _order_view(self, gid: str) -> dict | None:
        o = self.orders.get(gid)
        if o is None:
            return None
        return {
            "id": gid,
            "cancelledAt": o["cancelledAt"],
            "fulfillments": [{"trackingInfo": [{"number": n}]} for n in o["fulfillments"]],
            "fulfillmentOrders": {
                "nodes": [
                    {"id": fo["id"], "status": fo["status"], "lineItems": {"nodes": fo["items"]}}
                    for fo in o["fulfillmentOrders"].values()
                ]
            },
        }

    def _fo(self, gid: str) -> dict:
        for o in self.orders.values():
            for fo in o["fulfillmentOrders"].values():
                if fo["id"] == gid:
                    return fo
        raise ValueError(f"no fulfillment order {gid}")

    def _fulfillment_create(self, v: dict) -> dict:
        _keys(v, {"fulfillment"}, {"fulfillment"}, "variables")
        f = v["fulfillment"]
        _keys(
            f,
            {"lineItemsByFulfillmentOrder", "trackingInfo", "notifyCustomer", "originAddress"},
            {"lineItemsByFulfillmentOrder"},
            "fulfillment",
        )
        if "notifyCustomer" in f and not isinstance(f["notifyCustomer"], bool):
            raise ValueError("notifyCustomer must be a Boolean")
        if "trackingInfo" in f:
            _keys(f["trackingInfo"], {"company", "number", "url", "numbers", "urls"}, set(), "trackingInfo")
        groups = f["lineItemsByFulfillmentOrder"]
        if not isinstance(groups, list) or not groups:
            raise ValueError("lineItemsByFulfillmentOrder must be a non-empty list")
        errors, changes = [], []
        for g in groups:
            _keys(g, {"fulfillmentOrderId", "fulfillmentOrderLineItems"}, {"fulfillmentOrderId"}, "group")
            _check_gid(g["fulfillmentOrderId"], "FulfillmentOrder")
            fo = self._fo(g["fulfillmentOrderId"])
            for item in g.get("fulfillmentOrderLineItems") or []:
                _keys(item, {"id", "quantity"}, {"id", "quantity"}, "fulfillmentOrderLineItems[]")
                _check_gid(item["id"], "FulfillmentOrderLineItem")
                li = next((x for x in fo["items"] if x["id"] == item["id"]), None)
                if li is None or not isinstance(item["quantity"], int) or item["quantity"] < 1:
                    raise ValueError(f"bad line item {item}")
                if item["quantity"] > li["remainingQuantity"]:
                    errors.append(
                        {"field": ["fulfillment"], "message": "Invalid fulfillment order line item quantity requested."}
                    )
                changes.append((li, item["quantity"]))
        if errors:
            return {"fulfillmentCreate": {"fulfillment": None, "userErrors": errors}}
        for li, q in changes:
            li["remainingQuantity"] -= q
        order = next(
            o
            for o in self.orders.values()
            if any(fo["id"] == groups[0]["fulfillmentOrderId"] for fo in o["fulfillmentOrders"].values())
        )
        order["fulfillments"].append((f.get("trackingInfo") or {}).get("number"))
        n = len(order["fulfillments"])
        return {
            "fulfillmentCreate": {
                "fulfillment": {"id": f"gid://shopify/Fulfillment/{n}", "status": "SUCCESS"},
                "userErrors": [],
            }
        }

    def _order_cancel(self, v: dict) -> dict:
        _keys(
            v,
            {"orderId", "reason", "refundMethod", "restock", "notifyCustomer", "staffNote"},
            {"orderId", "reason", "refundMethod", "restock"},
            "variables",
        )
        _check_gid(v["orderId"], "Order")
        if v["reason"] not in CANCEL_REASONS or not isinstance(v["restock"], bool):
            raise ValueError("reason / restock")
        _keys(v["refundMethod"], {"originalPaymentMethodsRefund", "storeCreditRefund"}, set(), "refundMethod")
        order = self.orders[v["orderId"]]
        if order["cancelledAt"]:
            err = [{"field": ["orderId"], "message": "Order has already been cancelled", "code": "INVALID"}]
            return {"orderCancel": {"job": None, "orderCancelUserErrors": err}}
        order["cancelledAt"] = "2026-01-01T00:00:00Z"
        return {"orderCancel": {"job": {"id": "gid://shopify/Job/1", "done": False}, "orderCancelUserErrors": []}}

    def _fulfillment_order_cancel(self, v: dict) -> dict:
        _keys(v, {"id"}, {"id"}, "variables")
        _check_gid(v["id"], "FulfillmentOrder")
        fo = self._fo(v["id"])
        fo["status"] = "CANCELLED"
        return {
            "fulfillmentOrderCancel": {"fulfillmentOrder": {"id": fo["id"], "status": "CANCELLED"}, "userErrors": []}
        }

    def _answer(self, query: str, variables: dict) -> tuple[str, dict]:
        if re.search(r"\bmutation\b", query):
            for name, fn in (
                ("fulfillmentCreate(", self._fulfillment_create),
                ("orderCancel(", self._order_cancel),
                ("fulfillmentOrderCancel(", self._fulfillment_order_cancel),
            ):
                if re.search(r"[\s{]" + re.escape(name), query):
                    return name[:-1], fn(variables)
            raise ValueError("unknown mutation")
        if "order(id: $id)" in query and "fulfillmentOrders" in query:
            _keys(variables, {"id"}, {"id"}, "variables")
            _check_gid(variables["id"], "Order")
            return "order", {"order": self._order_view(variables["id"])}
        raise ValueError("unknown query")

    # --- server ------------------------------------------------------------------------------------------

    def start(self) -> Shop:
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, code: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if shop.mode == "500":
                    return self._send(500, {"errors": "Internal Server Error"})
                if shop.mode == "slow":
                    time.sleep(shop.slow_seconds)
                    return self._send(200, {"errors": [{"message": "too late"}]})
                token = self.headers.get("X-Shopify-Access-Token")
                if self.path != f"/admin/api/{VERSION}/graphql.json":
                    return self._send(404, {"errors": "Not Found"})
                if token != shop.token:
                    return self._send(401, {"errors": "[API] Invalid API key or access token"})
                if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                    return self._send(415, {"errors": "Content-Type must be application/json"})
                with shop._lock:
                    try:
                        doc = json.loads(raw)
                        _keys(doc, {"query", "variables", "operationName"}, {"query"}, "body")
                        op, data = shop._answer(doc["query"], doc.get("variables") or {})
                    except (ValueError, KeyError, TypeError) as exc:
                        shop.rejected.append(str(exc))
                        return self._send(200, {"errors": [{"message": str(exc)}]})
                    shop.requests.append({"token": token, "operation": op, "variables": doc.get("variables")})
                    if op != "order":
                        shop.mutations.append((op, doc.get("variables")))
                    if op != "order" and shop.fail_next_after_apply:
                        shop.fail_next_after_apply -= 1
                        return self._send(502, {"errors": "Bad gateway"})
                return self._send(200, {"data": data})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --- Our side of the test: the Shopify channel's webhook door --------------------------------------------

CHANNEL_SECRET = "hush-test-secret"
# The real fixture's line items (orders/tests/fixtures/shopify_order.json): (id, sku, quantity).
LINE_ITEMS = [(466157049, "IPOD2008GREEN", 1), (518995019, "IPOD2008RED", 1), (703073504, "IPOD2008BLACK", 1)]


def shopify_webhook(client, payload: dict, *, webhook_id: str = "wh-1"):
    """POST an orders/create webhook to the "shop" channel, signed as Shopify signs it."""
    from orders.shopify import shopify_signature

    body = json.dumps(payload).encode()
    return client.post(
        "/api/v1/channels/shop/shopify/orders-create",
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(secret=CHANNEL_SECRET, body=body),
        HTTP_X_SHOPIFY_WEBHOOK_ID=webhook_id,
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_SHOP_DOMAIN="brand.myshopify.com",
    )
