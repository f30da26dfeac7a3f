"""Screens of the merchandiser rule editor (Merchandiser and Operations only). Thin: they parse input, call
`routing.editor` / `routing.editor.simulation` (writes) and `routing.editor.selectors` (reads), and render
templates/routing/editor/*; htmx requests get the partial they replace."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from common.csv import csv_response
from common.roles import MERCHANDISER, OPERATIONS, role_required
from routing.editor import services as editor
from routing.editor import simulation
from routing.editor.diff import RuleRow
from routing.editor.forms import rows_fill_options, rule_messages, state_entered, state_from_post, state_from_rule
from routing.editor.lint import version_lint
from routing.editor.models import Simulation
from routing.editor.selectors import (
    lint_context_load,
    order_find,
    orders_recent_search,
    pickers_load,
    publishers_by_version,
    rule_lines,
    rule_rows,
    ruleset_history,
    rulesets_list,
    simulation_no_change_reasons,
    simulations_for,
    version_diff,
    version_draft,
    version_lint_report,
    version_published,
)
from routing.models import RoutingRule, RuleSet, RuleSetVersion
from routing.rules import action_validate, conditions_validate
from routing.selectors import decision_explain

editor_roles = role_required(MERCHANDISER, OPERATIONS)


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


def _back(request, url: str):
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# ---------------------------------------------------------------------------------------------------------
# Rule sets and versions


@editor_roles
def editor_home(request):
    sets = rulesets_list()
    rows = []
    for rs in sets:
        published_by = publishers_by_version(rule_set=rs)
        rows.append(
            {
                "rule_set": rs,
                "versions": [(v, published_by.get(v.pk)) for v in rs.versions.all()],
                "draft": next((v for v in rs.versions.all() if v.status == RuleSetVersion.Status.DRAFT), None),
            }
        )
    return render(request, "routing/editor/home.html", {"rows": rows})


@editor_roles
@require_POST
def draft_create(request, rule_set_id: int):
    rule_set = get_object_or_404(RuleSet, pk=rule_set_id)
    try:
        draft = editor.ruleset_draft_create(
            rule_set=rule_set, actor=request.user, comment=request.POST.get("comment", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        existing = version_draft(rule_set=rule_set)
        return _back(
            request,
            reverse("routing:editor-version", args=[existing.pk]) if existing else reverse("routing:editor-home"),
        )
    messages.success(request, f"Draft v{draft.number} created from the published rules.")
    return _back(request, reverse("routing:editor-version", args=[draft.pk]))


def _version_context(version: RuleSetVersion) -> dict:
    is_draft = version.status == RuleSetVersion.Status.DRAFT
    lint = version_lint_report(version=version)
    diff = version_diff(version=version) if is_draft else None
    badges = diff.by_new_rule() if diff else {}
    lines = rule_lines(version=version)
    pub = publishers_by_version(rule_set=version.rule_set).get(version.pk)
    pickup_rules = [ln for ln in lines if ln.rule.enabled and ln.rule.action.get("type") == "pickup_fallback"]
    return {
        "version": version,
        "rule_set": version.rule_set,
        "is_draft": is_draft,
        "lines": [
            {"line": ln, "lint": lint.for_rule(ln.rule.pk), "badges": badges.get(ln.rule.pk, [])} for ln in lines
        ],
        "lint_count": len(lint.warnings),
        "diff": diff,
        "published": version_published(rule_set=version.rule_set),
        "draft": version_draft(rule_set=version.rule_set),
        "published_event": pub,
        "has_restrict": any(ln.rule.enabled and ln.rule.action.get("type") == "restrict" for ln in lines),
        "pickup_rules": pickup_rules,
    }


@editor_roles
def version_detail(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set", "created_by"), pk=version_id)
    ctx = _version_context(version)
    ctx["simulations"] = simulations_for(rule_set=version.rule_set, limit=10)
    if request.htmx and request.GET.get("partial") == "rules":
        return render(request, "routing/editor/version.html#rule-list", ctx)
    return render(request, "routing/editor/version.html", ctx)


def _rule_list(request, version: RuleSetVersion, error: str = ""):
    ctx = _version_context(version)
    ctx["list_error"] = error
    return render(request, "routing/editor/version.html#rule-list", ctx)


@editor_roles
@require_POST
def rule_toggle(request, rule_id: int):
    rule = get_object_or_404(RoutingRule.objects.select_related("version__rule_set"), pk=rule_id)
    error = ""
    try:
        editor.rule_enable(rule=rule, enabled=request.POST.get("enabled") in ("on", "true", "1"), actor=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        return _rule_list(request, rule.version, error)
    if error:
        messages.error(request, error)
    return redirect("routing:editor-version", rule.version_id)


@editor_roles
@require_POST
def rule_delete(request, rule_id: int):
    rule = get_object_or_404(RoutingRule.objects.select_related("version__rule_set"), pk=rule_id)
    version = rule.version
    error = ""
    try:
        editor.rule_delete(rule=rule, actor=request.user, comment=request.POST.get("comment", ""))
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        return _rule_list(request, version, error)
    if error:
        messages.error(request, error)
    return redirect("routing:editor-version", version.pk)


@editor_roles
@require_POST
def rules_reorder(request, version_id: int):
    """Persist a new order: `order` = comma-separated rule ids (drag and drop), or `move` = rule id with
    `direction` up/down (buttons)."""
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    ids = [r.id for r in rule_rows(version=version)]
    error = ""
    try:
        if request.POST.get("order"):
            try:
                ids = [int(x) for x in request.POST["order"].split(",") if x.strip()]
            except ValueError as exc:
                raise ValidationError("The new order must be a list of rule ids.") from exc
        elif request.POST.get("move"):
            rid = int(request.POST["move"])
            i = ids.index(rid) if rid in ids else -1
            j = i - 1 if request.POST.get("direction") == "up" else i + 1
            if i >= 0 and 0 <= j < len(ids):
                ids[i], ids[j] = ids[j], ids[i]
        editor.rules_reorder(version=version, rule_ids=ids, actor=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        return _rule_list(request, version, error)
    if error:
        messages.error(request, error)
    return redirect("routing:editor-version", version.pk)


@editor_roles
@require_POST
def draft_discard(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    try:
        editor.ruleset_draft_discard(version=version, actor=request.user, comment=request.POST.get("comment", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request, reverse("routing:editor-version", args=[version.pk]))
    messages.success(request, f"Draft v{version.number} discarded.")
    return _back(request, reverse("routing:editor-home"))


# ---------------------------------------------------------------------------------------------------------
# The rule form (condition builder + action editor)


def _form_context(
    *, version: RuleSetVersion, rule: RoutingRule | None, state, check: bool, complete: bool = True
) -> dict:
    """`check`: validate at all (not on a fresh form). `complete`: also report missing input (Check / Save);
    otherwise only what has been entered is validated, so nothing is red before the user types."""
    errors: dict[str, list[str]] = {}
    lint = []
    if complete:
        conditions, action = state.conditions(), state.action()
    else:
        conditions, action = state_entered(state=state)
    if state.json_error:
        errors["conditions"] = [state.json_error]
    if check:
        if complete and not state.name.strip():
            errors.setdefault("name", []).append("Give the rule a name, e.g. “Hazmat only from DCs”.")
        found: dict[str, list[str]] = {}
        if conditions is not None and (c := conditions_validate(conditions)):
            found["conditions"] = c
        if action is not None and (a := action_validate(action)):
            found["action"] = a
        for k, v in rule_messages(errors=found).items():
            errors.setdefault(k, []).extend(v)
        if conditions is not None and action is not None and not errors.get("conditions") and not errors.get("action"):
            # Lint this rule as it would sit in the draft (replacing itself, or appended at the end).
            rows = [r for r in rule_rows(version=version) if rule is None or r.id != rule.pk]
            me = RuleRow(
                id=rule.pk if rule else 0,
                name=state.name or "(this rule)",
                priority=rule.priority if rule else 10**9,
                enabled=state.enabled,
                conditions=conditions,
                action=action,
            )
            rows.append(me)
            lint = version_lint(rules=rows, ctx=lint_context_load(rows=rows)).for_rule(me.id)
    pickers = pickers_load()
    rows_fill_options(state.rows, channels=pickers.channels, regions=pickers.regions)
    return {
        "version": version,
        "rule": rule,
        "st": state,
        "errors": errors,
        "lint": lint,
        "checked": check and complete,
        "pickers": pickers,
        "fields": [(k, spec.label) for k, spec in _fields()],
        "form_url": reverse("routing:editor-rule-form", args=[version.pk]),
        "save_url": reverse("routing:editor-rule-edit", args=[rule.pk])
        if rule
        else reverse("routing:editor-rule-new", args=[version.pk]),
    }


def _fields():
    from routing.rules import FIELDS

    return FIELDS.items()


@editor_roles
def rule_form_preview(request, version_id: int):
    """htmx: re-render the rule form from what is on screen, after a builder operation, with the model's
    validation messages and lint. Saves nothing."""
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    rule_id = request.POST.get("rule_id") or request.GET.get("rule_id")
    rule = get_object_or_404(RoutingRule, pk=rule_id, version=version) if rule_id else None
    state = state_from_post(request.POST, op=request.POST.get("op", ""))
    complete = request.POST.get("validate") == "1"
    ctx = _form_context(version=version, rule=rule, state=state, check=True, complete=complete)
    if request.GET.get("part") == "checks":
        return render(request, "routing/editor/_rule_checks.html", ctx)
    return render(request, "routing/editor/rule_form.html#rule-form", ctx)


def _rule_form_page(request, *, version: RuleSetVersion, rule: RoutingRule | None):
    if request.method == "POST":
        state = state_from_post(request.POST)
        conditions = state.conditions()
        try:
            if conditions is None:
                raise ValidationError({"conditions": [state.json_error]})
            if rule is None:
                editor.rule_add(
                    version=version,
                    name=state.name,
                    conditions=conditions,
                    action=state.action(),
                    enabled=state.enabled,
                    actor=request.user,
                    comment=state.comment,
                )
                messages.success(request, f"Rule “{state.name.strip()}” added.")
            else:
                editor.rule_update(
                    rule=rule,
                    name=state.name,
                    conditions=conditions,
                    action=state.action(),
                    enabled=state.enabled,
                    actor=request.user,
                    comment=state.comment,
                )
                messages.success(request, f"Rule “{state.name.strip()}” saved.")
        except ValidationError as exc:
            ctx = _form_context(version=version, rule=rule, state=state, check=True)
            for k, v in rule_messages(errors=_errors(exc)).items():
                for m in v:
                    if m not in ctx["errors"].get(k, []):
                        ctx["errors"].setdefault(k, []).append(m)
            template = "routing/editor/rule_form.html#rule-form" if request.htmx else "routing/editor/rule_form.html"
            return render(request, template, ctx, status=200 if request.htmx else 400)
        return _back(request, reverse("routing:editor-version", args=[version.pk]))
    if rule is None:
        state = state_from_rule(name="", enabled=True, conditions={}, action={"type": "exclude"})
        state.rows = state_from_post({"n": "1"}).rows  # start with one condition row
    else:
        state = state_from_rule(name=rule.name, enabled=rule.enabled, conditions=rule.conditions, action=rule.action)
    ctx = _form_context(version=version, rule=rule, state=state, check=rule is not None)
    return render(request, "routing/editor/rule_form.html", ctx)


@editor_roles
def rule_new(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    if version.status != RuleSetVersion.Status.DRAFT:
        messages.error(request, f"Version {version.number} is {version.status}; start a new draft to add rules.")
        return redirect("routing:editor-version", version.pk)
    return _rule_form_page(request, version=version, rule=None)


@editor_roles
def rule_edit(request, rule_id: int):
    rule = get_object_or_404(RoutingRule.objects.select_related("version__rule_set"), pk=rule_id)
    if rule.version.status != RuleSetVersion.Status.DRAFT:
        messages.error(request, f"Version {rule.version.number} is {rule.version.status}; start a new draft to edit.")
        return redirect("routing:editor-version", rule.version_id)
    return _rule_form_page(request, version=rule.version, rule=rule)


# ---------------------------------------------------------------------------------------------------------
# Diff, publish, rollback, history


@editor_roles
def version_diff_view(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    diff = version_diff(version=version)
    return render(
        request,
        "routing/editor/diff.html",
        {"version": version, "diff": diff, "published": version_published(rule_set=version.rule_set)},
    )


@editor_roles
def version_publish(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    if request.method == "POST":
        try:
            published = editor.version_publish(
                version=version,
                actor=request.user,
                comment=request.POST.get("comment", ""),
                fingerprint=request.POST.get("fingerprint", ""),
                acknowledged=set(request.POST.getlist("ack")),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("routing:editor-publish", version.pk)
        messages.success(request, f"Version {published.number} is published and routes orders from now on.")
        return redirect("routing:editor-version", published.pk)
    if version.status != RuleSetVersion.Status.DRAFT:
        messages.error(request, f"Version {version.number} is {version.status}; only drafts can be published.")
        return redirect("routing:editor-version", version.pk)
    diff = version_diff(version=version)
    lint = version_lint_report(version=version)
    names = {r.id: r.name for r in rule_rows(version=version)}
    return render(
        request,
        "routing/editor/publish.html",
        {
            "version": version,
            "diff": diff,
            "fingerprint": editor.diff_fingerprint(diff),
            "published": version_published(rule_set=version.rule_set),
            "lint": [(names.get(w.rule_id, "?"), w, editor.lint_warning_key(w)) for w in lint.warnings],
        },
    )


@editor_roles
def version_rollback(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    current = version_published(rule_set=version.rule_set)
    if request.method == "POST":
        try:
            published = editor.version_rollback(
                version=version, actor=request.user, comment=request.POST.get("comment", "")
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("routing:editor-version", version.pk)
        messages.success(
            request, f"Rolled back: version {published.number} (a copy of version {version.number}) is published."
        )
        return redirect("routing:editor-version", published.pk)
    diff = version_diff(version=version, against=current) if current else None
    return render(request, "routing/editor/rollback.html", {"version": version, "current": current, "diff": diff})


@editor_roles
def ruleset_history_view(request, rule_set_id: int):
    rule_set = get_object_or_404(RuleSet, pk=rule_set_id)
    return render(
        request, "routing/editor/history.html", {"rule_set": rule_set, "events": ruleset_history(rule_set=rule_set)}
    )


# ---------------------------------------------------------------------------------------------------------
# Test one order, simulate


@editor_roles
def order_test(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    number = (request.GET.get("order") or "").strip()
    results, error = [], ""
    if number:
        order = order_find(number=number)
        if order is None:
            error = f"No order with number {number!r}."
        else:
            published = version_published(rule_set=version.rule_set)
            versions = [(f"v{version.number} ({version.status})", version)]
            if published is not None and published.pk != version.pk:
                versions.insert(0, (f"v{published.number} (published)", published))
            try:
                tried = simulation.order_try(order=order, versions=versions, actor=request.user)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                results = [
                    {"label": t.label, "decision": decision_explain(decision=simulation.decision_from_json(t.record))}
                    for t in tried
                ]
    ctx = {"version": version, "number": number, "results": results, "error": error}
    if request.htmx and request.GET.get("partial") != "page":
        return render(request, "routing/editor/test_order.html#test-results", ctx)
    from orders.models import Channel

    ctx["picks"] = orders_recent_search()
    ctx["channels"] = list(Channel.objects.order_by("code").values_list("code", "name"))
    return render(request, "routing/editor/test_order.html", ctx)


@editor_roles
def order_search(request, version_id: int):
    """htmx: recent orders matching what the merchandiser typed (number, state, channel), to test one."""
    version = get_object_or_404(RuleSetVersion, pk=version_id)
    picks = orders_recent_search(q=request.GET.get("q", ""), channel=request.GET.get("channel", ""))
    return render(
        request,
        "routing/editor/test_order.html#order-picks",
        {"version": version, "picks": picks, "q": request.GET.get("q", "")},
    )


def _parse_date(raw: str | None, label: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{label}: {raw!r} is not a date (YYYY-MM-DD).") from exc


@editor_roles
def simulation_new(request, version_id: int):
    version = get_object_or_404(RuleSetVersion.objects.select_related("rule_set"), pk=version_id)
    from orders.models import Channel

    ctx = {
        "version": version,
        "channels": list(Channel.objects.values_list("code", "name")),
        "published": version_published(rule_set=version.rule_set),
        "form": request.POST or {},
        "error": [],
    }
    if request.method != "POST":
        first, last = simulation.simulation_default_range()
        ctx["form"] = {"date_from": first.isoformat(), "date_to": last.isoformat(), "source": "range"}
    if request.method == "POST":
        try:
            sim = simulation.simulation_create(
                draft=version,
                actor=request.user,
                date_from=_parse_date(request.POST.get("date_from"), "First day"),
                date_to=_parse_date(request.POST.get("date_to"), "Last day"),
                channel_code=request.POST.get("channel") or None,
                csv_file=request.FILES.get("csv") if request.POST.get("source") == "csv" else None,
            )
        except ValidationError as exc:
            ctx["error"] = exc.messages
            return render(request, "routing/editor/simulate.html", ctx, status=400)
        return redirect("routing:editor-simulation", sim.pk)
    return render(request, "routing/editor/simulate.html", ctx)


def _chart_data(results: dict) -> dict:
    pub, dr = results.get("published", {}), results.get("draft", {})
    locs = list(dict.fromkeys([*list(pub.get("load", {}))[:15], *list(dr.get("load", {}))[:15]]))
    return {
        "metrics": [
            {"title": title, "unit": unit, "published": pub.get(key, 0), "draft": dr.get(key, 0)}
            for title, key, unit in (
                ("Cost per order", "cost_per_order", "$"),
                ("Shipments per order", "shipments_per_order", "shipments"),
                ("Average distance", "avg_distance_km", "km"),
                ("Promise met", "promise_met_pct", "%"),
            )
        ],
        "load": {
            "labels": locs,
            "published": [pub.get("load", {}).get(c, 0) for c in locs],
            "draft": [dr.get("load", {}).get(c, 0) for c in locs],
        },
    }


@editor_roles
def simulation_detail(request, simulation_id: int):
    sim = get_object_or_404(
        Simulation.objects.select_related("draft", "baseline", "rule_set", "created_by"), pk=simulation_id
    )
    ctx = {"sim": sim}
    if request.htmx and request.GET.get("partial") == "progress":
        if sim.status == Simulation.Status.DONE:
            # Finished while the page polled: load the whole result page.
            return HttpResponseClientRedirect(reverse("routing:editor-simulation", args=[sim.pk]))
        return render(request, "routing/editor/simulation.html#progress", ctx)
    if sim.status == Simulation.Status.DONE:
        res = sim.results
        ctx["res"] = res
        ctx["chart"] = _chart_data(res)
        rows = []
        for item in res.get("changed", []):
            both = None
            if "published_decision" in item:
                both = [
                    decision_explain(decision=simulation.decision_from_json(item["published_decision"])),
                    decision_explain(decision=simulation.decision_from_json(item["draft_decision"])),
                ]
            rows.append({"item": item, "explained": both})
        ctx["changed"] = rows
        if not res.get("changed_count"):
            ctx["no_change_reasons"] = simulation_no_change_reasons(sim=sim)
        ctx["metrics"] = [
            ("Orders placed in full", "placed_in_full", ""),
            ("Cost, all orders ($)", "cost_total", "money"),
            ("Cost, orders both placed in full ($)", "cost_like_for_like", "money"),
            ("Cost per order ($)", "cost_per_order", "money"),
            ("Shipments per order", "shipments_per_order", ""),
            ("Average distance (km)", "avg_distance_km", ""),
            ("Promise met (%)", "promise_met_pct", ""),
            ("Backordered orders", "backordered_orders", ""),
            ("Backordered units", "backordered_units", ""),
        ]
        ctx["metric_rows"] = [
            (label, res["published"].get(key), res["draft"].get(key), fmt) for label, key, fmt in ctx["metrics"]
        ]
        load_codes = list(dict.fromkeys([*res["published"].get("load", {}), *res["draft"].get("load", {})]))
        ctx["load_rows"] = [(c, res["published"]["load"].get(c, 0), res["draft"]["load"].get(c, 0)) for c in load_codes]
    return render(request, "routing/editor/simulation.html", ctx)


@editor_roles
def simulation_orders_csv(request, simulation_id: int):
    """The orders a simulation replayed, as a CSV (the same format the upload accepts)."""
    sim = get_object_or_404(Simulation, pk=simulation_id)
    from orders.models import Order

    numbers = dict(Order.objects.filter(pk__in=sim.order_ids).values_list("pk", "number"))
    return csv_response(
        filename=f"simulation-{sim.pk}-orders.csv",
        header=["order"],
        rows=([numbers[i]] for i in sim.order_ids if i in numbers),
    )
