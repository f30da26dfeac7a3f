"""What-if simulation and "test one order": results side by side, live data byte-identical, CSV and range
selection, idempotent task."""

import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory.selectors import stock_ledger_mismatches
from routing.editor import services as editor
from routing.editor.models import RuleSetEvent, Simulation
from routing.editor.simulation import order_try, simulation_create, simulation_run
from routing.services import order_route
from routing.tests.editor_helpers import live_snapshot, published_version
from routing.tests.helpers import make_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(web, dc, dc_west, product, product_b, merch_user):
    """Both DCs hold stock; New York orders go to DC-EAST under the published rules. The draft excludes it."""
    stock(product, dc, 20)
    stock(product, dc_west, 20)
    stock(product_b, dc, 5)
    v1 = published_version()
    draft = editor.ruleset_draft_create(rule_set=v1.rule_set, actor=merch_user)
    editor.rule_add(
        version=draft,
        name="Never from the east DC",
        conditions={},
        action={"type": "exclude", "locations": ["DC-EAST"]},
        actor=merch_user,
    )
    now = timezone.now()
    orders = [
        make_order(channel=web, lines=[(product, 1)], postal_code="10001", placed_at=now - timedelta(days=3)),
        make_order(
            channel=web, lines=[(product, 2), (product_b, 1)], postal_code="10001", placed_at=now - timedelta(days=2)
        ),
        make_order(channel=web, lines=[(product, 1)], postal_code="90001", placed_at=now - timedelta(days=1)),
    ]
    return {"v1": v1, "draft": draft, "orders": orders, "dc": dc, "dc_west": dc_west}


def run(world, merch_user, **kwargs):
    day = timezone.localdate()
    sim = simulation_create(
        draft=world["draft"], actor=merch_user, date_from=day - timedelta(days=7), date_to=day, **kwargs
    )
    return simulation_run(simulation_id=sim.pk)


def test_simulation_compares_draft_and_published_side_by_side(world, merch_user):
    sim = run(world, merch_user)
    assert sim.status == Simulation.Status.DONE, sim.error
    assert sim.progress_done == sim.progress_total == 3
    assert sim.baseline == world["v1"]
    res = sim.results
    pub, draft = res["published"], res["draft"]
    assert pub["orders"] == draft["orders"] == 3
    assert pub["load"] == {"DC-EAST": 2, "DC-WEST": 1}
    # The draft cannot use DC-EAST: product_b is only there, so order 2 is partly backordered.
    assert draft["load"] == {"DC-WEST": 3}
    assert draft["backordered_orders"] == 1 and draft["backordered_units"] == 1
    assert pub["backordered_orders"] == 0
    assert draft["avg_distance_km"] > pub["avg_distance_km"]
    assert res["like_for_like_orders"] == 2
    assert draft["cost_like_for_like"] > pub["cost_like_for_like"]
    assert draft["rules_fired"]["Never from the east DC"] == 3
    assert res["changed_count"] == 2
    changed = {c["number"]: c for c in res["changed"]}
    first = changed[world["orders"][0].number]
    assert first["published"]["shipments"] == ["DC-EAST (ship, 1 u)"]
    assert first["draft"]["shipments"] == ["DC-WEST (ship, 1 u)"]
    assert first["cost_delta"] > 0
    # Both explanations are kept, in the routing decision's own shape.
    assert first["published_decision"]["plan"][0]["location"] == "DC-EAST"
    assert first["draft_decision"]["rules_fired"][-1]["name"] == "Never from the east DC"
    assert "rule “Never from the east DC”: excluded" in first["draft_decision"]["excluded"]["by_reason"]
    assert RuleSetEvent.objects.filter(action="simulation_started", actor=merch_user).count() == 1


def test_simulation_leaves_live_stock_reservations_and_orders_byte_identical(world, merch_user, web, product):
    # Some live history first: one order routed for real (reservation, capacity, fulfilment order, decision).
    order_route(order_id=world["orders"][0].pk)
    make_order(channel=web, lines=[(product, 1)], postal_code="60601", placed_at=timezone.now())
    before = live_snapshot()
    assert before["Reservation"] and before["LocationCapacity"] and before["RoutingDecision"]
    sim = run(world, merch_user)
    assert sim.status == Simulation.Status.DONE, sim.error
    assert sim.results["orders"] == 4
    assert live_snapshot() == before
    assert stock_ledger_mismatches() == []


def test_order_try_explains_both_versions_without_touching_stock(world, merch_user):
    before = live_snapshot()
    tried = order_try(
        order=world["orders"][1],
        versions=[("published", world["v1"]), ("draft", world["draft"])],
        actor=merch_user,
    )
    assert live_snapshot() == before
    pub, draft = (t.record for t in tried)
    assert [s["location"] for s in pub["plan"]] == ["DC-EAST"] and pub["outcome"] == "routed"
    assert [s["location"] for s in draft["plan"]] == ["DC-WEST"] and draft["outcome"] == "partial"
    assert draft["unplaced"] == {str(world["orders"][1].lines.get(line_number=2).pk): 1}
    assert RuleSetEvent.objects.filter(action="order_tested").count() == 1


def test_running_twice_is_safe(world, merch_user):
    sim = run(world, merch_user)
    results = sim.results
    finished = sim.finished_at
    again = simulation_run(simulation_id=sim.pk)
    assert again.status == Simulation.Status.DONE and again.results == results and again.finished_at == finished


def test_channel_filter_and_empty_range(world, merch_user, marketplace):
    day = timezone.localdate()
    with pytest.raises(ValidationError, match="No orders were placed .* on channel mkt"):
        simulation_create(
            draft=world["draft"], actor=merch_user, date_from=day - timedelta(days=7), date_to=day, channel_code="mkt"
        )
    with pytest.raises(ValidationError, match="is after the last day"):
        simulation_create(draft=world["draft"], actor=merch_user, date_from=day, date_to=day - timedelta(days=1))
    with pytest.raises(ValidationError, match="published one"):
        simulation_create(draft=world["v1"], actor=merch_user, date_from=day, date_to=day)
    assert not Simulation.objects.exists()


def test_csv_upload_picks_orders_and_names_bad_rows(world, merch_user):
    a, b, _ = world["orders"]
    good = io.BytesIO(f"order\n{b.number}\n{a.number}\n{b.number}\n".encode())
    good.name = "orders.csv"
    sim = simulation_create(draft=world["draft"], actor=merch_user, csv_file=good)
    assert sim.order_ids == [b.pk, a.pk] and sim.params == {"source": "csv", "filename": "orders.csv"}
    bad = io.BytesIO(f"order\n{a.number}\nNOPE-1\n\n".encode())
    with pytest.raises(ValidationError) as exc:
        simulation_create(draft=world["draft"], actor=merch_user, csv_file=bad)
    assert exc.value.messages[0] == "Row 3: no order with number 'NOPE-1'."
    assert Simulation.objects.count() == 1


def test_task_skips_a_simulation_whose_draft_was_discarded(world, merch_user):
    from routing.editor.tasks import simulate

    day = timezone.localdate()
    sim = simulation_create(draft=world["draft"], actor=merch_user, date_from=day - timedelta(days=7), date_to=day)
    editor.ruleset_draft_discard(version=world["draft"], actor=merch_user)
    assert not Simulation.objects.filter(pk=sim.pk).exists()
    assert simulate(sim.pk) == "gone"
