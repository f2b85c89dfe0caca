"""Acceptance limits (`calibration/limits.toml`, edited by QA) and pass/fail verdicts.

A test volume or depth without a limit in the file is *not allowed*, never "unlimited".
Dose: |systematic error| and CV against ISO 8655-2's maximum permissible errors for that
volume. Depth: |mean measured − requested| within the tolerance (±0.03 mm).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, field_validator

from mesodrive.calibration.errors import LimitsError
from mesodrive.calibration.fits import DepthPoint
from mesodrive.calibration.gravimetric import GravimetricResult
from mesodrive.plan.library import TREATMENT_DEPTH_MM

__all__ = ["CalibrationLimits", "DepthVerdict", "DoseVerdict", "load_limits", "verify_depth",
           "verify_dose"]

_MATCH_UL = 1e-9  # test volumes are matched exactly (to float noise)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DoseLimit(_Strict):
    volume_ul: PositiveFloat
    max_systematic_error_pct: PositiveFloat
    max_cv_pct: PositiveFloat


class DoseLimits(_Strict):
    replicates: int = Field(ge=2)
    # ISO 8655-6: the water's temperature stable within this during the test (before/after).
    max_water_temperature_drift_c: PositiveFloat
    points: list[DoseLimit] = Field(min_length=1)


class DepthLimits(_Strict):
    points_mm: list[PositiveFloat] = Field(min_length=2)
    tolerance_mm: PositiveFloat
    readings_per_point: int = Field(ge=1)

    @field_validator("points_mm")
    @classmethod
    def _in_treatment_range(cls, points: list[float]) -> list[float]:
        # The test depths are true depths a plan may ask for: within the 1–4 mm treatment
        # range (DOMAIN.md), never the device's wider mechanical travel.
        lo, hi = TREATMENT_DEPTH_MM
        outside = [p for p in points if not lo <= p <= hi]
        if outside:
            raise ValueError(f"test depths {outside} mm lie outside the {lo:g}–{hi:g} mm "
                             "treatment range")
        return points


class CalibrationLimits(_Strict):
    validity_days: int = Field(ge=1)
    dose: DoseLimits
    depth: DepthLimits

    def dose_limit(self, volume_ul: float) -> DoseLimit:
        for limit in self.dose.points:
            if abs(limit.volume_ul - volume_ul) <= _MATCH_UL * max(1.0, volume_ul):
                return limit
        listed = ", ".join(f"{p.volume_ul:g}" for p in self.dose.points)
        raise LimitsError(f"no acceptance limit for {volume_ul:g} µL (limits exist for {listed} "
                          "µL): a missing limit means the volume is not allowed")


def load_limits(path: Path) -> CalibrationLimits:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LimitsError(f"cannot read the limits file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LimitsError(f"{path} is not valid TOML: {exc}") from None
    try:
        return CalibrationLimits.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise LimitsError(f"{path}: {problems}") from None


class DoseVerdict(_Strict):
    volume_ul: float
    systematic_error_pct: float
    max_systematic_error_pct: float
    cv_pct: float
    max_cv_pct: float
    passed: bool


class DepthVerdict(_Strict):
    requested_mm: float
    mean_mm: float | None  # None: the depth could not be reached (no readings)
    error_mm: float | None
    tolerance_mm: float
    passed: bool
    note: str = ""


def verify_dose(result: GravimetricResult, limits: CalibrationLimits) -> DoseVerdict:
    limit = limits.dose_limit(result.nominal_ul)
    return DoseVerdict(
        volume_ul=result.nominal_ul,
        systematic_error_pct=result.systematic_error_pct,
        max_systematic_error_pct=limit.max_systematic_error_pct,
        cv_pct=result.cv_pct,
        max_cv_pct=limit.max_cv_pct,
        passed=abs(result.systematic_error_pct) <= limit.max_systematic_error_pct
        and result.cv_pct <= limit.max_cv_pct,
    )


def verify_depth(point: DepthPoint, limits: CalibrationLimits) -> DepthVerdict:
    tolerance = limits.depth.tolerance_mm
    if not point.measured_mm:
        return DepthVerdict(requested_mm=point.requested_mm, mean_mm=None, error_mm=None,
                            tolerance_mm=tolerance, passed=False,
                            note=f"unreachable: needs a commanded depth of "
                                 f"{point.commanded_mm:.3f} mm, outside the device's range")
    error = point.error_mm
    return DepthVerdict(
        requested_mm=point.requested_mm,
        mean_mm=point.mean_mm,
        error_mm=error,
        tolerance_mm=tolerance,
        passed=abs(error) <= tolerance,
    )
