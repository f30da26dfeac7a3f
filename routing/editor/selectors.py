"""Reads for the rule editor: rule sets and their versions, rules as rows, lint facts, diffs, history and
the pickers of the condition builder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, Q

from inventory.models import Location, LocationGroup, Product
from orders.models import Channel, Order
from routing.editor.diff import RuleRow, VersionDiff, versions_diff
from routing.editor.lint import US_REGIONS, LintContext, LintReport, LocationFact, version_lint
from routing.editor.models import RuleSetEvent, Simulation
from routing.editor.rule_text import action_summary, conditions_summary
from routing.models import RoutingRule, RuleSet, RuleSetVersion


def rulesets_list() -> list[RuleSet]:
    """Every rule set with its versions (newest first) and counts, the active one first."""
    versions = RuleSetVersion.objects.select_related("created_by").annotate(rule_count=Count("rules"))
    return list(
        RuleSet.objects.prefetch_related(Prefetch("versions", queryset=versions.order_by("-number"))).order_by(
            "-is_active", "code"
        )
    )


def version_published(*, rule_set: RuleSet) -> RuleSetVersion | None:
    return rule_set.versions.filter(status=RuleSetVersion.Status.PUBLISHED).first()


def version_draft(*, rule_set: RuleSet) -> RuleSetVersion | None:
    """The rule set's open draft (one at a time), if any."""
    return rule_set.versions.filter(status=RuleSetVersion.Status.DRAFT).order_by("-number").first()


def publishers_by_version(*, rule_set: RuleSet) -> dict[int, RuleSetEvent]:
    """version id → the event that published it (who and when), for versions published through the editor."""
    out: dict[int, RuleSetEvent] = {}
    for ev in (
        RuleSetEvent.objects.filter(
            rule_set=rule_set, action__in=[RuleSetEvent.Action.PUBLISHED, RuleSetEvent.Action.ROLLED_BACK]
        )
        .select_related("actor")
        .order_by("id")
    ):
        if ev.version_id:
            out[ev.version_id] = ev
    return out


def rule_rows(*, version: RuleSetVersion | None) -> list[RuleRow]:
    if version is None:
        return []
    return [
        RuleRow(
            id=pk,
            name=name,
            priority=priority,
            enabled=enabled,
            conditions=conditions,
            action=action,
            key=str(key) if key else None,
        )
        for pk, name, priority, enabled, conditions, action, key in RoutingRule.objects.filter(version=version)
        .order_by("priority", "id")
        .values_list("pk", "name", "priority", "enabled", "conditions", "action", "lineage__key")
    ]


@dataclass(frozen=True, slots=True)
class RuleLine:
    """A rule as the editor's list shows it."""

    rule: RoutingRule
    position: int
    conditions_text: str
    action_text: str


def rule_lines(*, version: RuleSetVersion) -> list[RuleLine]:
    rules = list(RoutingRule.objects.filter(version=version).order_by("priority", "id"))
    return [
        RuleLine(
            rule=r,
            position=i,
            conditions_text=conditions_summary(r.conditions),
            action_text=action_summary(r.action),
        )
        for i, r in enumerate(rules, start=1)
    ]


def _skus_named(rows: list[RuleRow]) -> set[str]:
    out: set[str] = set()

    def walk(node: object):
        if not isinstance(node, dict):
            return
        if node.get("field") in ("any_line.sku", "all_lines.sku"):
            v = node.get("value")
            out.update(x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str))
        for k in ("all", "any"):
            for c in node.get(k, []) or []:
                walk(c)

    for r in rows:
        walk(r.conditions)
    return out


def lint_context_load(*, rows: list[RuleRow]) -> LintContext:
    """The database facts lint needs, in a handful of queries."""
    locations = {
        code: LocationFact(pk, code, kind, active)
        for pk, code, kind, active in Location.objects.values_list("pk", "code", "kind", "is_active")
    }
    groups: dict[str, set[str]] = {g: set() for g in LocationGroup.objects.values_list("code", flat=True)}
    for g, loc in LocationGroup.locations.through.objects.values_list("locationgroup__code", "location__code"):
        groups[g].add(loc)
    skus = _skus_named(rows)
    known = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True)) if skus else set()
    regions = set(US_REGIONS) | {r for r in Location.objects.exclude(region="").values_list("region", flat=True)}
    return LintContext(
        channels=frozenset(Channel.objects.values_list("code", flat=True)),
        known_skus=frozenset(known),
        regions=frozenset(regions),
        locations=locations,
        groups={k: frozenset(v) for k, v in groups.items()},
    )


def version_lint_report(*, version: RuleSetVersion) -> LintReport:
    rows = rule_rows(version=version)
    return version_lint(rules=rows, ctx=lint_context_load(rows=rows))


def version_diff(*, version: RuleSetVersion, against: RuleSetVersion | None = None) -> VersionDiff:
    """`version` compared with `against` (default: the rule set's published version)."""
    base = against if against is not None else version_published(rule_set=version.rule_set)
    return versions_diff(old=rule_rows(version=base), new=rule_rows(version=version))


def ruleset_history(*, rule_set: RuleSet, limit: int = 200) -> list[RuleSetEvent]:
    return list(RuleSetEvent.objects.filter(rule_set=rule_set).select_related("actor", "version")[:limit])


def simulations_for(*, rule_set: RuleSet, limit: int = 20) -> list[Simulation]:
    return list(Simulation.objects.filter(rule_set=rule_set).select_related("draft", "baseline", "created_by")[:limit])


# ---------------------------------------------------------------------------------------------------------
# Pickers for the condition builder and the action editor


@dataclass(frozen=True, slots=True)
class Pickers:
    channels: list[tuple[str, str]]
    locations: list[tuple[str, str, bool]]  # code, name, active
    groups: list[tuple[str, str, int]]  # code, name, members
    regions: list[tuple[str, str]]  # code, "Name (CODE)": most-used destinations first


def pickers_load() -> Pickers:
    return Pickers(
        channels=list(Channel.objects.order_by("code").values_list("code", "name")),
        locations=list(Location.objects.order_by("kind", "code").values_list("code", "name", "is_active")),
        groups=[
            (g.code, g.name, g.n)
            for g in LocationGroup.objects.annotate(n=Count("locations")).order_by("code").only("code", "name")
        ],
        regions=regions_by_use(),
    )


# Military "states" of US postal addresses, which the `us` package does not list.
_MILITARY_REGIONS = {"AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific"}


def region_name(*, code: str) -> str:
    """The name of a US state, territory or military region code ("NY" -> "New York"); the code if unknown."""
    import us

    state = us.states.lookup(code) if len(code) == 2 and code.isalpha() else None
    return state.name if state is not None else _MILITARY_REGIONS.get(code, code)


def regions_by_use(*, days: int = 90) -> list[tuple[str, str]]:
    """Region codes for the picker, labelled with their names: the destinations of the last `days` days'
    orders first (most orders first), then the other states by name, military regions last."""
    from datetime import timedelta

    from django.db.models.fields.json import KT
    from django.utils import timezone

    since = timezone.now() - timedelta(days=days)
    used = (
        Order.objects.filter(placed_at__gte=since)
        .annotate(r=KT("shipping_address__region"))
        .values("r")
        .annotate(n=Count("id"))
        .order_by("-n", "r")
    )
    # Blank and missing regions are left out here: comparing the extracted text in SQL fails on SQLite.
    first = [row["r"] for row in used[:60] if row["r"] in US_REGIONS]
    rest = sorted(
        (c for c in US_REGIONS if c not in first), key=lambda c: (c in _MILITARY_REGIONS, region_name(code=c))
    )
    return [(c, f"{region_name(code=c)} ({c})") for c in [*first, *rest]]


def order_find(*, number: str) -> Order | None:
    """An order by its number or external id (for "test one order")."""
    number = (number or "").strip()
    if not number:
        return None
    return Order.objects.filter(Q(number=number) | Q(external_id=number)).order_by("-pk").first()


def simulation_no_change_reasons(*, sim: Simulation) -> list[str]:
    """When a simulation changed no order: for each rule that differs between the two sides, what the
    simulation saw it do (how many of the replayed orders it matched on each side), and so what would have to
    differ for some order to change. Computed only from the recorded results and the two versions' rules."""
    res = sim.results or {}
    n = res.get("orders", 0)
    fired_draft = res.get("draft", {}).get("rules_fired", {})
    fired_pub = res.get("published", {}).get("rules_fired", {})
    diff = versions_diff(old=rule_rows(version=sim.baseline), new=rule_rows(version=sim.draft))
    if diff.empty:
        return ["The draft's rules are the same as the published ones, so every order is routed the same way."]
    of_n = f"of the {n} order{'s' if n != 1 else ''}"
    out = []
    for d in [*diff.added, *diff.changed]:
        rule = d.new
        verb = "added" if d.kind == "added" else "changed"
        if not rule.enabled:
            out.append(f"“{rule.name}” ({verb}) is disabled, so it applies to no order; enable it to see an effect.")
            continue
        k = fired_draft.get(rule.name, 0)
        if k == 0:
            out.append(
                f"“{rule.name}” ({verb}) matched none {of_n}: {rule.summary}. "
                "Its conditions would have to match some of these orders for a plan to change."
            )
        else:
            out.append(
                f"“{rule.name}” ({verb}) matched {k} {of_n}, but they still ship from the same locations: "
                "its action would have to rule out, or outweigh in cost, the locations chosen today."
            )
    for d in diff.removed:
        k = fired_pub.get(d.old.name, 0)
        if k == 0:
            out.append(
                f"“{d.old.name}” (removed) matched none {of_n} under the published rules, "
                "so removing it changes nothing here."
            )
        else:
            out.append(
                f"“{d.old.name}” (removed) matched {k} {of_n} under the published rules, "
                "but without it the same locations are still chosen."
            )
    if diff.moved and not out:
        out.append("Only the order of the rules changed; it matters only when a rule stops the ones after it.")
    return out


@dataclass(frozen=True, slots=True)
class OrderPick:
    """An order as the editor's order search shows it: what routing needs, no customer data."""

    number: str
    placed_at: Any
    destination: str
    channel: str
    method: str
    units: int


def orders_recent_search(*, q: str = "", channel: str = "", days: int = 30, limit: int = 20) -> list[OrderPick]:
    """Recent orders for "test one order": by number (or external id) fragment, destination state (code or
    name) or channel, newest first. Returns no customer name, e-mail, phone or street address."""
    from datetime import timedelta

    from django.db.models import Sum
    from django.utils import timezone

    qs = Order.objects.filter(placed_at__gte=timezone.now() - timedelta(days=days))
    q = (q or "").strip()[:100]
    if q:
        match = Q(number__icontains=q) | Q(external_id__icontains=q) | Q(channel__code__iexact=q)
        codes = [c for c, label in regions_by_use(days=days) if q.lower() in label.lower()]
        if codes:
            match |= Q(shipping_address__region__in=codes)
        qs = qs.filter(match)
    if channel:
        qs = qs.filter(channel__code=channel)
    rows = (
        qs.select_related("channel")
        .annotate(n_units=Sum("lines__quantity"))
        .order_by("-placed_at", "-pk")
        .only("number", "placed_at", "shipping_address", "fulfillment_method", "channel__code", "channel__name")[:limit]
    )
    out = []
    for o in rows:
        addr = o.shipping_address or {}
        region = str(addr.get("region") or "")
        place = [region_name(code=region) if region else "", str(addr.get("country") or "")]
        out.append(
            OrderPick(
                number=o.number,
                placed_at=o.placed_at,
                destination=", ".join(p for p in place if p) or "—",
                channel=o.channel.name or o.channel.code,
                method=o.get_fulfillment_method_display(),
                units=o.n_units or 0,
            )
        )
    return out
