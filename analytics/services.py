"""Writes of the analytics app: refreshing the KPI rollup from the KPI selectors of each app."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from analytics.models import KpiFact, RollupState
from analytics.registry import DURATION, KPIS, Acc, as_number, bucket_of
from common.bulk import rows_insert

COLUMNS = ["kpi", "day", "channel_id", "location_id", "bucket", "num", "den", "count"]


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the current time zone (the zone KPI days are counted in)."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def kpi_rollup_refresh(*, first: date, last: date) -> RollupState:
    """Recompute the rollup rows of every KPI for the days first..last (inclusive) from the observations
    the apps' KPI selectors yield, replacing what was there. One transaction: readers see the old rows or
    the new ones. Idempotent, and serialised by the RollupState row lock, so a schedule may run it twice."""
    if last < first:
        raise ValueError(f"The last day ({last}) is before the first ({first}).")
    t0 = time.perf_counter()
    start, end = day_start(first), day_start(last + timedelta(days=1))
    with transaction.atomic():
        RollupState.objects.get_or_create(pk=1)
        state = RollupState.objects.select_for_update().get(pk=1)
        sums: dict[tuple, Acc] = defaultdict(Acc)
        for kpi in KPIS:
            observations = kpi.observations(start=start, end=end)
            if hasattr(observations, "iterator"):
                observations = observations.iterator(chunk_size=5000)
            for ob in observations:
                num, den = as_number(ob["num"]), as_number(ob["den"])
                bucket = bucket_of(num) if kpi.kind == DURATION else -1
                if ob["channel_id"] is not None:
                    sums[(kpi.code, ob["day"], ob["channel_id"], None, bucket)].add(num=num, den=den)
                if ob["location_id"] is not None:
                    sums[(kpi.code, ob["day"], None, ob["location_id"], bucket)].add(num=num, den=den)
        KpiFact.objects.filter(day__gte=first, day__lte=last).delete()
        rows = rows_insert(
            table=KpiFact._meta.db_table,
            columns=COLUMNS,
            rows=((*key, acc.num, acc.den, acc.count) for key, acc in sums.items()),
        )
        state.refreshed_at = timezone.now()
        state.first_day, state.last_day = first, last
        state.rows, state.seconds = rows, round(time.perf_counter() - t0, 3)
        state.save()
    return state


def kpi_rollup_refresh_recent(*, days: int) -> RollupState:
    """Refresh the last `days` days up to today (the schedules' entry point)."""
    today = timezone.localdate()
    return kpi_rollup_refresh(first=today - timedelta(days=days - 1), last=today)
