"""`DepthRun`: one pass over the depth test points, driving the injector and reading the
needle with the depth gauge while it rests at depth.

What it does (calibration/PROCEDURES.md, "Depth"):
1. identify the gauge, set millimetres and absolute mode (its zero is the skin plane of
   the fixture), home the injector;
2. per test depth, `readings` times: arm, one shot with a dwell (the needle rests at depth),
   read the gauge until it has seen a plateau — `plateau_samples` consecutive readings
   within `plateau_band_mm` of their median, past the skin plane — keep that median, disarm.
A depth the profile would command outside the device's range is recorded unreachable.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mesodrive.calibration.device import (
    InjectorPort,
    ShotFirer,
    ShotSettings,
    depth_range_mm,
    guarded,
)
from mesodrive.calibration.errors import RunError
from mesodrive.calibration.fits import DepthPoint
from mesodrive.calibration.gauge import DepthGaugeClient, GaugeIdentity
from mesodrive.calibration.progress import ProgressCallback, RunProgress, notify
from mesodrive.driver.calibration_profile import CalibrationProfile

__all__ = ["DepthPass", "DepthRun", "DepthRunSettings"]


@dataclass(frozen=True, slots=True)
class DepthRunSettings:
    depths_mm: tuple[float, ...] = (1.0, 2.5, 4.0)
    readings: int = 5
    volume_ul: float = 1.0  # the smallest practical shot: depth does not depend on it
    dwell_s: float = 1.5  # the needle rests at depth this long: the gauge reads meanwhile
    plateau_samples: int = 4
    plateau_band_mm: float = 0.005
    min_protrusion_mm: float = 0.2  # readings nearer the skin plane are the needle moving
    poll_s: float = 0.02
    shot: ShotSettings = field(default_factory=ShotSettings)


@dataclass(frozen=True, slots=True)
class DepthPass:
    gauge: GaugeIdentity
    resolution_mm: float
    points: tuple[DepthPoint, ...]


class DepthRun:
    def __init__(
        self,
        injector: InjectorPort,
        gauge: DepthGaugeClient,
        *,
        profile: CalibrationProfile,
        settings: DepthRunSettings,
        session: int,
        progress: ProgressCallback | None = None,
        label: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.injector, self.gauge, self.profile = injector, gauge, profile
        self.settings, self.session, self.progress = settings, session, progress
        self._clock, self._sleep = clock, sleep
        self.label = label
        self._step = 0
        self.total_steps = 2 + len(settings.depths_mm) * settings.readings
        self._resolution_mm = 0.001

    def _tell(self, phase: str, message: str) -> None:
        self._step += 1
        notify(self.progress, RunProgress(self.label, phase, self._step, self.total_steps, message))

    def run(self) -> DepthPass:
        s = self.settings
        self._tell("prepare", "identifying the gauge, homing the injector")
        identity = self.gauge.identify()
        self.gauge.millimetres()
        self.gauge.absolute()
        guarded(self.injector.home, "homing")
        firer = ShotFirer(self.injector, self.session, s.shot)
        points = tuple(self._point(firer, d) for d in s.depths_mm)
        self._tell("done", "depth pass complete")
        return DepthPass(identity, self._resolution_mm, points)

    def _point(self, firer: ShotFirer, depth_mm: float) -> DepthPoint:
        s = self.settings
        commanded = self.profile.commanded_depth_mm(depth_mm)
        lo, hi = depth_range_mm(self.injector)
        if not lo <= commanded <= hi:
            # This depth cannot be reached: recorded as such (no readings: it fails), never
            # skipped silently and never forced.
            self._step += s.readings - 1
            self._tell("depth", f"{depth_mm:g} mm: unreachable (commanded {commanded:.3f} mm is "
                                f"outside the device's {lo:g}–{hi:g} mm)")
            return DepthPoint(depth_mm, commanded, ())
        readings = []
        for i in range(s.readings):
            self._tell("depth", f"{depth_mm:g} mm: reading {i + 1} of {s.readings}")
            with firer.armed():
                index = firer.queue(depth_mm=depth_mm, volume_ul=s.volume_ul, dwell_s=s.dwell_s)
                readings.append(self._plateau(depth_mm))
                firer.wait(index)
        return DepthPoint(depth_mm, commanded, tuple(readings))

    def _plateau(self, depth_mm: float) -> float:
        """The needle's resting depth: the median of the first steady run of readings."""
        s = self.settings
        deadline = self._clock() + s.shot.lead_s + s.shot.timeout_s
        window: list[float] = []
        while self._clock() < deadline:
            reading = self.gauge.read()
            self._resolution_mm = reading.resolution_mm
            value = reading.value_mm
            if value < s.min_protrusion_mm:
                window.clear()
            else:
                window.append(value)
                window = window[-s.plateau_samples:]
                if len(window) == s.plateau_samples:
                    median = statistics.median(window)
                    if all(abs(v - median) <= s.plateau_band_mm for v in window):
                        return median
            self._sleep(s.poll_s)
        raise RunError(f"{depth_mm:g} mm: the gauge never saw the needle resting at depth "
                       "(is the gauge mounted on the needle axis, in absolute mode?)")
