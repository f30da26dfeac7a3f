"""Who changed what (issue 15 §5): master data and settings changes are kept with old and new values, the
user and the address; secrets never; shown to Operations and admins only; hot tables are not logged."""

import json

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from common import roles
from common.audit import MASK, audit_entry_changes, audit_secret_fields
from conftest import api_for, make_user
from fulfillment.models import Endpoint
from inventory.models import Location, WmsFeed
from orders.models import Channel

pytestmark = pytest.mark.django_db

SECRET = "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"


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def staff(username: str, *role_names: str) -> User:
    user = make_user(username, *role_names)
    user.is_staff = True
    user.save()
    return user


def entries_for(obj) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(obj).order_by("pk"))


def _admin_form_data(response) -> dict:
    """The admin change form's current values, as the browser would post them back."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "" if value is None else value
    for inline in response.context.get("inline_admin_formsets", []):
        mgmt = inline.formset.management_form
        data.update({f"{mgmt.prefix}-{k}": v for k, v in mgmt.initial.items()})
    return data


def test_changing_a_location_in_the_admin_records_old_and_new_values_and_who(dc):
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    c = client_for(root)
    url = f"/admin/inventory/location/{dc.pk}/change/"
    data = _admin_form_data(c.get(url))
    data.update(name="Edison DC (new dock)", daily_capacity="1200")
    resp = c.post(url, data, REMOTE_ADDR="192.0.2.44")
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    dc.refresh_from_db()
    assert dc.name == "Edison DC (new dock)"
    entry = entries_for(dc)[-1]
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.changes_dict["name"] == ["Edison DC", "Edison DC (new dock)"]
    assert entry.changes_dict["daily_capacity"] == ["1000", "1200"]
    assert set(entry.changes_dict) == {"name", "daily_capacity"}
    assert entry.actor == root and entry.remote_addr == "192.0.2.44"


def test_a_change_through_the_api_records_the_token_user(store, inventory_user):
    resp = api_for(inventory_user).patch(f"/api/v1/locations/{store.code}/", {"name": "Midtown store"}, format="json")
    assert resp.status_code == 200, resp.content
    entry = entries_for(store)[-1]
    assert entry.changes_dict["name"] == ["Manhattan store", "Midtown store"]
    assert entry.actor == inventory_user  # authenticated by DRF inside the view, still recorded


def test_rotating_a_channel_secret_records_that_it_changed_never_the_value(web, ops_user):
    with set_actor(ops_user):
        web.webhook_secret = SECRET
        web.save()
        web.webhook_secret = SECRET[::-1]
        web.save()
    first, second = entries_for(web)[-2:]
    assert first.changes_dict["webhook_secret"] == ["", MASK]
    assert second.changes_dict["webhook_secret"] == [MASK, MASK]  # rotated: the change is there, no value
    assert second.actor == ops_user
    for row in LogEntry.objects.values():
        stored = json.dumps(row, default=str)
        assert SECRET not in stored and SECRET[::-1] not in stored and SECRET[:12] not in stored


def test_every_secret_looking_field_of_an_audited_model_is_masked():
    assert {"webhook_secret"} <= set(audit_secret_fields(model=Channel))
    assert {"secret_env"} <= set(audit_secret_fields(model=WmsFeed))
    assert {"token_env"} <= set(audit_secret_fields(model=Endpoint))
    assert {"password"} <= set(audit_secret_fields(model=User))
    for label in settings.AUDIT_LOG_MODELS:
        model = apps.get_model(label)
        fields = auditlog.get_model_fields(model)
        assert set(audit_secret_fields(model=model)) <= set(fields["mask_fields"]), label


def test_a_password_change_is_recorded_without_the_hash(ops_user):
    before = ops_user.password
    ops_user.set_password("An0ther-Secret-Pass")
    ops_user.save()
    entry = entries_for(ops_user)[-1]
    assert entry.changes_dict["password"] == [MASK, MASK]
    assert before not in json.dumps(entry.changes_dict) and ops_user.password not in json.dumps(entry.changes_dict)


def test_role_changes_are_recorded(merch_user):
    merch_user.groups.add(Group.objects.get(name=roles.OPERATIONS))
    entry = entries_for(merch_user)[-1]
    assert entry.changes_dict["groups"]["operation"] == "add"
    assert roles.OPERATIONS in entry.changes_dict["groups"]["objects"]
    shown = {c.field: c for c in audit_entry_changes(entry=entry)}
    assert shown["groups"].new == f"add: {roles.OPERATIONS}"


def test_master_data_is_registered_and_hot_tables_are_not():
    for label in [
        "inventory.Location",
        "inventory.Product",
        "inventory.SafetyStockRule",
        "inventory.ChannelAllocation",
        "inventory.WmsFeed",
        "orders.Channel",
        "fulfillment.Endpoint",
        "routing.RateBand",
        "routing.LocationCapacity",
        "routing.RoutingSettings",
        "auth.User",
        "auth.Group",
    ]:
        assert auditlog.contains(apps.get_model(label)), label
    for label in [
        "inventory.StockLevel",
        "inventory.Reservation",
        "inventory.ReservationLine",
        "inventory.InventoryMovement",
        "inventory.WmsEvent",
        "orders.Order",
        "orders.OrderLine",
        "orders.OrderEvent",
        "orders.Customer",
        "fulfillment.FulfillmentOrder",
        "fulfillment.OutboxMessage",
        "routing.RoutingDecision",
        "authtoken.Token",
    ]:
        assert not auditlog.contains(apps.get_model(label)), label


def test_operations_and_admins_see_the_log_and_nobody_else(dc, ops_user, merch_user, inventory_user, store_user):
    with set_actor(ops_user):
        dc.name = "Renamed DC"
        dc.save()
    screen = f"/audit/?model=inventory.location&object={dc.pk}"
    page = client_for(ops_user).get(screen)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Edison DC" in html and "Renamed DC" in html and 'data-field="name"' in html
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    assert client_for(root).get(screen).status_code == 200
    for user in (merch_user, inventory_user, store_user):
        assert client_for(user).get(screen).status_code == 403
    assert Client().get(screen).status_code == 302
    # In the admin: Operations staff read the log (and get a link from each change form); others are refused.
    ops_staff, merch_staff = staff("ops-staff", roles.OPERATIONS), staff("merch-staff", roles.MERCHANDISER)
    assert client_for(ops_staff).get("/admin/auditlog/logentry/").status_code == 200
    form = client_for(ops_staff).get(f"/admin/inventory/location/{dc.pk}/change/").content.decode()
    assert f"/audit/?model=inventory.location&amp;object={dc.pk}" in form
    assert client_for(merch_staff).get("/admin/auditlog/logentry/").status_code == 403
    merch_form = client_for(merch_staff).get(f"/admin/inventory/location/{dc.pk}/change/").content.decode()
    assert "/audit/?model=" not in merch_form


def test_the_log_screen_lists_newest_first_and_filters_by_object(dc, store, ops_user):
    with set_actor(ops_user):
        for loc, name in ((dc, "First"), (store, "Second")):
            loc.name = name
            loc.save()
    html = client_for(ops_user).get("/audit/").content.decode()
    assert html.index("Second") < html.index("First")
    only_dc = client_for(ops_user).get(f"/audit/?model=inventory.location&object={dc.pk}").content.decode()
    assert "First" in only_dc and "Second" not in only_dc
    assert Location.objects.get(pk=dc.pk).name == "First"


def test_a_webhook_subscription_is_audited_and_its_secrets_never_recorded(settings):
    from webhooks.models import Subscription
    from webhooks.services import subscription_create, subscription_secret_rotate

    settings.DOM_OUTBOUND_ALLOW_PRIVATE = settings.DOM_OUTBOUND_ALLOW_HTTP = True
    sub, first = subscription_create(name="erp", url="https://erp.example/hooks", event_types=["order.routed"])
    second = subscription_secret_rotate(subscription=sub)
    assert {"secret", "previous_secret"} <= set(audit_secret_fields(model=Subscription))
    assert LogEntry.objects.get_for_object(sub).count() >= 1
    for row in LogEntry.objects.values():
        stored = json.dumps(row, default=str)
        assert first not in stored and second not in stored and first[6:18] not in stored
