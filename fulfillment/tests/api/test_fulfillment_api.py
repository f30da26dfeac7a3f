"""Fulfilment API: 3PL confirmations (idempotent), scoping per location, documents, supplier confirmations."""

from decimal import Decimal

import pytest

from bench.factories import level, make_fo, make_order, put_stock
from common import roles
from conftest import api_for, make_user
from fulfillment.models import FulfillmentOrder, SupplierItem
from fulfillment.services import fulfillment_order_ship, purchase_order_create
from inventory.models import Location, Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def tpl(db):
    return Location.objects.create(code="3PL-1", name="3PL", kind="3pl", postal_code="38118")


@pytest.fixture
def tpl_api(tpl):
    user = make_user("3pl-bot", roles.API_CLIENT)
    tpl.staff.add(user)
    return api_for(user)


@pytest.fixture
def tpl_fo(web, tpl, product):
    put_stock(product, tpl, 10)
    return make_fo(order=make_order(channel=web, lines=[(product, 2)]), location=tpl)


def url(fo):
    return f"/api/v1/fulfillment-orders/{fo.pk}/events"


def test_3pl_confirms_picked_shipped_delivered_and_duplicates_are_ignored(tpl_api, tpl_fo, product, tpl):
    r = tpl_api.post(url(tpl_fo), {"event_id": "p1", "type": "picked"}, format="json")
    assert r.status_code == 200 and r.json() == {"status": "picking", "duplicate": False}
    body = {"event_id": "s1", "type": "shipped", "tracking_number": "1Z1", "carrier": "UPS", "service": "ups_ground"}
    assert tpl_api.post(url(tpl_fo), body, format="json").json() == {"status": "shipped", "duplicate": False}
    assert tpl_api.post(url(tpl_fo), body, format="json").json() == {"status": "shipped", "duplicate": True}
    assert level(product, tpl) == (8, 0)
    r = tpl_api.post(url(tpl_fo), {**body, "event_id": "s2"}, format="json")
    assert r.status_code == 409 and "already shipped" in str(r.json())  # the state forbids it: a conflict
    r = tpl_api.post(url(tpl_fo), {"event_id": "d1", "type": "delivered"}, format="json")
    assert r.json()["status"] == "delivered"
    r = tpl_api.post(url(tpl_fo), {"event_id": "d2", "type": "delivered"}, format="json")
    assert r.status_code == 409 and "cannot become delivered" in str(r.json())
    detail = tpl_api.get(f"/api/v1/fulfillment-orders/{tpl_fo.pk}/").json()
    assert detail["shipments"][0]["tracking_number"] == "1Z1" and detail["lines"][0]["quantity_shipped"] == 2


def test_rejected_with_reason_and_bad_input(tpl_api, tpl_fo, product, tpl):
    r = tpl_api.post(url(tpl_fo), {"event_id": "x", "type": "exploded"}, format="json")
    assert r.status_code == 400 and "type" in r.json()
    r = tpl_api.post(url(tpl_fo), {"type": "picked"}, format="json")
    assert r.status_code == 400 and "event_id" in r.json()
    r = tpl_api.post(url(tpl_fo), {"event_id": "r1", "type": "rejected", "reason": "no stock"}, format="json")
    assert r.json()["status"] == "rejected" and level(product, tpl) == (10, 0)


def test_other_locations_orders_are_invisible(tpl_api, web, dc, product, stocked, store_user, tpl_fo):
    other = make_fo(order=make_order(channel=web, lines=[(product, 1)]), location=dc)
    assert tpl_api.post(url(other), {"event_id": "e", "type": "picked"}, format="json").status_code == 404
    assert tpl_api.get(f"/api/v1/fulfillment-orders/{other.pk}/").status_code == 404
    ids = [fo["id"] for fo in tpl_api.get("/api/v1/fulfillment-orders/").json()["results"]]
    assert ids == [tpl_fo.pk]
    clerk = api_for(store_user)
    assert clerk.post(url(tpl_fo), {"event_id": "e", "type": "picked"}, format="json").status_code == 404
    assert clerk.get("/api/v1/fulfillment-orders/").json()["results"] == []
    other.refresh_from_db()
    assert other.status == "created"
    assert api_for(make_user("merch", roles.MERCHANDISER)).get("/api/v1/fulfillment-orders/").status_code == 403
    assert api_for(None).get("/api/v1/fulfillment-orders/").status_code in (401, 403)


def test_operations_sees_all_and_gets_the_commercial_invoice(ops_api, web, dc, product, stocked, store_user):
    p = Product.objects.create(sku="SKU-INT", name="Kettle", hs_code="851671", country_of_origin="CN")
    put_stock(p, dc, 3)
    order = make_order(channel=web, lines=[(p, 1)], address={"name": "Jo", "city": "Toronto", "country": "CA"})
    fo = make_fo(order=order, location=dc)
    sh = fulfillment_order_ship(fo_id=fo.pk, service="ups_2day", tracking_number="I1")
    r = ops_api.get(f"/api/v1/shipments/{sh.pk}/commercial-invoice.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert api_for(store_user).get(f"/api/v1/shipments/{sh.pk}/commercial-invoice.pdf").status_code == 404
    assert ops_api.get("/api/v1/fulfillment-orders/?status=shipped").json()["count"] == 1


def test_supplier_confirms_purchase_order_by_api_and_csv(web, product, product_b):
    supplier = Location.objects.create(code="SUP-1", name="Supplier", kind="dropship", postal_code="49503")
    other_supplier = Location.objects.create(code="SUP-2", name="Other", kind="dropship", postal_code="28601")
    bot = make_user("sup-bot", roles.API_CLIENT)
    supplier.staff.add(bot)
    api = api_for(bot)
    pos = []
    for loc in (supplier, supplier, other_supplier):
        put_stock(product, loc, 5)
        SupplierItem.objects.get_or_create(supplier=loc, product=product, defaults={"unit_cost": Decimal("2")})
        fo = make_fo(order=make_order(channel=web, lines=[(product, 1)]), location=loc, method="dropship")
        pos.append(purchase_order_create(fo_id=fo.pk))
    r = api.post(f"/api/v1/purchase-orders/{pos[0].number}/shipment/", {"tracking_number": "SUP1"}, format="json")
    assert r.status_code == 201 and r.json()["tracking_number"] == "SUP1"
    assert (
        api.post(
            f"/api/v1/purchase-orders/{pos[2].number}/shipment/", {"tracking_number": "X"}, format="json"
        ).status_code
        == 404
    )
    csv = f"purchase_order,tracking_number\n{pos[2].number},X\n"
    r = api.post("/api/v1/purchase-orders/confirmations.csv", csv, content_type="text/csv")
    assert r.status_code == 400 and "belongs to another supplier" in str(r.json())
    csv = f"purchase_order,tracking_number\n{pos[1].number},SUP2\n"
    r = api.post("/api/v1/purchase-orders/confirmations.csv", csv, content_type="text/csv")
    assert r.status_code == 201 and r.json()[0]["tracking_number"] == "SUP2"
    assert FulfillmentOrder.objects.filter(status="shipped", method="dropship").count() == 2
