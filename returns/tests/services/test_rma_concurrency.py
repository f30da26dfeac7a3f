"""Racing return requests never promise back more units than were shipped (the order row is the lock)."""

import pytest
from django.core.exceptions import ValidationError

from inventory.tests.services.test_concurrency import race
from returns.models import ReturnLine
from returns.services import ReturnLineIn, rma_create
from returns.tests.conftest import shipped_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def test_32_racing_returns_of_3_shipped_units_authorise_exactly_3(web, dc, store, product):
    order = shipped_order(channel=web, lines=[(product, 3)], location=dc)

    def request(i):
        return rma_create(order=order, lines=[ReturnLineIn(sku="SKU-A", quantity=1)])

    results = race(request)
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 3
    assert all(isinstance(e, ValidationError) and "only 0 can be returned" in str(e) for e in lost), lost[:2]
    assert sum(ReturnLine.objects.values_list("quantity", flat=True)) == 3
    assert len({r.rma.number for r in won}) == 3
