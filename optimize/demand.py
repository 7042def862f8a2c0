"""Demand over time (docs/model.md §11): requests/s per (model, ISL bucket, period) and the burst each
period's capacity must cover.

Three profiles (``fleet.demand_profile``):

- ``constant``: one period of 24 hours at ``fleet.demand`` (today's plan, docs/model.md §5);
- ``diurnal``: 24 hourly periods, ``rate_m(h) = mean_m * (1 + a cos(2 pi (h - peak_hour) / 24))``
  with ``a = (r - 1) / (r + 1)`` for the peak-to-trough ratio ``r``.  The 24 hourly values have
  mean exactly ``mean_m`` (the cosine sums to 0 over 24 equally spaced hours), peak
  ``mean (1 + a)`` at ``peak_hour`` and trough ``mean (1 - a)`` twelve hours later, so their
  ratio is exactly ``r``;
- ``trace``: a request log (:func:`model.app.traces.read_trace` reads it; this module takes the
  :class:`model.trace.Trace`).  Its ISL buckets are ``fleet.isl.buckets`` equal-count quantile
  buckets of the trace's input tokens, each represented by the median ISL of its requests.
  ``trace_shape=as_is`` cuts it into periods of ``fleet.period_s`` (the last one as long as the
  trace lasts); each period's rate is its requests over its length, its bucket weights the
  share of its requests in each bucket.  ``trace_shape=diurnal`` tiles the whole trace's ISL
  mix and burst over the 24 hourly periods of the diurnal curve.  ``trace_rate=demand`` scales
  every rate so that each model's mean over the horizon is its ``fleet.demand`` (the trace's
  one service stands for every model's traffic); ``trace_rate=trace`` keeps the trace's own
  requests/s for every model.

**Burst.** The capacity of a period covers ``mean x burst``, where ``burst`` is the P99 of the
one-minute request rates inside the period over the period's mean rate (at least 1): measured
on the trace's whole minutes, or declared (``fleet.burst``) for the constant and diurnal
profiles.  Scaling or tiling a trace keeps its burst: the per-minute counts are scaled with the
mean (a multiplicative burst, not the thinner relative noise of a faster Poisson stream).
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from model.trace import Trace
from optimize.schema import DemandProfile, TraceRate, TraceShape

HOURS_PER_DAY = 24
MINUTE_S = 60.0
BURST_QUANTILE = 0.99


def diurnal_factor(peak_to_trough: np.ndarray, peak_hour: np.ndarray, hours: int = HOURS_PER_DAY) -> np.ndarray:
    """Hourly demand over the daily mean, ``1 + a cos(2 pi (h - peak_hour) / 24)`` with
    ``a = (r - 1) / (r + 1)``, for each (ratio, peak hour) pair.

    Parameters
    ----------
    peak_to_trough
        Ratio ``r >= 1`` per curve (e.g. per model).
    peak_hour
        Hour of the peak per curve.
    hours
        Periods of one hour (24).

    Returns
    -------
    numpy.ndarray
        Shape (curves, hours); each row has mean 1 and max / min = r when the peak hour is whole.

    Examples
    --------
    r = 3, peak at 14: ``a = 0.5``, hour 14 is 1.5 x the mean, hour 2 is 0.5 x: ratio 3.
    """
    r = np.atleast_1d(np.asarray(peak_to_trough, dtype=float))
    a = (r - 1.0) / (r + 1.0)
    h = np.arange(hours, dtype=float)
    phase = 2.0 * np.pi * (h[None, :] - np.atleast_1d(np.asarray(peak_hour, dtype=float))[:, None]) / HOURS_PER_DAY
    return 1.0 + a[:, None] * np.cos(phase)


def minute_burst(arrival_s: np.ndarray, start: float, end: float) -> float:
    """P99 one-minute rate over the mean rate of the arrivals in ``[start, end)``, at least 1.

    Only whole minutes from ``start`` count; with none (a period under a minute) the burst is 1.

    Parameters
    ----------
    arrival_s
        Arrival times, s, sorted.
    start, end
        The period, s.
    """
    minutes = int(np.floor((end - start) / MINUTE_S))
    inside = arrival_s[(arrival_s >= start) & (arrival_s < end)]
    if minutes < 1 or len(inside) == 0:
        return 1.0
    counts = np.bincount(((inside - start) // MINUTE_S).astype(np.int64), minlength=minutes)[:minutes]
    mean = len(inside) / (end - start)
    return max(1.0, float(np.quantile(counts / MINUTE_S, BURST_QUANTILE)) / mean)


def trace_buckets(input_tokens: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-count ISL buckets of a trace: per request its bucket, and per bucket its median ISL.

    Requests are ranked by input tokens and cut into ``buckets`` groups of (nearly) equal size;
    a bucket is represented by the median input tokens of its requests (at least 1).

    Parameters
    ----------
    input_tokens
        Input tokens per request.
    buckets
        Number of buckets (fewer if the trace has fewer requests).
    """
    n = len(input_tokens)
    buckets = max(1, min(int(buckets), n))
    order = np.argsort(input_tokens, kind="stable")
    of_request = np.empty(n, dtype=np.int64)
    of_request[order] = (np.arange(n) * buckets) // n
    isl = np.array([max(1, int(np.rint(np.median(input_tokens[of_request == b])))) for b in range(buckets)])
    return of_request, isl


def _profile(rate: np.ndarray, weight: np.ndarray, burst: np.ndarray, hours: np.ndarray, models: list[str],
             isl: np.ndarray, overall_weight: np.ndarray, source: str) -> xr.Dataset:
    """The profile Dataset: ``rate`` (model, period), ``weight`` (bucket, period) or (model, bucket, period)."""
    if weight.ndim == 2:
        weight = np.broadcast_to(weight[None], (len(models),) + weight.shape)
    demand = rate[:, None, :] * weight
    start = np.concatenate([[0.0], np.cumsum(hours)[:-1]])
    period = np.arange(len(hours))
    return xr.Dataset(
        {"demand": (("model", "bucket", "period"), demand,
                    {"units": "1/s", "long_name": "mean requests per second of the period"}),
         "burst": (("model", "period"), burst,
                   {"units": "1", "long_name": "P99 one-minute rate over the period mean (capacity covers "
                                               "demand x burst)"})},
        coords={"model": ("model", models, {"units": "", "long_name": "model name"}),
                "bucket": ("bucket", np.arange(len(isl)), {"units": "", "long_name": "ISL bucket index"}),
                "bucket_isl": ("bucket", isl, {"units": "tokens", "long_name": "ISL of the bucket"}),
                "bucket_weight": ("bucket", overall_weight,
                                  {"units": "1", "long_name": "share of the horizon's requests in the bucket"}),
                "period": ("period", period, {"units": "", "long_name": "period index"}),
                "period_start_h": ("period", start, {"units": "h", "long_name": "start of the period"}),
                "period_hours": ("period", np.asarray(hours, dtype=float),
                                 {"units": "h", "long_name": "length of the period"})},
        attrs={"source": source})


def demand_profile(cfg: DictConfig, mean_rate: xr.DataArray, isl: np.ndarray, weight: np.ndarray,
                   trace: Trace | None = None) -> xr.Dataset:
    """Requests/s per (model, bucket, period) and the burst per (model, period) of ``fleet.demand_profile``.

    Parameters
    ----------
    cfg
        Validated optimizer config.
    mean_rate
        Requests/s per model (:func:`optimize.inputs.demand_by_model`): the constant demand,
        the diurnal mean, or the trace's target mean (``trace_rate=demand``).
    isl, weight
        ISL buckets and weights of the constant and diurnal profiles
        (:func:`optimize.inputs.isl_buckets`); ignored for a trace.
    trace
        The request log (``demand_profile=trace``).

    Returns
    -------
    xarray.Dataset
        ``demand`` (model, bucket, period), ``burst`` (model, period), coordinates
        ``bucket_isl``, ``bucket_weight``, ``period_start_h``, ``period_hours``.
    """
    f = cfg.fleet
    models = [str(m) for m in mean_rate.model.values]
    mean = mean_rate.values.astype(float)
    kind = DemandProfile(f.demand_profile)
    if kind == DemandProfile.constant:
        burst = np.full((len(models), 1), float(f.burst))
        return _profile(mean[:, None], np.asarray(weight, dtype=float)[:, None], burst, np.array([24.0]), models,
                        np.asarray(isl), np.asarray(weight, dtype=float), "constant")
    ratio = np.array([_per_model(f.diurnal.peak_to_trough_by_model, m, f.diurnal.peak_to_trough) for m in models])
    peak = np.array([_per_model(f.diurnal.peak_hour_by_model, m, f.diurnal.peak_hour) for m in models])
    if kind == DemandProfile.diurnal:
        shape = diurnal_factor(ratio, peak)
        burst = np.full(shape.shape, float(f.burst))
        w = np.asarray(weight, dtype=float)
        return _profile(mean[:, None] * shape, np.repeat(w[:, None], HOURS_PER_DAY, axis=1), burst,
                        np.ones(HOURS_PER_DAY), models, np.asarray(isl), w, "diurnal")
    if trace is None:
        raise ValueError("demand_profile=trace needs the trace")
    of_request, trace_isl = trace_buckets(trace.input_tokens, int(f.isl.buckets))
    n_buckets = len(trace_isl)
    end = max(trace.duration_s, 1.0)
    overall = np.bincount(of_request, minlength=n_buckets) / len(trace)
    trace_mean = len(trace) / end
    target = mean if TraceRate(f.trace_rate) == TraceRate.demand else np.full(len(models), trace_mean)
    if TraceShape(f.trace_shape) == TraceShape.diurnal:
        shape = diurnal_factor(ratio, peak)
        burst = np.full(shape.shape, minute_burst(trace.arrival_s, 0.0, end))
        return _profile(target[:, None] * shape, np.repeat(overall[:, None], HOURS_PER_DAY, axis=1), burst,
                        np.ones(HOURS_PER_DAY), models, trace_isl, overall, f"{trace.source}, tiled (diurnal)")
    period_s = float(f.period_s)
    starts = np.arange(0.0, end, period_s)
    ends = np.minimum(starts + period_s, end)
    which = np.minimum((trace.arrival_s // period_s).astype(np.int64), len(starts) - 1)
    counts = np.zeros((n_buckets, len(starts)))
    np.add.at(counts, (of_request, which), 1.0)
    per_period = counts.sum(axis=0)
    rate = per_period / (ends - starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(per_period > 0, counts / per_period, overall[:, None])
    # the last period runs to the last arrival: its arrivals at `end` belong to it
    bursts = np.array([minute_burst(trace.arrival_s, s, e if i < len(starts) - 1 else np.nextafter(e, np.inf))
                       for i, (s, e) in enumerate(zip(starts, ends))])
    scale = target / trace_mean
    return _profile(scale[:, None] * rate[None, :], w, np.repeat(bursts[None, :], len(models), axis=0),
                    (ends - starts) / 3600.0, models, trace_isl, overall, trace.source)


def _per_model(by_model: DictConfig, model: str, default: float) -> float:
    value = by_model.get(model) if by_model is not None else None
    return float(default if value is None else value)
