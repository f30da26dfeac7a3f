"""Editor screens: roles, the list, the condition builder and action editor (htmx round trips with the
model's messages and lint), reorder, publish confirmation naming the diff, rollback, history, test one
order and the simulation pages."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common import roles
from conftest import make_user
from inventory.models import LocationGroup
from routing.editor import services as editor
from routing.editor.models import RuleSetEvent, Simulation
from routing.editor.selectors import rule_rows
from routing.models import RoutingRule, RuleSetVersion
from routing.tests.editor_helpers import live_snapshot, published_version
from routing.tests.helpers import make_order, stock

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def v1(db, web):
    return published_version()


@pytest.fixture
def draft(v1, merch_user):
    return editor.ruleset_draft_create(rule_set=v1.rule_set, actor=merch_user)


def client_for(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def merch(merch_user):
    return client_for(merch_user)


def editor_urls(v1, draft):
    rule = draft.rules.first()
    return [
        ("get", reverse("routing:editor-home")),
        ("get", reverse("routing:editor-version", args=[draft.pk])),
        ("get", reverse("routing:editor-rule-new", args=[draft.pk])),
        ("get", reverse("routing:editor-rule-edit", args=[rule.pk])),
        ("post", reverse("routing:editor-rule-form", args=[draft.pk])),
        ("post", reverse("routing:editor-rule-toggle", args=[rule.pk])),
        ("post", reverse("routing:editor-rule-delete", args=[rule.pk])),
        ("post", reverse("routing:editor-reorder", args=[draft.pk])),
        ("get", reverse("routing:editor-diff", args=[draft.pk])),
        ("get", reverse("routing:editor-publish", args=[draft.pk])),
        ("post", reverse("routing:editor-publish", args=[draft.pk])),
        ("get", reverse("routing:editor-rollback", args=[v1.pk])),
        ("post", reverse("routing:editor-rollback", args=[v1.pk])),
        ("post", reverse("routing:editor-discard", args=[draft.pk])),
        ("post", reverse("routing:editor-draft-create", args=[v1.rule_set.pk])),
        ("get", reverse("routing:editor-history", args=[v1.rule_set.pk])),
        ("get", reverse("routing:editor-test", args=[draft.pk])),
        ("get", reverse("routing:editor-test-orders", args=[draft.pk])),
        ("get", reverse("routing:editor-simulate", args=[draft.pk])),
        ("post", reverse("routing:editor-simulate", args=[draft.pk])),
    ]


@pytest.mark.parametrize("role", [roles.STORE_STAFF, roles.INVENTORY_MANAGER, roles.API_CLIENT])
def test_other_roles_are_refused_everywhere(v1, draft, role):
    c = client_for(make_user("someone", role))
    before = (RuleSetVersion.objects.count(), RoutingRule.objects.count(), RuleSetEvent.objects.count())
    for method, url in editor_urls(v1, draft):
        assert getattr(c, method)(url).status_code == 403, url
    assert (RuleSetVersion.objects.count(), RoutingRule.objects.count(), RuleSetEvent.objects.count()) == before


def test_anonymous_users_go_to_login(v1, draft):
    for method, url in editor_urls(v1, draft):
        resp = getattr(Client(), method)(url)
        assert resp.status_code == 302 and resp["Location"].startswith("/login/"), url


def test_simulation_pages_refuse_other_roles(v1, draft, merch_user):
    sim = Simulation.objects.create(rule_set=v1.rule_set, draft=draft, baseline=v1, created_by=merch_user)
    c = client_for(make_user("clerk2", roles.STORE_STAFF))
    for name in ("routing:editor-simulation", "routing:editor-simulation-orders"):
        assert c.get(reverse(name, args=[sim.pk])).status_code == 403


def test_merchandisers_and_operations_reach_the_editor(v1, draft, merch_user, ops_user):
    for user in (merch_user, ops_user):
        resp = client_for(user).get(reverse("routing:editor-home"))
        assert resp.status_code == 200
        body = resp.content.decode()
        assert "Default routing" in body and f"Open draft v{draft.number}" in body
    nav = client_for(merch_user).get("/").content.decode()
    assert reverse("routing:editor-home") in nav


def test_home_marks_the_published_version_and_who_published(v1, draft, merch, merch_user):
    v2 = editor.version_publish(version=draft, actor=merch_user)
    body = merch.get(reverse("routing:editor-home")).content.decode()
    from routing.models import RuleSet

    # One published version per rule set (order routing's, and the returns rule set), each marked twice:
    # the row class and its badge.
    assert body.count("status-published") == 2 * RuleSet.objects.count()
    assert "Active" in body and "Inactive" in body
    assert f"{v2.published_at:%Y-%m-%d %H:%M} by merch" in body


def test_version_page_shows_if_then_lint_and_fallback(draft, merch, merch_user):
    editor.rule_add(version=draft, name="Stop everything", conditions={}, action={"type": "stop"}, actor=merch_user)
    editor.rule_add(
        version=draft,
        name="Late rule",
        conditions={"all": [{"field": "order.total", "op": "gte", "value": 100}]},
        action={"type": "ship_complete"},
        actor=merch_user,
    )
    body = merch.get(reverse("routing:editor-version", args=[draft.pk])).content.decode()
    assert "<b>IF</b> any line&#x27;s handling class is one of hazmat" in body
    assert "<b>THEN</b> Never use these locations: kinds store" in body
    assert "Never fires: rule #4 “Stop everything” catches every order first and stops." in body
    assert "Fallback (always applies)" in body and "backordered" in body
    assert 'data-reorder-url="' in body and "drag-handle" in body
    assert '<span class="badge added">added</span>' in body


def test_toggle_returns_the_list_partial_and_persists(draft, merch):
    rule = draft.rules.get(name="B2B from DCs")
    resp = merch.post(reverse("routing:editor-rule-toggle", args=[rule.pk]), {}, headers=HX)
    body = resp.content.decode()
    assert resp.status_code == 200 and body.lstrip().startswith('<section id="rule-list"') and "<html" not in body
    rule.refresh_from_db()
    assert rule.enabled is False and '<span class="badge">off</span>' in body
    merch.post(reverse("routing:editor-rule-toggle", args=[rule.pk]), {"enabled": "on"}, headers=HX)
    rule.refresh_from_db()
    assert rule.enabled is True


def test_reorder_by_drag_and_by_buttons(draft, merch):
    ids = [r.id for r in rule_rows(version=draft)]
    url = reverse("routing:editor-reorder", args=[draft.pk])
    merch.post(url, {"order": ",".join(map(str, ids[::-1]))}, headers=HX)
    assert [r.id for r in rule_rows(version=draft)] == ids[::-1]
    merch.post(url, {"move": ids[0], "direction": "up"}, headers=HX)  # ids[0] is last: one up
    assert [r.id for r in rule_rows(version=draft)] == [ids[2], ids[0], ids[1]]
    resp = merch.post(url, {"order": f"{ids[0]}"}, headers=HX)
    assert "must list every rule of the draft" in resp.content.decode()


def form_data(**extra):
    data = {
        "name": "Web ships complete",
        "enabled": "on",
        "mode": "builder",
        "match": "all",
        "n": "1",
        "r0_kind": "leaf",
        "r0_field": "order.channel",
        "r0_prev_field": "order.channel",
        "r0_op": "eq",
        "r0_value": "web",
        "action_type": "ship_complete",
        "prev_action_type": "ship_complete",
    }
    data.update(extra)
    return data


def test_builder_fits_the_value_input_to_the_field(draft, merch):
    url = reverse("routing:editor-rule-form", args=[draft.pk])
    # Channel + "is one of": channel checkboxes from the database.
    body = merch.post(url, form_data(r0_op="in", r0_value=["web"]), headers=HX).content.decode()
    assert body.lstrip().startswith('<form id="rule-form"') and 'data-input="choices"' in body
    assert 'type="checkbox" name="r0_value" value="web" checked' in body
    # Switching the field to the order total resets the operator and asks for a number.
    body = merch.post(url, form_data(r0_field="order.total"), headers=HX).content.decode()
    assert 'data-input="number"' in body and 'type="number" step="any" name="r0_value"' in body
    # Postal codes start with a prefix test and a text box.
    body = merch.post(url, form_data(r0_field="destination.postal_code"), headers=HX).content.decode()
    assert 'value="startswith" selected' in body and "a ZIP prefix" in body
    # Regions get a picker of state codes.
    body = merch.post(url, form_data(r0_field="destination.region"), headers=HX).content.decode()
    assert 'data-input="choice"' in body and '<option value="NY" >New York (NY)</option>' in body
    # Add a condition row and an any-group, then remove the first row.
    body = merch.post(url, form_data(op="add_leaf:"), headers=HX).content.decode()
    assert 'name="r1_field"' in body
    body = merch.post(url, form_data(op="add_group"), headers=HX).content.decode()
    assert 'name="r1_kind" value="group"' in body and 'name="r1_0_field"' in body
    body = merch.post(url, form_data(op="remove:r0_"), headers=HX).content.decode()
    assert 'name="r0_field"' not in body and "No conditions: the rule applies to every order." in body


def test_regions_show_names_most_used_first(draft, merch, web, product):
    for region in ("TX", "TX", "CA"):
        order = make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now())
        order.shipping_address = {**order.shipping_address, "region": region}
        order.save(update_fields=["shipping_address"])
    url = reverse("routing:editor-rule-form", args=[draft.pk])
    body = merch.post(url, form_data(r0_field="destination.region"), headers=HX).content.decode()
    select = body.split('id="r0_value"')[1].split("</select>")[0]
    values = [part.split('"')[0] for part in select.split('<option value="')[2:]]
    assert values[:2] == ["TX", "CA"]  # most orders first
    assert values[-3:] == ["AA", "AE", "AP"]  # military regions last, not first
    assert ">Texas (TX)</option>" in select and ">Armed Forces Europe (AE)</option>" in select
    assert values.index("AL") < values.index("WY")  # the others by name


def test_action_editor_per_type(draft, merch, dc):
    LocationGroup.objects.create(code="east", name="East").locations.add(dc)
    url = reverse("routing:editor-rule-form", args=[draft.pk])
    body = merch.post(url, form_data(action_type="restrict"), headers=HX).content.decode()
    assert 'name="a_locations"' in body and 'name="a_kinds"' in body
    assert '<option value="DC-EAST" >DC-EAST — Edison DC</option>' in body
    assert 'name="a_groups" value="east" > east <small>(1 location)</small>' in body
    body = merch.post(url, form_data(action_type="max_distance"), headers=HX).content.decode()
    assert 'name="a_km"' in body and 'name="a_locations"' not in body
    body = merch.post(url, form_data(action_type="pickup_fallback"), headers=HX).content.decode()
    assert 'name="a_fallback"' in body


def test_inline_validation_uses_the_models_messages_and_lint(draft, merch):
    url = reverse("routing:editor-rule-form", args=[draft.pk])
    body = merch.post(
        url + "?part=checks",
        form_data(
            r0_field="order.total",
            r0_prev_field="order.total",
            r0_op="gte",
            r0_value="lots",
            action_type="max_shipments",
            a_max="0",
        ),
        headers=HX,
    ).content.decode()
    assert body.lstrip().startswith('<div id="rule-checks"')
    assert "Condition 1: The order total is a number; &#x27;lots&#x27; is not one." in body
    assert "The number of shipments must be a whole number of at least 1" in body
    body = merch.post(url + "?part=checks", form_data(r0_value="nope"), headers=HX).content.decode()
    assert "&#x27;nope&#x27;: no such channel" in body  # lint: the channel does not exist
    assert "Valid." not in body and "can be saved, but check these warnings" in body
    body = merch.post(url + "?part=checks", form_data(validate="1"), headers=HX).content.decode()
    assert "No problems found." in body


def test_a_new_rule_form_shows_no_error_before_input(draft, merch):
    body = merch.get(reverse("routing:editor-rule-new", args=[draft.pk])).content.decode()
    assert 'class="errors"' not in body and "Valid." not in body
    # The first structural change (choose an action) re-renders the form: still nothing is red.
    url = reverse("routing:editor-rule-form", args=[draft.pk])
    fresh = {"name": "", "enabled": "on", "mode": "builder", "match": "all", "n": "1", "r0_kind": "leaf"}
    fresh |= {"r0_field": "order.channel", "r0_prev_field": "order.channel", "r0_op": "eq"}
    for action in ("exclude", "restrict", "max_shipments", "max_distance"):
        body = merch.post(url, fresh | {"action_type": action}, headers=HX).content.decode()
        assert 'class="errors"' not in body, action
    # Check (or Save) reports what is missing, in the merchandiser's words.
    body = merch.post(url, fresh | {"action_type": "exclude", "validate": "1"}, headers=HX).content.decode()
    assert "Give the rule a name" in body
    assert "Choose at least one location, group or kind." in body
    assert "Condition 1: Give a value to compare" in body
    assert "(&#x27;locations&#x27;" not in body and "&#x27;locations&#x27;" not in body
    assert "›" not in body and "all #1" not in body


def test_entered_values_are_checked_on_change_with_row_numbers(draft, merch):
    url = reverse("routing:editor-rule-form", args=[draft.pk])
    data = form_data(n="2", r1_kind="leaf", r1_field="order.total", r1_prev_field="order.total", r1_op="gte")
    data["r1_value"] = "lots"
    body = merch.post(url + "?part=checks", data, headers=HX).content.decode()
    assert "Condition 2: The order total is a number; &#x27;lots&#x27; is not one." in body


def test_saving_a_rule_and_refusing_an_invalid_one(draft, merch):
    url = reverse("routing:editor-rule-new", args=[draft.pk])
    resp = merch.post(url, form_data(name="", action_type="max_distance", a_km="-5"))
    body = resp.content.decode()
    assert (
        resp.status_code == 400
        and "Give the rule a name" in body
        and "The maximum distance must be a positive number" in body
    )
    assert draft.rules.count() == 3
    resp = merch.post(url, form_data(comment="marketplace asked"))
    assert resp.status_code == 302
    rule = draft.rules.get(name="Web ships complete")
    assert rule.conditions == {"all": [{"field": "order.channel", "op": "eq", "value": "web"}]}
    assert rule.action == {"type": "ship_complete"}
    assert RuleSetEvent.objects.get(action="rule_added").comment == "marketplace asked"
    # Edit: the form is filled from the rule; numbers are saved as numbers.
    edit = reverse("routing:editor-rule-edit", args=[rule.pk])
    assert 'value="Web ships complete"' in merch.get(edit).content.decode()
    merch.post(
        edit,
        form_data(
            r0_field="order.total",
            r0_prev_field="order.total",
            r0_op="gte",
            r0_value="150",
            action_type="max_shipments",
            a_max="2",
        ),
    )
    rule.refresh_from_db()
    assert rule.conditions == {"all": [{"field": "order.total", "op": "gte", "value": 150}]}
    assert rule.action == {"type": "max_shipments", "max": 2}


def test_conditions_as_json_for_deep_trees(draft, merch, merch_user):
    deep = {"any": [{"all": [{"any": [{"field": "order.channel", "op": "eq", "value": "web"}]}]}]}
    rule = editor.rule_add(version=draft, name="Deep", conditions=deep, action={"type": "stop"}, actor=merch_user)
    body = merch.get(reverse("routing:editor-rule-edit", args=[rule.pk])).content.decode()
    assert 'name="conditions_json"' in body
    resp = merch.post(
        reverse("routing:editor-rule-edit", args=[rule.pk]),
        {"name": "Deep", "enabled": "on", "mode": "json", "conditions_json": "{not json", "action_type": "stop"},
    )
    assert resp.status_code == 400 and "Conditions are not valid JSON (line 1, column 2)" in resp.content.decode()


def test_publish_confirmation_names_the_diff_then_publishes(v1, draft, merch, merch_user):
    editor.rule_delete(rule=draft.rules.get(name="B2B from DCs"), actor=merch_user)
    url = reverse("routing:editor-publish", args=[draft.pk])
    body = merch.get(url).content.decode()
    assert "Changes: 1 removed (“B2B from DCs”)." in body and f"replaces v{v1.number}" in body
    fingerprint = body.split('name="fingerprint" value="')[1].split('"')[0]
    resp = merch.post(url, {"fingerprint": fingerprint, "comment": "no more B2B rule"})
    assert resp.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"
    ev = RuleSetEvent.objects.get(action="published")
    assert ev.comment == "no more B2B rule" and ev.actor == merch_user
    history = merch.get(reverse("routing:editor-history", args=[v1.rule_set.pk])).content.decode()
    assert "no more B2B rule" in history and "merch" in history


def test_publishing_with_warnings_needs_each_one_acknowledged(v1, draft, merch, merch_user):
    LocationGroup.objects.create(code="popup", name="Pop-up stores")
    editor.rule_add(
        version=draft, name="Pop-ups", conditions={}, action={"type": "restrict", "groups": ["popup"]}, actor=merch_user
    )
    editor.rule_add(
        version=draft, name="Nowhere", conditions={}, action={"type": "exclude", "groups": ["popup"]}, actor=merch_user
    )
    url = reverse("routing:editor-publish", args=[draft.pk])
    body = merch.get(url).content.decode()
    keys = [part.split('"')[0] for part in body.split('name="ack" value="')[1:]]
    assert len(keys) >= 2 and body.count('type="checkbox" name="ack"') == len(keys)
    fingerprint = body.split('name="fingerprint" value="')[1].split('"')[0]
    # One click (no acknowledgement) or some of them: refused, nothing published.
    for acks in ([], keys[:-1], [*keys[:-1], "forged:key"]):
        resp = merch.post(url, {"fingerprint": fingerprint, "ack": acks}, follow=True)
        assert "Tick each warning to confirm you have read it" in resp.content.decode()
        draft.refresh_from_db()
        assert draft.status == "draft"
    resp = merch.post(url, {"fingerprint": fingerprint, "ack": keys})
    assert resp.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"


def test_rollback_screen(v1, draft, merch, merch_user):
    editor.rule_delete(rule=draft.rules.get(name="B2B from DCs"), actor=merch_user)
    v2 = editor.version_publish(version=draft, actor=merch_user)
    url = reverse("routing:editor-rollback", args=[v1.pk])
    assert "1 added (“B2B from DCs”)" in merch.get(url).content.decode()
    resp = merch.post(url, {"comment": "undo"})
    assert resp.status_code == 302
    v2.refresh_from_db()
    assert v2.status == "archived"
    current = RuleSetVersion.objects.get(rule_set=v1.rule_set, status="published")
    assert current.number == v2.number + 1 and current.rules.count() == 3


def test_test_one_order_screen(draft, merch, web, dc, product):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 2)])
    before = live_snapshot()
    resp = merch.get(reverse("routing:editor-test", args=[draft.pk]), {"order": order.number}, headers=HX)
    body = resp.content.decode()
    assert body.lstrip().startswith('<section id="test-results">')
    assert body.count('class="routing-decision"') == 2 and "DC-EAST" in body
    assert live_snapshot() == before
    body = merch.get(reverse("routing:editor-test", args=[draft.pk]), {"order": "NOPE"}, headers=HX).content.decode()
    assert "No order with number &#x27;NOPE&#x27;." in body


def test_test_one_order_offers_a_search_of_recent_orders_without_customer_data(draft, merch, web, product):
    from orders.models import Customer

    customer = Customer.objects.create(email="jane.doe@example.com", name="Jane Doe")
    texas = make_order(channel=web, lines=[(product, 2)], placed_at=timezone.now())
    texas.customer = customer
    texas.shipping_address = {**texas.shipping_address, "region": "TX", "line1": "12 Elm Street", "name": "Jane Doe"}
    texas.save()
    other = make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now() - timedelta(hours=1))
    old = make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now() - timedelta(days=90))
    page = merch.get(reverse("routing:editor-test", args=[draft.pk])).content.decode()
    assert 'id="order-search"' in page and texas.number in page and other.number in page
    assert old.number not in page  # recent orders only
    url = reverse("routing:editor-test-orders", args=[draft.pk])
    body = merch.get(url, {"q": "texas"}, headers=HX).content.decode()
    assert body.lstrip().startswith('<div id="order-picks">')
    assert texas.number in body and other.number not in body and "Texas, US" in body
    assert f"?order={texas.number}" in body
    for secret in ("jane", "Jane", "Elm Street", "example.com"):
        assert secret not in body and secret not in page
    body = merch.get(url, {"q": other.number[-6:]}, headers=HX).content.decode()
    assert other.number in body


def test_simulation_screens(draft, merch, web, dc, dc_west, product, merch_user):
    stock(product, dc, 5)
    stock(product, dc_west, 5)
    editor.rule_add(
        version=draft,
        name="West",
        conditions={},
        action={"type": "restrict", "locations": ["DC-WEST"]},
        actor=merch_user,
    )
    order = make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now())
    day = timezone.localdate()
    url = reverse("routing:editor-simulate", args=[draft.pk])
    resp = merch.post(url, {"source": "range", "date_from": str(day + timedelta(days=1)), "date_to": str(day)})
    assert resp.status_code == 400 and "is after the last day" in resp.content.decode()
    resp = merch.post(url, {"source": "range", "date_from": str(day - timedelta(days=1)), "date_to": str(day)})
    assert resp.status_code == 302
    sim = Simulation.objects.get()
    # Tests run tasks inline (on commit): run it as the worker would.
    from routing.editor.simulation import simulation_run

    simulation_run(simulation_id=sim.pk)
    body = merch.get(resp["Location"]).content.decode()
    assert "Orders whose plan changed: 1" in body and order.number in body
    assert "vendor/chartjs/chart.umd.min.js" in body
    # One chart per metric (small multiples), each with its own scale.
    assert all(f'id="chart-metric-{i}"' in body for i in range(4)) and 'id="chart-totals"' not in body
    chart = resp_chart(merch, resp["Location"])
    assert [m["unit"] for m in chart["metrics"]] == ["$", "shipments", "km", "%"]
    assert chart["metrics"][1]["draft"] == 1.0  # shipments per order, not scaled onto a 0-100 axis
    assert body.count('class="routing-decision"') == 2
    progress = merch.get(resp["Location"] + "?partial=progress", headers=HX)
    assert progress.headers.get("HX-Redirect")  # done: the page reloads into the results
    csv_body = merch.get(reverse("routing:editor-simulation-orders", args=[sim.pk])).content.decode()
    assert csv_body.splitlines() == ["order", order.number]


def resp_chart(client, url) -> dict:
    import json

    body = client.get(url).content.decode()
    return json.loads(body.split('<script id="chart-data" type="application/json">')[1].split("</script>")[0])


def test_simulation_dates_default_to_the_last_seven_days(draft, merch, web, product):
    url = reverse("routing:editor-simulate", args=[draft.pk])
    today = timezone.localdate()
    body = merch.get(url).content.decode()
    assert f'name="date_from" id="date_from" value="{today - timedelta(days=6)}"' in body
    assert f'name="date_to" id="date_to" value="{today}"' in body
    make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now() - timedelta(days=3))
    resp = merch.post(url, {"source": "range", "date_from": "", "date_to": ""})
    assert resp.status_code == 302
    sim = Simulation.objects.get()
    assert sim.params["date_from"] == str(today - timedelta(days=6)) and sim.params["date_to"] == str(today)
    assert len(sim.order_ids) == 1


def test_no_change_says_which_rule_would_have_to_differ(draft, merch, web, dc, product, merch_user):
    stock(product, dc, 5)
    editor.rule_add(
        version=draft,
        name="Marketplace from DCs",
        conditions={"all": [{"field": "order.channel", "op": "eq", "value": "marketplace"}]},
        action={"type": "restrict", "kinds": ["warehouse"]},
        actor=merch_user,
    )
    editor.rule_add(
        version=draft, name="Two packages", conditions={}, action={"type": "max_shipments", "max": 2}, actor=merch_user
    )
    make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now())
    from routing.editor.simulation import simulation_run

    resp = merch.post(reverse("routing:editor-simulate", args=[draft.pk]), {"source": "range"})
    sim = Simulation.objects.get()
    simulation_run(simulation_id=sim.pk)
    body = merch.get(resp["Location"]).content.decode()
    assert "Orders whose plan changed: 0" in body and 'id="no-change-reasons"' in body
    reasons = body.split('id="no-change-reasons"')[1]
    assert "“Marketplace from DCs” (added) matched none of the 1 order" in reasons
    assert "Its conditions would have to match some of these orders" in reasons
    assert "“Two packages” (added) matched 1 of the 1 order, but they still ship from the same locations" in reasons


def test_progress_partial_polls_while_running(draft, merch, merch_user):
    sim = Simulation.objects.create(
        rule_set=draft.rule_set,
        draft=draft,
        status="running",
        progress_total=10,
        progress_done=4,
        created_by=merch_user,
    )
    body = merch.get(
        reverse("routing:editor-simulation", args=[sim.pk]) + "?partial=progress", headers=HX
    ).content.decode()
    assert body.lstrip().startswith('<section id="progress"') and 'hx-trigger="every 1s"' in body
    assert 'max="10" value="4"' in body and "Routing 4 of 10 orders" in body
