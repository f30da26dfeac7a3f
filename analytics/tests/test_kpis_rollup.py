"""The rollup agrees with the KPIs computed live: totals, p90, breakdowns by channel and location, previous
period; refreshing twice changes nothing; a real django-q2 cluster runs the refresh task."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from analytics.models import KpiFact, RollupState
from analytics.registry import KPIS
from analytics.selectors import Period, dashboard_read, kpi_live
from analytics.services import kpi_rollup_refresh
from analytics.tests.history import DAY0, at, decision_make, fo_make, order_make, shipment_make
from conftest import wait_for
from routing.models import LocationCapacity

WEEK = Period(DAY0, DAY0 + timedelta(days=6))


def build_history(*, web, marketplace, product, product_b, dc, store, base=at):
    for i, (channel, location, hours) in enumerate(
        [(web, dc, 3), (web, dc, 30), (marketplace, store, 8), (marketplace, dc, 70), (web, store, 1)]
    ):
        order = order_make(
            channel=channel,
            placed=base(i % 3),
            lines=[(product, 2, 2, 0, i % 2), (product_b, 1, 1, 0, 0)],
            promised=(base(i % 3) + timedelta(days=2)).date(),
        )
        fo = fo_make(order=order, location=location, cost=str(5 + i), short=1 if i == 3 else 0)
        shipment_make(
            fo=fo,
            shipped=base(i % 3, hours=hours),
            delivered=base(i % 3, hours=hours + 24 * (1 + i % 3)),
            cost="7.5" if i == 2 else "0",
        )
        decision_make(order=order, made=base(i % 3, hours=0.1), optimal=i != 4)
    pickup = order_make(channel=web, placed=base(1), lines=[(product, 1, 0, 0, 0)], method="pickup")
    fo_make(order=pickup, location=store, method="pickup", status="expired", ready_at=base(1, 2), expired_at=base(4))
    cancelled = order_make(channel=web, placed=base(2), lines=[(product, 1, 0, 1, 0)], status="cancelled")
    assert cancelled.pk
    LocationCapacity.objects.create(location=dc, day=base(0).date(), capacity=10, used=4)
    LocationCapacity.objects.create(location=store, day=base(1).date(), capacity=4, used=4)


@pytest.fixture
def history(web, marketplace, product, product_b, dc, store):
    build_history(web=web, marketplace=marketplace, product=product, product_b=product_b, dc=dc, store=store)


@pytest.mark.django_db
def test_empty_rollup_reads_as_no_values():
    kpi_rollup_refresh(first=WEEK.first, last=WEEK.last)
    board = dashboard_read(period=WEEK)
    assert [row.current.value for row in board.rows] == [None] * len(KPIS)
    assert board.channels == [] and board.locations == []


@pytest.mark.django_db
def test_rollup_matches_live_figures(history, web, marketplace, dc, store):
    state = kpi_rollup_refresh(first=WEEK.first - timedelta(days=7), last=WEEK.last)
    rows = KpiFact.objects.count()
    assert state.rows == rows > 0
    board = dashboard_read(period=WEEK)
    for row in board.rows:
        live = kpi_live(code=row.kpi.code, period=WEEK)
        assert row.current.value == pytest.approx(live.value), row.kpi.code
        assert row.current.p90 == pytest.approx(live.p90), row.kpi.code
        assert row.current.count == live.count, row.kpi.code
        assert row.previous.value is None  # nothing happened the week before
        for channel in (web, marketplace):
            live_c = kpi_live(code=row.kpi.code, period=WEEK, channel_id=channel.pk)
            got = row.by_channel.get(channel.pk)
            assert (got.value if got else None) == pytest.approx(live_c.value), (row.kpi.code, channel.code)
        for location in (dc, store):
            live_l = kpi_live(code=row.kpi.code, period=WEEK, location_id=location.pk)
            got = row.by_location.get(location.pk)
            assert (got.value if got else None) == pytest.approx(live_l.value), (row.kpi.code, location.code)
    values = {row.kpi.code: row.current.value for row in board.rows}
    assert values["order_cycle_time"] == pytest.approx(8.0)  # 1, 3, 8, 30, 70 hours
    assert values["split_rate"] == pytest.approx(1.0)
    assert values["bopis_no_show"] == pytest.approx(100.0)
    assert values["cancellation_rate"] == pytest.approx(100 / 7)
    assert values["capacity_utilisation"] == pytest.approx(100 * 8 / 14)
    # The trend has one point per day of a week-long period.
    assert len(board.rows[0].trend) == 7

    # Refreshing again replaces, never duplicates.
    kpi_rollup_refresh(first=WEEK.first - timedelta(days=7), last=WEEK.last)
    assert KpiFact.objects.count() == rows


@pytest.mark.django_db
def test_previous_period_and_refresh_of_part_of_the_range(history):
    kpi_rollup_refresh(first=WEEK.first, last=WEEK.last)
    later = Period(WEEK.first + timedelta(days=7), WEEK.last + timedelta(days=7))
    board = dashboard_read(period=later)
    by_code = {row.kpi.code: row for row in board.rows}
    assert by_code["order_cycle_time"].current.value is None
    assert by_code["order_cycle_time"].previous.value == pytest.approx(8.0)
    # Refreshing only the first day leaves the other days' rows alone.
    before = KpiFact.objects.exclude(day=WEEK.first).count()
    kpi_rollup_refresh(first=WEEK.first, last=WEEK.first)
    assert KpiFact.objects.exclude(day=WEEK.first).count() == before


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_refresh_task_runs_on_a_real_cluster(qcluster, web, marketplace, product, product_b, dc, store):
    now = timezone.now().replace(microsecond=0)
    today0 = now - timedelta(hours=now.hour, minutes=now.minute, seconds=now.second)

    def base(days=0, hours=0):  # everything from yesterday's midnight (the task refreshes today and yesterday)
        return today0 - timedelta(days=1) + timedelta(hours=hours)

    build_history(web=web, marketplace=marketplace, product=product, product_b=product_b, dc=dc, store=store, base=base)
    async_task("analytics.tasks.refresh_recent_kpis")
    state = wait_for(
        lambda: RollupState.objects.filter(pk=1, refreshed_at__isnull=False).first(), what="the KPI refresh task"
    )
    assert state.first_day == timezone.localdate() - timedelta(days=1)
    assert KpiFact.objects.filter(kpi="order_cycle_time").exists()
