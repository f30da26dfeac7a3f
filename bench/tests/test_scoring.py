"""The honest comparison (issue 20 §1): every policy pays the same late penalty for a broken promise."""

from datetime import date

from bench.scoring import LATE_FEE_PER_BUSINESS_DAY, late_business_days, policy_summary
from routing.core import Decision, Shipment


def _decision(order_id: int, *, promise: date, deliveries: list[date], model_cost: float) -> Decision:
    shipments = [
        Shipment(
            location_id=i + 1,
            method="ship",
            service="standard",
            lines=[(order_id * 10 + i, 1)],
            ship_date=date(2026, 3, 2),
            delivery_date=d,
            promise_met=True,  # what the policy believed: the scoring does not trust it
            shipping=0.0,
            handling=0.0,
            adjustment=0.0,
        )
        for i, d in enumerate(deliveries)
    ]
    return Decision(
        order_id=order_id,
        method="ship",
        service_level="standard",
        rule_set_version_id=None,
        rules_fired=[],
        candidates=[],
        excluded={},
        unlisted_locations=0,
        shipments=shipments,
        unplaced={},
        cost=model_cost,
        model_cost=model_cost,
        optimal=False,
        compute_ms=0.0,
        promise=promise,
        notes=[],
        problem=None,
        plan=None,
        line_products={},
    )


def test_late_business_days_skip_weekends():
    friday = date(2026, 3, 6)
    assert late_business_days(promise=friday, delivered=friday) == 0
    assert late_business_days(promise=friday, delivered=date(2026, 3, 5)) == 0
    assert late_business_days(promise=friday, delivered=date(2026, 3, 9)) == 1  # Monday: one business day late
    assert late_business_days(promise=friday, delivered=date(2026, 3, 11)) == 3
    assert late_business_days(promise=None, delivered=friday) == 0


def test_a_baseline_that_breaks_a_promise_pays_the_penalty_in_its_reported_cost():
    promise = date(2026, 3, 6)  # a Friday
    on_time = {1: _decision(1, promise=promise, deliveries=[promise], model_cost=8.0)}
    baseline = {1: _decision(1, promise=promise, deliveries=[date(2026, 3, 10)], model_cost=7.0)}  # Tuesday
    ours = policy_summary(decisions=on_time, common={1})
    base = policy_summary(decisions=baseline, common={1})
    assert base["cost_without_penalties"] == 7.0
    assert base["late_shipments"] == 1 and base["late_share_pct"] == 100.0
    assert base["late_penalties"] == 2 * LATE_FEE_PER_BUSINESS_DAY
    assert base["cost_total"] == 7.0 + 2 * LATE_FEE_PER_BUSINESS_DAY
    assert base["promise_met_pct"] == 0.0
    # The cheaper-without-penalties baseline is the dearer one once held to the promise.
    assert ours["cost_total"] == 8.0 < base["cost_total"]
    assert ours["late_shipments"] == 0 and ours["promise_met_pct"] == 100.0


def test_split_rate_and_placed_share():
    promise = date(2026, 3, 6)
    split = _decision(1, promise=promise, deliveries=[promise, date(2026, 3, 9)], model_cost=12.0)
    whole = _decision(2, promise=promise, deliveries=[promise], model_cost=6.0)
    unplaced = _decision(3, promise=promise, deliveries=[], model_cost=0.0)
    unplaced.unplaced = {31: 1}
    out = policy_summary(decisions={1: split, 2: whole, 3: unplaced}, common=[1, 2])
    assert out["shipments_per_order"] == 1.5
    assert out["late_shipments"] == 1
    assert out["late_share_pct"] == round(100 / 3, 2)
    assert out["cost_total"] == 18.0 + LATE_FEE_PER_BUSINESS_DAY
    assert out["placed_pct"] == round(200 / 3, 2)
