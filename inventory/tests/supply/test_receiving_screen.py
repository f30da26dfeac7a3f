from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from common import roles
from conftest import make_user
from inventory.inbound import InboundIn, InboundLineIn, inbound_create
from inventory.models import InboundLine, InboundReceipt, StockLevel
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock
from inventory.transfers import TransferLineIn, transfer_create, transfer_ship

pytestmark = pytest.mark.django_db


def due(n=3):
    return timezone.localdate() + timedelta(days=n)


@pytest.fixture
def deliveries(product, product_b, store, store_b, dc):
    inbound_create(
        data=InboundIn(
            number="PO-A",
            supplier="Acme",
            location_code=store.code,
            lines=[InboundLineIn("SKU-A", 5, due()), InboundLineIn("SKU-B", 2, due())],
        )
    )
    inbound_create(
        data=InboundIn(
            number="PO-B", supplier="Acme", location_code=store_b.code, lines=[InboundLineIn("SKU-A", 1, due())]
        )
    )
    put_stock(product, dc, 10)
    transfer = transfer_create(
        source_code=dc.code, destination_code=store.code, lines=[TransferLineIn("SKU-A", 4)], expected_date=due(1)
    )
    transfer_ship(transfer_id=transfer.pk)
    return transfer


def clerk_client(store) -> Client:
    c = Client()
    c.force_login(make_user("clerk", roles.STORE_STAFF, stores=[store]))
    return c


def on_hand(product, location) -> int:
    return StockLevel.objects.filter(product=product, location=location).values_list("on_hand", flat=True).first() or 0


def test_store_staff_see_and_receive_only_their_own_deliveries(deliveries, store, store_b, product):
    c = clerk_client(store)
    page = c.get("/inventory/receiving/").content.decode()
    assert "PO-A" in page and "PO-B" not in page and deliveries.number in page
    assert c.get("/inventory/receiving/inbound/PO-B/").status_code == 404
    assert c.post("/inventory/receiving/inbound/PO-B/", {"scan": "1", "code": "SKU-A"}).status_code == 404
    assert c.get(f"/inventory/receiving/?location={store_b.code}").status_code == 404
    assert on_hand(product, store_b) == 0


def test_scan_type_over_with_reason_and_close_short(deliveries, store, product, product_b):
    c = clerk_client(store)
    r = c.post("/inventory/receiving/inbound/PO-A/", {"scan": "1", "code": "SKU-A"})
    assert "Received: SKU-A × 1." in r.content.decode()
    r = c.post("/inventory/receiving/inbound/PO-A/", {"count": "1", "count-SKU-A": "6", "count-SKU-B": ""})
    assert "SKU SKU-A: 6 received but only 4 open; give a reason" in r.content.decode()
    assert on_hand(product, store) == 1
    r = c.post("/inventory/receiving/inbound/PO-A/", {"count": "1", "count-SKU-A": "6", "reason-SKU-A": "extra pack"})
    assert "Received: SKU-A × 6." in r.content.decode()
    assert on_hand(product, store) == 7
    assert InboundReceipt.objects.filter(reason="extra pack").count() == 1
    r = c.post("/inventory/receiving/inbound/PO-A/", {"count": "1", "count-SKU-B": "two"})
    assert "is not a whole number" in r.content.decode()
    r = c.post(
        "/inventory/receiving/inbound/PO-A/", {"close": "1", "sku": "SKU-B", "reason": "out of stock at supplier"}
    )
    assert "SKU-B: the rest is closed" in r.content.decode()
    assert not InboundLine.objects.filter(shipment__number="PO-A", is_open=True).exists()
    assert "Received" in c.get("/inventory/receiving/inbound/PO-A/").content.decode()
    assert_ledger_matches_levels()


def test_a_transfer_is_received_in_parts_on_the_screen(deliveries, store, product):
    c = clerk_client(store)
    url = f"/inventory/receiving/transfers/{deliveries.number}/"
    r = c.post(url, {"scan": "1", "code": "SKU-A"})
    assert "Received: SKU-A × 1." in r.content.decode()
    r = c.post(url, {"count": "1", "count-SKU-A": "9"})
    assert "SKU SKU-A: received 9, in transit 3." in r.content.decode()
    c.post(url, {"count": "1", "count-SKU-A": "3"})
    deliveries.refresh_from_db()
    assert deliveries.status == "received" and on_hand(product, store) == 4
    assert_ledger_matches_levels()


def test_other_roles_are_refused(deliveries, merch_user, store):
    c = Client()
    c.force_login(merch_user)
    assert c.get("/inventory/receiving/").status_code == 403
