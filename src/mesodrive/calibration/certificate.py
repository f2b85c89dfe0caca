"""The calibration certificate as data: everything a later reader needs to re-check it
(raw readings, environment, Z, results before and after, uncertainty, verdicts, limits).

`build_certificate` assembles it from the domain objects; `Certificate.to_json()` is the
machine-readable form and `certificate_html.render_html` the printable one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from mesodrive.calibration.environment import Environment
from mesodrive.calibration.fits import DepthFit, DepthPoint, DoseFit
from mesodrive.calibration.gravimetric import GravimetricResult
from mesodrive.calibration.limits import (
    CalibrationLimits,
    DepthVerdict,
    DoseVerdict,
    verify_depth,
    verify_dose,
)
from mesodrive.calibration.uncertainty import MeasurementUncertainties, budget
from mesodrive.driver.calibration_profile import CalibrationProfile

__all__ = ["Certificate", "DepthRecord", "DoseRecord", "InstrumentRecord", "build_certificate",
           "depth_record", "dose_record"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentRecord(_Strict):
    kind: str  # "balance" | "depth gauge"
    model: str
    serial_number: str
    readability: str  # as the instrument shows it, with unit, e.g. "0.01 mg"


class EnvironmentRecord(_Strict):
    water_temperature_c: float
    water_temperature_after_c: float | None = None  # read when the weighings were done
    air_temperature_c: float
    air_pressure_hpa: float
    relative_humidity_pct: float


class UncertaintyRecord(_Strict):
    components_ul: dict[str, float]
    combined_ul: float
    coverage_factor: float
    expanded_ul: float
    expanded_pct: float


class DoseRecord(_Strict):
    volume_ul: float
    commanded_ul: float
    masses_mg: list[float]  # raw net mass per replicate, as weighed
    evaporation_per_replicate_mg: float
    z_ul_per_mg: float
    volumes_ul: list[float]
    mean_ul: float
    systematic_error_ul: float
    systematic_error_pct: float
    random_error_ul: float
    cv_pct: float
    uncertainty: UncertaintyRecord
    verdict: DoseVerdict


class DepthRecord(_Strict):
    requested_mm: float
    commanded_mm: float
    readings_mm: list[float]
    mean_mm: float | None  # None: unreachable (see verdict.note)
    error_mm: float | None
    verdict: DepthVerdict


class ProfileRecord(_Strict):
    name: str
    depth_scale: float
    depth_offset_mm: float
    volume_gain: float
    volume_offset_ul: float


class FitRecord(_Strict):
    slope: float
    intercept: float
    residuals: list[float]


class Certificate(_Strict):
    certificate_id: str
    device_serial: str
    device_firmware: str
    technician: str
    issued: dt.datetime
    expires: dt.date
    instruments: list[InstrumentRecord]
    environment: EnvironmentRecord | None
    uncertainties: dict[str, float] | None  # the instrument uncertainties used (GUM inputs)
    dose_before: list[DoseRecord]
    dose_after: list[DoseRecord]
    depth_before: list[DepthRecord]
    depth_after: list[DepthRecord]
    dose_fit: FitRecord | None
    depth_fit: FitRecord | None
    profile_before: ProfileRecord
    profile_after: ProfileRecord
    limits: CalibrationLimits
    limits_source: str
    passed: bool

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def _profile(p: CalibrationProfile) -> ProfileRecord:
    return ProfileRecord(name=p.name, depth_scale=p.depth_scale, depth_offset_mm=p.depth_offset_mm,
                         volume_gain=p.volume_gain, volume_offset_ul=p.volume_offset_ul)


def dose_record(result: GravimetricResult, commanded_ul: float, limits: CalibrationLimits,
                uncertainties: MeasurementUncertainties) -> DoseRecord:
    b = budget(result, uncertainties)
    return DoseRecord(
        volume_ul=result.nominal_ul, commanded_ul=commanded_ul, masses_mg=list(result.masses_mg),
        evaporation_per_replicate_mg=result.evaporation_per_replicate_mg,
        z_ul_per_mg=result.z.z_ul_per_mg, volumes_ul=list(result.volumes_ul),
        mean_ul=result.mean_ul, systematic_error_ul=result.systematic_error_ul,
        systematic_error_pct=result.systematic_error_pct, random_error_ul=result.random_error_ul,
        cv_pct=result.cv_pct,
        uncertainty=UncertaintyRecord(components_ul=dict(b.components_ul), combined_ul=b.combined_ul,
                                      coverage_factor=b.coverage_factor, expanded_ul=b.expanded_ul,
                                      expanded_pct=b.expanded_pct),
        verdict=verify_dose(result, limits),
    )


def depth_record(point: DepthPoint, limits: CalibrationLimits) -> DepthRecord:
    verdict = verify_depth(point, limits)
    return DepthRecord(requested_mm=point.requested_mm, commanded_mm=point.commanded_mm,
                       readings_mm=list(point.measured_mm), mean_mm=verdict.mean_mm,
                       error_mm=verdict.error_mm, verdict=verdict)


def build_certificate(
    *,
    device_serial: str,
    device_firmware: str,
    technician: str,
    limits: CalibrationLimits,
    limits_source: str,
    profile_before: CalibrationProfile,
    profile_after: CalibrationProfile,
    instruments: Sequence[InstrumentRecord] = (),
    environment: Environment | None = None,
    water_temperature_after_c: float | None = None,
    uncertainties: MeasurementUncertainties | None = None,
    dose_before: Sequence[DoseRecord] = (),
    dose_after: Sequence[DoseRecord] = (),
    depth_before: Sequence[DepthRecord] = (),
    depth_after: Sequence[DepthRecord] = (),
    dose_fit: DoseFit | None = None,
    depth_fit: DepthFit | None = None,
    issued: dt.datetime | None = None,
) -> Certificate:
    """Passed = every as-left (after) point within its limit, and at least one point."""
    issued = issued if issued is not None else dt.datetime.now(dt.UTC)
    after = [r.verdict.passed for r in dose_after] + [r.verdict.passed for r in depth_after]
    return Certificate(
        certificate_id=f"CAL-{issued:%Y%m%d}-{uuid.uuid4().hex[:8].upper()}",
        device_serial=device_serial, device_firmware=device_firmware, technician=technician,
        issued=issued, expires=(issued + dt.timedelta(days=limits.validity_days)).date(),
        instruments=list(instruments),
        environment=None if environment is None else EnvironmentRecord(
            water_temperature_c=environment.water_temperature_c,
            water_temperature_after_c=water_temperature_after_c,
            air_temperature_c=environment.air_c,
            air_pressure_hpa=environment.air_pressure_hpa,
            relative_humidity_pct=environment.relative_humidity_pct),
        uncertainties=None if uncertainties is None else {
            "readability_mg": uncertainties.readability_mg,
            "balance_repeatability_mg": uncertainties.balance_repeatability_mg,
            "water_temperature_c": uncertainties.water_temperature_c,
            "air_pressure_hpa": uncertainties.air_pressure_hpa,
            "relative_humidity_pct": uncertainties.relative_humidity_pct},
        dose_before=list(dose_before), dose_after=list(dose_after),
        depth_before=list(depth_before), depth_after=list(depth_after),
        dose_fit=None if dose_fit is None else FitRecord(
            slope=dose_fit.gain, intercept=dose_fit.offset_ul, residuals=list(dose_fit.line.residuals)),
        depth_fit=None if depth_fit is None else FitRecord(
            slope=depth_fit.scale, intercept=depth_fit.offset_mm,
            residuals=list(depth_fit.line.residuals)),
        profile_before=_profile(profile_before), profile_after=_profile(profile_after),
        limits=limits, limits_source=limits_source,
        passed=bool(after) and all(after),
    )
