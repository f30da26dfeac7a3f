"""GET /api/v1/promise/ with supply over time: stock on hand answers as now; otherwise the earliest date that
open inbound lines (less what backorders hold) and transfers in transit allow, naming the supply counted on."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.inbound import InboundIn, InboundLineIn, inbound_create, inbound_line_promise
from inventory.models import InboundLine, StockLevel
from inventory.transfers import TransferLineIn, transfer_create, transfer_ship
from orders.models import Order
from routing.tests.helpers import stock

pytestmark = pytest.mark.django_db
LEVELS = ("standard", "express", "overnight")
FIELDS = {"sku", "quantity", "postal_code", "date", "channel"}


def day(n: int) -> date:
    return timezone.localdate() + timedelta(days=n)


def po(number: str, qty: int, when: date, location: str = "DC-EAST") -> InboundLine:
    shipment = inbound_create(
        data=InboundIn(
            number=number, supplier="Acme", location_code=location, lines=[InboundLineIn("SKU-A", qty, when)]
        )
    )
    return shipment.lines.get()


def promise(api, quantity: int, **extra) -> dict:
    r = api.get("/api/v1/promise/", {"sku": "SKU-A", "quantity": quantity, "postal_code": "10001", **extra})
    assert r.status_code == 200, r.content
    return r.json()["service_levels"]


def test_stock_on_hand_answers_as_now(web, dc, product, api):
    stock(product, dc, 5)
    po("PO-1", 50, day(3))
    levels = promise(api, 2)
    for s in LEVELS:
        assert levels[s]["available"] and "ready_on" not in levels[s]
        assert levels[s]["supply"] == [{"source": "on_hand", "location": "DC-EAST", "quantity": 2}]
        assert date.fromisoformat(levels[s]["delivery_date"]) <= day(10)


def test_inbound_only_promises_from_the_expected_date_and_names_the_line(web, dc, product, api):
    line = po("PO-7", 10, day(12))
    levels = promise(api, 3)
    for s in LEVELS:
        v = levels[s]
        assert v["available"] and v["ready_on"] == day(12).isoformat()
        assert date.fromisoformat(v["delivery_date"]) > day(12)
        assert v["supply"] == [
            {
                "source": "inbound",
                "reference": "PO-7",
                "inbound_line": line.pk,
                "expected_date": day(12).isoformat(),
                "location": "DC-EAST",
                "quantity": 3,
            }
        ]
    assert Order.objects.count() == 0 and InboundLine.objects.get().quantity_promised == 0  # reserves nothing


def test_the_earliest_line_that_suffices_wins_and_promised_units_do_not_count(web, dc, product, api):
    early = po("PO-1", 4, day(5))
    po("PO-2", 30, day(20))
    assert promise(api, 3)["standard"]["ready_on"] == day(5).isoformat()
    inbound_line_promise(line_id=early.pk, quantity=3)  # held for backorders: 1 unit left on PO-1
    v = promise(api, 3)["standard"]
    assert v["ready_on"] == day(20).isoformat()
    assert [(s["reference"], s["quantity"]) for s in v["supply"]] == [("PO-1", 1), ("PO-2", 2)]


def test_transit_only_arrives_on_the_transfers_date(web, dc, dc_west, product, api):
    stock(product, dc_west, 5)
    transfer = transfer_create(
        source_code="DC-WEST", destination_code="DC-EAST", lines=[TransferLineIn("SKU-A", 5)], expected_date=day(4)
    )
    transfer_ship(transfer_id=transfer.pk)
    levels = promise(api, 3)
    v = levels["express"]
    assert v["available"] and v["ready_on"] == day(4).isoformat()
    assert v["supply"] == [
        {
            "source": "in_transit",
            "reference": transfer.number,
            "expected_date": day(4).isoformat(),
            "location": "DC-EAST",
            "quantity": 3,
        }
    ]


def test_partial_now_and_the_rest_inbound_ships_when_all_can(web, dc, product, api):
    stock(product, dc, 2)
    line = po("PO-3", 10, day(6))
    levels = promise(api, 5)
    for s in LEVELS:
        v = levels[s]
        assert v["available"] and v["ready_on"] == day(6).isoformat()
        assert v["supply"] == [
            {"source": "on_hand", "location": "DC-EAST", "quantity": 2},
            {
                "source": "inbound",
                "reference": "PO-3",
                "inbound_line": line.pk,
                "expected_date": day(6).isoformat(),
                "location": "DC-EAST",
                "quantity": 3,
            },
        ]
    assert promise(api, 2)["standard"]["supply"] == [{"source": "on_hand", "location": "DC-EAST", "quantity": 2}]


def test_nothing_anywhere_is_a_clear_answer(web, dc, product, api):
    stock(product, dc, 1)
    po("PO-4", 2, day(3))
    for v in promise(api, 9).values():
        assert v["available"] is False and v["delivery_date"] is None and v["supply"] == []
        assert "within 366 days" in v["reason"]


def test_a_later_order_day_is_answered_from_that_day(web, dc, product, api):
    stock(product, dc, 3)
    later = promise(api, 1, date=day(30).isoformat())["standard"]
    assert date.fromisoformat(later["delivery_date"]) > day(30)


HOSTILE = st.fixed_dictionaries(
    {},
    optional={
        "sku": st.one_of(st.text(max_size=80), st.just("SKU-A\x00"), st.just("NOPE")),
        "quantity": st.one_of(
            st.integers(min_value=-(10**30), max_value=10**30).map(str), st.text(max_size=12), st.just("1e9")
        ),
        "postal_code": st.one_of(st.text(max_size=14), st.just("10001\x00"), st.just("00000")),
        "date": st.one_of(
            st.text(max_size=20),
            st.dates().map(date.isoformat),
            st.just("2020-01-01"),
            st.just("9999-12-31"),
            st.just("2026-02-30"),
        ),
        "channel": st.one_of(st.text(max_size=70), st.just("web\x00")),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=HOSTILE)
def test_hostile_parameters_are_refused_naming_the_field(web, dc, product, api, params):
    stock_before = list(StockLevel.objects.values_list("on_hand", "reserved"))
    r = api.get("/api/v1/promise/", params)
    assert r.status_code in (200, 400), (params, r.status_code, r.content[:300])
    if r.status_code == 400:
        body = r.json()
        if any("\x00" in v for v in params.values()):  # refused for every endpoint before the view
            assert "NUL" in body.get("detail", "") or set(body) <= FIELDS, body
        else:
            assert body and set(body) <= FIELDS, body
    assert list(StockLevel.objects.values_list("on_hand", "reserved")) == stock_before


def test_each_bad_parameter_is_named(web, dc, product, api):
    base = {"sku": "SKU-A", "quantity": 1, "postal_code": "10001"}
    cases = {
        "quantity": [{"quantity": 10**12}, {"quantity": -3}, {"quantity": "many"}],
        "date": [{"date": day(-1).isoformat()}, {"date": "2026-13-45"}, {"date": day(400).isoformat()}],
        "sku": [{"sku": "NOPE"}, {"sku": "x" * 65}],
        "postal_code": [{"postal_code": "00000"}, {"postal_code": "1" * 11}],
    }
    for field, variants in cases.items():
        for v in variants:
            r = api.get("/api/v1/promise/", {**base, **v})
            assert r.status_code == 400 and set(r.json()) == {field}, (v, r.content)
    r = api.get("/api/v1/promise/", {**base, "sku": "SKU-A\x00"})
    assert r.status_code == 400 and "NUL" in r.json()["detail"]
