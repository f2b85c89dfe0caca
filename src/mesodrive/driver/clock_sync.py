"""Estimate the device clock from the host clock (Klipper-style, in one small module).

Each `clock_query` exchange gives one sample: the host sent at `t0`, received at `t1`, and the
device read its clock somewhere in between, so the device time `ticks` belongs to host time
(t0 + t1) / 2 with an uncertainty of (t1 - t0) / 2. Samples whose round trip is much longer
than the best recent ones are rejected as outliers (they are the ones a busy host or a queued
link delayed asymmetrically). A least-squares line through the kept samples gives the device
clock's offset and rate (crystal drift). Callers never feed samples from retried exchanges:
a reply to a retried query cannot be matched to one send time (Karn's rule).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockEstimate:
    """device_ticks ≈ ticks_at_ref + rate · (host_time − host_ref)."""

    host_ref: float  # s
    ticks_at_ref: float
    rate: float  # ticks per host second (nominally tick_hz)
    error_us: float  # bound on |estimate − true device time| near the samples, µs
    samples: int

    def to_ticks(self, host_time: float) -> int:
        return round(self.ticks_at_ref + self.rate * (host_time - self.host_ref))

    def to_host(self, ticks: int) -> float:
        return self.host_ref + (ticks - self.ticks_at_ref) / self.rate


class ClockSync:
    def __init__(self, tick_hz: int, *, window: int = 64, outlier_factor: float = 2.0) -> None:
        self.tick_hz = tick_hz
        self.window = window
        self.outlier_factor = outlier_factor
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=window)  # (t_mid, ticks, half_rtt)
        self.rejected = 0
        self._estimate: ClockEstimate | None = None
        self._lock = threading.Lock()  # samples arrive on one thread, estimates are read on others

    def add_sample(self, t_sent: float, t_received: float, ticks: int) -> bool:
        """Add one exchange; returns False if it was rejected as an outlier."""
        with self._lock:
            return self._add(t_sent, t_received, ticks)

    def _add(self, t_sent: float, t_received: float, ticks: int) -> bool:
        half_rtt = (t_received - t_sent) / 2
        if half_rtt < 0:
            raise ValueError(f"received {t_received} before sent {t_sent}")
        if self._samples:
            best = min(s[2] for s in self._samples)
            # A floor of 0.5 ms keeps a lucky tiny RTT from rejecting every later sample.
            if half_rtt > self.outlier_factor * max(best, 0.0005):
                self.rejected += 1
                return False
            last_ticks = self._samples[-1][1]
            if ticks < last_ticks:
                raise ValueError(f"device clock went backwards: {ticks} < {last_ticks}")
        self._samples.append(((t_sent + t_received) / 2, float(ticks), half_rtt))
        self._estimate = None
        return True

    @property
    def last_sample(self) -> tuple[float, float] | None:
        """(host time, device ticks) of the newest sample kept."""
        with self._lock:
            return (self._samples[-1][0], self._samples[-1][1]) if self._samples else None

    @property
    def estimate(self) -> ClockEstimate | None:
        with self._lock:
            if self._estimate is None and self._samples:
                self._estimate = self._fit()
            return self._estimate

    def _fit(self) -> ClockEstimate:
        samples = list(self._samples)
        ref, y_ref, half_ref = samples[-1]
        half_min = min(s[2] for s in samples)
        if len(samples) < 3 or ref - samples[0][0] < 0.05:
            # Too short a baseline to see drift: nominal rate through the latest sample.
            return ClockEstimate(ref, y_ref, float(self.tick_hz), half_ref * 1e6, len(samples))
        # Weighted least squares (weight 1/half_rtt², so precise short-RTT samples count more),
        # in plain Python: 64 points need no numpy, and the driver starts faster without it.
        # Ticks are taken relative to the latest sample to keep ~1e12 values out of the sums.
        xs = [t - ref for t, _, _ in samples]
        ys = [y - y_ref for _, y, _ in samples]
        ws = [1.0 / max(h, 1e-5) ** 2 for _, _, h in samples]
        sw = sum(ws)
        x_mean = sum(w * x for w, x in zip(ws, xs, strict=True)) / sw
        y_mean = sum(w * y for w, y in zip(ws, ys, strict=True)) / sw
        sxx = sum(w * (x - x_mean) ** 2 for w, x in zip(ws, xs, strict=True))
        sxy = sum(w * (x - x_mean) * (y - y_mean) for w, x, y in zip(ws, xs, ys, strict=True))
        slope = sxy / sxx
        intercept = y_mean - slope * x_mean
        resid_us = [(y - (intercept + slope * x)) / slope * 1e6 for x, y in zip(xs, ys, strict=True)]
        error = math.sqrt(sum(r * r for r in resid_us) / len(resid_us)) * 2 + half_min * 1e6
        return ClockEstimate(ref, y_ref + intercept, slope, error, len(samples))

    @property
    def drift_ppm(self) -> float:
        est = self.estimate
        if est is None:
            return math.nan
        return (est.rate / self.tick_hz - 1.0) * 1e6
