"""Sign-in hardening (issue 15 §6): lock-out per address across user names, idle timeout of back-office
sessions, and password reset by e-mail that does not tell whether an account exists."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from common import roles
from conftest import make_user

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str, ip: str):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_one_wrong_password_for_each_of_twenty_user_names_locks_the_address(settings):
    assert settings.LOGIN_FAILURES_PER_ADDRESS == 20
    make_user("real", roles.OPERATIONS)
    sprayer = Client()
    codes = [_login(sprayer, f"user{i}", "Winter2026!", ip="203.0.113.7").status_code for i in range(20)]
    assert codes[:19] == [200] * 19 and codes[19] == 429, codes
    # The address is locked for every user name, the right password included.
    assert _login(sprayer, "real", "pw-for-tests", ip="203.0.113.7").status_code == 429
    assert _login(sprayer, "user99", "x", ip="203.0.113.7").status_code == 429
    # Another address still signs in.
    assert _login(Client(), "real", "pw-for-tests", ip="198.51.100.4").status_code == 302
    # The lock ends with the cool-off.
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert _login(Client(), "real", "pw-for-tests", ip="203.0.113.7").status_code == 302


def test_colleagues_behind_one_address_do_not_lock_each_other_out():
    make_user("dana", roles.STORE_STAFF)
    c = Client()
    for i in range(4):  # a few mistyped passwords of different people at one store
        assert _login(c, f"clerk{i}", "typo", ip="192.0.2.10").status_code == 200
    assert _login(c, "dana", "pw-for-tests", ip="192.0.2.10").status_code == 302


def test_a_back_office_session_ends_after_eight_idle_hours(settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60 and settings.SESSION_SAVE_EVERY_REQUEST
    make_user("olga", roles.OPERATIONS)
    c = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert _login(c, "olga", "pw-for-tests", ip="192.0.2.20").status_code == 302
        assert c.get("/orders/").status_code == 200
    # Activity renews the session: 7 hours idle, then a request, then 7 more hours: still signed in.
    with time_machine.travel(start + timedelta(hours=7), tick=False):
        assert c.get("/orders/").status_code == 200
    with time_machine.travel(start + timedelta(hours=14), tick=False):
        assert c.get("/orders/").status_code == 200
    # 8 hours and a minute without a request: signed out.
    with time_machine.travel(start + timedelta(hours=22, minutes=1), tick=False):
        resp = c.get("/orders/")
        assert resp.status_code == 302 and resp["Location"].startswith("/login/")


def _reset_link(body: str) -> str:
    return re.search(r"https?://[^/\s]+(/password-reset/[^\s]+/)", body).group(1)


def test_password_reset_by_email_sets_a_new_password():
    user = make_user("pat", roles.OPERATIONS)
    user.email = "pat@example.com"
    user.save()
    c = Client()
    login_page = c.get("/login/").content.decode()
    assert 'href="/password-reset/"' in login_page
    page = c.get("/password-reset/").content.decode()
    assert 'class="card narrow"' in page and "<html" in page  # the project's layout
    resp = c.post("/password-reset/", {"email": "pat@example.com"})
    assert resp.status_code == 302 and resp["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["pat@example.com"]
    assert "pw-for-tests" not in mail.outbox[0].body and "pat" in mail.outbox[0].body
    link = _reset_link(mail.outbox[0].body)
    form = c.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = c.post(
        form.redirect_chain[-1][0], {"new_password1": "Gr33n-Lantern-42", "new_password2": "Gr33n-Lantern-42"}
    )
    assert done.status_code == 302 and done["Location"] == "/password-reset/done/"
    user.refresh_from_db()
    assert user.check_password("Gr33n-Lantern-42")
    # The link works once.
    again = c.get(link, follow=True).content.decode()
    assert "This link no longer works" in again
    assert _login(Client(), "pat", "Gr33n-Lantern-42", ip="192.0.2.30").status_code == 302


def test_password_reset_does_not_tell_whether_an_account_exists():
    User.objects.create_user("quinn", email="quinn@example.com", password="pw-for-tests")
    known = Client().post("/password-reset/", {"email": "quinn@example.com"})
    unknown = Client().post("/password-reset/", {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [m.to for m in mail.outbox] == [["quinn@example.com"]]
    sent_page = Client().get("/password-reset/sent/").content.decode()
    assert "If the address you entered belongs to an account" in sent_page
