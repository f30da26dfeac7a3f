"""stock.low: one event per crossing of a product's low-stock threshold, to every subscription asking."""

import pytest

from inventory.services import stock_adjust
from inventory.tests.helpers import put_stock
from webhooks.models import Delivery, Event
from webhooks.services import deliveries_deliver_due, stock_low_scan, subscription_create

pytestmark = pytest.mark.django_db


def set_on_hand(product, location, delta: int) -> None:
    stock_adjust(product=product, location=location, delta=delta, reference="test")


def test_one_event_per_crossing(web, dc, product, receiver):
    product.low_stock_threshold = 5
    product.save()
    sub, secret = subscription_create(name="s", url=receiver.url, event_types=["stock.low"], channel=web)
    put_stock(product, dc, 10)
    assert stock_low_scan() == 0
    set_on_hand(product, dc, -7)  # 3 left: below 5
    assert stock_low_scan() == 1
    assert stock_low_scan() == 0  # still low: not announced again
    set_on_hand(product, dc, +5)  # 8: recovered, re-armed
    assert stock_low_scan() == 0
    set_on_hand(product, dc, -6)  # 2: a second crossing
    assert stock_low_scan() == 1
    events = list(Event.objects.filter(type="stock.low").values_list("data", flat=True))
    assert [(e["product"]["sku"], e["ats"], e["threshold"]) for e in events] == [("SKU-A", 3, 5), ("SKU-A", 2, 5)]
    assert Delivery.objects.filter(subscription=sub).count() == 2
    assert deliveries_deliver_due() == 2
    assert [e["type"] for e in receiver.events(secret=secret)] == ["stock.low", "stock.low"]
