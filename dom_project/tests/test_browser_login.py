import pytest

from common import roles
from conftest import browser_login, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_store_user_signs_in_and_sees_their_store(page, store):
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    browser_login(page, "clerk")
    assert page.locator("h1").inner_text().startswith("Hello")
    assert page.get_by_text("Manhattan store (STORE-0001)").is_visible()
    assert page.locator("a", has_text="Inventory").count() == 0


def test_wrong_password_says_so(page):
    make_user("ops", roles.OPERATIONS)
    page.goto("/login/")
    page.fill("input[name=username]", "ops")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.get_by_text("didn't match").is_visible()
