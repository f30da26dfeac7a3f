"""Imports and shortages screens: a rejected file counts its rows; a shortage names the stock file (linked)
and the orders it affects (linked), and "re-route now" moves those orders through the routing service."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from common import roles
from conftest import make_user
from inventory.imports import stock_file_apply
from inventory.models import StockImport, StockLevel, StockShortage
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_a_rejected_file_reports_how_many_rows_it_had(inventory_user, product, dc, django_capture_on_commit_callbacks):
    c = client_for(inventory_user)
    body = b"sku,location,on_hand\nSKU-A,DC-EAST,x\nNOPE,DC-EAST,1\nSKU-A,DC-EAST,4\n"
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post("/inventory/imports/", {"file": SimpleUploadedFile("bad.csv", body), "mode": "snapshot"})
    job = StockImport.objects.get()
    assert job.status == "rejected" and job.rows_total == 3
    page = c.get(resp["Location"]).content.decode()
    assert '<dd id="rows-total">3</dd>' in page


@pytest.fixture
def shortage(web, dc, dc_west, product):
    stock(product, dc, 2)
    stock(product, dc_west, 10)
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(2)]
    for o in orders:
        order_route(order_id=o.pk, now=MONDAY_9AM)
    job = StockImport.objects.create(original_name="wms.csv", status="succeeded")
    stock_file_apply(fileobj=io.BytesIO(b"sku,location,on_hand\nSKU-A,DC-EAST,1\n"), reference=f"import:{job.pk}")
    return StockShortage.objects.get(resolved_at__isnull=True), job, orders


def test_shortages_link_the_file_and_the_orders_affected(shortage, inventory_user, ops_user):
    s, job, orders = shortage
    page = client_for(inventory_user).get(reverse("routing:shortages")).content.decode()
    row = page.split(f'id="shortage-{s.pk}"')[1].split("</tr>")[0]
    assert f'<a href="/inventory/imports/{job.pk}/">Stock file import {job.pk}</a>' in row
    assert "import:" not in row
    for o in orders:
        assert f'<a href="/orders/{o.pk}/" class="nowrap">{o.number}</a>' in row
    assert f'name="one" value="{s.pk}"' in row
    # Operations cannot open stock imports: the file is named, not linked.
    ops_row = client_for(ops_user).get(reverse("routing:shortages")).content.decode()
    assert f"Stock file import {job.pk}" in ops_row and f"/inventory/imports/{job.pk}/" not in ops_row


def test_reroute_now_moves_the_orders_and_closes_the_shortage(shortage, ops_user, product, dc, dc_west):
    s, job, orders = shortage
    c = client_for(ops_user)
    resp = c.post(reverse("routing:shortages-reroute"), {"one": str(s.pk)}, follow=True)
    assert "Re-routed the orders of 1 shortage." in resp.content.decode()
    s.refresh_from_db()
    assert s.resolved_at is not None
    assert StockLevel.objects.get(product=product, location=dc).reserved == 1
    assert StockLevel.objects.get(product=product, location=dc_west).reserved == 1
    again = c.post(reverse("routing:shortages-reroute"), {"shortage": [str(s.pk)]}, follow=True)
    assert "already closed" in again.content.decode()
    assert c.post(reverse("routing:shortages-reroute"), {"shortage": ["x"]}).status_code == 400
    assert c.post(reverse("routing:shortages-reroute"), {}).status_code == 400
    assert c.get(reverse("routing:shortages-reroute")).status_code == 405
    m = client_for(make_user("m", roles.MERCHANDISER))
    assert m.post(reverse("routing:shortages-reroute"), {"one": str(s.pk)}).status_code == 403
