"""`GravimetricRun`: one ISO 8655-6 pass over the test volumes, driving the injector and
the balance, step by step with progress callbacks.

What it does (calibration/PROCEDURES.md, "Dose"):
1. reset and identify the balance, home the injector and prime it into the vessel;
2. evaporation blank: weigh, wait `blank_s` with nothing dispensed, weigh again (0 = no
   blank and no correction; otherwise at least `MIN_BLANK_S`, because the noise of two
   readings over a short blank makes an absurd rate: 0.03 mg over 1 s reads as 30 µg/s);
3. per test volume: weigh, and `replicates` times: arm, one shot into the vessel, disarm,
   let it land, weigh (stable). Each replicate's net mass is the difference of two
   consecutive stable readings, so no re-zeroing between replicates; its cycle time is the
   time between them (evaporation acts over it);
4. evaluate each volume (`gravimetric.evaluate_test_volume`).
The vessel and the liquid are the technician's; the run never touches the balance's zero.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mesodrive.calibration.balance import BalanceIdentity, MtSicsBalance
from mesodrive.calibration.device import (
    InjectorPort,
    ShotFirer,
    ShotSettings,
    guarded,
    volume_range_ul,
)
from mesodrive.calibration.environment import Environment
from mesodrive.calibration.errors import CalibrationInputError, RunError
from mesodrive.calibration.gravimetric import (
    EvaporationBlank,
    GravimetricResult,
    evaluate_test_volume,
)
from mesodrive.calibration.progress import ProgressCallback, RunProgress, notify
from mesodrive.driver.calibration_profile import CalibrationProfile

__all__ = ["MIN_BLANK_S", "DoseMeasurement", "DosePass", "DoseRunSettings", "GravimetricRun"]

MIN_BLANK_S = 30.0


@dataclass(frozen=True, slots=True)
class DoseRunSettings:
    volumes_ul: tuple[float, ...] = (10.0, 20.0, 50.0)
    replicates: int = 10
    blank_s: float = 60.0  # 0: no blank, no evaporation correction
    prime_ul: float = 20.0
    depth_mm: float = 2.0  # the needle's stroke into the vessel; irrelevant to the volume
    land_s: float = 1.0  # after the shot, before weighing: the drop reaches the pan
    shot: ShotSettings = field(default_factory=ShotSettings)


@dataclass(frozen=True, slots=True)
class DoseMeasurement:
    requested_ul: float
    commanded_ul: float  # after the profile in use: what the device was told
    result: GravimetricResult
    readings_mg: tuple[float, ...]  # the cumulative stable readings, first one included


@dataclass(frozen=True, slots=True)
class DosePass:
    balance: BalanceIdentity
    readability_mg: float
    blank: EvaporationBlank | None
    measurements: tuple[DoseMeasurement, ...]


class GravimetricRun:
    def __init__(
        self,
        injector: InjectorPort,
        balance: MtSicsBalance,
        *,
        profile: CalibrationProfile,
        environment: Environment,
        settings: DoseRunSettings,
        session: int,
        progress: ProgressCallback | None = None,
        label: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if settings.replicates < 2:
            raise CalibrationInputError("a gravimetric run needs at least 2 replicates")
        if 0 < settings.blank_s < MIN_BLANK_S or settings.blank_s < 0:
            raise CalibrationInputError(
                f"an evaporation blank of {settings.blank_s:g} s is too short to measure "
                f"(at least {MIN_BLANK_S:g} s; 0 = none)")
        self.injector, self.balance, self.profile = injector, balance, profile
        self.environment, self.settings, self.session = environment, settings, session
        self.progress = progress
        self._clock, self._sleep = clock, sleep
        self.label = label
        self._step = 0
        self.total_steps = 3 + len(settings.volumes_ul) * settings.replicates

    def _tell(self, phase: str, message: str) -> None:
        self._step += 1
        notify(self.progress, RunProgress(self.label, phase, self._step, self.total_steps, message))

    def _weigh(self) -> tuple[float, float]:
        reading = self.balance.weigh()
        return reading.mass_mg, self._clock()

    def run(self) -> DosePass:
        s = self.settings
        lo, hi = volume_range_ul(self.injector)
        unreachable = [v for v in s.volumes_ul
                       if not lo <= self.profile.commanded_volume_ul(v) <= hi]
        if unreachable:
            raise RunError(
                f"with profile {self.profile.name!r} the device would have to be commanded "
                f"outside its {lo:g}–{hi:g} µL range for {', '.join(f'{v:g}' for v in unreachable)}"
                " µL: these volumes cannot be delivered (service the device)")
        self._tell("prepare", "identifying the balance, homing and priming the injector")
        self.balance.reset()
        identity = self.balance.identify()
        guarded(self.injector.home, "homing")
        guarded(lambda: self.injector.prime(s.prime_ul, s.shot.flow_ul_s), "priming")
        self._sleep(s.land_s)
        first = self.balance.weigh()
        blank: EvaporationBlank | None = None
        if s.blank_s > 0:
            self._tell("blank", f"evaporation blank: {s.blank_s:g} s with nothing dispensed")
            t0 = self._clock()
            self._sleep(s.blank_s)
            m1, t1 = self._weigh()
            blank = _blank(first.mass_mg - m1, t1 - t0, first.readability_mg)
        else:
            self._tell("blank", "no evaporation blank (no correction)")
        firer = ShotFirer(self.injector, self.session, s.shot)
        measurements = tuple(self._volume(firer, v, blank) for v in s.volumes_ul)
        self._tell("done", "dose pass complete")
        return DosePass(identity, first.readability_mg, blank, measurements)

    def _volume(self, firer: ShotFirer, volume_ul: float,
                blank: EvaporationBlank | None) -> DoseMeasurement:
        s = self.settings
        reading, t_prev = self._weigh()
        readings, masses, cycles = [reading], [], []
        for i in range(s.replicates):
            self._tell("dose", f"{volume_ul:g} µL: replicate {i + 1} of {s.replicates}")
            firer.fire(depth_mm=s.depth_mm, volume_ul=volume_ul)
            self._sleep(s.land_s)
            reading, t = self._weigh()
            net = reading - readings[-1]
            if net <= 0:
                # Stop at once: nothing landed, or the vessel/pan was disturbed; every later
                # difference would be just as meaningless.
                raise RunError(
                    f"{volume_ul:g} µL, replicate {i + 1}: the balance shows {net:+.3f} mg net "
                    f"({readings[-1]:.3f} → {reading:.3f} mg) after a shot — was the vessel moved, "
                    "the pan touched or the balance re-zeroed? The pass is void: start again")
            masses.append(net)
            cycles.append(t - t_prev)
            readings.append(reading)
            t_prev = t
        result = evaluate_test_volume(volume_ul, masses, self.environment, blank=blank,
                                      cycle_time_s=statistics.fmean(cycles))
        return DoseMeasurement(volume_ul, self.profile.commanded_volume_ul(volume_ul), result,
                               tuple(readings))


def _blank(loss_mg: float, duration_s: float, readability_mg: float) -> EvaporationBlank:
    """A blank that gained no more than the noise of two readings evaporated nothing."""
    if loss_mg < 0:
        if -loss_mg > 10 * readability_mg:  # beyond the noise of two readings
            raise RunError(f"evaporation blank: the vessel gained {-loss_mg:.3f} mg with nothing "
                           "dispensed (dripping needle, condensation or draught?)")
        loss_mg = 0.0
    return EvaporationBlank(mass_loss_mg=loss_mg, duration_s=max(duration_s, 1e-3))

