from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Sum
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_q.tasks import async_task

from common.csv import csv_response
from common.roles import INVENTORY_MANAGER, OPERATIONS, role_required
from inventory.feeds import wms_feeds_activate, wms_feeds_run_now
from inventory.imports import stock_import_create, stock_import_error_rows
from inventory.models import ImportMode, Location, StockImport, StockLevel, WmsFeed
from inventory.selectors import (
    inventory_accuracy,
    low_stock_products,
    wms_feeds_status,
)

ACCURACY_TARGET_PCT = 94


@role_required(INVENTORY_MANAGER, OPERATIONS)
def stock_overview(request):
    """Network stock at a glance: per location kind, and the products running low."""
    by_kind = (
        StockLevel.objects.filter(location__is_active=True)
        .values("location__kind")
        .annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"), skus=Count("id"))
        .order_by("location__kind")
    )
    return render(
        request,
        "inventory/overview.html",
        {
            "by_kind": by_kind,
            "low_stock": low_stock_products(limit=50),
            "location_count": Location.objects.filter(is_active=True).count(),
        },
    )


# --- Stock imports (upload page), shortages, accuracy ------------------------------------------------------


class StockImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8 (with or without BOM), header row required.")
    mode = forms.ChoiceField(choices=ImportMode.choices, initial=ImportMode.SNAPSHOT)
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True),
        required=False,
        to_field_name="code",
        help_text="Only for files without a location column.",
    )
    dry_run = forms.BooleanField(required=False, label="Dry run: validate only, apply nothing")
    force = forms.BooleanField(required=False, label="Apply even if this file was imported before")


@role_required(INVENTORY_MANAGER)
def stock_import_list(request):
    """Upload a stock file (it runs in the background) and see recent imports."""
    if request.method == "POST":
        form = StockImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            job = stock_import_create(
                fileobj=upload,
                name=upload.name,
                mode=form.cleaned_data["mode"],
                location=form.cleaned_data["location"],
                dry_run=form.cleaned_data["dry_run"],
                force=form.cleaned_data["force"],
                user=request.user,
            )
            transaction.on_commit(lambda: async_task("inventory.tasks.stock_import_run", job.pk))
            return redirect("inventory:import-detail", pk=job.pk)
    else:
        form = StockImportForm()
    return render(
        request,
        "inventory/imports.html",
        {"form": form, "imports": StockImport.objects.select_related("created_by", "location")[:25]},
    )


@role_required(INVENTORY_MANAGER)
def stock_import_detail(request, pk: int):
    """An import's progress (polled by htmx while it runs), result and errors."""
    job = get_object_or_404(StockImport.objects.select_related("location", "created_by"), pk=pk)
    template = "inventory/import_detail.html#progress" if request.htmx else "inventory/import_detail.html"
    return render(request, template, {"job": job})


@role_required(INVENTORY_MANAGER)
def stock_import_errors_csv(request, pk: int):
    """The error report as a CSV download."""
    job = get_object_or_404(StockImport, pk=pk)
    return csv_response(filename=f"import-{job.pk}-errors.csv", header=None, rows=stock_import_error_rows(job=job))


@role_required(INVENTORY_MANAGER, OPERATIONS)
def accuracy(request):
    """Inventory accuracy from cycle counts, per location and for the network."""
    default_units = int(settings.DOM.get("KPI_COUNT_TOLERANCE_UNITS", 0))
    try:
        days = max(1, min(int(request.GET.get("days", 90)), 3650))
        tolerance = max(0, int(request.GET.get("tolerance", default_units)))
    except ValueError:
        days, tolerance = 90, default_units
    network, rows = inventory_accuracy(since=timezone.now() - timedelta(days=days), tolerance_units=tolerance)
    return render(
        request,
        "inventory/accuracy.html",
        {"network": network, "rows": rows, "days": days, "tolerance": tolerance, "target": ACCURACY_TARGET_PCT},
    )


@role_required(INVENTORY_MANAGER, OPERATIONS)
def feed_list(request):
    """WMS feeds: last runs, lag and failures, with run now / pause / resume. No URL, folder or secret."""
    return render(request, "inventory/feeds.html", {"feeds": wms_feeds_status()})


@role_required(INVENTORY_MANAGER, OPERATIONS)
@require_POST
def feed_action(request, pk: int):
    """Run now, pause or resume one feed (the services in inventory.feeds), then back to the list."""
    feed = get_object_or_404(WmsFeed, pk=pk)
    action = request.POST.get("action", "")
    if action == "run":
        if wms_feeds_run_now(feed_ids=[feed.pk]):
            messages.success(request, f"Feed {feed.name}: a run is queued; it appears below when it finishes.")
        else:
            messages.error(request, f"Feed {feed.name} cannot run now: it is paused or it receives pushes.")
    elif action in ("pause", "resume"):
        wms_feeds_activate(feed_ids=[feed.pk], active=action == "resume")
        messages.success(request, f"Feed {feed.name} is {'paused' if action == 'pause' else 'running again'}.")
    else:
        return HttpResponseBadRequest("action: choose run, pause or resume.")
    return redirect("inventory:feeds")
