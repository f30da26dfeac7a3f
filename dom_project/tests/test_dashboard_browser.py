"""Operations in a real browser: open the dashboard, see the charts drawn, change the period, drill down from
a figure to the orders behind it and open one."""

from datetime import timedelta

import pytest

from analytics.services import kpi_rollup_refresh
from analytics.tests.history import DAY0
from analytics.tests.test_kpis_rollup import build_history
from common import roles
from conftest import browser_login, make_user, nav_click
from orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_and_drilldown(page, web, marketplace, product, product_b, dc, store):
    build_history(web=web, marketplace=marketplace, product=product, product_b=product_b, dc=dc, store=store)
    kpi_rollup_refresh(first=DAY0 - timedelta(days=7), last=DAY0 + timedelta(days=6))
    make_user("opsuser", roles.OPERATIONS)

    browser_login(page, "opsuser")
    nav_click(page, "Dashboard")
    page.wait_for_url("**/dashboard/")
    page.wait_for_load_state("load")
    # The default period (last 30 days) is far from this history; pick the history's week instead.
    assert page.get_by_text("No orders in this period.").is_visible()
    page.fill("input[name=from]", DAY0.isoformat())
    page.fill("input[name=to]", (DAY0 + timedelta(days=6)).isoformat())
    page.click("button:has-text('Show')")
    card = page.locator("section.kpi[data-kpi=order_cycle_time]")
    card.locator(".figure", has_text="8.0 h").wait_for()
    assert "p90 70.0 h" in card.inner_text()
    # Chart.js (served from static) drew each trend after the htmx swap.
    # (a selector wait, not wait_for_function: string predicates are eval'd, which the CSP forbids)
    page.wait_for_selector('canvas.trend[data-drawn="1"] >> nth=9', state="attached")
    assert page.locator("#by-channel tr[data-channel=web]").is_visible()
    assert page.locator("section.kpi[data-kpi=inventory_accuracy]", has_text="No cycle counts yet").is_visible()

    card.locator(".figure a").click()
    page.wait_for_url("**/dashboard/kpi/order_cycle_time/**")
    rows = page.locator("#drilldown tbody tr")
    assert rows.count() == 2
    slowest = rows.first.get_attribute("data-order")
    assert "70.0 h" in rows.first.inner_text()
    rows.first.locator("a").click()
    page.wait_for_url("**/orders/*/")
    assert Order.objects.get(number=slowest).number in page.locator("h1").inner_text()
