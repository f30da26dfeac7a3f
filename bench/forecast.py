"""`bench forecast`: the demand forecast of the safety-stock schedule (inventory.forecasting: statsforecast's
AutoETS, weekly season) backtested against the seasonal-naive baseline on a generated two-year daily history
per series — weekly seasonality, a yearly swell, a slow trend, Poisson noise and promotions (3–5 day windows
at 2–3× demand, unannounced to both forecasters) — scored by WAPE on the held-out last four weeks."""

from __future__ import annotations

import time

import numpy as np

DAYS = 730
HOLDOUT = 28


def history_generate(*, series: int, days: int = DAYS, seed: int = 20) -> dict[int, np.ndarray]:
    """Daily demand per series, oldest day first (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    out = {}
    for k in range(series):
        level = rng.uniform(2.0, 40.0)
        weekday = rng.uniform(0.6, 1.5, size=7)
        weekday /= weekday.mean()
        yearly = 1.0 + rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * (t + rng.integers(0, 365)) / 365.25)
        trend = 1.0 + rng.uniform(-0.2, 0.4) * t / days
        promo = np.ones(days)
        for start in rng.integers(0, days - 5, size=int(days / 365 * rng.integers(4, 10))):
            promo[start : start + rng.integers(3, 6)] = rng.uniform(2.0, 3.0)
        lam = level * weekday[t % 7] * yearly * trend * promo
        out[k] = rng.poisson(lam).astype(float)
    return out


def bench_forecast(*, log, rows: int | None = None, **_) -> dict:
    from inventory.forecasting import forecasts_fit, seasonal_naive

    n = rows or 40
    history = history_generate(series=n)
    log(f"{n} series × {DAYS} days; fitting (backtest on the last {HOLDOUT} days, then {14} days ahead)…")
    t0, c0 = time.perf_counter(), time.process_time()
    fitted = forecasts_fit(series=history, horizon=14, holdout=HOLDOUT)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    abs_model = abs_naive = total = 0.0
    wins = 0
    for k, y in history.items():
        actual = y[-HOLDOUT:]
        naive = seasonal_naive(history=y[:-HOLDOUT], horizon=HOLDOUT)
        f = fitted[k]
        total += float(actual.sum())
        abs_model += f.wape * float(actual.sum())
        abs_naive += float(np.abs(actual - naive).sum())
        wins += f.wape < f.wape_naive
    wape_model, wape_naive = abs_model / total, abs_naive / total
    return {
        "series": n,
        "days": DAYS,
        "holdout_days": HOLDOUT,
        "model": "statsforecast AutoETS (season 7)",
        "wape_model": round(wape_model, 4),
        "wape_seasonal_naive": round(wape_naive, 4),
        "wape_reduction_pct": round(100.0 * (wape_naive - wape_model) / wape_naive, 2),
        "series_model_better": wins,
        "fit_seconds": round(seconds, 2),
        "fit_cpu_seconds": round(cpu, 2),  # this process's CPU: the wall figure grows on a shared machine
        "fit_cpu_ms_per_series": round(1000.0 * cpu / n, 1),
    }


BENCHMARKS = {"forecast": bench_forecast}
