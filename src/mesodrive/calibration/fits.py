"""Depth and dose fits → the driver's `CalibrationProfile`.

The device's systematic errors are linear in what it is commanded (driver
`calibration_profile.py`): true depth = scale · commanded + offset, true volume =
gain · commanded + offset. A fit regresses what the instruments measured on what the device
was *commanded* (after whatever profile was in use), by ordinary least squares over the
mean of each test point, so the profile it gives inverts the device's own errors.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from mesodrive.calibration.errors import FitError
from mesodrive.driver.calibration_profile import CalibrationProfile

__all__ = ["DepthFit", "DepthPoint", "DoseFit", "DosePoint", "LineFit", "fit_depth", "fit_dose",
           "fit_line", "profile_from"]


@dataclass(frozen=True, slots=True)
class LineFit:
    slope: float
    intercept: float
    residuals: tuple[float, ...]  # measured − fitted, per point

    @property
    def max_abs_residual(self) -> float:
        return max(abs(r) for r in self.residuals)


def fit_line(x: Sequence[float], y: Sequence[float]) -> LineFit:
    """Least squares y = slope·x + intercept; FitError unless ≥ 2 distinct x."""
    if len(x) != len(y) or len(set(x)) < 2:
        raise FitError(f"a line needs at least two different test points (got x = {list(x)})")
    if not all(math.isfinite(v) for v in (*x, *y)):
        raise FitError("a test point is not a finite number")
    mx, my = statistics.fmean(x), statistics.fmean(y)
    sxx = sum((xi - mx) ** 2 for xi in x)
    slope = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y, strict=True)) / sxx
    intercept = my - slope * mx
    return LineFit(slope, intercept, tuple(yi - (slope * xi + intercept)
                                           for xi, yi in zip(x, y, strict=True)))


@dataclass(frozen=True, slots=True)
class DepthPoint:
    """One depth test point: what was asked, what the device was commanded (after the
    profile in use), and each gauge reading of the needle at that depth (mm)."""

    requested_mm: float
    commanded_mm: float
    measured_mm: tuple[float, ...]

    @property
    def mean_mm(self) -> float:
        if not self.measured_mm:
            raise FitError(f"depth {self.requested_mm:g} mm has no readings")
        return statistics.fmean(self.measured_mm)

    @property
    def error_mm(self) -> float:
        return self.mean_mm - self.requested_mm


@dataclass(frozen=True, slots=True)
class DepthFit:
    scale: float
    offset_mm: float
    line: LineFit


def fit_depth(points: Sequence[DepthPoint]) -> DepthFit:
    """Points without readings (unreachable with the profile in use) do not take part."""
    measured = [p for p in points if p.measured_mm] or list(points)
    line = fit_line([p.commanded_mm for p in measured], [p.mean_mm for p in measured])
    return DepthFit(scale=line.slope, offset_mm=line.intercept, line=line)


@dataclass(frozen=True, slots=True)
class DosePoint:
    """One dose test point: asked, commanded (after the profile in use), mean true volume
    (µL, from the gravimetric evaluation)."""

    requested_ul: float
    commanded_ul: float
    mean_ul: float


@dataclass(frozen=True, slots=True)
class DoseFit:
    gain: float
    offset_ul: float
    line: LineFit


def fit_dose(points: Sequence[DosePoint]) -> DoseFit:
    line = fit_line([p.commanded_ul for p in points], [p.mean_ul for p in points])
    return DoseFit(gain=line.slope, offset_ul=line.intercept, line=line)


def profile_from(
    name: str,
    *,
    depth: DepthFit | None = None,
    dose: DoseFit | None = None,
    base: CalibrationProfile | None = None,
) -> CalibrationProfile:
    """A new profile: the fitted parts replace the base profile's (identity by default)."""
    base = base if base is not None else CalibrationProfile()
    try:
        return CalibrationProfile(
            name=name,
            depth_scale=depth.scale if depth is not None else base.depth_scale,
            depth_offset_mm=depth.offset_mm if depth is not None else base.depth_offset_mm,
            volume_gain=dose.gain if dose is not None else base.volume_gain,
            volume_offset_ul=dose.offset_ul if dose is not None else base.volume_offset_ul,
        )
    except ValueError as exc:  # the driver refuses a profile that would be broken
        raise FitError(f"the measurements give an unusable profile: {exc}") from None
