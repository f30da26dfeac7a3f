import pytest

from conftest import api_for
from inventory.models import Location, Product, Reservation, StockLevel
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db


def test_availability_lists_network_and_locations(api, product, product_b, dc, store):
    put_stock(product, dc, 7)
    put_stock(product, store, 2)
    r = api.get("/api/v1/availability/", {"sku": ["SKU-A", "SKU-B"]})
    assert r.status_code == 200, r.json()
    a, b = r.json()["results"]
    assert a == {
        "sku": "SKU-A",
        "available": 9,
        "locations": [{"location": "DC-EAST", "available": 7}, {"location": "STORE-0001", "available": 2}],
    }
    assert b == {"sku": "SKU-B", "available": 0, "locations": []}


def test_availability_errors_name_the_problem(api, product):
    r = api.get("/api/v1/availability/", {"sku": ["SKU-A", "NOPE", "ALSO-NOPE"]})
    assert r.status_code == 400
    assert r.json() == {"sku": ["Unknown SKU 'NOPE'.", "Unknown SKU 'ALSO-NOPE'."]}
    assert api.get("/api/v1/availability/").status_code == 400
    r = api.get("/api/v1/availability/", {"sku": "SKU-A", "method": "teleport"})
    assert r.status_code == 400 and "teleport" in r.json()["method"][0]


def test_api_client_is_bound_to_its_channel(api, product, marketplace):
    r = api.get("/api/v1/availability/", {"sku": "SKU-A", "channel": "mkt"})
    assert r.status_code == 400 and "web" in r.json()["channel"][0]


def test_pickup_availability_nearest_first_within_radius(api, product, store, store_b, dc):
    put_stock(product, store, 3)
    put_stock(product, store_b, 1)
    put_stock(product, dc, 50)  # not a pickup location
    r = api.get(
        "/api/v1/availability/pickup/", {"sku": "SKU-A", "quantity": 1, "postal_code": "10001", "radius_km": 50}
    )
    assert r.status_code == 200
    rows = r.json()["results"]
    assert [x["location"] for x in rows] == ["STORE-0001", "STORE-0002"]
    assert rows[0]["distance_km"] < rows[1]["distance_km"] < 50
    r = api.get("/api/v1/availability/pickup/", {"sku": "SKU-A", "quantity": 2, "postal_code": "10001"})
    assert [x["location"] for x in r.json()["results"]] == ["STORE-0001"]
    r = api.get("/api/v1/availability/pickup/", {"sku": "SKU-A", "postal_code": "00000"})
    assert r.status_code == 400 and "postal" in str(r.json())


def test_reservation_create_and_release(api, product, dc):
    put_stock(product, dc, 5)
    r = api.post(
        "/api/v1/reservations/",
        {"channel": "web", "ttl_seconds": 900, "lines": [{"sku": "SKU-A", "quantity": 2, "location": "DC-EAST"}]},
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["expires_at"] and body["channel"] == "web"
    assert [(ln["sku"], ln["location"], ln["quantity"]) for ln in body["lines"]] == [("SKU-A", "DC-EAST", 2)]
    assert StockLevel.objects.get().reserved == 2
    r = api.delete(f"/api/v1/reservations/{body['id']}/")
    assert r.status_code == 200 and r.json()["status"] == "released"
    assert StockLevel.objects.get().reserved == 0
    assert_ledger_matches_levels()


def test_reservation_short_is_409_and_holds_nothing(api, product, product_b, dc):
    put_stock(product, dc, 1)
    put_stock(product_b, dc, 10)
    r = api.post(
        "/api/v1/reservations/",
        {"lines": [{"sku": "SKU-B", "quantity": 3}, {"sku": "SKU-A", "quantity": 2}]},
        format="json",
    )
    assert r.status_code == 409
    assert r.json() == {"shortages": [{"sku": "SKU-A", "requested": 2, "available": 1}]}
    assert not Reservation.objects.exists()
    assert sum(s.reserved for s in StockLevel.objects.all()) == 0


@pytest.mark.parametrize(
    "lines, expect",
    [
        ([{"sku": "NOPE", "quantity": 1}], "Unknown or inactive SKU 'NOPE'"),
        ([{"sku": "SKU-A", "quantity": 1, "location": "MOON"}], "Unknown or inactive location 'MOON'"),
        ([{"sku": "SKU-A", "quantity": 0}], "greater than or equal to 1"),
        ([{"sku": "SKU-A", "quantity": -3}], "greater than or equal to 1"),
        ([], "may not be empty"),
    ],
)
def test_reservation_bad_input_is_400_naming_it(api, product, dc, lines, expect):
    put_stock(product, dc, 5)
    r = api.post("/api/v1/reservations/", {"lines": lines}, format="json")
    assert r.status_code == 400
    assert expect in str(r.json())
    assert not Reservation.objects.exists()


def test_reservation_names_every_bad_line(api, product):
    r = api.post(
        "/api/v1/reservations/",
        {
            "lines": [
                {"sku": "X1", "quantity": 1},
                {"sku": "SKU-A", "quantity": 1},
                {"sku": "X2", "quantity": 1, "location": "NOWHERE"},
            ]
        },
        format="json",
    )
    assert r.status_code == 400
    errs = r.json()["lines"]
    assert "X1" in errs[0]["sku"][0] and errs[1] == {} and "X2" in errs[2]["sku"][0]
    assert "NOWHERE" in errs[2]["location"][0]


def test_api_client_cannot_release_another_channels_reservation(api, ops_api, product, dc, marketplace):
    put_stock(product, dc, 5)
    r = ops_api.post(
        "/api/v1/reservations/", {"channel": "mkt", "lines": [{"sku": "SKU-A", "quantity": 1}]}, format="json"
    )
    assert r.status_code == 201
    assert api.delete(f"/api/v1/reservations/{r.json()['id']}/").status_code == 404


def test_master_data_create_and_patch(api, inventory_user):
    inv = api_for(inventory_user)
    r = inv.post(
        "/api/v1/locations/",
        {
            "code": "STORE-0099",
            "name": "Chelsea",
            "kind": "store",
            "postal_code": "10011",
            "country": "us",
            "can_pickup": True,
            "handling_classes": ["ambient"],
            "daily_capacity": 30,
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    loc = Location.objects.get(code="STORE-0099")
    assert loc.country == "US" and loc.latitude == pytest.approx(40.74, abs=0.05)  # filled from the ZIP centroid
    r = inv.patch("/api/v1/locations/STORE-0099/", {"daily_capacity": 0}, format="json")
    assert r.status_code == 200 and r.json()["daily_capacity"] == 0
    r = inv.post(
        "/api/v1/locations/", {"code": "X", "name": "X", "kind": "store", "postal_code": "99999"}, format="json"
    )
    assert r.status_code == 400 and "99999" in r.json()["postal_code"][0]
    r = api.post(
        "/api/v1/products/",
        {"sku": "NEW-1", "name": "New", "handling_class": "frozen", "weight_grams": 1200, "returnable": False},
        format="json",
    )
    assert r.status_code == 201
    r = api.patch("/api/v1/products/NEW-1/", {"name": "Renamed"}, format="json")
    assert r.status_code == 200 and Product.objects.get(sku="NEW-1").name == "Renamed"
    r = api.post("/api/v1/products/", {"sku": "NEW-1", "name": "Dup", "handling_class": "plasma"}, format="json")
    assert r.status_code == 400 and {"sku", "handling_class"} <= set(r.json())


def test_lists_are_paginated_and_filterable(api, dc, store, store_b):
    r = api.get("/api/v1/locations/", {"kind": "store"})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2 and {x["code"] for x in body["results"]} == {"STORE-0001", "STORE-0002"}
