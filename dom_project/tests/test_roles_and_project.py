import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from common import roles
from conftest import api_for, make_user

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]


def test_role_groups_exist_from_the_data_migration():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ALL_ROLES)
    inv = Group.objects.get(name=roles.INVENTORY_MANAGER)
    assert inv.permissions.filter(codename="change_location").exists()
    assert not Group.objects.get(name=roles.STORE_STAFF).permissions.filter(codename="change_location").exists()


@pytest.mark.parametrize(
    "role, method, url, expected",
    [
        (None, "get", "/api/v1/locations/", 401),
        (roles.STORE_STAFF, "get", "/api/v1/locations/", 200),
        (roles.STORE_STAFF, "post", "/api/v1/locations/", 403),
        (roles.MERCHANDISER, "post", "/api/v1/products/", 403),
        (roles.INVENTORY_MANAGER, "post", "/api/v1/products/", 400),  # allowed, body empty
        (roles.STORE_STAFF, "post", "/api/v1/reservations/", 403),
        (roles.OPERATIONS, "post", "/api/v1/reservations/", 400),
        (None, "get", "/api/v1/availability/?sku=X", 401),
    ],
)
def test_api_role_matrix(role, method, url, expected):
    client = api_for(make_user("u", role) if role else None)
    assert getattr(client, method)(url, {}, format="json").status_code == expected


def test_drf_create_token_command_works():
    from django.core.management import call_command

    make_user("robot", roles.API_CLIENT)
    call_command("drf_create_token", "robot")
    from rest_framework.authtoken.models import Token

    assert Token.objects.filter(user__username="robot").exists()


def test_home_shows_work_by_role(client, store):
    user = make_user("clerk", roles.STORE_STAFF, stores=[store])
    client.force_login(user)
    r = client.get("/")
    assert r.status_code == 200
    assert b"Manhattan store" in r.content and b"Stock overview" not in r.content
    ops = make_user("ops", roles.OPERATIONS)
    client.force_login(ops)
    body = client.get("/").content
    assert b"Stock overview" in body and b"Waiting to be routed" in body


def test_screens_need_login_and_role(client):
    assert client.get("/").status_code == 302
    client.force_login(make_user("m", roles.MERCHANDISER))
    assert client.get("/inventory/").status_code == 403
    client.force_login(make_user("i", roles.INVENTORY_MANAGER))
    assert client.get("/inventory/").status_code == 200


def test_htmx_is_served_locally(client):
    client.force_login(make_user("m", roles.MERCHANDISER))
    body = client.get("/").content.decode()
    assert "django-htmx" in body or "htmx" in body
    assert "unpkg.com" not in body and "cdn" not in body.lower()


def test_openapi_schema_and_docs(client):
    r = client.get("/api/schema/")
    assert r.status_code == 200 and b"/api/v1/availability/" in r.content
    assert client.get("/api/docs/").status_code == 200


def _check_deploy(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="dom_project.settings",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "a-very-long-and-random-production-secret-key-9f8e7d6c",
        ALLOWED_HOSTS="dom.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    out = _check_deploy(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")  # checks do not connect to it
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_check_deploy_wants_the_redis_broker_in_production(tmp_path):
    out = _check_deploy(tmp_path)
    assert out.returncode != 0
    assert "dom.W001" in out.stderr + out.stdout and "REDIS_URL" in out.stderr + out.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.update(DJANGO_SETTINGS_MODULE="dom_project.settings", DEBUG="0")
    out = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode != 0 and "SECRET_KEY" in out.stderr
