"""bench.cpu: the CPU of processes read from /proc, by group, and the two-core bound it implies."""

import subprocess
import sys
import time

import pytest
from django.db import connection

from bench.cpu import CpuSampler, cpu_per_order, postgres_backends, proc_descendants

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass\n"


def test_a_child_burning_cpu_is_counted_in_its_group():
    sampler = CpuSampler(groups={"child": lambda: proc_descendants(root=proc.pid)}, interval=0.05)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)\n" + BURN.format(s=0.4)])
    sampler.start()
    proc.wait()
    got = sampler.stop()
    # The sleep costs nothing; the burn is counted up to the last sample before the child exited.
    assert 0.2 <= got["child"] <= 0.6, got


def test_a_process_alive_before_start_counts_only_from_start():
    after = "print('burnt', flush=True)\nimport time\ntime.sleep(0.6)\n"
    proc = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.4) + after], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "burnt"  # the burn is over before the sampler starts
        sampler = CpuSampler(groups={"child": lambda: {proc.pid}}, interval=0.05)
        sampler.start()
        time.sleep(0.2)
        assert sampler.stop()["child"] < 0.1
    finally:
        proc.wait()


@pytest.mark.django_db
def test_this_tests_database_backend_is_found():
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    assert pid in postgres_backends(database=connection.settings_dict["NAME"])
    assert pid not in postgres_backends(database="no_such_database")


def test_the_two_core_bound_is_two_thousand_ms_over_the_total():
    got = cpu_per_order(seconds={"web": 2.0, "cluster": 0.5, "postgresql": 1.5}, orders=400, client_s=0.4)
    assert got["cpu_ms_per_order"] == {
        "web": 5.0,
        "cluster": 1.25,
        "postgresql": 3.75,
        "total": 10.0,
        "load_clients": 1.0,
    }
    assert got["two_core_bound_orders_per_s"] == 200.0
    assert got["two_core_bound_with_clients_orders_per_s"] == round(2000 / 11, 1)
