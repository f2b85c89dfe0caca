"""An independent check of a new dose profile: one more gravimetric pass after the
calibration, on a fresh connection that applies the profile exactly as a treatment will.

The as-left pass of `procedure.calibrate_dose` already uses the new profile, but it is part
of the calibration that made it; a verification is a separate pass with its own blank and
its own replicates (ISO 8655-6 procedure, the same settings), judged against the limits —
what a QA check of the calibrated device would find.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mesodrive.calibration.balance import MtSicsBalance
from mesodrive.calibration.device import InjectorConnector
from mesodrive.calibration.dose_run import DosePass, DoseRunSettings, GravimetricRun
from mesodrive.calibration.environment import Environment
from mesodrive.calibration.limits import CalibrationLimits, DoseVerdict, verify_dose
from mesodrive.calibration.progress import ProgressCallback
from mesodrive.driver.calibration_profile import CalibrationProfile

__all__ = ["DoseVerification", "verify_dose_profile"]


@dataclass(frozen=True, slots=True)
class DoseVerification:
    dose_pass: DosePass
    verdicts: tuple[DoseVerdict, ...]

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)


def verify_dose_profile(
    connect: InjectorConnector,
    balance: MtSicsBalance,
    *,
    profile: CalibrationProfile,
    environment: Environment,
    limits: CalibrationLimits,
    settings: DoseRunSettings | None = None,
    session: int | None = None,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DoseVerification:
    """One gravimetric pass with `profile` at the volumes of `limits` (or of `settings`),
    each volume judged against its limit. Raises what a pass raises (no partial result)."""
    settings = settings or DoseRunSettings(
        volumes_ul=tuple(p.volume_ul for p in limits.dose.points),
        replicates=limits.dose.replicates)
    for volume in settings.volumes_ul:
        limits.dose_limit(volume)  # a volume without a limit is refused before any shot
    injector = connect(profile)
    try:
        run = GravimetricRun(injector, balance, profile=profile, environment=environment,
                             settings=settings,
                             session=session if session is not None else int(time.time()) % 2**30,
                             progress=progress, label="verification", clock=clock, sleep=sleep)
        dose_pass = run.run()
    finally:
        injector.close()
    verdicts = tuple(verify_dose(m.result, limits) for m in dose_pass.measurements)
    return DoseVerification(dose_pass, verdicts)
