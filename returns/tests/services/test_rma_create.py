"""Eligibility: every refusal names the line and SKU and why, and nothing is stored."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from orders.models import OrderEvent
from returns.models import ReturnAuthorization
from returns.services import ReturnLineIn, rma_create
from returns.tests.conftest import shipped_order


def _msgs(exc) -> str:
    return " ".join(exc.value.messages)


def test_creates_rma_routed_and_on_the_timeline(delivered, store):
    result = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2, reason="size_fit")])
    rma = result.rma
    assert result.created and rma.status == "approved" and rma.number == f"RMA-{delivered.number}-1"
    assert rma.return_location == store  # the only location accepting returns near the customer
    assert rma.refund_amount == 20 and rma.refund_status == "pending"
    line = rma.lines.get()
    assert (line.sku, line.quantity, line.reason, line.unit_price) == ("SKU-A", 2, "size_fit", 10)
    types = list(OrderEvent.objects.filter(order=delivered).values_list("type", flat=True))
    assert types[-2:] == ["return_requested", "return_approved"]
    assert rma.routing_decisions.get().location == store


def test_not_returnable_product(delivered, product_b):
    product_b.returnable = False
    product_b.save()
    with pytest.raises(ValidationError) as exc:
        rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-B", quantity=1)])
    assert "Line 2 (SKU SKU-B): this product is not returnable." in _msgs(exc)
    assert not ReturnAuthorization.objects.exists()


def test_return_window_closed(web, dc, store, product):
    product.return_window_days = 30
    product.save()
    order = shipped_order(channel=web, lines=[(product, 1)], location=dc, delivered_days_ago=31)
    with pytest.raises(ValidationError) as exc:
        rma_create(order=order, lines=[ReturnLineIn(sku="SKU-A", quantity=1)])
    closed = timezone.localdate(timezone.now() - timedelta(days=1)).isoformat()
    assert f"Line 1 (SKU SKU-A): the 30-day return window closed on {closed}" in _msgs(exc)
    # One day inside the window it is accepted.
    product.return_window_days = 32
    product.save()
    assert rma_create(order=order, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).created


def test_window_counts_from_delivery_not_order_date(web, dc, store, product):
    product.return_window_days = 5
    product.save()
    order = shipped_order(channel=web, lines=[(product, 1)], location=dc, delivered_days_ago=2)
    order.placed_at = timezone.now() - timedelta(days=20)
    order.save(update_fields=["placed_at"])
    assert rma_create(order=order, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).created


def test_more_than_shipped(delivered):
    with pytest.raises(ValidationError) as exc:
        rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=4)])
    assert (
        "Line 1 (SKU SKU-A): 4 requested but only 3 can be returned (3 shipped, 0 already returned, 0 on open returns)."
        in _msgs(exc)
    )


def test_open_rmas_count_against_what_may_be_returned(delivered):
    rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2)])
    with pytest.raises(ValidationError) as exc:
        rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2)])
    assert "only 1 can be returned (3 shipped, 0 already returned, 2 on open returns)" in _msgs(exc)
    assert rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).created


def test_every_problem_listed_at_once_and_nothing_written(delivered, product_b):
    product_b.returnable = False
    product_b.save()
    with pytest.raises(ValidationError) as exc:
        rma_create(
            order=delivered,
            lines=[
                ReturnLineIn(sku="SKU-A", quantity=9),
                ReturnLineIn(sku="SKU-B", quantity=1),
                ReturnLineIn(sku="NOPE", quantity=1),
                ReturnLineIn(line_number=1, quantity=1),
                ReturnLineIn(line_number=2, quantity=0),
            ],
        )
    errors = exc.value.message_dict["lines"]
    assert len(errors) == 5
    assert "Line 3 (SKU NOPE): SKU NOPE is not on order" in errors[2]
    assert "listed twice" in errors[3]
    assert not ReturnAuthorization.objects.exists()
    assert not OrderEvent.objects.filter(order=delivered, type__startswith="return").exists()


def test_order_not_shipped(web, dc, product):
    from bench.factories import make_order

    order = make_order(channel=web, lines=[(product, 1)])
    with pytest.raises(ValidationError, match="is routed; only shipped or delivered orders can be returned"):
        rma_create(order=order, lines=[ReturnLineIn(sku="SKU-A", quantity=1)])


def test_idempotency_key_makes_one_rma(delivered):
    first = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)], idempotency_key="k1")
    again = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)], idempotency_key="k1")
    assert first.created and not again.created and again.rma.pk == first.rma.pk
    assert ReturnAuthorization.objects.count() == 1


def test_in_store_return_stays_at_the_store(delivered, store_b):
    rma = rma_create(
        order=delivered, lines=[ReturnLineIn(sku="SKU-B", quantity=1)], method="in_store", store=store_b
    ).rma
    assert rma.return_location == store_b and rma.status == "approved"
    d = rma.routing_decisions.get()
    assert d.location == store_b and d.notes == ["returned in store: received at STORE-0002"]


def test_in_store_at_a_store_that_takes_no_returns(delivered, store_b):
    store_b.accepts_returns = False
    store_b.save()
    with pytest.raises(ValidationError, match="STORE-0002 does not accept returns"):
        rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-B", quantity=1)], method="in_store", store=store_b)
