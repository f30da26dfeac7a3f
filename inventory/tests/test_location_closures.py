"""Location closures (issue 19 §4.6): set and removed through inventory's services, edited in the admin, and
every change reaches routing's cached network."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from inventory.models import LocationClosure
from inventory.selectors import location_closures
from inventory.services import location_closure_remove, location_closure_set
from routing.selectors import network_static

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 2)


def test_a_closure_is_set_updated_and_removed(store):
    location_closure_set(location=store, day=DAY, reason="Inventory day")
    location_closure_set(location=store, day=DAY, reason="Inventory day (moved shelves)")
    (closure,) = LocationClosure.objects.all()
    assert closure.reason == "Inventory day (moved shelves)"
    assert location_closures() == {store.pk: frozenset({DAY})}
    assert location_closure_remove(location=store, day=DAY) is True
    assert location_closure_remove(location=store, day=DAY) is False
    assert location_closures() == {}


def test_bad_input_is_refused(store):
    with pytest.raises(ValidationError) as err:
        location_closure_set(location=store, day="2026-03-02", reason="x")
    assert "day" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        location_closure_set(location=store, day=DAY, reason="x" * 201)
    assert "reason" in err.value.message_dict
    assert not LocationClosure.objects.exists()


def test_the_routing_network_sees_each_change(store):
    assert DAY not in network_static().locations[store.pk].calendar.closures
    location_closure_set(location=store, day=DAY, reason="Stock count")
    assert DAY in network_static().locations[store.pk].calendar.closures
    location_closure_remove(location=store, day=DAY)
    assert DAY not in network_static().locations[store.pk].calendar.closures


def test_the_admin_lists_closures_and_edits_them_on_the_location(admin_client, store):
    location_closure_set(location=store, day=DAY, reason="Inventory day")
    listing = admin_client.get("/admin/inventory/locationclosure/")
    assert listing.status_code == 200 and b"Inventory day" in listing.content
    page = admin_client.get(f"/admin/inventory/location/{store.pk}/change/")
    assert page.status_code == 200 and b"closures-0-date" in page.content
