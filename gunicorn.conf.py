"""gunicorn settings read from the project directory (`gunicorn dom_project.wsgi …` started here picks it up);
command-line options still win."""

import gc


def post_worker_init(worker) -> None:
    """Move everything the worker loaded (Django, the URLconf, the views) into the collector's permanent
    generation: full collections then only walk what requests allocate, instead of pausing a request for
    tens of milliseconds every few hundred requests to walk the whole application."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 — import every view module before freezing
    gc.collect()
    gc.freeze()
