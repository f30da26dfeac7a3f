"""Outbound endpoints cannot reach the server's secrets, network or files: checked when saved and again at
every delivery (rows written around the forms included)."""

import pytest
from django.core.exceptions import ValidationError

from common.tests.httpserver import Route, http_server
from fulfillment.models import Endpoint
from fulfillment.services import outbox_message_add, outbox_message_deliver

pytestmark = pytest.mark.django_db

SERVER_SECRET = "the-django-secret-key-value"


def deliver(dc, key: str):
    msg = outbox_message_add(kind="test", location=dc, key=key, payload={"n": 1})
    return outbox_message_deliver(message_id=msg.pk)


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "DOM_FEED_X", "dom_endpoint_x"])
def test_a_token_variable_outside_the_allow_list_is_refused_on_save(dc, name):
    with pytest.raises(ValidationError, match="DOM_ENDPOINT_"):
        Endpoint(location=dc, url="https://3pl.example.com/orders", token_env=name).full_clean()
    Endpoint(location=dc, url="https://3pl.example.com/orders", token_env="DOM_ENDPOINT_3PL").full_clean()


def test_a_server_secret_is_never_sent_even_when_the_row_was_written_around_the_form(dc, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", SERVER_SECRET)
    with http_server({"/orders": Route(body=b"{}")}) as srv:
        Endpoint.objects.create(location=dc, url=f"{srv.url}/orders")
        Endpoint.objects.filter(location=dc).update(token_env="SECRET_KEY")
        msg = deliver(dc, "k-1")
        assert msg.status != "delivered" and "DOM_ENDPOINT_" in msg.last_error
        assert srv.requests == []
        Endpoint.objects.filter(location=dc).update(token_env="DOM_ENDPOINT_3PL")
        monkeypatch.setenv("DOM_ENDPOINT_3PL", "tok")
        assert deliver(dc, "k-2").status == "delivered"
        assert srv.requests[0][2]["Authorization"] == "Bearer tok"


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/orders", "https://localhost:{port}/orders"])
def test_private_addresses_and_plain_http_are_refused_at_delivery(dc, settings, url):
    settings.DOM_OUTBOUND_ALLOW_HTTP = False
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False
    with http_server({"/orders": Route(body=b"{}")}) as srv:
        Endpoint.objects.create(location=dc, url=url.format(port=srv.port))
        msg = deliver(dc, "k-1")
        assert msg.status != "delivered" and "not allowed" in msg.last_error
        assert srv.requests == []


def test_a_file_drop_outside_the_feed_root_is_refused_on_save_and_at_delivery(dc, tmp_path, settings):
    settings.DOM_FEED_ROOT = str(tmp_path / "root")
    (tmp_path / "root").mkdir()
    outside = tmp_path / "outside"
    with pytest.raises(ValidationError, match="feed root"):
        Endpoint(location=dc, url=f"file://{outside}").full_clean()
    Endpoint.objects.create(location=dc, url=f"file://{outside}")
    msg = deliver(dc, "k-1")
    assert msg.status != "delivered" and "feed root" in msg.last_error
    assert not outside.exists()
    Endpoint.objects.filter(location=dc).update(url="file://drop")
    assert deliver(dc, "k-2").status == "delivered"
    assert (tmp_path / "root" / "drop" / "k-2.json").exists()


def test_the_migration_fails_closed_on_token_variables_outside_the_allow_list(dc, dc_west):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("fulfillment.migrations.0006_endpoint_token_env_allow_list")
    bad = Endpoint.objects.create(location=dc, url="https://3pl.example.com/a", token_env="SECRET_KEY")
    fine = Endpoint.objects.create(location=dc_west, url="https://3pl.example.com/b", token_env="DOM_ENDPOINT_B")
    migration.forwards(apps, None)
    bad.refresh_from_db(), fine.refresh_from_db()
    assert (bad.token_env, bad.is_active) == ("", False)
    assert (fine.token_env, fine.is_active) == ("DOM_ENDPOINT_B", True)
    assert "No active endpoint" in deliver(dc, "k-1").last_error
