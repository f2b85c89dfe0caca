"""Whole calibrations: as found → fit → new profile → as left → certificate.

Each function connects the injector once with the profile in use (as found) and once with
the new profile (as left), through an `InjectorConnector`, so the driver applies each
profile exactly as it will in treatment. The instruments stay open throughout.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from mesodrive.calibration.balance import MtSicsBalance
from mesodrive.calibration.certificate import (
    Certificate,
    InstrumentRecord,
    build_certificate,
    depth_record,
    dose_record,
)
from mesodrive.calibration.depth_run import DepthPass, DepthRun, DepthRunSettings
from mesodrive.calibration.device import InjectorConnector, InjectorPort
from mesodrive.calibration.dose_run import DosePass, DoseRunSettings, GravimetricRun
from mesodrive.calibration.environment import Environment, check_water_temperature_drift
from mesodrive.calibration.fits import (
    DepthFit,
    DoseFit,
    DosePoint,
    fit_depth,
    fit_dose,
    profile_from,
)
from mesodrive.calibration.gauge import DepthGaugeClient
from mesodrive.calibration.limits import CalibrationLimits
from mesodrive.calibration.progress import ProgressCallback
from mesodrive.calibration.uncertainty import MeasurementUncertainties
from mesodrive.driver.calibration_profile import CalibrationProfile

__all__ = ["DepthCalibration", "DoseCalibration", "calibrate_depth", "calibrate_dose"]


@dataclass(frozen=True, slots=True)
class DoseCalibration:
    as_found: DosePass
    fit: DoseFit
    profile: CalibrationProfile
    as_left: DosePass
    certificate: Certificate


@dataclass(frozen=True, slots=True)
class DepthCalibration:
    as_found: DepthPass
    fit: DepthFit
    profile: CalibrationProfile
    as_left: DepthPass
    certificate: Certificate


def _session_base() -> int:
    # A fresh session id per pass: the device executes an index at most once per session.
    return int(time.time()) % 2_000_000_000


def _device(injector: InjectorPort) -> tuple[str, str]:
    caps = injector.capabilities
    return str(getattr(caps, "serial", "?")), str(getattr(caps, "firmware", "?"))


def _profile_name(serial: str, what: str) -> str:
    return f"{serial}-{what}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"


def calibrate_dose(
    connect: InjectorConnector,
    balance: MtSicsBalance,
    *,
    environment: Environment,
    limits: CalibrationLimits,
    limits_source: str,
    technician: str,
    profile_before: CalibrationProfile,
    water_temperature_after: Callable[[], float | None],
    settings: DoseRunSettings | None = None,
    blank_s: float = 60.0,
    balance_repeatability_mg: float | None = None,
    u_water_temperature_c: float = 0.2,
    u_air_pressure_hpa: float = 1.0,
    u_relative_humidity_pct: float = 5.0,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DoseCalibration:
    settings = settings or DoseRunSettings(
        volumes_ul=tuple(p.volume_ul for p in limits.dose.points), replicates=limits.dose.replicates,
        blank_s=blank_s)
    for volume in settings.volumes_ul:
        limits.dose_limit(volume)  # refuse a volume without a limit before any shot
    session = _session_base()

    def one_pass(profile: CalibrationProfile, session: int, label: str) -> tuple[DosePass, str, str]:
        injector = connect(profile)
        try:
            run = GravimetricRun(injector, balance, profile=profile, environment=environment,
                                 settings=settings, session=session, progress=progress,
                                 label=label, clock=clock, sleep=sleep)
            return (run.run(), *_device(injector))
        finally:
            injector.close()

    as_found, serial, firmware = one_pass(profile_before, session, "as found")
    fit = fit_dose([DosePoint(m.requested_ul, m.commanded_ul, m.result.mean_ul)
                    for m in as_found.measurements])
    profile = profile_from(_profile_name(serial, "dose"), dose=fit, base=profile_before)
    as_left, _, _ = one_pass(profile, session + 1, "as left")
    # ISO 8655-6: the water stable during the test; a drift voids it before anything is made.
    water_after = water_temperature_after()
    check_water_temperature_drift(environment.water_temperature_c, water_after,
                                  limits.dose.max_water_temperature_drift_c)

    uncertainties = MeasurementUncertainties(
        readability_mg=as_found.readability_mg,
        balance_repeatability_mg=(balance_repeatability_mg if balance_repeatability_mg is not None
                                  else as_found.readability_mg),
        water_temperature_c=u_water_temperature_c, air_pressure_hpa=u_air_pressure_hpa,
        relative_humidity_pct=u_relative_humidity_pct)
    certificate = build_certificate(
        device_serial=serial, device_firmware=firmware, technician=technician, limits=limits,
        limits_source=limits_source, profile_before=profile_before, profile_after=profile,
        instruments=[InstrumentRecord(kind="balance", model=as_found.balance.model,
                                      serial_number=as_found.balance.serial_number,
                                      readability=f"{as_found.readability_mg:g} mg")],
        environment=environment, water_temperature_after_c=water_after,
        uncertainties=uncertainties,
        dose_before=[dose_record(m.result, m.commanded_ul, limits, uncertainties)
                     for m in as_found.measurements],
        dose_after=[dose_record(m.result, m.commanded_ul, limits, uncertainties)
                    for m in as_left.measurements],
        dose_fit=fit,
    )
    return DoseCalibration(as_found, fit, profile, as_left, certificate)


def calibrate_depth(
    connect: InjectorConnector,
    gauge: DepthGaugeClient,
    *,
    limits: CalibrationLimits,
    limits_source: str,
    technician: str,
    profile_before: CalibrationProfile,
    settings: DepthRunSettings | None = None,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DepthCalibration:
    base = settings or DepthRunSettings()
    settings = replace(base, depths_mm=tuple(limits.depth.points_mm),
                       readings=limits.depth.readings_per_point)
    session = _session_base()

    def one_pass(profile: CalibrationProfile, session: int, label: str) -> tuple[DepthPass, str, str]:
        injector = connect(profile)
        try:
            run = DepthRun(injector, gauge, profile=profile, settings=settings, session=session,
                           progress=progress, label=label, clock=clock, sleep=sleep)
            return (run.run(), *_device(injector))
        finally:
            injector.close()

    as_found, serial, firmware = one_pass(profile_before, session, "as found")
    fit = fit_depth(as_found.points)
    profile = profile_from(_profile_name(serial, "depth"), depth=fit, base=profile_before)
    as_left, _, _ = one_pass(profile, session + 1, "as left")
    certificate = build_certificate(
        device_serial=serial, device_firmware=firmware, technician=technician, limits=limits,
        limits_source=limits_source, profile_before=profile_before, profile_after=profile,
        instruments=[InstrumentRecord(kind="depth gauge", model=as_found.gauge.model,
                                      serial_number=as_found.gauge.serial_number,
                                      readability=f"{as_found.resolution_mm:g} mm")],
        depth_before=[depth_record(p, limits) for p in as_found.points],
        depth_after=[depth_record(p, limits) for p in as_left.points],
        depth_fit=fit,
    )
    return DepthCalibration(as_found, fit, profile, as_left, certificate)
