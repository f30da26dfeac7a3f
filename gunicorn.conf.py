"""gunicorn settings read from the project directory (`gunicorn dom_project.wsgi …` started here picks it up);
command-line options still win."""

import gc
import os

# Two cores: a few processes (Python runs one thread at a time per process) with threads that overlap the
# database round trips; `bench load` measures the mix (docs/scaling.md "Order intake"). WEB_CONCURRENCY and
# GUNICORN_THREADS override it on a bigger machine.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
# Each worker (forked before it loads Django) opens its own psycopg connection pool (dom_project/settings.py).
os.environ.setdefault("DB_POOL", "1")

_frozen_after_first_request = False


def on_starting(server) -> None:
    """Build the per-process indexes once in the master, before it forks: every worker inherits them
    (copy-on-write, frozen below) instead of building its own on its first order."""
    from common.geo import zip_index

    zip_index()


def _freeze() -> None:
    """Move every object alive now into the collector's permanent generation: full collections then walk
    only what requests allocate since, instead of pausing one request in a few hundred for tens of
    milliseconds (measured: 84 ms of CPU per full pass over a warmed-up worker) to walk the whole app."""
    gc.collect()
    gc.freeze()


def post_worker_init(worker) -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 — import every view module before freezing
    _freeze()


def post_request(worker, req, environ, resp) -> None:
    # The first request imports what Django and DRF load lazily (renderers, parsers, …): freeze once more.
    global _frozen_after_first_request
    if not _frozen_after_first_request:
        _frozen_after_first_request = True
        _freeze()
