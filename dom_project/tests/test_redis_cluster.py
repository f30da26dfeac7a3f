"""The Redis broker: two real qcluster processes on one machine share one queue, and every task runs once.

Settings make Redis django-q2's broker when REDIS_URL is set (the production default; the ORM broker stays
the zero-setup default). Redis from REDIS_URL_FOR_TESTS (CI's .ci/run starts it), on a queue of the test's
own (Q_CLUSTER_NAME), removed afterwards."""

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
from django.db import connection
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.tasks import async_task

from conftest import BASE_DIR, database_url_for_tests, wait_for
from dom_project.tests.redis_probe import PROBE_TABLE

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

TASKS = 200


def redis_url() -> str:
    url = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/0")
    try:
        redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip(f"No Redis answers at {url} (CI's .ci/run starts one; set REDIS_URL_FOR_TESTS).")
    return url


class Cluster:
    """`manage.py qcluster` in its own process, its output collected."""

    def __init__(self, *, label: str, env: dict):
        self.label, self.lines = label, []
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env={**env, "DOM_TEST_CLUSTER": label},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def running(self) -> bool:
        return any("running." in line for line in list(self.lines))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def probe_table():
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {PROBE_TABLE}")
        cur.execute(f"CREATE TABLE {PROBE_TABLE} (n integer NOT NULL, cluster text NOT NULL, worker_pid integer)")
    yield
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE {PROBE_TABLE}")


def test_two_clusters_share_a_redis_queue_and_run_each_task_exactly_once(probe_table, monkeypatch):
    url, queue = redis_url(), f"dom-test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dom_project.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_URL": url,
        "Q_CLUSTER_NAME": queue,
        "Q_SYNC": "0",
        "Q_WORKERS": "2",
        "Q_LOG_LEVEL": "INFO",
    }
    clusters = [Cluster(label=label, env=env) for label in ("A", "B")]
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "REDIS", url)
    broker = Redis(list_key=queue)
    try:
        wait_for(
            lambda: all(c.running() for c in clusters),
            timeout=60,
            what=f"both clusters to start: {[c.lines[-5:] for c in clusters]}",
        )
        for n in range(TASKS):
            async_task("dom_project.tests.redis_probe.probe_record", n, broker=broker)

        def finished() -> bool:
            with connection.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM {PROBE_TABLE}")
                return cur.fetchone()[0] >= TASKS and broker.queue_size() == 0

        wait_for(finished, timeout=120, what=f"the clusters to run {TASKS} tasks")
        time.sleep(1)  # a duplicate still in flight would show up now
        assert all(c.proc.poll() is None for c in clusters), "a cluster died"
    finally:
        for c in clusters:
            c.stop()
        broker.delete_queue()
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), COUNT(DISTINCT n), MIN(n), MAX(n) FROM {PROBE_TABLE}")
        assert cur.fetchone() == (TASKS, TASKS, 0, TASKS - 1), "a task ran twice or not at all"
        cur.execute(f"SELECT cluster, COUNT(*) FROM {PROBE_TABLE} GROUP BY cluster ORDER BY cluster")
        per_cluster = dict(cur.fetchall())
    assert set(per_cluster) == {"A", "B"}, f"both clusters must take work: {per_cluster}"
    assert all(count >= 10 for count in per_cluster.values()), per_cluster
