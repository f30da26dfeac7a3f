"""Helpers shared by the benchmarks: percentiles, a real HTTP server, the large world on demand."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def ensure_world(*, scale: str, log) -> None:
    """Seed the demo world at `scale` unless it is already there (idempotent, bulk)."""
    from django.db import transaction

    from bench.demo import demo_seed
    from bench.world import SCALES
    from inventory.models import Product

    want = SCALES[scale][4]
    if Product.objects.filter(sku__startswith="SKU-").count() >= want:
        return
    log(f"seeding the {scale} world (one-off)…")
    t = time.perf_counter()
    with transaction.atomic():
        demo_seed(scale=scale)
    log(f"seeded in {time.perf_counter() - t:.1f}s")


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn_server(*, workers: int | None = 2, threads: int | None = 1, extra_env: dict | None = None):
    """Serve the project with gunicorn on a loopback port (BENCH_PORT, else a free one) with production
    settings; yields the base URL. workers/threads None: gunicorn.conf.py's (its environment variables)."""
    port = int(os.environ.get("BENCH_PORT") or 0) or free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dom_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_MANIFEST": "0",
        "DATABASE_URL": database_url(),
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dom_project.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            *(["-w", str(workers)] if workers else []),
            *(["--threads", str(threads)] if threads else []),
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not start within 30 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
