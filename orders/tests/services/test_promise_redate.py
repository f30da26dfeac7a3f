"""Moving an order's promise (orders.services.order_promise_redate): the first promise is kept, the timeline
says why, bad input is refused with nothing written."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Order, OrderEvent
from orders.services import order_promise_redate

pytestmark = pytest.mark.django_db


def _order(web, promised: date | None = date(2026, 3, 3)) -> Order:
    n = Order.objects.count() + 1
    return Order.objects.create(
        channel=web,
        external_id=f"P-{n}",
        number=f"P{n:06d}",
        placed_at=datetime(2026, 3, 2, 14, tzinfo=UTC),
        promised_delivery_date=promised,
    )


def test_the_promise_moves_and_the_first_one_is_kept(web):
    order = _order(web)
    assert order_promise_redate(order_id=order.pk, promised=date(2026, 3, 4), reason="late: stock past cut-off")
    assert order_promise_redate(order_id=order.pk, promised=date(2026, 3, 6), reason="late again")
    order.refresh_from_db()
    assert order.promised_delivery_date == date(2026, 3, 6)
    assert order.original_promised_delivery_date == date(2026, 3, 3)
    events = list(order.events.filter(type=OrderEvent.Type.CHANGED).order_by("pk"))
    assert [(e.data["from"], e.data["to"], e.data["original"]) for e in events] == [
        ("2026-03-03", "2026-03-04", "2026-03-03"),
        ("2026-03-04", "2026-03-06", "2026-03-03"),
    ]
    assert events[0].data["change"] == "promise" and events[0].data["reason"] == "late: stock past cut-off"
    # Channels hear of it as order.changed with the new date.
    from webhooks.models import Event, EventType  # noqa: PLC0415

    sent = Event.objects.filter(order_id=order.pk, type=EventType.ORDER_CHANGED).order_by("pk")
    assert [{k: v for k, v in e.data.items() if k != "order"} for e in sent] == [
        {"change": "promise", "promised_delivery_date": "2026-03-04"},
        {"change": "promise", "promised_delivery_date": "2026-03-06"},
    ]
    assert order.version == 3  # every timeline entry moves the version


def test_the_same_date_again_writes_nothing(web):
    order = _order(web)
    assert not order_promise_redate(order_id=order.pk, promised=date(2026, 3, 3), reason="same")
    order.refresh_from_db()
    assert order.original_promised_delivery_date is None and not order.events.exists()


def test_an_order_without_a_stored_promise_keeps_the_one_the_caller_held_it_to(web):
    order = _order(web, promised=None)
    order_promise_redate(order_id=order.pk, promised=date(2026, 3, 4), reason="late", previous=date(2026, 3, 3))
    order.refresh_from_db()
    assert (order.promised_delivery_date, order.original_promised_delivery_date) == (date(2026, 3, 4), date(2026, 3, 3))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"promised": date(2026, 3, 4), "reason": "  "}, "reason"),
        ({"promised": "2026-03-04", "reason": "late"}, "promised"),
        ({"promised": None, "reason": "late"}, "promised"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(web, kwargs, field):
    order = _order(web)
    with pytest.raises(ValidationError) as err:
        order_promise_redate(order_id=order.pk, **kwargs)
    assert field in err.value.message_dict
    order.refresh_from_db()
    assert order.promised_delivery_date == date(2026, 3, 3) and not order.events.exists()


def test_an_unknown_order_is_refused(db):
    with pytest.raises(ValidationError) as err:
        order_promise_redate(order_id=987654, promised=date(2026, 3, 4), reason="late")
    assert "order_id" in err.value.message_dict


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shifts=st.lists(st.integers(min_value=-5, max_value=30), min_size=1, max_size=5))
def test_any_sequence_of_moves_keeps_the_first_promise_and_ends_on_the_last(web, shifts):
    first = date(2026, 3, 3)
    order = _order(web, promised=first)
    dates = [first + timedelta(days=s) for s in shifts]
    for d in dates:
        order_promise_redate(order_id=order.pk, promised=d, reason="moved")
    order.refresh_from_db()
    assert order.promised_delivery_date == dates[-1]
    moved = any(d != first for d in dates)
    assert order.original_promised_delivery_date == (first if moved else None)
    changes = [d for prev, d in zip([first, *dates], dates, strict=False) if d != prev]
    assert order.events.filter(type=OrderEvent.Type.CHANGED).count() == len(changes)
