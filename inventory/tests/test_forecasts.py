"""Demand forecasts and safety-stock proposals (issue 20 §5): the forecast and its backtest, the proposal
z × σ × √L, and the screen where an inventory manager approves or rejects each one (never applied by itself)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.forecasting import forecasts_fit, forecasts_fit_naive, safety_stock_units, seasonal_naive, wape
from inventory.models import DemandForecast, InventoryMovement, SafetyStockProposal, SafetyStockRule
from inventory.services import forecasts_refresh, safety_stock_proposal_decide

TODAY = date(2026, 3, 2)
WEEK = np.array([2, 4, 6, 8, 10, 3, 1], dtype=float)


def test_wape_and_seasonal_naive():
    assert wape(actual=np.array([10.0, 0.0, 10.0]), predicted=np.array([8.0, 1.0, 10.0])) == pytest.approx(0.15)
    assert wape(actual=np.zeros(3), predicted=np.ones(3)) is None
    history = np.tile(WEEK, 3)
    assert list(seasonal_naive(history=history, horizon=9)) == [*WEEK, *WEEK[:2]]
    assert list(seasonal_naive(history=np.array([3.0, 5.0]), horizon=2)) == [4.0, 4.0]


def test_safety_stock_is_z_sigma_root_lead_time():
    # z(95 %) = 1.645: 1.645 × 2 × √7 = 8.7 → 9 units.
    assert safety_stock_units(sigma=2.0, service_level=0.95, lead_time_days=7) == 9
    assert safety_stock_units(sigma=0.0, service_level=0.99, lead_time_days=7) == 0
    assert safety_stock_units(sigma=3.0, service_level=0.5, lead_time_days=4) == 0  # z = 0
    for bad in ({"service_level": 1.0}, {"service_level": 0.3}, {"lead_time_days": -1}, {"sigma": -1}):
        with pytest.raises(ValueError):
            safety_stock_units(**{"sigma": 1.0, "service_level": 0.9, "lead_time_days": 3, **bad})


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sigma=st.floats(min_value=0, max_value=50),
    extra=st.floats(min_value=0, max_value=50),
    level=st.floats(min_value=0.5, max_value=0.999),
    lead=st.floats(min_value=0, max_value=60),
)
def test_more_error_or_a_longer_lead_time_never_proposes_less(sigma, extra, level, lead):
    base = safety_stock_units(sigma=sigma, service_level=level, lead_time_days=lead)
    assert base >= 0
    assert safety_stock_units(sigma=sigma + extra, service_level=level, lead_time_days=lead) >= base
    assert safety_stock_units(sigma=sigma, service_level=level, lead_time_days=lead + extra) >= base


def test_the_model_learns_a_weekly_pattern_better_than_noise_and_short_series_fall_back():
    rng = np.random.default_rng(3)
    weekly = np.tile(WEEK, 20) + rng.normal(0, 0.5, 140)
    fitted = forecasts_fit(series={"weekly": weekly, "short": np.array([1.0, 2, 3])}, horizon=14, holdout=28)
    f = fitted["weekly"]
    assert f.model == "AutoETS" and len(f.forecast) == 14 and min(f.forecast) >= 0
    assert f.wape < 0.25 and f.wape_naive is not None
    assert f.daily_mean == pytest.approx(WEEK.mean(), rel=0.15)
    short = fitted["short"]
    assert short.model == "SeasonalNaive" and short.wape is None and short.forecast == (2.0,) * 14
    naive = forecasts_fit_naive(series={"weekly": weekly}, horizon=7, holdout=28)["weekly"]
    assert naive.wape == pytest.approx(f.wape_naive)


def _reserve(product, location, *, day: date, units: int) -> None:
    m = InventoryMovement.objects.create(
        product=product, location=location, delta_reserved=units, reason=InventoryMovement.Reason.RESERVE
    )
    at = datetime.combine(day, time(12), tzinfo=ZoneInfo("America/New_York"))
    InventoryMovement.objects.filter(pk=m.pk).update(created_at=at)


@pytest.fixture
def history(db, product, dc, store):
    """Eight weeks of demand: a weekly pattern at the DC, a steady trickle at the store."""
    for i in range(56):
        day = TODAY - timedelta(days=56 - i)
        _reserve(product, dc, day=day, units=int(WEEK[day.weekday()]) + (3 if i % 9 == 0 else 0))
        if i % 2 == 0:
            _reserve(product, store, day=day, units=1)


def test_refresh_stores_forecasts_and_proposes_without_applying(history, product, dc, store):
    r = forecasts_refresh(today=TODAY, history_days=56, model_max=1)
    assert (r.forecasts, r.modelled) == (3, 1)  # DC, store, network; only the busiest is modelled
    network = DemandForecast.objects.get(product=product, location=None)
    at_dc = DemandForecast.objects.get(product=product, location=dc)
    assert network.daily_mean >= at_dc.daily_mean > 0 and len(at_dc.daily) == 14
    proposal = SafetyStockProposal.objects.get(product=product, location=dc)
    assert proposal.status == "pending" and proposal.current_quantity is None
    assert proposal.proposed_quantity == safety_stock_units(sigma=proposal.sigma, service_level=0.95, lead_time_days=7)
    assert proposal.proposed_quantity > 0
    assert not SafetyStockRule.objects.exists()  # never applied by itself
    forecasts_refresh(today=TODAY, history_days=56, model_max=0)
    assert SafetyStockProposal.objects.get(pk=proposal.pk).status == "superseded"
    assert SafetyStockProposal.objects.filter(product=product, location=dc, status="pending").count() == 1


def test_the_inventory_manager_approves_and_rejects_on_the_screen(history, product, dc, store, inventory_user):
    forecasts_refresh(today=TODAY, history_days=56, model_max=0)
    at_dc = SafetyStockProposal.objects.get(product=product, location=dc, status="pending")
    at_store = SafetyStockProposal.objects.get(product=product, location=store, status="pending")
    client = Client()
    client.force_login(inventory_user)
    page = client.get("/inventory/safety-stock/")
    assert page.status_code == 200 and product.sku.encode() in page.content and b"Approve" in page.content
    client.post(f"/inventory/safety-stock/{at_dc.pk}/decide/", {"decision": "approve"})
    rule = SafetyStockRule.objects.get(product=product, location=dc)
    assert rule.quantity == at_dc.proposed_quantity
    at_dc.refresh_from_db()
    assert at_dc.status == "approved" and at_dc.decided_by == inventory_user
    client.post(f"/inventory/safety-stock/{at_store.pk}/decide/", {"decision": "reject"})
    assert not SafetyStockRule.objects.filter(location=store).exists()
    # A decided proposal cannot be decided again; a bad decision is refused.
    again = client.post(f"/inventory/safety-stock/{at_store.pk}/decide/", {"decision": "approve"}, follow=True)
    assert b"rejected" in again.content and not SafetyStockRule.objects.filter(location=store).exists()
    assert client.post(f"/inventory/safety-stock/{at_dc.pk}/decide/", {"decision": "maybe"}).status_code == 400


def test_other_roles_may_not_see_or_decide(history, product, dc, ops_user, store_user):
    forecasts_refresh(today=TODAY, history_days=56, model_max=0)
    proposal = SafetyStockProposal.objects.filter(status="pending").first()
    for user in (ops_user, store_user):
        client = Client()
        client.force_login(user)
        assert client.get("/inventory/safety-stock/").status_code == 403
        assert client.post(f"/inventory/safety-stock/{proposal.pk}/decide/", {"decision": "approve"}).status_code == 403
    assert not SafetyStockRule.objects.exists()


def test_the_service_refuses_bad_decisions(db):
    with pytest.raises(ValidationError) as err:
        safety_stock_proposal_decide(proposal_id=1, decision="apply", actor=None)
    assert "decision" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        safety_stock_proposal_decide(proposal_id=999, decision="approve", actor=None)
    assert "proposal" in err.value.message_dict


def test_the_refresh_is_scheduled_daily():
    from dom_project.management.commands.setup_schedules import schedules_declared

    assert ("inventory: refresh demand forecasts", "inventory.tasks.forecasts_refresh", 1440) in schedules_declared()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(decision=st.text(max_size=12), proposal_id=st.integers(min_value=-5, max_value=10**6))
def test_any_decision_is_either_valid_or_refused_and_writes_nothing(db, decision, proposal_id):
    try:
        safety_stock_proposal_decide(proposal_id=proposal_id, decision=decision, actor=None)
    except ValidationError as err:
        assert {"decision", "proposal"} & set(err.message_dict)
    assert not SafetyStockRule.objects.exists()


def test_the_board_pages_largest_change_first_and_filters_by_location(history, product, dc, store):
    from inventory.selectors import safety_proposals_board
    from inventory.services import safety_stock_rule_set

    forecasts_refresh(today=TODAY, history_days=56, model_max=0)
    at_dc = SafetyStockProposal.objects.get(location=dc, status="pending")
    at_store = SafetyStockProposal.objects.get(location=store, status="pending")
    assert abs(at_dc.proposed_quantity) > abs(at_store.proposed_quantity)
    first = safety_proposals_board(per_page=1)
    assert (first["pending"], first["pending_count"], first["pages"]) == ([at_dc], 2, 2)
    assert safety_proposals_board(per_page=1, page=2)["pending"] == [at_store]
    assert safety_proposals_board(per_page=1, page=99)["page"] == 2  # past the end: the last page
    only = safety_proposals_board(location_code=store.code)
    assert only["pending"] == [at_store] and only["locations"] == [(dc.code, dc.name), (store.code, store.name)]
    assert safety_proposals_board(location_code="NOWHERE")["pending"] == []
    # The change, not the size, orders the list: the DC already holding its proposal back comes last.
    safety_stock_rule_set(product=product, location=dc, quantity=at_dc.proposed_quantity)
    SafetyStockProposal.objects.filter(pk=at_dc.pk).update(current_quantity=at_dc.proposed_quantity)
    assert safety_proposals_board()["pending"] == [at_store, at_dc]
