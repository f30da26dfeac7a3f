"""Return routing: the returns rule set (routing's grammar) narrows, then the nearest location that accepts
returns for the items' handling class wins, unless a location low on stock for its sales is close in cost."""

from inventory.models import InventoryMovement, Location, Product
from inventory.services import StockChange, stock_apply_changes
from returns.services import ReturnLineIn, rma_create
from returns.tests.conftest import shipped_order
from routing.models import RoutingRule, RuleSetVersion
from routing.selectors import ruleset_published
from routing.services import ruleset_version_draft, ruleset_version_publish


def _sell(product, location, units):
    """Units sold at a location recently: received, then consumed (the ledger's shipped movements)."""
    stock_apply_changes(changes=[StockChange(product.pk, location.pk, delta_on_hand=units)], reason="receive")
    stock_apply_changes(
        changes=[StockChange(product.pk, location.pk, delta_on_hand=-units)], reason=InventoryMovement.Reason.CONSUME
    )


def _publish_rule(name, conditions, action):
    published = RuleSetVersion.objects.get(rule_set__code="returns", status="published")
    draft = ruleset_version_draft(version=published)
    RoutingRule.objects.create(version=draft, priority=5, name=name, conditions=conditions, action=action)
    ruleset_version_publish(version=draft)


def test_nearest_accepting_location_wins(delivered, store, store_b):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    assert rma.return_location == store  # 10001 is the customer's ZIP; Brooklyn is a few km farther
    d = rma.routing_decisions.get()
    assert [c["location"] for c in d.candidates] == ["STORE-0001", "STORE-0002"]
    assert d.candidates[0]["distance_km"] < d.candidates[1]["distance_km"]
    assert d.candidates[0]["shipping"] == d.candidates[1]["shipping"]  # same band: distance decides
    assert d.excluded == {"returns: does not accept returns": [delivered.fulfillment_orders.get().location_id]}


def test_handling_class_excludes_locations_that_cannot_take_it(web, dc, store, store_b):
    chilled = Product.objects.create(sku="SKU-COLD", name="Yoghurt", handling_class="chilled", weight_grams=500)
    dc.accepts_returns = True
    dc.save()
    store_b.accepts_returns = False
    store_b.save()
    order = shipped_order(channel=web, lines=[(chilled, 1)], location=dc, service="regional_cold")
    rma = rma_create(order=order, lines=[ReturnLineIn(sku="SKU-COLD", quantity=1)]).rma
    assert rma.return_location == dc  # the Manhattan store is nearer but takes ambient goods only
    d = rma.routing_decisions.get()
    assert d.excluded["handling class: does not take chilled returns"] == [store.pk]
    assert d.excluded["returns: does not accept returns"] == [store_b.pk]


def test_a_rule_restricts_the_return_locations(delivered, dc, store):
    dc.accepts_returns = True
    dc.save()
    _publish_rule(
        "Web returns go to the DC",
        {"all": [{"field": "order.channel", "op": "eq", "value": "web"}]},
        {"type": "restrict", "locations": ["DC-EAST"]},
    )
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    assert rma.return_location == dc
    d = rma.routing_decisions.get()
    assert [r["name"] for r in d.rules_fired] == ["Web returns go to the DC", "Dropship suppliers never take returns"]
    assert d.excluded == {"rule “Web returns go to the DC”: not among the allowed locations": [store.pk]}
    assert d.rule_set_version.number == 2
    # The order rule set is untouched: returns rules never route orders.
    assert ruleset_published().rule_set.code == "default"


def test_rule_conditions_see_the_returned_lines(web, dc_west, store):
    hazmat = Product.objects.create(sku="SKU-HAZ", name="Solvent", handling_class="hazmat")
    dc_west.accepts_returns = True
    dc_west.handling_classes = ["ambient", "hazmat"]
    dc_west.save()
    store.handling_classes = ["ambient", "hazmat"]
    store.save()
    order = shipped_order(channel=web, lines=[(hazmat, 1)], location=dc_west)
    rma = rma_create(order=order, lines=[ReturnLineIn(sku="SKU-HAZ", quantity=1)]).rma
    assert rma.return_location == dc_west  # the shipped rule keeps hazmat returns out of stores
    d = rma.routing_decisions.get()
    assert d.rules_fired[0]["name"] == "Hazmat and oversized returns only to warehouses"
    assert store.pk in d.excluded["rule “Hazmat and oversized returns only to warehouses”: excluded for hazmat lines"]


def test_low_ats_for_recent_sales_is_preferred(delivered, product, store, store_b):
    stock_apply_changes(changes=[StockChange(product.pk, store.pk, delta_on_hand=20)], reason="receive")
    _sell(product, store_b, 30)  # sells a unit a day and has none left
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2)]).rma
    assert rma.return_location == store_b
    d = rma.routing_decisions.get()
    chosen, other = d.candidates
    assert chosen["location"] == "STORE-0002" and chosen["need_credit"] == 4.0
    assert chosen["lines"] == [{"sku": "SKU-A", "ats": 0, "recent_sales": 30, "need_units": 14}]
    assert other["location"] == "STORE-0001" and other["need_credit"] == 0
    assert other["lines"][0]["ats"] == 20
    assert "STORE-0002 chosen over nearer locations" in d.notes[0]


def test_stock_need_does_not_outweigh_a_much_longer_trip(delivered, product, store):
    far = Location.objects.create(
        code="STORE-LA", name="LA store", kind="store", postal_code="90012", accepts_returns=True, can_pickup=True
    )
    _sell(product, far, 60)
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    assert rma.return_location == store
    d = rma.routing_decisions.get()
    by_code = {c["location"]: c for c in d.candidates}
    assert by_code["STORE-LA"]["need_credit"] == 2.0
    assert by_code["STORE-LA"]["cost"] > by_code["STORE-0001"]["cost"]


def test_no_location_can_take_it(delivered, store):
    store.accepts_returns = False
    store.save()
    import pytest
    from django.core.exceptions import ValidationError

    from returns.models import ReturnAuthorization

    with pytest.raises(ValidationError, match=r"No location can take this return \(SKU-A\): returns: does not accept"):
        rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)])
    assert not ReturnAuthorization.objects.exists()
