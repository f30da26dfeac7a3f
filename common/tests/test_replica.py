"""The read replica, on a real PostgreSQL streaming replica of the test server (common.dbrouting).

The `pg_replica` fixture takes a `pg_basebackup -R` of the PostgreSQL server the tests run on, starts it as a
hot standby on a port of its own, and waits until it streams. The tests then serve the availability API from
it and show that replica lag cannot oversell: with the replica's replay paused, a reservation made on the
primary leaves the replica's availability stale, yet the next reservation for the same units is refused,
because reservations read stock under lock on the primary.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from common.dbrouting import REPLICA, read_alias, replica_reads
from conftest import BASE_DIR
from inventory.models import StockLevel
from inventory.selectors import stock_ledger_mismatches
from inventory.tests.helpers import put_stock

PORTS = range(5441, 5450)
STARTUP_SECONDS = 20


def _pg_bindir(server_major: int) -> Path | None:
    """The server's own major version's client tools (Debian keeps them per version)."""
    for candidate in (Path(f"/usr/lib/postgresql/{server_major}/bin"),):
        if (candidate / "pg_basebackup").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_basebackup")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.fail(f"No free port in {PORTS.start}-{PORTS.stop - 1} for the replica.")


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _basebackup(*, bindir: Path, primary: dict, target: Path) -> None:
    cmd = [
        str(bindir / "pg_basebackup"),
        *("-h", primary["HOST"] or "127.0.0.1", "-p", str(primary["PORT"] or 5432), "-U", primary["USER"]),
        *("-D", str(target), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
    ]
    done = subprocess.run(_as_server_user(cmd), check=False, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "replication connection" in done.stderr:
        # The server refuses replication connections: the project's script allows them (CI runs it too).
        allow = subprocess.run(
            [str(BASE_DIR / "scripts" / "pg_replication_allow.sh")],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if allow.returncode != 0:
            pytest.fail(f"The server refuses replication and scripts/pg_replication_allow.sh failed: {allow.stderr}")
        shutil.rmtree(target, ignore_errors=True)
        done = subprocess.run(_as_server_user(cmd), check=False, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"pg_basebackup failed: {done.stderr}")


# A hot standby must allow at least as much as its primary of these.
PRIMARY_LIMITS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


def _configure_standby(*, data: Path, port: int, limits: dict[str, str]) -> None:
    """Debian keeps the server's configuration outside its data directory: give the copy its own."""
    (data / "postgresql.conf").write_text(
        f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n"
        "hot_standby = on\nshared_buffers = 16MB\nfsync = off\nlogging_collector = off\n"
        + "".join(f"{name} = {value}\n" for name, value in limits.items())
    )
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    (data / "pg_ident.conf").write_text("")
    if os.geteuid() == 0:
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            shutil.chown(data / name, user="postgres", group="postgres")


def _standby_streaming(*, port: int, dbname: str) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=dbname, connect_timeout=2) as c:
            row = c.execute("SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)").fetchone()
            return row == (True, "streaming")
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="module")
def pg_replica(django_db_setup, django_db_blocker):
    """A real streaming replica of the test server, as the `replica` alias. Stopped and removed afterwards."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.skip("A streaming replica needs PostgreSQL (run with DATABASE_URL=postgres://…).")
        primary = dict(connection.settings_dict)
        major = connection.pg_version // 10000
        with connection.cursor() as cur:
            cur.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(PRIMARY_LIMITS)])
            limits = dict(cur.fetchall())
    bindir = _pg_bindir(major)
    if bindir is None:
        pytest.skip(f"pg_basebackup / pg_ctl for PostgreSQL {major} are not installed (Debian: postgresql-{major}).")
    workdir = Path(tempfile.mkdtemp(prefix="dom-replica-"))
    data = workdir / "data"
    if os.geteuid() == 0:
        shutil.chown(workdir, user="postgres", group="postgres")
    port = _free_port()
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        _basebackup(bindir=bindir, primary=primary, target=data)
        _configure_standby(data=data, port=port, limits=limits)
        started = subprocess.run(
            _as_server_user([*pg_ctl, "-l", str(workdir / "log"), "-w", "-t", str(STARTUP_SECONDS), "start"]),
            check=False,
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            log = (workdir / "log").read_text() if (workdir / "log").exists() else ""
            pytest.fail(f"The replica did not start: {started.stderr}\n{log}")
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _standby_streaming(port=port, dbname=primary["NAME"]):
            if time.monotonic() > deadline:
                pytest.fail(f"The replica on port {port} does not stream: {(workdir / 'log').read_text()}")
            time.sleep(0.2)
        # The `replica` alias, as settings make it from DATABASE_REPLICA_URL: a mirror of the test database
        # (so test teardown flushes only the primary). Set up before the test's database access is checked.
        connections.settings[REPLICA] = {
            **connections.settings[DEFAULT_DB_ALIAS],
            "PORT": port,
            "CONN_MAX_AGE": 0,
            "TEST": {**connections.settings[DEFAULT_DB_ALIAS]["TEST"], "MIRROR": DEFAULT_DB_ALIAS},
        }
        yield connections[REPLICA]
    finally:
        if REPLICA in connections.settings:
            connections[REPLICA].close()
            del connections[REPLICA]
            del connections.settings[REPLICA]
        subprocess.run(_as_server_user([*pg_ctl, "-m", "immediate", "stop"]), check=False, capture_output=True)
        # A copy of the whole server: removed in the background rather than holding up the test run.
        subprocess.Popen(["rm", "-rf", str(workdir)], start_new_session=True)  # noqa: S603,S607


@pytest.fixture
def replica_alias(pg_replica, transactional_db):
    """The running replica's alias for one test; its replay resumed afterwards."""
    yield pg_replica
    replica_sql("SELECT pg_wal_replay_resume()")


def replica_sql(sql: str):
    with connections[REPLICA].cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0] if cur.description else None


def replica_catch_up(timeout: float = 15) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn()::text")
        target = cur.fetchone()[0]
    deadline = time.monotonic() + timeout
    with connections[REPLICA].cursor() as cur:
        while True:
            cur.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cur.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"The replica did not replay up to {target} within {timeout}s.")
            time.sleep(0.05)


def availability(client, sku: str) -> int:
    response = client.get("/api/v1/availability/", {"sku": sku})
    assert response.status_code == 200, response.content
    return response.json()["results"][0]["available"]


pytestmark = [pytest.mark.replica]


def test_read_alias_is_the_replica_only_when_marked_and_outside_transactions(monkeypatch):
    """Routing rules alone, on any database: a configured replica alias is never connected to here."""
    monkeypatch.setitem(connections.settings, REPLICA, dict(connections.settings[DEFAULT_DB_ALIAS]))
    assert read_alias() == DEFAULT_DB_ALIAS  # not marked: the primary
    with replica_reads():
        assert read_alias() == REPLICA
        monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "in_atomic_block", True)
        assert read_alias() == DEFAULT_DB_ALIAS  # in a transaction (so any select_for_update): the primary
    monkeypatch.delitem(connections.settings, REPLICA)
    with replica_reads():
        assert read_alias() == DEFAULT_DB_ALIAS  # no replica configured


@replica_reads()
def _decorated() -> str:
    return read_alias()


def test_replica_reads_as_decorator_resets_after_the_call(monkeypatch):
    monkeypatch.setitem(connections.settings, REPLICA, dict(connections.settings[DEFAULT_DB_ALIAS]))
    assert (_decorated(), read_alias()) == (REPLICA, DEFAULT_DB_ALIAS)


@pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])
def test_availability_served_from_replica_and_replica_lag_cannot_oversell(replica_alias, api, product, dc):
    client = api
    assert replica_sql("SELECT pg_is_in_recovery()") is True
    with replica_reads(), transaction.atomic():
        assert read_alias() == DEFAULT_DB_ALIAS
    put_stock(product, dc, 5)
    replica_catch_up()

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        assert availability(client, product.sku) == 5
    assert any("inventory_stocklevel" in q["sql"] for q in on_replica.captured_queries), "ATS not read on replica"

    # Freeze the replica: from now on it does not see what the primary commits.
    replica_sql("SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + 10
    while replica_sql("SELECT pg_get_wal_replay_pause_state()") != "paused":
        assert time.monotonic() < deadline, "replay did not pause"
        time.sleep(0.05)

    taken = client.post("/api/v1/reservations/", {"lines": [{"sku": product.sku, "quantity": 5}]}, format="json")
    assert taken.status_code == 201, taken.content
    assert StockLevel.objects.get(product=product, location=dc).reserved == 5

    # The replica still shows the five units (stale) ...
    assert availability(client, product.sku) == 5
    # ... but a reservation for them is decided on the primary, under lock, and refused.
    again = client.post("/api/v1/reservations/", {"lines": [{"sku": product.sku, "quantity": 1}]}, format="json")
    assert again.status_code == 409, again.content
    assert again.json()["shortages"][0]["available"] == 0
    level = StockLevel.objects.get(product=product, location=dc)
    assert (level.on_hand, level.reserved) == (5, 5)
    assert stock_ledger_mismatches() == []

    # Replay resumed, the replica catches up and shows the truth.
    replica_sql("SELECT pg_wal_replay_resume()")
    replica_catch_up()
    assert availability(client, product.sku) == 0


@pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])
def test_replica_down_marked_views_answer_503_and_reservations_still_work(replica_alias, api, product, dc):
    put_stock(product, dc, 2)
    replica = connections[REPLICA]
    replica.close()
    port = replica.settings_dict["PORT"]
    replica.settings_dict["PORT"] = _free_port()  # nothing listens there
    try:
        down = api.get("/api/v1/availability/", {"sku": product.sku})
        assert down.status_code == 503 and "unavailable" in down.json()["detail"]
        taken = api.post("/api/v1/reservations/", {"lines": [{"sku": product.sku, "quantity": 2}]}, format="json")
        assert taken.status_code == 201, taken.content
    finally:
        replica.close()
        replica.settings_dict["PORT"] = port
    replica_catch_up()  # back up: served from the replica again
    assert availability(api, product.sku) == 0
