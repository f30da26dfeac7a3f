"""Demand forecasts and the safety stock they propose. A schedule (`inventory.tasks.forecasts_refresh`) fits a
forecast per product × location and per product over the network from the daily units reserved for orders,
and turns each location's forecast error into a proposed safety stock; an inventory manager approves or
rejects each proposal on the safety-stock screen. Nothing is applied without that decision."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from inventory.forecasting import MODEL_NAME, forecasts_fit, forecasts_fit_naive, safety_stock_units
from inventory.models import (
    DemandForecast,
    InventoryMovement,
    Location,
    Product,
    SafetyStockProposal,
    SafetyStockRule,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

HISTORY_DAYS = 364
HORIZON_DAYS = 14
HOLDOUT_DAYS = 28
SERVICE_LEVEL = 0.95
LEAD_TIME_DAYS = 7.0
# The statsforecast model is fitted for the busiest series only (it costs ~0.2 s of CPU per series and fit);
# the rest are forecast by the seasonal-naive baseline.
MODEL_SERIES_MAX = 300
DECISIONS = ("approve", "reject")


@dataclass(frozen=True, slots=True)
class RefreshResult:
    forecasts: int
    proposals: int
    modelled: int  # series forecast by the model (the rest: seasonal naive)


def _demand_history(*, start: date, end: date) -> dict[tuple[int, int | None], np.ndarray]:
    """Daily units reserved for orders per (product, location) and per (product, None) for the network,
    from `start` to `end` inclusive, zeros on days without demand."""
    days = (end - start).days + 1
    rows = (
        InventoryMovement.objects.filter(
            reason=InventoryMovement.Reason.RESERVE,
            delta_reserved__gt=0,
            created_at__date__gte=start,
            created_at__date__lte=end,
        )
        .annotate(day=TruncDate("created_at"))
        .values_list("product_id", "location_id", "day")
        .annotate(units=Sum("delta_reserved"))
    )
    series: dict[tuple[int, int | None], np.ndarray] = defaultdict(lambda: np.zeros(days))
    for pid, lid, day, units in rows:
        i = (day - start).days
        series[(pid, lid)][i] += units
        series[(pid, None)][i] += units
    return dict(series)


def _fit(*, history: dict, horizon: int, model_max: int) -> dict:
    busiest = set(sorted(history, key=lambda k: (-float(history[k].sum()), str(k)))[:model_max])
    fitted = forecasts_fit(series={k: history[k] for k in busiest}, horizon=horizon, holdout=HOLDOUT_DAYS)
    rest = {k: v for k, v in history.items() if k not in busiest}
    fitted.update(forecasts_fit_naive(series=rest, horizon=horizon, holdout=HOLDOUT_DAYS))
    return fitted


def forecasts_refresh(
    *,
    today: date | None = None,
    history_days: int = HISTORY_DAYS,
    horizon_days: int = HORIZON_DAYS,
    service_level: float = SERVICE_LEVEL,
    lead_time_days: float = LEAD_TIME_DAYS,
    model_max: int = MODEL_SERIES_MAX,
) -> RefreshResult:
    """Forecast every product × location (and product over the network) with demand in the last
    `history_days`, store the forecasts, and propose a safety stock per product × location (pending, for an
    inventory manager) wherever it differs from the product × location rule in force."""
    if history_days < 1 or horizon_days < 1 or lead_time_days < 0 or not 0.5 <= service_level < 1:
        raise ValidationError("history and horizon ≥ 1 day, lead time ≥ 0, service level in [0.5, 1).")
    end = (today or timezone.localdate()) - timedelta(days=1)
    start = end - timedelta(days=history_days - 1)
    history = _demand_history(start=start, end=end)
    fitted = _fit(history=history, horizon=horizon_days, model_max=model_max)
    modelled = sum(f.model == MODEL_NAME for f in fitted.values())
    now = timezone.now()
    with transaction.atomic():
        _forecasts_store(fitted=fitted, now=now, history_days=history_days)
        proposals = _proposals_make(fitted=fitted, service_level=service_level, lead_time_days=lead_time_days)
    return RefreshResult(forecasts=len(fitted), proposals=proposals, modelled=modelled)


def _forecasts_store(*, fitted: dict, now: datetime, history_days: int) -> None:
    DemandForecast.objects.all().delete()
    DemandForecast.objects.bulk_create(
        [
            DemandForecast(
                product_id=pid,
                location_id=lid,
                made_at=now,
                history_days=history_days,
                daily=list(f.forecast),
                daily_mean=f.daily_mean,
                sigma=f.sigma,
                wape=f.wape,
                wape_naive=f.wape_naive,
                model=f.model,
            )
            for (pid, lid), f in fitted.items()
        ],
        batch_size=1000,
    )


def _proposals_make(*, fitted: dict, service_level: float, lead_time_days: float) -> int:
    rules = {
        (pid, lid): q
        for pid, lid, q in SafetyStockRule.objects.filter(
            product__isnull=False, location__isnull=False, location_kind=""
        ).values_list("product_id", "location_id", "quantity")
    }
    new = []
    for (pid, lid), f in fitted.items():
        if lid is None:
            continue
        units = safety_stock_units(sigma=f.sigma, service_level=service_level, lead_time_days=lead_time_days)
        current = rules.get((pid, lid))
        if units == (current or 0):
            continue
        new.append(
            SafetyStockProposal(
                product_id=pid,
                location_id=lid,
                current_quantity=current,
                proposed_quantity=units,
                service_level=service_level,
                lead_time_days=lead_time_days,
                sigma=round(f.sigma, 4),
                daily_mean=round(f.daily_mean, 4),
            )
        )
    SafetyStockProposal.objects.filter(status=SafetyStockProposal.Status.PENDING).update(
        status=SafetyStockProposal.Status.SUPERSEDED
    )
    SafetyStockProposal.objects.bulk_create(new, batch_size=1000)
    return len(new)


def safety_stock_rule_set(*, product: Product, location: Location, quantity: int, note: str = "") -> None:
    """The product × location safety-stock rule: `quantity` units held back from online orders; 0 removes it."""
    if quantity < 0:
        raise ValidationError({"quantity": "Safety stock cannot be negative."})
    rule = SafetyStockRule.objects.filter(product=product, location=location, location_kind="").first()
    if quantity > 0:
        if rule is None:
            SafetyStockRule.objects.create(product=product, location=location, quantity=quantity, note=note)
        else:
            rule.quantity, rule.note = quantity, note
            rule.save(update_fields=["quantity", "note"])
    elif rule is not None:
        rule.delete()


def safety_stock_proposal_decide(
    *, proposal_id: int, decision: str, actor: AbstractBaseUser | None, note: str = ""
) -> SafetyStockProposal:
    """Approve (the product × location rule becomes the proposed units) or reject a pending proposal."""
    if decision not in DECISIONS:
        raise ValidationError({"decision": [f"Choose one of {', '.join(DECISIONS)}."]})
    if len(note) > 200 or "\x00" in note:
        raise ValidationError({"note": ["A note is plain text of at most 200 characters."]})
    with transaction.atomic():
        proposal = SafetyStockProposal.objects.select_for_update().filter(pk=proposal_id).first()
        if proposal is None:
            raise ValidationError({"proposal": ["This proposal no longer exists; nothing changed."]})
        if proposal.status != SafetyStockProposal.Status.PENDING:
            what = f"{proposal.product.sku} at {proposal.location.name}"
            state = proposal.get_status_display().lower()
            raise ValidationError({"proposal": [f"The proposal for {what} is already {state}; nothing changed."]})
        if decision == "approve":
            safety_stock_rule_set(
                product=proposal.product,
                location=proposal.location,
                quantity=proposal.proposed_quantity,
                note=f"Forecast proposal {proposal.pk} ({proposal.service_level:.0%} service level)",
            )
            proposal.status = SafetyStockProposal.Status.APPROVED
        else:
            proposal.status = SafetyStockProposal.Status.REJECTED
        proposal.decided_at = timezone.now()
        proposal.decided_by = actor if getattr(actor, "pk", None) else None
        proposal.note = note
        proposal.save(update_fields=["status", "decided_at", "decided_by", "note"])
    return proposal
