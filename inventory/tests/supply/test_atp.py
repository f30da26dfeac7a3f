from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.atp import DateInPast, availability_on_date, availability_timeline
from inventory.inbound import InboundIn, InboundLineIn, ReceiptIn, inbound_create, inbound_line_promise, inbound_receive
from inventory.models import InboundLine, SafetyStockRule
from inventory.selectors import UnknownSkus, availability_by_sku
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import put_stock
from inventory.transfers import TransferLineIn, transfer_create, transfer_ship

pytestmark = pytest.mark.django_db


def days(n: int):
    return timezone.localdate() + timedelta(days=n)


def inbound(number, location, lines):
    return inbound_create(
        data=InboundIn(
            number=number,
            supplier="Acme",
            location_code=location,
            lines=[InboundLineIn(sku, q, days(d)) for sku, q, d in lines],
        )
    )


def dated(sku, n, **kw):
    (row,) = availability_on_date(skus=[sku], on=days(n), **kw)
    return row


def test_without_supply_the_dated_answer_is_todays(product, product_b, dc, store):
    put_stock(product, dc, 7)
    put_stock(product, store, 3)
    stock_reserve(lines=[ReserveLine(product.pk, 2, dc.pk)])
    today = availability_by_sku(skus=["SKU-A", "SKU-B"])
    rows = availability_on_date(skus=["SKU-A", "SKU-B"], on=days(30))
    assert [(r.sku, r.available, r.available_now, r.supply) for r in rows] == [
        (t.sku, t.available, t.available, 0) for t in today
    ]
    assert [(dl.location_code, dl.available) for dl in rows[0].locations] == [
        (la.location_code, la.available) for la in today[0].locations
    ]


def test_inbound_counts_from_its_expected_date_less_what_is_promised(product, dc, store):
    put_stock(product, dc, 4)
    shipment = inbound("PO-1", "DC-EAST", [("SKU-A", 10, 5)])
    inbound("PO-2", "STORE-0001", [("SKU-A", 6, 9)])
    assert dated("SKU-A", 0).available == 4
    assert dated("SKU-A", 4).available == 4
    on5 = dated("SKU-A", 5)
    assert (on5.available_now, on5.supply, on5.available) == (4, 10, 14)
    assert [(dl.location_code, dl.available) for dl in on5.locations] == [("DC-EAST", 14)]
    assert dated("SKU-A", 9).available == 20
    assert dated("SKU-A", 9, location_ids=[store.pk]).available == 6
    inbound_line_promise(line_id=InboundLine.objects.get(shipment=shipment).pk, quantity=7)
    assert dated("SKU-A", 5).available == 7
    inbound_receive(shipment_id=shipment.pk, receipts=[ReceiptIn("SKU-A", 3)])
    # Received units are on hand now; the promised 7 now cover the whole open rest.
    assert (dated("SKU-A", 0).available, dated("SKU-A", 5).available) == (7, 7)


def test_late_inbound_counts_from_today_and_supply_refills_safety_stock_first(product, dc):
    put_stock(product, dc, 2)
    SafetyStockRule.objects.create(location=dc, quantity=5)
    inbound("PO-1", "DC-EAST", [("SKU-A", 10, 3)])
    InboundLine.objects.update(expected_date=days(-2))  # overdue: still expected, so from today
    on0 = dated("SKU-A", 0)
    assert (on0.available_now, on0.available) == (0, 7)


def test_a_shipped_transfer_is_supply_at_its_destination_on_its_date(product, dc, store):
    put_stock(product, dc, 10)
    transfer = transfer_create(
        source_code="DC-EAST", destination_code="STORE-0001", lines=[TransferLineIn("SKU-A", 4)], expected_date=days(2)
    )
    assert dated("SKU-A", 5).available == 10  # a draft moves nothing
    transfer_ship(transfer_id=transfer.pk)
    assert dated("SKU-A", 1).available == 6
    on2 = dated("SKU-A", 2)
    assert on2.available == 10
    assert {dl.location_code: dl.available for dl in on2.locations} == {"DC-EAST": 6, "STORE-0001": 4}


def test_the_timeline_answers_the_earliest_date_for_n_units(product, dc, store):
    put_stock(product, dc, 3)
    inbound("PO-1", "DC-EAST", [("SKU-A", 5, 4)])
    inbound("PO-2", "STORE-0001", [("SKU-A", 10, 10)])
    inbound("PO-3", "DC-EAST", [("SKU-A", 1, 10)])
    timeline = availability_timeline(sku="SKU-A")
    assert [(p.on, p.available) for p in timeline.points] == [(days(0), 3), (days(4), 8), (days(10), 19)]
    assert timeline.earliest_for(3) == days(0)
    assert timeline.earliest_for(4) == days(4)
    assert timeline.earliest_for(19) == days(10)
    assert timeline.earliest_for(20) is None
    assert availability_timeline(sku="SKU-A", days=5).earliest_for(9) is None


def test_unknown_skus_and_past_dates_are_refused(product):
    with pytest.raises(UnknownSkus) as exc:
        availability_on_date(skus=["SKU-A", "NOPE"], on=days(1))
    assert exc.value.skus == ["NOPE"]
    with pytest.raises(DateInPast):
        availability_on_date(skus=["SKU-A"], on=days(-1))
