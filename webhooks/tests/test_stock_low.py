"""stock.low: one event per crossing of a low-stock threshold (network or per location), decided inside the
transaction of the stock write, to every subscription asking."""

import pytest
from django.db import transaction

from inventory.services import stock_adjust
from inventory.tests.helpers import put_stock
from webhooks.models import Delivery, Event, LowStockMark
from webhooks.services import deliveries_deliver_due, stock_low_scan, subscription_create

pytestmark = pytest.mark.django_db


def set_on_hand(product, location, delta: int) -> None:
    stock_adjust(product=product, location=location, delta=delta, reference="test")


def low_events() -> list[tuple]:
    return [
        (d["product"]["sku"], d["scope"], d["location"], d["ats"], d["threshold"])
        for d in Event.objects.filter(type="stock.low").order_by("id").values_list("data", flat=True)
    ]


def test_one_event_per_crossing_written_by_the_stock_change_itself(web, dc, product, receiver):
    product.low_stock_threshold = 5
    product.save()
    sub, secret = subscription_create(name="s", url=receiver.url, event_types=["stock.low"], channel=web)
    put_stock(product, dc, 10)
    assert low_events() == []
    set_on_hand(product, dc, -7)  # 3 left: below 5, announced by the adjustment, no scan needed
    assert low_events() == [("SKU-A", "network", None, 3, 5)]
    set_on_hand(product, dc, -1)  # still low: not announced again
    assert stock_low_scan() == 0  # and the safety-net scan agrees
    set_on_hand(product, dc, +6)  # 8: recovered, re-armed
    assert not LowStockMark.objects.exists()
    set_on_hand(product, dc, -6)  # 2: a second crossing
    assert low_events() == [("SKU-A", "network", None, 3, 5), ("SKU-A", "network", None, 2, 5)]
    assert Delivery.objects.filter(subscription=sub).count() == 2
    assert deliveries_deliver_due() == 2
    assert [e["type"] for e in receiver.events(secret=secret)] == ["stock.low", "stock.low"]


def test_a_rolled_back_change_announces_nothing(dc, product):
    product.low_stock_threshold = 5
    product.save()
    put_stock(product, dc, 10)
    with pytest.raises(RuntimeError), transaction.atomic():
        set_on_hand(product, dc, -9)
        assert len(low_events()) == 1  # written inside the transaction …
        raise RuntimeError("the caller fails after the stock write")
    assert low_events() == [] and not LowStockMark.objects.exists()  # … and gone with it
    set_on_hand(product, dc, -9)
    assert len(low_events()) == 1


def test_per_location_threshold_once_per_crossing(dc, store, product):
    product.low_stock_threshold = 1  # the network stays above its threshold throughout
    product.save()
    store.low_stock_threshold = 4
    store.save()
    put_stock(product, dc, 50)
    put_stock(product, store, 10)
    set_on_hand(product, store, -7)  # 3 at the store: below 4 there
    set_on_hand(product, store, -1)
    set_on_hand(product, dc, -5)  # another location's change does not re-announce the store
    assert low_events() == [("SKU-A", "location", "STORE-0001", 3, 4)]
    set_on_hand(product, store, +5)  # 7: recovered at the store
    set_on_hand(product, store, -6)
    assert low_events()[-1] == ("SKU-A", "location", "STORE-0001", 1, 4)
    assert len(low_events()) == 2


def test_the_scan_is_a_safety_net_for_changes_without_a_stock_write(dc, product):
    put_stock(product, dc, 10)
    assert low_events() == []
    product.low_stock_threshold = 20  # an edited threshold changes nothing in stock
    product.save()
    assert stock_low_scan() == 1
    assert stock_low_scan() == 0
    assert low_events() == [("SKU-A", "network", None, 10, 20)]


def test_a_bulk_merge_announces_its_crossings_in_its_transaction(dc, store, product, product_b):
    from inventory.services import stock_merge_staged
    from inventory.tests.helpers import stage_rows

    store.low_stock_threshold = 3
    store.save()
    put_stock(product, dc, 50)
    put_stock(product_b, store, 10)
    stage_rows("n17_stage", [(1, product.pk, dc.pk, 2), (2, product_b.pk, store.pk, 1)])
    with transaction.atomic():
        stock_merge_staged(table="n17_stage", reason="count", reference="test", mode="snapshot")
    assert sorted(low_events()) == [
        ("SKU-A", "network", None, 2, 5),
        ("SKU-B", "location", "STORE-0001", 1, 3),  # below the store's own threshold
        ("SKU-B", "network", None, 1, 5),  # and the network's
    ]


def test_only_changes_of_free_stock_are_announced(dc, product):
    from inventory.services import StockChange, stock_apply_changes
    from inventory.signals import stock_levels_changed

    seen = []

    def listen(sender, **kwargs):
        seen.append((kwargs["product_ids"], kwargs["lowered_ids"]))

    stock_levels_changed.connect(listen, dispatch_uid="test-listen")
    try:
        put_stock(product, dc, 10)  # free stock up: may only re-arm
        stock_apply_changes(changes=[StockChange(product.pk, dc.pk, delta_reserved=2)], reason="reserve")  # 8 left
        stock_apply_changes(changes=[StockChange(product.pk, dc.pk, delta_reserved=5)], reason="reserve")  # 3 left
        stock_apply_changes(  # a shipment: on hand and reserved down together, free stock unchanged
            changes=[StockChange(product.pk, dc.pk, delta_on_hand=-1, delta_reserved=-1)], reason="consume"
        )
    finally:
        stock_levels_changed.disconnect(dispatch_uid="test-listen")
    # Down to 8 at the DC: the row alone proves the network at or above 5, nothing to read. Down to 3: checked.
    assert seen == [({product.pk}, set()), ({product.pk}, set()), ({product.pk}, {product.pk})]
