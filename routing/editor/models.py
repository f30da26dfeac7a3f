"""Models of the merchandiser rule editor: the audit trail of every editor action and the what-if
`Simulation` record. Imported by `routing.models` so they belong to the routing app.

The behaviour lives in `routing.editor` (edits, publish, rollback), `routing.editor.simulation` (the what-if run)
and `routing.editor.selectors` (reads).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class RuleSetEvent(models.Model):
    """One action in the editor, with who did it, when, and the optional comment they gave."""

    class Action(models.TextChoices):
        DRAFT_CREATED = "draft_created", "Draft created"
        DRAFT_DISCARDED = "draft_discarded", "Draft discarded"
        RULE_ADDED = "rule_added", "Rule added"
        RULE_CHANGED = "rule_changed", "Rule changed"
        RULE_ENABLED = "rule_enabled", "Rule enabled"
        RULE_DISABLED = "rule_disabled", "Rule disabled"
        RULE_DELETED = "rule_deleted", "Rule deleted"
        RULES_REORDERED = "rules_reordered", "Rules reordered"
        PUBLISHED = "published", "Published"
        ROLLED_BACK = "rolled_back", "Rolled back"
        SIMULATION_STARTED = "simulation_started", "Simulation started"
        ORDER_TESTED = "order_tested", "Order tested"

    rule_set = models.ForeignKey("routing.RuleSet", on_delete=models.CASCADE, related_name="events")
    version = models.ForeignKey(
        "routing.RuleSetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    action = models.CharField(max_length=24, choices=Action.choices)
    summary = models.CharField(max_length=500)
    comment = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["rule_set", "-id"], name="rulesetevent_set_latest")]

    def __str__(self) -> str:
        return f"{self.rule_set_id} {self.action} {self.summary[:40]}"


class RuleLineage(models.Model):
    """Which rules are "the same rule" across versions: a draft's copy of a rule carries its key, so the diff
    can tell a renamed-and-changed rule from a removed one and an added one."""

    rule = models.OneToOneField("routing.RoutingRule", on_delete=models.CASCADE, related_name="lineage")
    key = models.UUIDField(db_index=True)

    def __str__(self) -> str:
        return f"{self.rule_id} ~ {self.key}"


class Simulation(models.Model):
    """A what-if run: past orders routed by a draft and by the published version, side by side, on a
    snapshot of today's stock and capacity. Only this row is written; live data is never touched."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    rule_set = models.ForeignKey("routing.RuleSet", on_delete=models.CASCADE, related_name="simulations")
    draft = models.ForeignKey("routing.RuleSetVersion", on_delete=models.CASCADE, related_name="simulations")
    baseline = models.ForeignKey(
        "routing.RuleSetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="baseline_simulations",
        help_text="The published version the draft is compared with (none: no rules).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # {"source": "range"|"csv", "date_from", "date_to", "channel", "filename"}
    params = models.JSONField(default=dict, blank=True)
    order_ids = models.JSONField(default=list, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # {"draft": totals, "published": totals, "changed": [...], "changed_count": n, "snapshot_at": iso, ...}
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_done__lte=F("progress_total")), name="simulation_progress_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"Simulation {self.pk} of {self.draft_id} ({self.status})"

    @property
    def progress_pct(self) -> int:
        if not self.progress_total:
            return 100 if self.status == self.Status.DONE else 0
        return int(100 * self.progress_done / self.progress_total)
