"""The answers to a cancel request through the fulfilment events API: any body is a 200 or a 400 naming the
field, never a 500; a request is answered at most once and the order's counters follow only a confirmation."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfillment.models import CancelRequest, FulfillmentOrder
from fulfillment.services import fulfillment_order_release_now
from inventory.selectors import stock_ledger_mismatches
from orders.services import order_units_cancel
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(web, dc, product, ops_user):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 3)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    fo = FulfillmentOrder.objects.get(order=order)
    fulfillment_order_release_now(fo_id=fo.pk)
    req = order_units_cancel(order=order, lines={1: 1}, reason="x", actor=ops_user).requests[0]
    return fo, req


def post(client, fo, body):
    return client.post(f"/api/v1/fulfillment-orders/{fo.pk}/events/", body, format="json")


def test_a_3pl_confirms_through_the_api_once(ops_api, asked):
    fo, req = asked
    r = post(ops_api, fo, {"event_id": "a", "type": "cancel_confirmed", "cancel_request": req.pk})
    assert r.status_code == 200 and r.json() == {"status": "released", "duplicate": False}
    r = post(ops_api, fo, {"event_id": "b", "type": "cancel_refused", "cancel_request": req.pk, "reason": "late"})
    assert r.status_code == 200
    req.refresh_from_db()
    assert req.status == "confirmed" and fo.order.lines.get().quantity_cancelled == 1


def test_an_unknown_request_is_a_400_naming_it(ops_api, asked):
    fo, _ = asked
    r = post(ops_api, fo, {"event_id": "a", "type": "cancel_confirmed", "cancel_request": 2**31 - 1})
    assert r.status_code == 400 and "cancel_request" in r.json()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {"type": st.sampled_from(["cancel_confirmed", "cancel_refused"])},
        optional={
            "event_id": st.text(max_size=120),
            "cancel_request": st.one_of(st.integers(), st.text(max_size=12), st.none(), st.booleans()),
            "reason": st.one_of(st.text(max_size=600), st.integers()),
            "lines": st.one_of(st.just([]), st.lists(st.dictionaries(st.text(max_size=5), st.integers()), max_size=3)),
        },
    )
)
def test_any_answer_is_a_200_or_a_400_and_a_request_is_answered_once(ops_api, asked, body):
    fo, req = asked
    r = post(ops_api, fo, body)
    assert r.status_code in (200, 400), (r.status_code, r.content[:300])
    req.refresh_from_db()
    cancelled = fo.order.lines.get().quantity_cancelled
    assert (req.status, cancelled) in {("requested", 0), ("confirmed", 1), ("refused", 0)}
    assert CancelRequest.objects.filter(fulfillment_order=fo).count() == 1
    assert stock_ledger_mismatches() == []
