from datetime import timedelta

import pytest
from django.utils import timezone

from bench.factories import make_fo, make_order, put_stock
from common import roles
from conftest import make_user
from fulfillment.services import fulfillment_order_deliver, fulfillment_order_ship
from orders.models import Order


def shipped_order(
    *, channel, lines, location, delivered_days_ago: int | None = 1, service: str = "ups_ground", **kwargs
) -> Order:
    """An order shipped (and delivered `delivered_days_ago` days ago) by the real fulfilment services."""
    for product, qty in lines:
        put_stock(product, location, qty)
    order = make_order(channel=channel, lines=lines, **kwargs)
    fo = make_fo(order=order, location=location)
    fulfillment_order_ship(fo_id=fo.pk, service=service, tracking_number=f"1Z{order.pk}")
    if delivered_days_ago is not None:
        fulfillment_order_deliver(fo_id=fo.pk, delivered_at=timezone.now() - timedelta(days=delivered_days_ago))
    order.refresh_from_db()
    return order


@pytest.fixture
def store_b_user(db, store_b):
    return make_user("clerk-b", roles.STORE_STAFF, stores=[store_b])


@pytest.fixture
def delivered(web, dc, store, product, product_b):
    """Delivered yesterday from the DC: 3 × SKU-A at $10, 1 × SKU-B at $10; the customer is in Manhattan."""
    return shipped_order(channel=web, lines=[(product, 3), (product_b, 1)], location=dc)
