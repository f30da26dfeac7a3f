"""django-q2 entry points. Thin: they take primary keys, call services and are safe to run twice."""

from inventory.services import reservation_expire_due


def expire_reservations() -> int:
    return reservation_expire_due()


def stock_import_run(import_id: int) -> str:
    """Run an uploaded stock file; a finished import is left as it is."""
    from inventory.imports import stock_import_run as run

    return run(import_id=import_id).status


def wms_feed_run(feed_id: int) -> list[int]:
    """One scheduled pass of a WMS feed (inbox files or one pull)."""
    from inventory.feeds import wms_feed_run as run

    return [r.pk for r in run(feed_id=feed_id)]


def forecasts_refresh() -> str:
    """The daily forecast run: forecasts stored, safety-stock proposals waiting for an inventory manager."""
    from inventory.services import forecasts_refresh as refresh

    r = refresh()
    return f"{r.forecasts} forecasts ({r.modelled} modelled), {r.proposals} proposals"
