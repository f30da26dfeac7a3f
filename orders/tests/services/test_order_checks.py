"""Validation, fraud screening, promise and priority of new orders (orders.services.order_ingest)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from common.calendar import NATIONAL_US, business_day_on_or_after, business_days_add
from orders.checks import address_problems, priority_score
from orders.inputs import CustomerIn, LineIn, OrderIn
from orders.models import Customer, FraudSettings, Order, OrderHold
from orders.promise import promise_default
from orders.services import order_ingest

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ann",
    "line1": "350 5th Ave",
    "city": "New York",
    "region": "NY",
    "postal_code": "10001",
    "country": "US",
}


def make_in(ext="W-1", **kw) -> OrderIn:
    base = dict(
        external_id=ext,
        placed_at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
        lines=[LineIn(sku="SKU-A", quantity=1, unit_price=Decimal("20.00"))],
        customer=CustomerIn(email="ann@example.com", name="Ann"),
        shipping_address=dict(ADDRESS),
        payment_status="authorized",
    )
    base.update(kw)
    return OrderIn(**base)


def hold_kinds(order: Order) -> set[str]:
    return set(order.holds.values_list("kind", flat=True))


def test_clean_order_is_validated_without_holds(web, catalogue):
    order = order_ingest(channel=web, order_in=make_in()).order
    assert order.status == "validated" and hold_kinds(order) == set()
    assert order.fraud_score == 0 and order.fraud_reasons == []


@pytest.mark.parametrize(
    "address, expected",
    [
        ({**ADDRESS, "postal_code": "00000"}, "ZIP code '00000' does not exist."),
        ({**ADDRESS, "region": "CA"}, "ZIP code 10001 is in NY, not CA."),
        ({**ADDRESS, "country": "XX"}, "Country 'XX' is not an ISO 3166 country code."),
        ({**ADDRESS, "line1": ""}, "no street line"),
        ({}, "no shipping address"),
    ],
)
def test_undeliverable_addresses_are_held_with_the_reason(web, catalogue, address, expected):
    order = order_ingest(channel=web, order_in=make_in(shipping_address=address)).order
    assert order.status == "on_hold"
    hold = order.holds.get()
    assert hold.kind == OrderHold.Kind.ADDRESS and expected in hold.reason


def test_foreign_address_needs_only_a_valid_country(web, catalogue):
    address = {"line1": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "GB"}
    order = order_ingest(channel=web, order_in=make_in(shipping_address=address)).order
    assert order.status == "validated"
    assert address_problems(address={**address, "country": "GB"}) == []


def test_zip_plus_four_is_accepted():
    assert address_problems(address={**ADDRESS, "postal_code": "10001-2062"}) == []


def test_unpaid_orders_are_held_for_payment(web, catalogue):
    order = order_ingest(channel=web, order_in=make_in(payment_status="pending")).order
    assert hold_kinds(order) == {"payment"} and "Payment is pending" in order.holds.get().reason


def test_inactive_sku_is_an_unknown_item_hold(web, catalogue):
    catalogue[0].is_active = False
    catalogue[0].save()
    order = order_ingest(channel=web, order_in=make_in()).order
    assert hold_kinds(order) == {"unknown_item"} and "inactive" in order.holds.get().reason


def test_pickup_at_a_store_without_pickup_is_held(web, catalogue, store, dc):
    ok = order_ingest(
        channel=web,
        order_in=make_in("P-1", fulfillment_method="pickup", pickup_location=store.code, shipping_address={}),
    ).order
    assert ok.status == "validated" and ok.pickup_location == store
    bad = order_ingest(
        channel=web, order_in=make_in("P-2", fulfillment_method="pickup", pickup_location=dc.code, shipping_address={})
    ).order
    assert bad.status == "on_hold" and "DC-EAST does not offer pickup" in bad.holds.get().reason


def test_several_problems_make_several_holds(web):
    order = order_ingest(
        channel=web, order_in=make_in(payment_status="pending", shipping_address={**ADDRESS, "region": "CA"})
    ).order
    assert hold_kinds(order) == {"payment", "address", "unknown_item"}
    assert order.events.filter(type="hold_placed").count() == 3


def test_bad_input_to_the_service_names_every_problem_and_stores_nothing(web, catalogue):
    bad = make_in(lines=[LineIn(sku="SKU-A", quantity=0), LineIn(sku="SKU-B", quantity=1, unit_price=Decimal("-1"))])
    bad.service_level = "warp"
    with pytest.raises(ValidationError) as exc:
        order_ingest(channel=web, order_in=bad)
    errors = exc.value.message_dict
    assert errors["service_level"] == ["'warp' is not one of standard, express, overnight."]
    assert errors["lines"][0].startswith("Line 1, quantity") and errors["lines"][1].startswith("Line 2, unit_price")
    assert Order.objects.count() == 0 and Customer.objects.count() == 0


# --- Fraud ---------------------------------------------------------------------------------------------
def test_big_first_order_scores_and_is_held_when_over_the_threshold(web, catalogue):
    rules = FraudSettings.objects.get()
    rules.new_customer_value_limit = Decimal("100")
    rules.new_customer_value_points = 60
    rules.save()
    order = order_ingest(
        channel=web, order_in=make_in(lines=[LineIn(sku="SKU-A", quantity=10, unit_price=Decimal("20"))])
    ).order
    assert order.fraud_score == 60
    assert order.fraud_reasons[0]["rule"] == "new_customer_value"
    assert hold_kinds(order) == {"fraud"} and "Fraud score 60" in order.holds.get().reason
    # The same customer's second big order is no longer a first order.
    second = order_ingest(
        channel=web, order_in=make_in("W-2", lines=[LineIn(sku="SKU-A", quantity=10, unit_price=Decimal("20"))])
    ).order
    assert second.fraud_score == 0


def test_score_below_the_threshold_is_stored_but_not_held(web, catalogue):
    rules = FraudSettings.objects.get()
    rules.new_customer_value_limit = Decimal("10")
    rules.save()  # 40 points < 50
    order = order_ingest(channel=web, order_in=make_in()).order
    assert order.fraud_score == 40 and order.status == "validated"


def test_billing_far_from_shipping(web, catalogue):
    billing = {**ADDRESS, "postal_code": "90210", "region": "CA", "city": "Beverly Hills"}
    order = order_ingest(channel=web, order_in=make_in(billing_address=billing)).order
    assert [r["rule"] for r in order.fraud_reasons] == ["address_distance"]
    assert "km apart" in order.fraud_reasons[0]["reason"]


def test_many_orders_from_one_email_within_minutes(web, catalogue):
    rules = FraudSettings.objects.get()
    rules.velocity_max_orders = 2
    rules.save()
    scores = [
        order_ingest(
            channel=web, order_in=make_in(f"V-{i}", shipping_address={**ADDRESS, "line1": f"{i} Main St"})
        ).order.fraud_score
        for i in range(4)
    ]
    assert scores == [0, 0, 40, 40]
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11)):
        assert order_ingest(channel=web, order_in=make_in("V-later")).order.fraud_score == 0


def test_many_orders_to_one_address_from_different_emails(web, catalogue):
    rules = FraudSettings.objects.get()
    rules.velocity_max_orders = 2
    rules.save()
    orders = [
        order_ingest(channel=web, order_in=make_in(f"A-{i}", customer=CustomerIn(email=f"u{i}@example.com"))).order
        for i in range(3)
    ]
    assert [o.fraud_score for o in orders] == [0, 0, 40]
    assert orders[2].fraud_reasons[0]["rule"] == "velocity_address"


def test_high_risk_skus(web, catalogue):
    rules = FraudSettings.objects.get()
    rules.high_risk_skus = "SKU-B, SKU-Z\nSKU-A"
    rules.high_risk_sku_points = 55
    rules.save()
    order = order_ingest(channel=web, order_in=make_in()).order
    assert order.fraud_score == 55 and "SKU-A" in order.fraud_reasons[0]["reason"]
    assert order.status == "on_hold"


def test_zero_points_switches_a_rule_off(web, catalogue):
    rules = FraudSettings.objects.get()
    rules.high_risk_skus = "SKU-A"
    rules.high_risk_sku_points = 0
    rules.save()
    assert order_ingest(channel=web, order_in=make_in()).order.fraud_reasons == []


# --- Promise and priority --------------------------------------------------------------------------------
def test_business_days_skip_weekends():
    friday = date(2026, 3, 6)
    assert business_days_add(day=friday, days=1, calendar=NATIONAL_US) == date(2026, 3, 9)
    assert business_day_on_or_after(day=date(2026, 3, 7), calendar=NATIONAL_US) == date(2026, 3, 9)


@pytest.mark.parametrize(
    "placed, level, method, ship_by, delivery",
    [
        # Monday 09:00 New York, before the 15:00 cut-off.
        ("2026-03-02T14:00Z", "standard", "ship", "2026-03-03 15:00", date(2026, 3, 9)),
        ("2026-03-02T14:00Z", "express", "ship", "2026-03-02 15:00", date(2026, 3, 4)),
        ("2026-03-02T14:00Z", "overnight", "ship", "2026-03-02 15:00", date(2026, 3, 3)),
        # Friday 16:00 New York, after cut-off: dispatch Monday.
        ("2026-03-06T21:00Z", "overnight", "ship", "2026-03-09 15:00", date(2026, 3, 10)),
        ("2026-03-07T12:00Z", "standard", "pickup", "2026-03-09 15:00", date(2026, 3, 9)),
        # The day before Thanksgiving (Wednesday 2026-11-25, 10:00): Thursday is no delivery day.
        ("2026-11-25T15:00Z", "overnight", "ship", "2026-11-25 15:00", date(2026, 11, 27)),
        ("2026-11-25T15:00Z", "express", "ship", "2026-11-25 15:00", date(2026, 11, 30)),
        ("2026-11-25T15:00Z", "standard", "ship", "2026-11-27 15:00", date(2026, 12, 3)),
        # Placed on Thanksgiving itself: dispatch waits for Friday.
        ("2026-11-26T15:00Z", "overnight", "ship", "2026-11-27 15:00", date(2026, 11, 30)),
        # Christmas Eve (Thursday), 10:00: overnight skips Christmas Day and the weekend.
        ("2026-12-24T15:00Z", "overnight", "ship", "2026-12-24 15:00", date(2026, 12, 28)),
        ("2026-12-24T21:00Z", "express", "ship", "2026-12-28 15:00", date(2026, 12, 30)),
    ],
)
def test_promise(placed, level, method, ship_by, delivery):
    p = promise_default(placed_at=datetime.fromisoformat(placed), service_level=level, method=method)
    assert p.ship_by.strftime("%Y-%m-%d %H:%M") == ship_by and p.ship_by.tzname() in ("EST", "EDT")
    assert p.promised_delivery_date == delivery


def test_priority_orders_by_ship_by_then_tier_then_value():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    soon, later = now + timedelta(hours=3), now + timedelta(hours=30)
    assert priority_score(ship_by=soon, now=now, tier="standard", total=Decimal(10)) > priority_score(
        ship_by=later, now=now, tier="platinum", total=Decimal(5000)
    )
    assert priority_score(ship_by=soon, now=now, tier="gold", total=Decimal(10)) > priority_score(
        ship_by=soon, now=now, tier="standard", total=Decimal(10)
    )
    assert priority_score(ship_by=soon, now=now, tier="gold", total=Decimal(900)) > priority_score(
        ship_by=soon, now=now, tier="gold", total=Decimal(10)
    )
    late = priority_score(ship_by=now - timedelta(hours=5), now=now, tier="standard", total=Decimal(0))
    assert late > priority_score(ship_by=now, now=now, tier="standard", total=Decimal(0))


@time_machine.travel(datetime(2026, 3, 2, 14, 30, tzinfo=UTC), tick=False)
def test_routing_queue_takes_express_and_gold_customers_first(web, catalogue):
    from orders.selectors import order_ids_awaiting_routing

    Customer.objects.create(email="gold@example.com", loyalty_tier="gold")
    placed = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    std = order_ingest(channel=web, order_in=make_in("S", placed_at=placed)).order
    exp = order_ingest(channel=web, order_in=make_in("E", placed_at=placed, service_level="express")).order
    gold = order_ingest(
        channel=web, order_in=make_in("G", placed_at=placed, customer=CustomerIn(email="gold@example.com"))
    ).order
    assert exp.priority > gold.priority > std.priority
    assert order_ids_awaiting_routing() == [exp.pk, gold.pk, std.pk]


def test_order_without_customer_or_address_is_screened(web, catalogue, store):
    order = order_ingest(
        channel=web,
        order_in=make_in(
            "NC-1", customer=None, shipping_address={}, fulfillment_method="pickup", pickup_location=store.code
        ),
    ).order
    assert order.status == "validated" and order.customer is None and order.fraud_score == 0
