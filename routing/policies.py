"""The baseline routing policies of shared/design/BENCHMARK.md, on the optimizer's candidate data.

Both return Plans costed with `plan_cost`, so their cost compares with the optimizer's like for like. They
respect the problem's options too (forbidden lines, line_split, max_shipments, ship_complete). Their plans
carry optimal=False: they are rules of thumb, not optimisations. Pickup orders are the caller's business
(the chosen store, else ship-to-store from the primary DC).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from routing.optimizer import Plan, Problem, plan_cost, plan_empty, problem_check


@dataclass(frozen=True, slots=True)
class LocationInfo:
    """What the policies need to know about a candidate, by Candidate.key."""

    key: int
    kind: str  # inventory LocationKind value: "warehouse" | "store" | "3pl" | "dropship"
    distance_km: float  # to the destination
    is_primary_dc: bool
    country: str  # ISO 3166-1 alpha-2


def _supply(problem: Problem) -> list[list[int]]:
    """Per candidate, per line: units it can send (0 when forbidden; whole lines only without line split)."""
    out = []
    for cand in problem.candidates:
        row = []
        for qty, a, u in zip(problem.quantities, cand.available, cand.unit_costs, strict=True):
            if qty <= 0 or a <= 0 or not math.isfinite(u) or not math.isfinite(cand.fixed_cost):
                row.append(0)
            elif problem.line_split:
                row.append(min(a, qty))
            else:
                row.append(qty if a >= qty else 0)
        out.append(row)
    return out


def _info(info: dict[int, LocationInfo], problem: Problem, i: int) -> LocationInfo:
    key = problem.candidates[i].key
    try:
        return info[key]
    except KeyError:
        raise ValueError(f"candidate {i}: no LocationInfo for key {key}") from None


def _fill(*, problem: Problem, supply: list[list[int]], order: list[int]) -> Plan:
    """Fill each line from the candidates in `order`, first come first served, opening at most
    max_shipments locations; ship_complete turns a partial plan into the empty one."""
    q = problem.quantities
    need = list(q)
    allocations: list[list[tuple[int, int]]] = [[] for _ in q]
    opened = 0
    for i in order:
        row = supply[i]
        takes = [(line, min(row[line], need[line])) for line in range(len(q)) if row[line] and need[line]]
        if not problem.line_split:
            takes = [(line, t) for line, t in takes if t == q[line]]
        if not takes:
            continue
        if problem.max_shipments is not None and opened >= problem.max_shipments:
            break
        opened += 1
        for line, t in takes:
            allocations[line].append((i, t))
            need[line] -= t
    if problem.ship_complete and any(need):
        return plan_empty(problem=problem, optimal=False)
    return Plan(
        allocations=allocations,
        unplaced=tuple(need),
        cost=plan_cost(problem=problem, allocations=allocations),
        shipments=opened,
        optimal=False,
        nodes=0,
    )


def _has_all(problem: Problem, row: list[int]) -> bool:
    return all(row[line] >= qty for line, qty in enumerate(problem.quantities))


def plan_single_dc(*, problem: Problem, info: dict[int, LocationInfo]) -> Plan:
    """The "traditional OMS": the primary DC if it has everything; else the nearest DC (kind "warehouse") that
    has everything; else split greedily across the DCs, nearest first. Other kinds of location never ship."""
    problem_check(problem=problem)
    supply = _supply(problem)
    dcs = [i for i in range(len(problem.candidates)) if _info(info, problem, i).kind == "warehouse"]
    dcs.sort(key=lambda i: (not _info(info, problem, i).is_primary_dc, _info(info, problem, i).distance_km, i))
    if dcs and _info(info, problem, dcs[0]).is_primary_dc and _has_all(problem, supply[dcs[0]]):
        return _fill(problem=problem, supply=supply, order=[dcs[0]])
    dcs.sort(key=lambda i: (_info(info, problem, i).distance_km, i))
    for i in dcs:
        if _has_all(problem, supply[i]):
            return _fill(problem=problem, supply=supply, order=[i])
    return _fill(problem=problem, supply=supply, order=dcs)


def _best_pair(*, problem: Problem, supply: list, ranked: list[int], rank: Callable) -> tuple[int, int] | None:
    """The best-ranked pair of locations that covers the order together (all pairs are tried), or None."""
    q = problem.quantities
    best = None
    for i, j in itertools.combinations(ranked, 2):
        si, sj = supply[i], supply[j]
        if problem.line_split:
            covers = all(si[line] + sj[line] >= qty for line, qty in enumerate(q))
        else:
            covers = all(si[line] >= qty or sj[line] >= qty for line, qty in enumerate(q))
        if covers:
            ri, rj = rank(i), rank(j)
            key = (ri[0] + rj[0], ri[1] + rj[1], ri, rj)
            if best is None or key < best[0]:
                best = (key, i, j)
    return None if best is None else (best[1], best[2])


def _greedy_cover(*, problem: Problem, supply: list, ranked: list[int]) -> list[int]:
    """Greedy cover: the location sending the most units still wanted, ties by rank, within the cap."""
    q = problem.quantities
    cap = problem.max_shipments
    need = list(q)
    chosen: list[int] = []
    left = list(ranked)
    while any(need) and left and (cap is None or len(chosen) < cap):
        pick, most = -1, 0
        for i in left:  # rank order, so the first of equal gains wins
            gain = sum(min(supply[i][line], need[line]) for line in range(len(q)))
            if gain > most:
                pick, most = i, gain
        if pick < 0:
            break
        chosen.append(pick)
        left.remove(pick)
        for line in range(len(q)):
            need[line] -= min(supply[pick][line], need[line])
    return chosen


def plan_shopify_default(*, problem: Problem, info: dict[int, LocationInfo], destination_country: str) -> Plan:
    """Shopify's default order routing among all candidates: the fewest packages first, then locations in the
    destination's country, then the closest. One location if any has everything; else the best pair that
    covers the order (all pairs are tried); else greedy cover (most units still wanted, ties by rank). Units
    are taken from the chosen locations in rank order, whatever they cost."""
    problem_check(problem=problem)
    supply = _supply(problem)
    n = len(problem.candidates)

    def rank(i: int) -> tuple[bool, float, int]:
        loc = _info(info, problem, i)
        return (loc.country != destination_country, loc.distance_km, i)

    ranked = sorted((i for i in range(n) if any(supply[i])), key=rank)
    cap = problem.max_shipments
    if cap == 0 or not ranked:
        return plan_empty(problem=problem, optimal=False)
    for i in ranked:
        if _has_all(problem, supply[i]):
            return _fill(problem=problem, supply=supply, order=[i])
    if cap is None or cap >= 2:
        pair = _best_pair(problem=problem, supply=supply, ranked=ranked, rank=rank)
        if pair is not None:
            return _fill(problem=problem, supply=supply, order=list(pair))
    chosen = _greedy_cover(problem=problem, supply=supply, ranked=ranked)
    return _fill(problem=problem, supply=supply, order=sorted(chosen, key=rank))
