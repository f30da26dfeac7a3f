"""The admin follows the ownership rule: statuses, counters, lines and addresses are read-only there, and
orders, fulfilment orders, stock rows, reservations and ledger rows cannot be deleted (nor added) in it."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from fulfillment.models import FulfillmentOrder
from inventory.models import InventoryMovement, Reservation, StockLevel
from orders.models import Order
from returns.models import ReturnAuthorization

pytestmark = pytest.mark.django_db

NO_DELETE = [Order, FulfillmentOrder, StockLevel, InventoryMovement, Reservation, ReturnAuthorization]


@pytest.fixture
def request_as_superuser(db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-only-1")
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("model", NO_DELETE, ids=lambda m: m.__name__)
def test_rows_cannot_be_deleted_or_added_in_the_admin(model, request_as_superuser):
    model_admin = admin.site._registry[model]
    assert not model_admin.has_delete_permission(request_as_superuser)
    assert not model_admin.has_add_permission(request_as_superuser)
    assert "delete_selected" not in model_admin.get_actions(request_as_superuser)


def _readonly(model, request) -> set[str]:
    return set(admin.site._registry[model].get_readonly_fields(request))


def test_order_status_and_addresses_are_read_only(request_as_superuser):
    fields = _readonly(Order, request_as_superuser)
    assert {"status", "payment_status", "shipping_address", "billing_address"} <= fields


def test_fulfilment_order_status_is_read_only(request_as_superuser):
    assert {"status", "order", "location", "method", "reservation"} <= _readonly(FulfillmentOrder, request_as_superuser)


@pytest.mark.parametrize("model", [Order, FulfillmentOrder], ids=lambda m: m.__name__)
def test_lines_and_counters_are_read_only_inlines(model, request_as_superuser):
    model_admin = admin.site._registry[model]
    lines = [i for i in model_admin.get_inline_instances(request_as_superuser) if i.model.__name__.endswith("Line")]
    assert lines, f"{model.__name__} admin shows its lines"
    for inline in lines:
        assert not inline.has_add_permission(request_as_superuser, None)
        assert not inline.has_delete_permission(request_as_superuser, None)
        counters = {f.name for f in inline.model._meta.fields if f.name.startswith("quantity")}
        assert counters <= set(inline.get_readonly_fields(request_as_superuser)), inline.model.__name__
