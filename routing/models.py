"""Routing: rules as data (rule sets, versions, rules), the rate tables of the cost model, daily capacity per
location, and the explained decision written for every routing of an order.

The behaviour lives elsewhere: `routing.rules` (grammar, validation, action registry, compilation),
`routing.core` (the pure decision), `routing.services` (writes) and `routing.selectors` (reads).
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class RuleSet(models.Model):
    """A named set of routing rules with versions; the active rule set's published version routes orders."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=False, help_text="The rule set the engine applies (only one).")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="ruleset_one_active"),
        ]

    def __str__(self) -> str:
        return self.name


class RuleSetVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rule_set", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "number"], name="ruleset_version_unique_number"),
            # Exactly one published version per rule set (at most one by the database; publishing swaps).
            models.UniqueConstraint(
                fields=["rule_set"], condition=Q(status="published"), name="ruleset_one_published_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_set.code} v{self.number} ({self.status})"


class RoutingRule(models.Model):
    """One rule: when `conditions` match the order, apply `action`. Validated on save (see routing.rules)."""

    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="rules")
    priority = models.IntegerField(default=100, help_text="Lower runs first.")
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    conditions = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"all": [{"field": "order.channel", "op": "eq", "value": "web"}]}'
    )
    action = models.JSONField(help_text='e.g. {"type": "exclude", "kinds": ["store"]}')

    class Meta:
        ordering = ["version", "priority", "id"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.name}"

    def save(self, *args, **kwargs):
        from routing.rules import rule_validate

        if self.version_id and self.version.status != RuleSetVersion.Status.DRAFT:
            raise ValidationError(
                f"Rule set version {self.version} is {self.version.status}; edit a draft copy and publish it."
            )
        rule_validate(conditions=self.conditions, action=self.action)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from routing.rules import rule_validate

        if self.version_id and self.version.status != RuleSetVersion.Status.DRAFT:
            raise ValidationError(f"{self.version} is {self.version.status}; copy it as a draft to change its rules.")
        rule_validate(conditions=self.conditions, action=self.action)


class RoutingSettings(models.Model):
    """Singleton (pk=1): global cost-model settings and the revision token that invalidates every
    process's cached rules, rates and network when anything they depend on changes."""

    split_penalty = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("2.00"), help_text="Cost per shipment beyond the first."
    )
    late_penalty = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("3.00"),
        help_text="Cost added to a standard-service shipment that would miss the promised date "
        "(express and overnight never miss: late locations are excluded).",
    )
    pickup_ready_hours = models.PositiveIntegerField(default=2, help_text="Hours a store needs to ready a pickup.")
    lookahead_horizon_hours = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("4.00"),
        help_text="Look-ahead: hours of a store's own future demand a scarce store unit is priced against "
        "(a bid price added to the optimizer's objective, never to the real cost; 0 switches it off).",
    )
    lookahead_history_hours = models.PositiveIntegerField(
        default=24, help_text="Look-ahead: hours of recent orders the demand forecast is drawn from."
    )
    revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = "routing settings"
        verbose_name_plural = "routing settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="routing_settings_singleton")]

    def __str__(self) -> str:
        return "Routing settings"

    def save(self, *args, **kwargs):
        import secrets

        self.pk = 1
        self.revision = secrets.randbits(62)  # invalidates every process's cached network
        super().save(*args, **kwargs)


class CarrierService(models.Model):
    """A service level's rate table: the bands below give cost per package, per kg and transit days."""

    service_level = models.CharField(max_length=16, unique=True, help_text="standard, express, overnight, same_day")
    name = models.CharField(max_length=100)
    max_km = models.FloatField(null=True, blank=True, help_text="Beyond this distance the service is infeasible.")

    class Meta:
        ordering = ["service_level"]

    def __str__(self) -> str:
        return self.name


class RateBand(models.Model):
    service = models.ForeignKey(CarrierService, on_delete=models.CASCADE, related_name="bands")
    max_km = models.FloatField(null=True, blank=True, help_text="Upper bound of the band; blank = no bound.")
    base = models.DecimalField(max_digits=8, decimal_places=2, help_text="$ per package")
    per_kg = models.DecimalField(max_digits=8, decimal_places=2, help_text="$ per kg")
    transit_days = models.PositiveIntegerField(help_text="Business days in transit")

    class Meta:
        ordering = ["service", F("max_km").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "max_km"], name="rateband_unique_service_max_km", nulls_distinct=False
            ),
            models.CheckConstraint(condition=Q(base__gte=0) & Q(per_kg__gte=0), name="rateband_costs_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.service.service_level} ≤ {self.max_km or '∞'} km"


class RateCard(models.Model):
    """A carrier's rate card, one version of it: the price table by service, zone and weight break (its
    `prices`) and the surcharges. Routing prices with the latest version whose `effective_from` has come
    (the network snapshot loads it once; see routing.ratecard for how a package is priced)."""

    carrier = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    effective_from = models.DateField(db_index=True, help_text="Routing uses this version from this day on.")
    note = models.CharField(max_length=300, blank=True)
    fuel_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("15.00"), help_text="Fuel surcharge, % of every charge."
    )
    residential = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("5.50"), help_text="$ per parcel to a home."
    )
    remote_area = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("3.80"), help_text="$ per parcel to a remote-area ZIP3."
    )
    remote_zip3s = models.TextField(blank=True, help_text="Remote-area ZIP3 prefixes, separated by spaces or commas.")
    additional_handling = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("28.00"), help_text="$ per unit over the weight or length."
    )
    handling_over_lb = models.DecimalField(max_digits=6, decimal_places=1, default=Decimal("50.0"))
    handling_over_in = models.DecimalField(max_digits=6, decimal_places=1, default=Decimal("48.0"))
    oversize = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("110.00"), help_text="$ per unit over length + girth."
    )
    oversize_over_in = models.DecimalField(
        max_digits=6, decimal_places=1, default=Decimal("130.0"), help_text="Length + girth (inches)."
    )
    dim_divisor = models.DecimalField(
        max_digits=6, decimal_places=1, default=Decimal("139.0"), help_text="Dimensional weight = L×W×H / this."
    )
    light_parcel_max_lb = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1.00"))
    truck_run_cost = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("350.00"), help_text="$ per scheduled truck run to a store."
    )
    truck_units_per_run = models.PositiveIntegerField(default=500, help_text="Units a run's cost is shared by.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "version"], name="ratecard_unique_carrier_version"),
            models.CheckConstraint(
                condition=Q(fuel_pct__gte=0) & Q(residential__gte=0) & Q(remote_area__gte=0) & Q(dim_divisor__gt=0),
                name="ratecard_figures_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} v{self.version} (from {self.effective_from})"


class RateCardPrice(models.Model):
    """One cell of a rate card: a service in a zone up to a weight break: base for the first pound, then per
    further pound."""

    class Service(models.TextChoices):
        LIGHT_PARCEL = "light_parcel", "Light parcel (under the light-parcel limit)"
        GROUND = "ground", "Ground"
        EXPRESS = "express", "Express (2 days)"
        OVERNIGHT = "overnight", "Overnight"

    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="prices")
    service = models.CharField(max_length=16, choices=Service.choices)
    zone = models.PositiveSmallIntegerField(help_text="2–8 by distance, 9 Alaska/Hawaii/territories.")
    max_lb = models.PositiveIntegerField(null=True, blank=True, help_text="Weight break; blank = no bound.")
    base = models.DecimalField(max_digits=8, decimal_places=2, help_text="$ for the first pound")
    per_lb = models.DecimalField(max_digits=8, decimal_places=2, help_text="$ per further pound")
    transit_days = models.PositiveSmallIntegerField(help_text="Business days in transit")

    class Meta:
        ordering = ["card", "service", "zone", F("max_lb").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(
                fields=["card", "service", "zone", "max_lb"], name="ratecardprice_unique_cell", nulls_distinct=False
            ),
            models.CheckConstraint(condition=Q(zone__gte=2) & Q(zone__lte=9), name="ratecardprice_zone_2_9"),
            models.CheckConstraint(condition=Q(base__gte=0) & Q(per_lb__gte=0), name="ratecardprice_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.service} zone {self.zone} ≤ {self.max_lb or '∞'} lb"


class LocationCapacity(models.Model):
    """Orders a location can still take on one (local) ship day; consumed atomically, like stock."""

    location = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="capacity_days")
    day = models.DateField()
    capacity = models.PositiveIntegerField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "location"]
        constraints = [
            models.UniqueConstraint(fields=["location", "day"], name="capacity_unique_location_day"),
            models.CheckConstraint(condition=Q(used__lte=F("capacity")), name="capacity_used_le_capacity"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day}: {self.used}/{self.capacity}"


class RoutingDecision(models.Model):
    """Why an order (or part of it) went where it went: the explanation, kept for every routing."""

    class Kind(models.TextChoices):
        ROUTE = "route", "Route"
        REROUTE = "reroute", "Re-route"

    class Outcome(models.TextChoices):
        ROUTED = "routed", "Routed in full"
        PARTIAL = "partial", "Partly routed, rest backordered"
        BACKORDERED = "backordered", "Backordered"

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="routing_decisions")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ROUTE)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    rule_set_version = models.ForeignKey(RuleSetVersion, null=True, blank=True, on_delete=models.SET_NULL)
    service_level = models.CharField(max_length=16)
    method = models.CharField(max_length=16)
    rules_fired = models.JSONField(default=list)
    # {"line_ids": [...], "quantities": [...], "rows": [[...CANDIDATE_COLUMNS...], ...]}
    candidates = models.JSONField(default=dict)
    # {"by_reason": {reason: [location ids]}, "others_without_stock": n}
    excluded = models.JSONField(default=dict)
    plan = models.JSONField(default=list)
    unplaced = models.JSONField(default=dict)
    notes = models.JSONField(default=list)
    promise_date = models.DateField(null=True, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    model_cost = models.DecimalField(
        max_digits=10, decimal_places=2, default=0, help_text="Cost-model cost (without rule adjustments)."
    )
    oracle_cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    optimal = models.BooleanField(default=True)
    compute_ms = models.FloatField(default=0)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "-id"], name="decision_order_latest")]

    def __str__(self) -> str:
        return f"Decision {self.pk} for order {self.order_id} ({self.outcome})"


# The rule editor's audit trail and what-if simulations (owned by the editor; see routing/editor/models.py).
from routing.editor.models import RuleLineage, RuleSetEvent, Simulation  # noqa: E402, F401
