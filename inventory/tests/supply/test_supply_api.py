from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import api_for
from inventory.models import InboundLine, InboundShipment, StockLevel, TransferOrder
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db


def days(n: int) -> str:
    return (timezone.localdate() + timedelta(days=n)).isoformat()


@pytest.fixture
def inv_api(inventory_user):
    return api_for(inventory_user)


def create_po(client, number="PO-7", lines=None):
    lines = lines or [{"sku": "SKU-A", "quantity": 10, "expected_date": days(5)}]
    body = {"number": number, "supplier": "Acme", "location": "DC-EAST", "lines": lines}
    return client.post("/api/v1/inbound/", body, format="json")


def test_a_po_is_created_received_in_parts_and_delayed_through_the_api(inv_api, product, product_b, dc):
    r = create_po(inv_api)
    assert r.status_code == 201, r.json()
    assert r.json()["lines"][0] | {} == {
        "sku": "SKU-A",
        "quantity": 10,
        "quantity_received": 0,
        "quantity_closed": 0,
        "quantity_promised": 0,
        "quantity_open": 10,
        "expected_date": days(5),
    }
    r = inv_api.post("/api/v1/inbound/PO-7/receive/", {"lines": [{"sku": "SKU-A", "quantity": 4}]}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "partial" and r.json()["lines"][0]["quantity_open"] == 6
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 4
    body = {"sku": "SKU-A", "expected_date": days(8), "reason": "port strike"}
    r = inv_api.post("/api/v1/inbound/PO-7/redate/", body, format="json")
    assert r.status_code == 200 and r.json()["lines"][0]["expected_date"] == days(8)
    r = inv_api.get("/api/v1/availability/", {"sku": "SKU-A", "date": days(8)})
    assert r.status_code == 200, r.json()
    assert r.json()["results"][0] | {"locations": None} == {
        "sku": "SKU-A",
        "date": days(8),
        "available": 10,
        "available_now": 4,
        "supply": 6,
        "locations": None,
    }
    r = inv_api.get("/api/v1/availability/timeline/", {"sku": "SKU-A", "quantity": 5})
    assert r.json() == {
        "sku": "SKU-A",
        "quantity": 5,
        "earliest_date": days(8),
        "timeline": [{"date": days(0), "available": 4}, {"date": days(8), "available": 10}],
    }
    r = inv_api.post("/api/v1/inbound/PO-7/close-line/", {"sku": "SKU-A", "reason": "rest cancelled"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "received"
    assert inv_api.get("/api/v1/inbound/", {"status": "received"}).json()["count"] == 1
    assert_ledger_matches_levels()


def test_api_errors_name_the_field_and_write_nothing(inv_api, product, dc):
    r = create_po(inv_api, lines=[{"sku": "NOPE", "quantity": 1, "expected_date": days(-1)}])
    assert r.status_code == 400
    assert r.json()["lines"] == [
        "Line 1: unknown SKU 'NOPE'.",
        f"Line 1 (NOPE): expected date {days(-1)} is in the past.",
    ]
    assert create_po(inv_api, lines=[{"sku": "SKU-A", "quantity": 0, "expected_date": "soon"}]).status_code == 400
    assert not InboundShipment.objects.exists()
    create_po(inv_api)
    r = inv_api.post("/api/v1/inbound/PO-7/receive/", {"lines": [{"sku": "SKU-A", "quantity": 11}]}, format="json")
    assert r.status_code == 400 and "give a reason" in r.json()["lines"][0]
    assert inv_api.post("/api/v1/inbound/NOPE/receive/", {"lines": []}, format="json").status_code == 404
    r = inv_api.get("/api/v1/availability/", {"sku": "SKU-A", "date": days(-1)})
    assert r.status_code == 400 and "in the past" in r.json()["date"][0]
    r = inv_api.get("/api/v1/availability/", {"sku": "SKU-A", "date": "2026-13-01"})
    assert r.status_code == 400 and "not a date" in r.json()["date"][0]
    r = inv_api.get("/api/v1/availability/", {"sku": "SKU-A", "location": "NOWHERE"})
    assert r.status_code == 400 and r.json() == {"location": ["Unknown location 'NOWHERE'."]}
    assert inv_api.get("/api/v1/availability/timeline/", {"sku": "NOPE"}).status_code == 400
    assert StockLevel.objects.filter(on_hand__gt=0).count() == 0


def test_csv_import_through_the_api_is_all_or_nothing(inv_api, product, dc):
    good = f"number,supplier,location,sku,quantity,expected_date\nPO-9,Acme,DC-EAST,SKU-A,3,{days(2)}\n"
    r = inv_api.post("/api/v1/inbound/import/", {"file": SimpleUploadedFile("po.csv", good.encode())})
    assert r.status_code == 201 and r.json() == {"shipments": ["PO-9"], "lines": 1}
    bad = good.replace("PO-9", "PO-10") + f"PO-10,Acme,DC-EAST,SKU-Q,3,{days(2)}\n"
    r = inv_api.post("/api/v1/inbound/import/", {"file": SimpleUploadedFile("po.csv", bad.encode())})
    assert r.status_code == 400
    assert r.json()["errors"] == [{"row": 3, "column": "sku", "value": "SKU-Q", "reason": "unknown SKU"}]
    assert list(InboundShipment.objects.values_list("number", flat=True)) == ["PO-9"]
    r = inv_api.post("/api/v1/inbound/import/", {"file": SimpleUploadedFile("po.csv", b"\xff\xfe")})
    assert r.status_code == 400 and r.json() == {"file": ["The file is not UTF-8 text."]}


def test_a_transfer_through_the_api(inv_api, product, dc, store):
    put_stock(product, dc, 5)
    body = {"source": "DC-EAST", "destination": "STORE-0001", "expected_date": days(2), "lines": []}
    assert inv_api.post("/api/v1/transfers/", body, format="json").status_code == 400
    body["lines"] = [{"sku": "SKU-A", "quantity": 3}]
    r = inv_api.post("/api/v1/transfers/", body, format="json")
    assert r.status_code == 201, r.json()
    number = r.json()["number"]
    assert inv_api.post(f"/api/v1/transfers/{number}/fly/", {}, format="json").status_code == 404
    r = inv_api.post(f"/api/v1/transfers/{number}/ship/", {}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "in_transit"
    r = inv_api.post(
        f"/api/v1/transfers/{number}/receive/", {"lines": [{"sku": "SKU-A", "quantity": 4}]}, format="json"
    )
    assert r.status_code == 400 and r.json() == {"lines": ["SKU SKU-A: received 4, in transit 3."]}
    r = inv_api.post(f"/api/v1/transfers/{number}/receive/", {}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "received"
    assert StockLevel.objects.get(product=product, location=store).on_hand == 3
    assert_ledger_matches_levels()


texts = st.one_of(st.text(max_size=12), st.sampled_from(["SKU-A", "DC-EAST", "STORE-0001", "PO-1", ""]))
finite = st.floats(allow_nan=False, allow_infinity=False)  # JSON cannot carry NaN or infinity
numbers = st.one_of(st.integers(min_value=-5, max_value=10**8), st.text(max_size=5), st.none(), finite)
dates = st.one_of(st.text(max_size=12), st.integers(-3, 30).map(days), st.none())
line = st.fixed_dictionaries({}, optional={"sku": texts, "quantity": numbers, "expected_date": dates, "reason": texts})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "number": texts,
            "supplier": texts,
            "location": texts,
            "kind": texts,
            "lines": st.lists(line, max_size=3),
        },
    ),
    receive=st.lists(line, max_size=3),
)
def test_the_inbound_doors_never_500_and_write_only_valid(inventory_user, product, dc, store, body, receive):
    client = api_for(inventory_user)
    before = InboundShipment.objects.count()
    r = client.post("/api/v1/inbound/", body, format="json")
    assert r.status_code in (201, 400), (r.status_code, r.content)
    if r.status_code == 400:
        assert InboundShipment.objects.count() == before and isinstance(r.json(), dict)
    else:
        shipment = InboundShipment.objects.get(number=r.json()["number"])
        assert all(ln.quantity > 0 and ln.expected_date >= timezone.localdate() for ln in shipment.lines.all())
    if not InboundShipment.objects.filter(number="PO-FIX").exists():
        assert create_po(client, number="PO-FIX").status_code == 201
    levels = list(StockLevel.objects.order_by("pk").values_list("on_hand", flat=True))
    received = list(InboundLine.objects.order_by("pk").values_list("quantity_received", flat=True))
    r = client.post("/api/v1/inbound/PO-FIX/receive/", {"lines": receive}, format="json")
    assert r.status_code in (200, 400), (r.status_code, r.content)
    if r.status_code == 400:
        assert list(StockLevel.objects.order_by("pk").values_list("on_hand", flat=True)) == levels
        assert list(InboundLine.objects.order_by("pk").values_list("quantity_received", flat=True)) == received
    assert_ledger_matches_levels()
    assert not TransferOrder.objects.exists()
