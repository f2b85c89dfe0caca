"""The injector as a calibration run sees it: the public `Injector` façade only, behind a
small protocol (so a run is testable with any stand-in and survives driver refactors), and
one place that fires a shot and insists it was executed.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from mesodrive.calibration.errors import InjectorFaulted, InjectorUnavailable, RunError
from mesodrive.driver.calibration_profile import CalibrationProfile
from mesodrive.driver.errors import CommandRefused, DriverError
from mesodrive.driver.shots import Shot, ShotRequest, ShotState
from mesodrive.driver.vocabulary import ShotFlag  # flag names, as the controller uses them

log = logging.getLogger(__name__)

__all__ = ["InjectorConnector", "InjectorPort", "ShotFirer", "ShotSettings", "connect_injector",
           "depth_range_mm", "disarm", "volume_range_ul"]


class InjectorPort(Protocol):
    """The part of `mesodrive.driver.injector.Injector` a calibration uses (public units)."""

    @property
    def capabilities(self) -> Any: ...  # DeviceCapabilities: .serial, .firmware, ranges in mm/µL

    def home(self, timeout: float = ...) -> None: ...
    def prime(self, volume_ul: float, flow_ul_s: float, timeout: float = ...) -> None: ...
    def arm(self, session: int | None = ..., telemetry_ms: int = ...) -> int: ...
    def disarm(self) -> None: ...
    def queue_shot(self, req: ShotRequest) -> Shot: ...
    def wait_shot(self, session: int, index: int, timeout: float) -> Shot: ...
    def device_now(self) -> float: ...  # device-clock seconds
    def close(self) -> None: ...


#: Opens the injector with a given calibration profile (the driver applies it to every shot).
InjectorConnector = Callable[[CalibrationProfile], InjectorPort]


def connect_injector(url: str, **driver_options: Any) -> InjectorConnector:
    """A connector for `Injector.connect(url, profile=…, **driver_options)`."""

    def connect(profile: CalibrationProfile) -> InjectorPort:
        from mesodrive.driver.injector import Injector

        try:
            injector: InjectorPort = Injector.connect(url, profile=profile, **driver_options)
        except (DriverError, OSError) as exc:
            raise InjectorUnavailable(f"cannot connect to the injector at {url!r}: {exc}") from None
        return injector

    return connect


def depth_range_mm(injector: InjectorPort) -> tuple[float, float]:
    """The depths the device accepts as commands (its hard limits, from its identity)."""
    caps = injector.capabilities
    return caps.depth_min_mm, caps.depth_max_mm


def volume_range_ul(injector: InjectorPort) -> tuple[float, float]:
    caps = injector.capabilities
    return caps.volume_min_ul, caps.volume_max_ul


@dataclass(frozen=True, slots=True)
class ShotSettings:
    """How calibration shots are given (into the vessel or against the gauge)."""

    flow_ul_s: float = 20.0
    speed_mm_s: float = 20.0
    lead_s: float = 0.3  # fire time ahead of now: covers link latency and clock error
    timeout_s: float = 15.0


class ShotFirer:
    """Fires numbered shots of one armed session and waits until each one is executed."""

    def __init__(self, injector: InjectorPort, session: int, settings: ShotSettings) -> None:
        self.injector = injector
        self.session = session  # replaced by the device session each arm draws (§12.4)
        self.settings = settings
        self._index = itertools.count()

    def queue(self, *, depth_mm: float, volume_ul: float, dwell_s: float = 0.0) -> int:
        index = next(self._index)
        s = self.settings
        try:
            self.injector.queue_shot(ShotRequest(
                index=index, depth_mm=depth_mm, volume_ul=volume_ul, flow_ul_s=s.flow_ul_s,
                speed_mm_s=s.speed_mm_s, dwell_s=dwell_s,
                fire_at=self.injector.device_now() + s.lead_s))
        except DriverError as exc:
            raise RunError(f"shot {index} ({volume_ul:g} µL at {depth_mm:g} mm) was refused: "
                           f"{exc}") from None
        return index

    def wait(self, index: int) -> None:
        try:
            shot = self.injector.wait_shot(self.session, index, timeout=self.settings.timeout_s)
        except DriverError as exc:
            raise RunError(f"shot {index}: {exc}") from None
        if shot.state is not ShotState.DONE:
            raise RunError(f"shot {index} ended {shot.state.value}"
                           f"{': ' + shot.reason if shot.reason else ''}; the measurement of "
                           "this point is void — fix the cause and start the run again")
        flags = shot.outcome.flags if shot.outcome is not None else 0
        if flags:
            # Executed, but the device saw air, a stall, an occlusion…: not a valid replicate.
            names = ", ".join((f.name or "").lower().replace("_", " ")
                              for f in ShotFlag if flags & f) or f"{flags:#06x}"
            raise RunError(f"shot {index} was executed with fault flags ({names}); the "
                           "measurement of this point is void — fix the cause and start the run "
                           "again")

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Armed only while shooting: the technician's hands are at the vessel or gauge in
        between, and a weighing may take seconds."""
        def arm() -> None:
            # A fresh device session each time: a device arms a session id once per boot.
            self.session = self.injector.arm()

        guarded(arm, "arming")
        failing = True
        try:
            yield
            failing = False
        finally:
            disarm(self.injector, failing=failing)

    def fire(self, *, depth_mm: float, volume_ul: float, dwell_s: float = 0.0) -> None:
        """Arm, fire one shot, wait until it is executed, disarm."""
        with self.armed():
            self.wait(self.queue(depth_mm=depth_mm, volume_ul=volume_ul, dwell_s=dwell_s))


def disarm(injector: InjectorPort, *, failing: bool) -> None:
    """Disarm at the end of a run. After a failure (the device may be in FAULT and refuse)
    a refusal must not hide the error that stopped the run, so it is only logged."""
    try:
        guarded(injector.disarm, "disarming")
    except RunError as exc:
        if not failing:
            raise
        log.warning("after the failure, %s", exc)


def guarded(action: Callable[[], None], what: str) -> None:
    """Run a device action, turning driver errors into a RunError that names the step."""
    try:
        action()
    except CommandRefused as exc:
        if exc.code in ("FAULT_ACTIVE", "ESTOPPED"):
            raise InjectorFaulted(f"{what}: the injector has a latched fault ({exc.code})") from None
        raise RunError(f"{what}: {exc}") from None
    except DriverError as exc:
        raise RunError(f"{what}: {exc}") from None
