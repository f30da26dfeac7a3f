"""Demand forecasts and the safety stock they suggest. Pure (numpy, statsforecast; no database).

Each series is a product's daily demand at one location (or the network), oldest day first. The model is
`statsforecast`'s AutoETS with a weekly season; every series is also forecast by the seasonal-naive baseline
(the same weekday last week). A backtest holds out the last `holdout` days: both are fitted on what comes
before and scored by WAPE (sum of absolute errors / sum of actual demand) on the held-out days; the spread of
the model's daily errors there is the forecast error that safety stock covers:

    safety stock = z(service level) × σ(daily forecast error) × √(lead time in days)

statsforecast is imported on first use: it is heavy (pandas, statsmodels), and most processes never forecast.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from scipy.stats import norm

SEASON = 7
MODEL_NAME = "AutoETS"
BASELINE_NAME = "SeasonalNaive"


@dataclass(frozen=True, slots=True)
class SeriesForecast:
    """One series: the next `horizon` days, the backtest's WAPE for the model and the baseline, and σ."""

    forecast: tuple[float, ...]
    wape: float | None  # None: no demand in the held-out days (WAPE undefined)
    wape_naive: float | None
    sigma: float  # standard deviation of the model's daily errors in the backtest
    model: str = MODEL_NAME

    @property
    def daily_mean(self) -> float:
        return sum(self.forecast) / len(self.forecast) if self.forecast else 0.0


def wape(*, actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """Weighted absolute percentage error: Σ|actual − predicted| / Σ actual; None when there was no demand."""
    total = float(np.sum(actual))
    if total <= 0:
        return None
    return float(np.sum(np.abs(actual - predicted))) / total


def seasonal_naive(*, history: np.ndarray, horizon: int, season: int = SEASON) -> np.ndarray:
    """Each day forecast as the same day of the last full season (short histories: their mean)."""
    if len(history) < season:
        return np.full(horizon, float(np.mean(history)) if len(history) else 0.0)
    last = history[-season:]
    return np.array([last[i % season] for i in range(horizon)], dtype=float)


def safety_stock_units(*, sigma: float, service_level: float, lead_time_days: float) -> int:
    """z × σ × √L, rounded up to whole units (0 for no error)."""
    if not 0.5 <= service_level < 1:
        raise ValueError(f"service_level must be in [0.5, 1), got {service_level}")
    if lead_time_days < 0 or sigma < 0:
        raise ValueError("sigma and lead_time_days must be ≥ 0")
    return max(0, math.ceil(float(norm.ppf(service_level)) * sigma * math.sqrt(lead_time_days) - 1e-9))


def _model_forecasts(*, series: dict[Hashable, np.ndarray], horizon: int, season: int) -> dict[Hashable, np.ndarray]:
    """AutoETS forecasts of every series (one statsforecast call); keys keep their order."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    keys = list(series)
    frames = []
    for i, key in enumerate(keys):
        y = np.asarray(series[key], dtype=float)
        frames.append(pd.DataFrame({"unique_id": i, "ds": np.arange(len(y)), "y": y}))
    sf = StatsForecast(models=[AutoETS(season_length=season)], freq=1, n_jobs=1)
    out = sf.forecast(df=pd.concat(frames, ignore_index=True), h=horizon)
    by_id = {uid: grp[MODEL_NAME].to_numpy(dtype=float) for uid, grp in out.groupby("unique_id", sort=False)}
    return {key: np.maximum(0.0, by_id[i]) for i, key in enumerate(keys)}


def forecasts_fit_naive(
    *, series: dict[Hashable, np.ndarray], horizon: int, holdout: int = 28, season: int = SEASON
) -> dict[Hashable, SeriesForecast]:
    """The seasonal-naive baseline alone, backtested the same way (a history shorter than a season plus the
    holdout is scored on what it has: σ around its mean, no WAPE)."""
    results = {}
    for key, values in series.items():
        y = np.asarray(values, dtype=float)
        if len(y) >= season + holdout:
            actual = y[-holdout:]
            naive = seasonal_naive(history=y[:-holdout], horizon=holdout, season=season)
            w, sigma = wape(actual=actual, predicted=naive), float(np.std(actual - naive))
        else:
            w, sigma = None, float(np.std(y)) if len(y) else 0.0
        results[key] = SeriesForecast(
            forecast=tuple(float(x) for x in seasonal_naive(history=y, horizon=horizon, season=season)),
            wape=w,
            wape_naive=w,
            sigma=sigma,
            model=BASELINE_NAME,
        )
    return results


def forecasts_fit(
    *, series: dict[Hashable, np.ndarray], horizon: int, holdout: int = 28, season: int = SEASON
) -> dict[Hashable, SeriesForecast]:
    """Backtest (last `holdout` days held out) and forecast the next `horizon` days of every series with the
    model, scoring the seasonal-naive baseline beside it. Series shorter than two seasons plus the holdout
    get the baseline alone (`forecasts_fit_naive`)."""
    if horizon < 1 or holdout < 1:
        raise ValueError("horizon and holdout must be ≥ 1")
    long = {k: np.asarray(v, dtype=float) for k, v in series.items() if len(v) >= 2 * season + holdout}
    results = forecasts_fit_naive(
        series={k: v for k, v in series.items() if k not in long}, horizon=horizon, holdout=holdout, season=season
    )
    if not long:
        return results
    backtest = _model_forecasts(series={k: v[:-holdout] for k, v in long.items()}, horizon=holdout, season=season)
    ahead = _model_forecasts(series=long, horizon=horizon, season=season)
    for key, y in long.items():
        actual = y[-holdout:]
        naive = seasonal_naive(history=y[:-holdout], horizon=holdout, season=season)
        results[key] = SeriesForecast(
            forecast=tuple(round(float(x), 4) for x in ahead[key]),
            wape=wape(actual=actual, predicted=backtest[key]),
            wape_naive=wape(actual=actual, predicted=naive),
            sigma=float(np.std(actual - backtest[key])),
        )
    return results


def forecast_units_window(
    *, daily: tuple[float, ...] | list[float], first_day: date, start: datetime, end: datetime, fallback: float
) -> float:
    """Expected units between `start` and `end` from a daily forecast whose first value is for `first_day`
    (each day's units spread evenly over its 24 hours, in `start`'s time zone); days outside the forecast
    count at `fallback` units per day. Never negative."""
    if end <= start:
        return 0.0
    tz = start.tzinfo
    total = 0.0
    day = start.date()
    while True:
        begin = datetime.combine(day, time(0), tzinfo=tz)
        stop = begin + timedelta(days=1)
        lo, hi = max(begin, start), min(stop, end)
        if hi > lo:
            i = (day - first_day).days
            per_day = daily[i] if 0 <= i < len(daily) else fallback
            total += max(0.0, float(per_day)) * (hi - lo).total_seconds() / 86400.0
        if stop >= end:
            return total
        day += timedelta(days=1)
