"""The KPI rollup: observations summed per KPI, day and channel or location, refreshed by a schedule.

The dashboard reads only these rows, so it costs the same on a thousand orders as on a million.
"""

from django.db import models
from django.db.models import Q


class KpiFact(models.Model):
    """Σnum, Σden and the count of one KPI's observations on one day, for one channel (location empty) or
    one location (channel empty). Duration KPIs keep one row per histogram bucket (`bucket` ≥ 0, num the
    summed seconds); other KPIs use bucket -1."""

    kpi = models.CharField(max_length=32)
    day = models.DateField()
    channel = models.ForeignKey("orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    bucket = models.SmallIntegerField(default=-1)
    num = models.FloatField()
    den = models.FloatField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "day", "channel", "location", "bucket"],
                name="kpifact_unique_grain",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(channel__isnull=True) | Q(location__isnull=True), name="kpifact_one_dimension"
            ),
        ]
        indexes = [models.Index(fields=["day", "kpi"], name="kpifact_day_kpi")]

    def __str__(self) -> str:
        return f"{self.kpi} {self.day} ch={self.channel_id} loc={self.location_id} b={self.bucket}"


class RollupState(models.Model):
    """Singleton (pk=1): when the rollup was last refreshed and over which days; its row lock serialises
    refreshes so two workers never interleave a delete and an insert."""

    refreshed_at = models.DateTimeField(null=True, blank=True)
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="rollup_state_singleton")]

    def __str__(self) -> str:
        return f"KPI rollup refreshed {self.refreshed_at}"
