"""The permission matrix: every URL name (screens and API) × every role, allowed or denied.

The table below is the contract. `test_every_url_has_an_entry` walks the URL resolver, so a URL added
without a row here fails CI until someone decides who may use it. Admin URLs are covered as one group
(staff only) by the admin tests at the end.

Outcomes: "ok" — the role got through (2xx/3xx, or 400/409 when the request body is empty or the action
does not apply); "ok404" — got through to an object that does not exist; 401/403 — refused; "login" —
redirected to sign in; 404 — the object exists but belongs to someone else (scoping).
Each request by an allowed role runs in a savepoint that is rolled back, so one role's POST does not
change what the next role sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from common import roles
from conftest import api_for, make_user
from fulfillment.models import Shipment
from fulfillment.services import pickup_checkin_token
from inventory.models import Location, WmsFeed
from inventory.services import ReserveLine, stock_reserve
from notifications.models import Message
from orders.models import ApiClient, Channel, Customer, Order, OrderHold
from returns.services import ReturnLineIn, rma_create
from returns.tests.conftest import shipped_order
from routing.editor.services import ruleset_draft_create
from routing.models import RuleSetVersion
from routing.services import order_route
from routing.tests.helpers import make_order, stock
from webhooks.services import subscription_create

ROLES = ["anon", "store_a", "store_b", "merch", "inv", "ops", "api_x"]
SIGNED = set(ROLES) - {"anon"}
STAFF = SIGNED - {"api_x"}


def outcomes(ok=(), *, anon="login", denied=403, **special) -> dict[str, object]:
    """Expected outcome per role: `ok` roles pass, anonymous gets `anon`, everyone else `denied`;
    `special` overrides single roles (e.g. store_b=404)."""
    ok = set(ok)
    out = {r: ("ok" if r in ok else denied) for r in ROLES}
    out["anon"] = "ok" if "anon" in ok else anon
    out.update(special)
    return out


def api(ok=(), *, anon=401, **special):
    return outcomes(ok, anon=anon, **special)


@dataclass
class Case:
    method: str
    expect: dict[str, object]
    kwargs: str | None = None  # key of the world's URL kwargs
    data: dict | str | None = None
    query: str = ""
    content_type: str | None = None
    extra: dict = field(default_factory=dict)


def GET(expect, kwargs=None, query=""):  # noqa: N802
    return Case("get", expect, kwargs, query=query)


def POST(expect, kwargs=None, data=None, content_type=None):  # noqa: N802
    return Case("post", expect, kwargs, data=data, content_type=content_type)


OPS = {"ops"}
STORE = {"store_a", "store_b"}
ORDER_API = {"ops", "api_x"}
INV_WRITERS = {"inv", "api_x"}
FO_API = {"ops", "api_x", "store_a", "store_b"}
EDITORS = {"merch", "ops"}
RETURNS_STAFF = {"store_a", "store_b", "ops"}
SUPPLY = {"inv", "ops", "api_x"}
RECEIVERS = {"store_a", "store_b", "inv", "ops"}

# url name -> the requests to make. Screens answer anonymous users with a redirect to sign in, the API with 401.
MATRIX: dict[str, list[Case]] = {
    # --- project ------------------------------------------------------------------------------------------
    "home": [GET(outcomes(SIGNED))],
    "login": [GET(outcomes(set(ROLES)))],
    "logout": [POST(outcomes(set(ROLES)))],
    "health": [GET(outcomes(set(ROLES)))],
    "schema": [GET(outcomes(set(ROLES)))],
    "swagger-ui": [GET(outcomes(set(ROLES)))],
    # Password reset by e-mail: open to everyone (it never says whether an account exists).
    "password_reset": [GET(outcomes(set(ROLES))), POST(outcomes(set(ROLES)), data={"email": "x@example.com"})],
    "password_reset_done": [GET(outcomes(set(ROLES)))],
    "password_reset_confirm": [GET(outcomes(set(ROLES)), "reset_link")],
    "password_reset_complete": [GET(outcomes(set(ROLES)))],
    "audit-log": [GET(outcomes(OPS))],
    # --- inventory ----------------------------------------------------------------------------------------
    "inventory:overview": [GET(outcomes({"inv", "ops"}))],
    "api-location-list": [GET(api(SIGNED)), POST(api(INV_WRITERS), data={})],
    "api-location-detail": [
        GET(api(SIGNED), "location"),
        Case("patch", api(INV_WRITERS), "location", data={"name": "Renamed"}),
    ],
    "api-product-list": [GET(api(SIGNED)), POST(api(INV_WRITERS), data={})],
    "api-product-detail": [GET(api(SIGNED), "sku"), Case("patch", api(INV_WRITERS), "sku", data={"name": "X"})],
    "api-availability": [GET(api(SIGNED), query="?sku=SKU-A")],
    "api-availability-pickup": [GET(api(SIGNED), query="?sku=SKU-A&postal_code=10001")],
    "inventory:imports": [GET(outcomes({"inv"})), POST(outcomes({"inv"}), data={})],
    # Safety-stock proposals from the forecasts: inventory managers decide them.
    "inventory:safety-proposals": [GET(outcomes({"inv"}))],
    "inventory:safety-decide": [POST(outcomes({"inv"}), "missing_pk", data={})],
    "inventory:import-detail": [GET(outcomes({"inv"}, inv="ok404"), "missing_pk")],
    "inventory:import-errors": [GET(outcomes({"inv"}, inv="ok404"), "missing_pk")],
    "routing:shortages": [GET(outcomes({"inv", "ops"}))],
    "routing:shortages-reroute": [POST(outcomes({"inv", "ops"}), data={})],
    "inventory:feeds": [GET(outcomes({"inv", "ops"}))],
    "inventory:feed-action": [POST(outcomes({"inv", "ops"}), "wms_feed_pk", data={})],
    "inventory:accuracy": [GET(outcomes({"inv", "ops"}))],
    "inventory:backorders": [GET(outcomes({"inv", "ops"})), GET(outcomes({"inv", "ops"}), query="?by=nonsense")],
    # Receiving: store staff at their own locations (another location's delivery is a 404), inventory
    # managers and Operations anywhere.
    "inventory:receiving": [GET(outcomes(RECEIVERS))],
    "inventory:receiving-inbound": [GET(outcomes(set(), **dict.fromkeys(RECEIVERS, "ok404")), "po_missing")],
    "inventory:receiving-transfer": [GET(outcomes(set(), **dict.fromkeys(RECEIVERS, "ok404")), "transfer_missing")],
    # Public, but authenticated by the feed's shared secret: without it everyone is refused (403).
    "api-wms-events": [POST(api(set(), anon=403, denied=403), "wms_feed", data={"events": []})],
    "api-availability-timeline": [GET(api(SIGNED), query="?sku=SKU-A")],
    # Inbound supply and transfers: inventory managers, Operations and machine clients (store staff receive
    # through their store's receiving screen).
    "api-inbound-list": [GET(api(SUPPLY)), POST(api(SUPPLY), data={})],
    "api-inbound-import": [POST(api(SUPPLY), data={}, content_type="multipart")],
    "api-inbound-detail": [GET(api(set(), **dict.fromkeys(SUPPLY, "ok404")), "po_missing")],
    **{
        f"api-inbound-{n}": [POST(api(set(), **dict.fromkeys(SUPPLY, "ok404")), "po_missing", data={})]
        for n in ("receive", "redate", "close-line")
    },
    "api-transfer-list": [GET(api(SUPPLY)), POST(api(SUPPLY), data={})],
    "api-transfer-detail": [GET(api(set(), **dict.fromkeys(SUPPLY, "ok404")), "transfer_missing")],
    **{
        f"api-transfer-{n}": [POST(api(set(), **dict.fromkeys(SUPPLY, "ok404")), "transfer_missing", data={})]
        for n in ("ship", "receive", "cancel")
    },
    "api-reservation-create": [POST(api(ORDER_API), data={})],
    "api-reservation-detail": [
        GET(api(ORDER_API), "reservation_x"),
        Case("delete", api(ORDER_API), "reservation_x"),
    ],
    # --- orders -------------------------------------------------------------------------------------------
    "orders:list": [GET(outcomes(OPS))],
    "orders:bulk": [POST(outcomes(OPS), data={})],
    "orders:filter-save": [POST(outcomes(OPS), data={})],
    "orders:filter-delete": [POST(outcomes(OPS), "missing_pk")],
    "orders:detail": [GET(outcomes(OPS), "order_x")],
    "orders:cancel": [POST(outcomes(OPS), "order_x", data={"reason": "test"})],
    "orders:change": [POST(outcomes(OPS), "order_x", data={})],
    "orders:holds": [GET(outcomes(OPS))],
    "orders:hold-release": [POST(outcomes(OPS), "hold")],
    "orders:hold-cancel-order": [POST(outcomes(OPS), "hold", data={"reason": "test"})],
    "orders:import": [GET(outcomes(OPS)), POST(outcomes(OPS), data={})],
    "orders:customer": [GET(outcomes(OPS), "customer_x"), POST(outcomes(OPS), "customer_x", data={})],
    "api-order-list": [GET(api(ORDER_API)), POST(api(ORDER_API), data={})],
    "api-order-import": [POST(api(ORDER_API), data={}, content_type="multipart")],
    "api-order-detail": [GET(api(ORDER_API), "order_x"), Case("patch", api(ORDER_API), "order_x", data={})],
    "api-order-line-add": [POST(api(ORDER_API), "order_x", data={})],
    "api-order-line": [
        Case("patch", api(ORDER_API), "order_x_line", data={}),
        Case("delete", api(ORDER_API), "order_x_line", data={"reason": "test"}),
    ],
    "api-order-cancel": [POST(api(ORDER_API), "order_x", data={})],
    "api-order-hold-release": [POST(api(OPS), "order_x_hold", data={})],
    # Public, but authenticated by the HMAC of the body: without a valid signature everyone gets 401.
    "api-shopify-orders-create": [POST(api(set(), denied=401), "channel_x", data={})],
    "api-shopify-orders-changes": [POST(api(set(), denied=401), "channel_x", data={})],
    "orders:channel-updates": [GET(outcomes(OPS))],
    # --- routing ------------------------------------------------------------------------------------------
    "routing:order-decision": [GET(outcomes({"ops", "merch"}), "order_x_decision")],
    "api-order-routing": [GET(api(ORDER_API), "order_x")],
    # The rule editor: merchandisers and operations.
    **{
        f"routing:{n}": [GET(outcomes(EDITORS), kw)]
        for n, kw in [
            ("editor-home", None),
            ("editor-history", "rule_set"),
            ("editor-version", "version"),
            ("editor-rule-new", "draft"),
            ("editor-rule-form", "draft"),
            ("editor-diff", "draft"),
            ("editor-publish", "draft"),
            ("editor-rollback", "version"),
            ("editor-test", "draft"),
            ("editor-test-orders", "draft"),
            ("editor-simulate", "draft"),
            ("editor-rule-edit", "rule"),
        ]
    },
    "routing:editor-draft-create": [POST(outcomes(EDITORS), "rule_set", data={})],
    "routing:editor-reorder": [POST(outcomes(EDITORS), "draft", data={})],
    "routing:editor-discard": [POST(outcomes(EDITORS), "draft", data={})],
    "routing:editor-rule-toggle": [POST(outcomes(EDITORS), "rule", data={})],
    "routing:editor-rule-delete": [POST(outcomes(EDITORS), "rule", data={})],
    "routing:editor-simulation": [GET(outcomes(EDITORS, merch="ok404", ops="ok404"), "missing_simulation")],
    "routing:editor-simulation-orders": [GET(outcomes(EDITORS, merch="ok404", ops="ok404"), "missing_simulation")],
    "api-promise": [GET(api(SIGNED), query="?postal_code=10001&sku=SKU-A")],
    # --- fulfilment ---------------------------------------------------------------------------------------
    "fulfillment:queue": [GET(outcomes(STORE))],
    "fulfillment:order": [GET(outcomes({"store_a"}, store_b=404), "fo_a")],
    "fulfillment:order-action": [
        POST(outcomes({"store_a"}, store_b=404), "fo_a_pick", data={}),
        POST(outcomes({"store_a"}, store_b=404), "fo_a_cancel_confirm", data={"request": "0"}),
        POST(outcomes({"store_a"}, store_b=404), "fo_a_cancel_refuse", data={"request": "0"}),
    ],
    "fulfillment:handover": [GET(outcomes(STORE))],
    "fulfillment:handoff": [GET(outcomes(STORE))],
    "fulfillment:receive": [GET(outcomes(STORE))],
    "fulfillment:settings": [GET(outcomes(STORE))],
    # Stock lookup (other stores read-only) and counts at the clerk's own store.
    "fulfillment:stock": [GET(outcomes(STORE), query="?q=SKU")],
    "fulfillment:count": [GET(outcomes(STORE)), POST(outcomes(STORE), data={})],
    # The customer's "I'm here" page: public (the signed link is the credential), for everyone.
    "fulfillment:checkin": [GET(outcomes(set(ROLES)), "checkin_a"), POST(outcomes(set(ROLES)), "checkin_a", data={})],
    "fulfillment:shipment-document": [GET(outcomes({"store_a"}, store_b=404), "shipment_a_slip")],
    "api-fulfillment-order-list": [GET(api(FO_API))],
    "api-fulfillment-order-detail": [GET(api({"ops", "store_a"}, store_b=404, api_x=404), "fo_a")],
    "api-fulfillment-order-events": [POST(api({"ops", "store_a"}, store_b=404, api_x=404), "fo_a", data={})],
    # (a domestic shipment: the allowed roles reach the view and are told no invoice is needed, 400)
    "api-shipment-commercial-invoice": [
        GET(api(set(), ops="ok400", store_a="ok400", store_b=404, api_x=404), "shipment_a")
    ],
    # --- returns ------------------------------------------------------------------------------------------
    "returns:list": [GET(outcomes(RETURNS_STAFF))],
    "returns:receive": [GET(outcomes(RETURNS_STAFF))],
    # Store staff start a return only of an order found with its number and a second fact ("returns:start").
    "returns:create": [GET(outcomes(OPS, store_a=404, store_b=404), "delivered_order")],
    "returns:start": [POST(outcomes(RETURNS_STAFF), data={})],
    "returns:detail": [GET(outcomes({"store_a", "ops"}, store_b=403), "rma_a")],
    "returns:receive-rma": [POST(outcomes({"store_a", "ops"}, store_b=403), "rma_a", data={})],
    "returns:refund": [POST(outcomes(OPS), "rma_a", data={})],
    "returns:reject": [POST(outcomes(OPS), "rma_a", data={"reason": "test"})],
    "api-return-list": [GET(api(ORDER_API)), POST(api(ORDER_API), data={})],
    "api-return-detail": [GET(api(ORDER_API), "rma_a")],
    "api-return-in-transit": [POST(api(ORDER_API), "rma_a", data={})],
    "api-return-refund": [POST(api(OPS), "rma_a", data={})],
    # --- dashboard (analytics) ----------------------------------------------------------------------------
    "dashboard:index": [GET(outcomes(OPS))],
    "dashboard:export": [GET(outcomes(OPS), "kpi_table")],
    "dashboard:drilldown": [GET(outcomes(OPS), "kpi_code")],
    "dashboard:drilldown-csv": [GET(outcomes(OPS), "kpi_code")],
    "api-purchase-order-shipment": [
        POST(api(set(), ops="ok404", api_x="ok404"), "po_missing", data={"tracking_number": "1Z"})
    ],
    # API clients confirm only as a supplier (linked to a dropship location); channel X's client is not one.
    "api-purchase-order-csv": [POST(api(OPS), data="purchase_order,tracking_number\n", content_type="text/csv")],
    # --- webhooks (outbound events) -----------------------------------------------------------------------
    "webhooks:list": [GET(outcomes(OPS)), POST(outcomes(OPS), data={})],
    "webhooks:detail": [GET(outcomes(OPS), "subscription")],
    "webhooks:toggle": [POST(outcomes(OPS), "subscription")],
    "webhooks:rotate": [POST(outcomes(OPS), "subscription")],
    "webhooks:resend": [POST(outcomes(OPS), "delivery")],
    "api-subscription-list": [GET(api(OPS)), POST(api(OPS), data={})],
    "api-subscription-detail": [
        GET(api(OPS), "subscription"),
        Case("patch", api(OPS), "subscription", data={"name": "Renamed"}),
        Case("delete", api(OPS), "subscription"),
    ],
    "api-subscription-rotate": [POST(api(OPS), "subscription")],
    "api-subscription-deliveries": [GET(api(OPS), "subscription")],
    "api-delivery-resend": [POST(api(OPS), "delivery")],
    # --- notifications (e-mails) --------------------------------------------------------------------------
    "notifications:settings": [GET(outcomes(OPS)), POST(outcomes(OPS), data={})],
    "notifications:preview": [GET(outcomes(OPS))],
    "notifications:preview-html": [GET(outcomes(OPS), query="?template=ready_for_pickup")],
    "notifications:resend": [POST(outcomes(OPS), "message")],
}


def _walk(patterns, ns: str | None = None):
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = p.namespace or ns
            yield from _walk(p.url_patterns, inner)
        elif isinstance(p, URLPattern) and p.name:
            yield (f"{ns}:{p.name}" if ns else p.name), ns


def all_url_names() -> tuple[set[str], set[str]]:
    names, admin = set(), set()
    for name, ns in _walk(get_resolver().url_patterns):
        (admin if ns == "admin" else names).add(name)
    return names, admin


def test_every_url_has_an_entry_and_every_entry_a_url():
    names, _ = all_url_names()
    missing = sorted(names - set(MATRIX))
    stale = sorted(set(MATRIX) - names)
    assert not missing, f"URLs without a row in the permission matrix (add who may use them): {missing}"
    assert not stale, f"Rows for URLs that no longer exist: {stale}"


def test_every_api_endpoint_in_the_schema_is_in_the_matrix(client):
    """The OpenAPI schema lists the API; each of its operations is one of the matrix's requests."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    covered = set()
    for name, cases in MATRIX.items():
        for case in cases:
            covered.add((name, case.method))
    resolver = get_resolver()
    for path, ops in schema["paths"].items():
        match = resolver.resolve(_sample_path(path))
        for method in ops:
            if method in ("get", "post", "put", "patch", "delete"):
                key = (match.view_name, method)
                if method == "put" and (match.view_name, "patch") in covered:
                    continue  # PUT and PATCH share the view's role check
                assert key in covered, f"{method.upper()} {path} ({match.view_name}) has no row in the matrix"


def _sample_path(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "1", path)


# --- The world every matrix request runs in -----------------------------------------------------------------
@pytest.fixture
def world(db, web, marketplace, dc, store, store_b, product):
    users = {
        "anon": None,
        "store_a": make_user("clerk-a", roles.STORE_STAFF, stores=[store]),
        "store_b": make_user("clerk-b", roles.STORE_STAFF, stores=[store_b]),
        "merch": make_user("merch", roles.MERCHANDISER),
        "inv": make_user("inv", roles.INVENTORY_MANAGER),
        "ops": make_user("ops", roles.OPERATIONS),
        "api_x": make_user("api-x", roles.API_CLIENT),
    }
    ApiClient.objects.create(user=users["api_x"], channel=web)
    api_y = make_user("api-y", roles.API_CLIENT)
    ApiClient.objects.create(user=api_y, channel=marketplace)
    web.webhook_secret = "s3cret"
    web.save(update_fields=["webhook_secret"])
    stock(product, store, 5)
    stock(product, dc, 50)
    subscription, _ = subscription_create(
        name="matrix", url="https://hooks.example.com/x", event_types=["order.routed"], channel=web
    )
    # A pickup order of channel X, routed for real: a fulfilment order at store A with its reservation.
    order_x = make_order(channel=web, lines=[(product, 1)], method="pickup", pickup_location=store)
    order_route(order_id=order_x.pk)
    fo_a = order_x.fulfillment_orders.get()
    assert fo_a.location == store
    shipment = Shipment.objects.create(fulfillment_order=fo_a, carrier="ups", tracking_number="1ZTEST")
    hold = OrderHold.objects.create(order=order_x, kind="fraud", reason="matrix")
    # An order of channel Y, routed from the DC, and a reservation of channel Y.
    order_y = make_order(channel=marketplace, lines=[(product, 2)])
    order_route(order_id=order_y.pk)
    res_x = order_x.fulfillment_orders.get().reservation
    res_y = stock_reserve(lines=[ReserveLine(product.pk, 1, dc.pk)], channel=marketplace, reference="cart-y", ttl=None)
    # A delivered order of channel X and an in-store return of it at store A.
    delivered = shipped_order(channel=web, lines=[(product, 2)], location=dc)
    rma_a = rma_create(
        order=delivered, lines=[ReturnLineIn(sku=product.sku, quantity=1)], method="in_store", store=store
    ).rma
    feed = WmsFeed.objects.create(name="wms-east", format="json_events", transport="http_push", default_location=dc)
    published = RuleSetVersion.objects.get(rule_set__is_active=True, status="published")
    draft = ruleset_draft_create(rule_set=published.rule_set, actor=users["merch"])
    kwargs = {
        None: {},
        "missing_pk": {"pk": 999999},
        "wms_feed": {"feed": feed.name},
        "wms_feed_pk": {"pk": feed.pk},
        "rule_set": {"rule_set_id": published.rule_set_id},
        "version": {"version_id": published.pk},
        "draft": {"version_id": draft.pk},
        "rule": {"rule_id": draft.rules.first().pk},
        "missing_simulation": {"simulation_id": 999999},
        "delivered_order": {"order_pk": delivered.pk},
        "rma_a": {"number": rma_a.number},
        "kpi_table": {"table": "kpis"},
        "kpi_code": {"code": "routing_accuracy"},
        "location": {"code": store.code},
        "sku": {"sku": product.sku},
        "reservation_x": {"pk": res_x.pk},
        "order_x": {"pk": order_x.pk},
        "order_x_decision": {"order_id": order_x.pk},
        "order_x_hold": {"pk": order_x.pk, "hold_id": hold.pk},
        "order_x_line": {"pk": order_x.pk, "line_number": 1},
        "hold": {"pk": hold.pk},
        "channel_x": {"code": web.code},
        "fo_a": {"pk": fo_a.pk},
        "checkin_a": {"token": pickup_checkin_token(fo=fo_a)},
        "customer_x": {"pk": Customer.objects.create(email="matrix-customer@example.com").pk},
        "fo_a_pick": {"pk": fo_a.pk, "action": "pick"},
        "fo_a_cancel_confirm": {"pk": fo_a.pk, "action": "cancel-confirm"},
        "fo_a_cancel_refuse": {"pk": fo_a.pk, "action": "cancel-refuse"},
        "shipment_a": {"pk": shipment.pk},
        "shipment_a_slip": {"pk": shipment.pk, "kind": "packing-slip"},
        "po_missing": {"number": "PO-DOES-NOT-EXIST"},
        "transfer_missing": {"number": "TO-DOES-NOT-EXIST"},
        "reset_link": {"uidb64": "MQ", "token": "set-password"},
        "subscription": {"pk": subscription.pk},
        "delivery": {"pk": subscription.deliveries.get().pk},
        "message": {"pk": Message.objects.get(order=delivered, template="shipped").pk},
    }
    return {
        "users": users,
        "kwargs": kwargs,
        "order_x": order_x,
        "order_y": order_y,
        "fo_a": fo_a,
        "res_y": res_y,
        "api_y": api_y,
        "store": store,
        "store_b": store_b,
    }


def _client_for(user: User | None, *, is_api: bool):
    if is_api:
        return api_for(user)
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _request(client, case: Case, url: str):
    method = getattr(client, case.method)
    if isinstance(client, APIClient):
        if case.content_type == "multipart":
            return method(url, case.data or {}, format="multipart")
        if case.content_type:
            return method(url, case.data, content_type=case.content_type)
        return method(url, case.data if case.data is not None else None, format="json")
    if case.content_type:
        return method(url, case.data, content_type=case.content_type)
    return method(url, case.data or {})


def _outcome(response) -> object:
    code = response.status_code
    if code == 302 and "/login/?next=" in response.get("Location", ""):
        return "login"
    return code


def _matches(expected, response, method: str) -> bool:
    got = _outcome(response)
    if expected == "ok":
        if method == "get":
            return isinstance(got, int) and 200 <= got < 400
        return isinstance(got, int) and (200 <= got < 400 or got in (400, 409))
    if expected == "ok400":
        return got == 400
    if expected == "ok404":
        return got == 404 and b"permission" not in response.content.lower()
    return got == expected


CASES = [(name, i) for name in sorted(MATRIX) for i in range(len(MATRIX[name]))]


@pytest.mark.parametrize("name, index", CASES, ids=[f"{n}-{MATRIX[n][i].method}" for n, i in CASES])
def test_permission_matrix(world, name, index):
    case = MATRIX[name][index]
    is_api = ":" not in name and name.startswith("api-")
    url = reverse(name, kwargs=world["kwargs"][case.kwargs]) + case.query
    failures = []
    # Refusals first (they must not change anything), then the allowed roles, each rolled back.
    for role in sorted(ROLES, key=lambda r: case.expect[r] in ("ok", "ok400", "ok404")):
        client = _client_for(world["users"][role], is_api=is_api)
        with transaction.atomic():
            response = _request(client, case, url)
            transaction.set_rollback(True)
        assert response.status_code < 500, f"{case.method.upper()} {url} as {role}: {response.status_code}"
        if not _matches(case.expect[role], response, case.method):
            failures.append(f"{role}: expected {case.expect[role]}, got {_outcome(response)}")
    assert not failures, f"{case.method.upper()} {url}:\n" + "\n".join(failures)


# --- Data scoping -------------------------------------------------------------------------------------------
def test_store_staff_never_see_another_stores_work(world, client):
    fo_a, number = world["fo_a"], world["order_x"].number
    link = f"/fulfillment/store/orders/{fo_a.pk}/".encode()
    client.force_login(world["users"]["store_b"])
    for path in (
        "/fulfillment/store/",
        "/fulfillment/store/?tab=pickup_open",
        f"/fulfillment/store/handover/?q={number}",
    ):
        r = client.get(path)
        assert r.status_code == 200 and link not in r.content, path
    assert client.get(f"/fulfillment/store/?store={world['store'].code}").status_code == 404
    assert client.get(f"/fulfillment/store/orders/{fo_a.pk}/").status_code == 404
    listed = api_for(world["users"]["store_b"]).get("/api/v1/fulfillment-orders/").json()
    assert fo_a.pk not in [row["id"] for row in listed["results"]]
    # Store A's staff do see it (the test above would pass vacuously otherwise).
    client.force_login(world["users"]["store_a"])
    assert link in client.get("/fulfillment/store/?tab=pickup_open").content
    listed = api_for(world["users"]["store_a"]).get("/api/v1/fulfillment-orders/").json()
    assert fo_a.pk in [row["id"] for row in listed["results"]]


def test_an_api_client_never_reads_another_channels_orders(world):
    api_x = api_for(world["users"]["api_x"])
    order_x, order_y = world["order_x"], world["order_y"]
    listed = api_x.get("/api/v1/orders/").json()["results"]
    assert order_x.pk in [o["id"] for o in listed] and order_y.pk not in [o["id"] for o in listed]
    assert {o["channel"] for o in listed} == {"web"}
    assert api_x.get(f"/api/v1/orders/?external_id={order_y.external_id}").json()["results"] == []
    assert api_x.get(f"/api/v1/orders/{order_y.pk}/").status_code == 404
    assert api_x.get(f"/api/v1/orders/{order_y.pk}/routing/").status_code == 403
    assert api_x.post(f"/api/v1/orders/{order_y.pk}/cancel", {"reason": "x"}, format="json").status_code == 404
    assert api_x.get(f"/api/v1/reservations/{world['res_y'].pk}/").status_code == 404
    assert api_x.delete(f"/api/v1/reservations/{world['res_y'].pk}/").status_code == 404
    assert Order.objects.get(pk=order_y.pk).status != "cancelled"
    # Channel Y's own client reads it: the refusals above are about the channel, not the endpoint.
    api_y = api_for(world["api_y"])
    assert api_y.get(f"/api/v1/orders/{order_y.pk}/").status_code == 200
    assert api_y.get(f"/api/v1/orders/{order_x.pk}/").status_code == 404


def test_an_api_client_cannot_create_orders_for_another_channel(world):
    api_x = api_for(world["users"]["api_x"])
    r = api_x.post("/api/v1/orders/", {"channel": "mkt", "external_id": "E1"}, format="json")
    assert r.status_code == 400 and "may only create orders for channel 'web'" in str(r.json()["channel"])
    assert not Channel.objects.get(code="mkt").orders.filter(external_id="E1").exists()


# --- Admin: staff only --------------------------------------------------------------------------------------
def test_every_admin_url_refuses_every_role(world):
    """No role is admin staff: every admin URL sends each of them (and anonymous users) to the admin login."""
    _, admin_names = all_url_names()
    assert len(admin_names) > 20
    for role in ROLES:
        client = _client_for(world["users"][role], is_api=False)
        for name in sorted(admin_names):
            url = _admin_url(name)
            if url is None or name in ("admin:login", "admin:logout", "admin:view_on_site", "admin:app_list"):
                continue
            r = client.get(url)
            assert r.status_code == 302 and "/admin/login/" in r["Location"], f"{url} as {role}: {r.status_code}"


def test_a_superuser_opens_every_admin_page_without_error(world):
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(root)
    _, admin_names = all_url_names()
    opened = 0
    for name in sorted(admin_names):
        url = _admin_url(name, superuser=True)
        if url is None or name in ("admin:logout",):
            continue
        r = client.get(url)
        assert r.status_code < 500, f"{url}: {r.status_code}"
        opened += 1
    assert opened > 20


def _admin_url(name: str, superuser: bool = False) -> str | None:
    from django.urls import NoReverseMatch

    for kwargs in ({}, {"object_id": "1"}, {"app_label": "routing"}, {"content_type_id": 1, "object_id": 1}):
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def test_location_staff_link_is_what_scopes_store_staff(world):
    """A clerk with no store at all is refused the store screens (not shown someone else's)."""
    nobody = make_user("floater", roles.STORE_STAFF)
    client = Client()
    client.force_login(nobody)
    assert client.get("/fulfillment/store/").status_code == 403
    assert Location.objects.filter(staff=nobody).count() == 0


# --- Admin: every registered model × every role -------------------------------------------------------------
# Who may open each admin model (changelist and change page) when their account is admin staff (the demo makes
# every back-office role but store staff staff). Superusers open everything. Keys are model labels; a model
# registered in the admin without a row here fails `test_every_admin_model_has_an_access_row`.
ADMIN_ROLES = ["store_a", "merch", "inv", "ops", "api_x"]
CATALOGUE_READERS = {"merch", "inv", "ops"}
INVENTORY = {"inv", "ops"}
ROUTING = {"merch", "ops"}
ADMIN_ACCESS: dict[str, set[str]] = {
    # Django, DRF, axes, django-q: superusers only (users, roles, API tokens, sign-in records, task queue).
    **dict.fromkeys(["admin.logentry", "auth.group", "auth.user", "dom_project.apitoken"], set()),
    # Who changed what (django-auditlog): Operations reads it; secrets in it are masked.
    "auditlog.logentry": OPS,
    **dict.fromkeys(["axes.accessattempt", "axes.accessfailurelog", "axes.accesslog"], set()),
    **dict.fromkeys(["django_q.failure", "django_q.ormq", "django_q.schedule", "django_q.success"], set()),
    # Customer data and what carries it: Operations only.
    **dict.fromkeys(["orders.order", "orders.customer", "returns.returnauthorization"], OPS),
    **dict.fromkeys(["orders.channel", "orders.apiclient", "orders.fraudsettings"], OPS),
    **{
        f"fulfillment.{m}": OPS
        for m in (
            "endpoint",
            "fulfillmentevent",
            "fulfillmentorder",
            "outboxmessage",
            "purchaseorder",
            "rejectionreason",
            "shipment",
            "storesettings",
            "supplieritem",
        )
    },
    # The catalogue and the network: read by merchandisers, kept by inventory managers.
    **dict.fromkeys(["inventory.product", "inventory.location", "inventory.locationgroup"], CATALOGUE_READERS),
    **{
        f"inventory.{m}": INVENTORY
        for m in (
            "channelallocation",
            "cyclecount",
            "demandforecast",
            "feedrun",
            "inventorymovement",
            "locationclosure",
            "reservation",
            "safetystockproposal",
            "safetystockrule",
            "stockimport",
            "stocklevel",
            "stockshortage",
            "inboundshipment",
            "transferorder",
            "wmsevent",
            "wmsfeed",
        )
    },
    # Routing rules and settings: merchandisers edit, Operations read.
    **{
        f"routing.{m}": ROUTING
        for m in (
            "carrierservice",
            "locationcapacity",
            "ratecard",
            "routingdecision",
            "routingrule",
            "routingsettings",
            "ruleset",
            "rulesetevent",
            "rulesetversion",
        )
    },
}
PII = {"email": "zelda.canary@example.org", "name": "Zelda Canaryfield", "phone": "+1 212 555 0199"}
PII_ADDRESS = "77 Canary Lane"


def test_every_admin_model_has_an_access_row():
    from django.contrib import admin

    registered = {model._meta.label_lower for model in admin.site._registry}
    assert sorted(registered - set(ADMIN_ACCESS)) == [], "admin models without a row in ADMIN_ACCESS"
    assert sorted(set(ADMIN_ACCESS) - registered) == [], "ADMIN_ACCESS rows for models no longer in the admin"


@pytest.fixture
def admin_world(world):
    """The matrix world with every role made admin staff, a recognisable customer on every order, and at
    least one object of each model registered in the admin (so each change page is a real one)."""
    from dom_project.tests.admin_objects import admin_objects_ensure
    from orders.models import Customer

    for role in ADMIN_ROLES:
        User.objects.filter(pk=world["users"][role].pk).update(is_staff=True)
    Customer.objects.filter(orders__in=[world["order_x"], world["order_y"]]).update(**PII)
    for order in (world["order_x"], world["order_y"]):
        Order.objects.filter(pk=order.pk).update(
            shipping_address={"name": PII["name"], "line1": PII_ADDRESS, "postal_code": "10001", "country": "US"},
            billing_address={"name": PII["name"], "line1": PII_ADDRESS, "postal_code": "10001", "country": "US"},
        )
    world["admin_objects"] = admin_objects_ensure(world=world)
    return world


def _admin_pages(model, obj) -> dict[str, str]:
    info = (model._meta.app_label, model._meta.model_name)
    from django.contrib.admin.utils import quote

    object_id = obj.user_id if model._meta.label_lower == "dom_project.apitoken" else obj.pk
    return {
        "changelist": reverse("admin:{}_{}_changelist".format(*info)),
        "change": reverse("admin:{}_{}_change".format(*info), args=[quote(object_id)]),
    }


def _pii_in(content: bytes) -> list[str]:
    text = content.decode(errors="replace")
    return [v for v in (*PII.values(), PII_ADDRESS) if v in text]


@pytest.mark.parametrize("role", [*ADMIN_ROLES, "superuser"])
def test_admin_matrix_every_model_changelist_and_change_page(admin_world, role):
    """Each role × each admin model: changelist and one real object's change page answer 200 when the table
    allows the role, 403 otherwise; roles without customer data never receive a customer's details."""
    from django.contrib import admin

    if role == "superuser":
        user = User.objects.create_superuser("root", "root@example.com", "pw")
    else:
        user = User.objects.get(pk=admin_world["users"][role].pk)
    client = Client()
    client.force_login(user)
    sees_pii = role in ("ops", "superuser")
    failures = []
    pages = {"/admin/": 200}
    for model in admin.site._registry:
        label = model._meta.label_lower
        allowed = role == "superuser" or role in ADMIN_ACCESS[label]
        for url in _admin_pages(model, admin_world["admin_objects"][label]).values():
            pages[url] = 200 if allowed else 403
    for url, expected in pages.items():
        response = client.get(url)
        if response.status_code != expected:
            failures.append(f"{url}: expected {expected}, got {response.status_code}")
        leaked = _pii_in(response.content)
        if leaked and not sees_pii:
            failures.append(f"{url}: shows customer data {leaked}")
    assert not failures, f"{role}:\n" + "\n".join(failures)
    if sees_pii:  # the PII check above is not vacuous: the order page does carry the customer's details
        order_page = client.get(f"/admin/orders/order/{admin_world['order_x'].pk}/change/")
        assert set(_pii_in(order_page.content)) >= {PII["name"], PII_ADDRESS}


def test_store_staff_and_machine_clients_have_no_admin_grants(world):
    from django.contrib.auth.models import Group

    for name in (roles.STORE_STAFF, roles.API_CLIENT):
        assert list(Group.objects.get(name=name).permissions.all()) == []
    for name in (roles.MERCHANDISER, roles.INVENTORY_MANAGER):
        apps = set(Group.objects.get(name=name).permissions.values_list("content_type__app_label", flat=True))
        assert not apps & {"orders", "fulfillment", "returns"}, name
