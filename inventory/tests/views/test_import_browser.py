"""A browser uploads a messy stock file; the real cluster runs it while the page polls; the rows show."""

import pytest
from django.test import override_settings

from common import roles
from conftest import browser_login, make_user, nav_click
from inventory.models import Location, Product, StockImport, StockLevel

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shared_media(tmp_path, monkeypatch, settings):
    """One media folder for this process and the cluster (which reads MEDIA_ROOT from the environment)."""
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def queued(monkeypatch):
    """Tasks go to the queue (the cluster runs them) instead of running inline as elsewhere in tests."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)


def test_upload_messy_csv_and_see_row_errors(shared_media, queued, qcluster, page, tmp_path):
    make_user("inv", roles.INVENTORY_MANAGER)
    Product.objects.create(sku="SKU-A", name="Widget")
    Location.objects.create(code="DC-EAST", name="Edison", kind="warehouse", postal_code="08817")
    messy = tmp_path / "messy.csv"
    messy.write_bytes(
        b"\xef\xbb\xbfsku,location,on_hand\r\n"
        b"SKU-A,DC-EAST,5\r\n"
        b"SKU-GHOST,DC-EAST,3\r\n"
        b'"SKU-A","DC-EAST","lots"\r\n'
        b"SKU-A,NOWHERE,-4\r\n"
    )
    with override_settings(MEDIA_ROOT=str(shared_media)):
        browser_login(page, "inv")
        nav_click(page, "Imports")
        page.set_input_files("input[name=file]", str(messy))
        page.select_option("select[name=mode]", "snapshot")
        page.click("button:has-text('Upload and import')")
        page.wait_for_url("**/inventory/imports/*/")
        # The page polls until the cluster has run the task, then shows the verdict and the rows.
        page.wait_for_selector("[data-status=rejected]", timeout=90_000)
        text = page.inner_text("#import-progress")
    assert "nothing was applied" in text
    rows = page.locator("#import-errors tbody tr").all_inner_texts()
    assert [r.split("\t")[:2] + r.split("\t")[3:] for r in rows] == [
        ["3", "sku", "unknown SKU"],
        ["4", "on_hand", "not a whole number"],
        ["4", "sku", "duplicate SKU × location (first on row 2)"],
        ["5", "location", "unknown location"],
        ["5", "on_hand", "negative on_hand: must be 0 or more"],
    ]
    with page.expect_download() as download:
        page.click("text=Download the error report (CSV)")
    report = download.value.path().read_text()
    assert report.splitlines()[0] == "row,column,value,reason"
    assert "3,sku,SKU-GHOST,unknown SKU" in report
    assert StockImport.objects.get().status == "rejected"
    assert not StockLevel.objects.exists()
