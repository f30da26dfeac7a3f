"""The task the two-cluster Redis test enqueues: it records each execution, with the cluster that ran it."""

import os
import time

from django.db import connection

PROBE_TABLE = "test_redis_probe"


def probe_record(n: int) -> int:
    time.sleep(0.02)  # long enough that both clusters' workers have tasks in hand at once
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {PROBE_TABLE} (n, cluster, worker_pid) VALUES (%s, %s, %s)",
            [n, os.environ.get("DOM_TEST_CLUSTER", "?"), os.getpid()],
        )
    return n
