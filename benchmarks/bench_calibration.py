"""Benchmark: a whole calibration on the time-warped simulator — dose (as found, fit, as
left), an independent dose verification, then depth (as found, fit, as left) — with the
simulator's default hidden errors, the repository's limits (10 replicates at 10/20/50/100 µL,
5 readings at 1/2.5/4 mm) and the default run settings (60 s evaporation blank, 20 µL/s).

    python benchmarks/bench_calibration.py [--speed 10] [--seed 1] [--blank 60]

One JSON line per figure: systematic error and CV per test volume (as found, as left,
verification), depth error per test depth (as found, as left), wall time of each part and
the total. Everything runs in this process (the rig's in-memory links): the simulator's
clock, the balance's settling, the blank and the host's waits all run `--speed` times faster
than real time. The armed injector's dead-man (250 ms of device time) and its "no shot starts
after 100 ms of host silence" leave 1/speed of that in wall time, so the interpreter's thread
switch interval is shortened and the cyclic garbage collector is off (its pauses over a large
heap are tens of ms). At ×10 a loaded 2-core machine keeps that; at ×20 it lost shots.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from mesosim import SimConfig
from mesosim.rig import CalibrationRig

from mesodrive.calibration.balance import MtSicsBalance
from mesodrive.calibration.device import InjectorPort
from mesodrive.calibration.dose_run import DoseRunSettings
from mesodrive.calibration.environment import Environment
from mesodrive.calibration.gauge import DepthGaugeClient
from mesodrive.calibration.limits import load_limits
from mesodrive.calibration.procedure import calibrate_depth, calibrate_dose
from mesodrive.calibration.verification import verify_dose_profile
from mesodrive.driver.calibration_profile import IDENTITY, CalibrationProfile
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from mesodrive.driver.transport import Transport

LIMITS = Path(__file__).resolve().parents[1] / "calibration" / "limits.toml"
ENVIRONMENT = Environment(20.0, 1013.25, 50.0)  # the simulated balance's water is at 20 °C


class PortTransport(Transport):
    """The driver over an in-process rig port (pyserial-like)."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.url = str(port.name)

    def write(self, data: bytes) -> None:
        self._port.write(data)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        self._port.timeout = timeout
        first = bytes(self._port.read(1))
        waiting = self._port.in_waiting if first else 0
        return first + (bytes(self._port.read(min(waiting, max_bytes - 1))) if waiting else b"")

    def close(self) -> None:
        self._port.close()


def emit(**figure: Any) -> None:
    print(json.dumps(figure), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--speed", type=float, default=10.0, help="time warp (default 10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blank", type=float, default=60.0, help="evaporation blank, s (default 60)")
    args = ap.parse_args()
    sys.setswitchinterval(0.0002)
    # A cyclic-GC pass over a large heap stops every thread for tens of ms: ×K longer in
    # device time, enough to trip the dead-man. A minute-long run does without it.
    gc.disable()
    tb = Timebase(args.speed)
    limits = load_limits(LIMITS)
    config = SimConfig(seed=args.seed, speed=args.speed)

    with CalibrationRig(config) as rig:
        def connect(profile: CalibrationProfile) -> InjectorPort:
            injector: InjectorPort = Injector.connect(PortTransport(rig.port("injector")),
                                                      profile=profile, timebase=tb)
            return injector

        t0 = time.perf_counter()
        with MtSicsBalance(rig.port("balance")) as balance:
            dose = calibrate_dose(connect, balance, environment=ENVIRONMENT, limits=limits,
                                  limits_source=str(LIMITS), technician="bench",
                                  profile_before=IDENTITY, blank_s=args.blank,
                                  water_temperature_after=lambda: ENVIRONMENT.water_temperature_c,
                                  clock=tb.now, sleep=tb.sleep)
            t_dose = time.perf_counter()
            check = verify_dose_profile(
                connect, balance, profile=dose.profile, environment=ENVIRONMENT, limits=limits,
                settings=DoseRunSettings(
                    volumes_ul=tuple(p.volume_ul for p in limits.dose.points),
                    replicates=limits.dose.replicates, blank_s=args.blank),
                clock=tb.now, sleep=tb.sleep)
            t_verify = time.perf_counter()
        with DepthGaugeClient(rig.port("gauge")) as gauge:
            depth = calibrate_depth(connect, gauge, limits=limits, limits_source=str(LIMITS),
                                    technician="bench", profile_before=dose.profile,
                                    clock=tb.now, sleep=tb.sleep)
        t_depth = time.perf_counter()
        simulated_s = rig.truth().time

    passes = (("as_found", dose.as_found), ("as_left", dose.as_left),
              ("verification", check.dose_pass))
    for label, dose_pass in passes:
        for m in dose_pass.measurements:
            r = m.result
            emit(figure="dose", stage=label, volume_ul=m.requested_ul,
                 systematic_error_pct=round(r.systematic_error_pct, 4), cv_pct=round(r.cv_pct, 4),
                 replicates=r.n)
    emit(figure="dose_fit", gain=round(dose.fit.gain, 6), offset_ul=round(dose.fit.offset_ul, 5),
         hidden_gain=config.volume_gain, hidden_offset_ul=config.volume_offset_nl / 1000)
    for label, depth_pass in (("as_found", depth.as_found), ("as_left", depth.as_left)):
        for p in depth_pass.points:
            emit(figure="depth", stage=label, depth_mm=p.requested_mm,
                 commanded_mm=round(p.commanded_mm, 4),
                 error_mm=round(p.error_mm, 4) if p.measured_mm else None)
    emit(figure="depth_fit", scale=round(depth.fit.scale, 5),
         offset_mm=round(depth.fit.offset_mm, 4), hidden_scale=config.depth_scale,
         hidden_offset_mm=config.depth_offset_um / 1000)
    worst_es = max(abs(m.result.systematic_error_pct) for m in check.dose_pass.measurements)
    emit(figure="verdicts", dose_certificate=dose.certificate.passed,
         depth_certificate=depth.certificate.passed, verification=check.passed,
         verification_max_abs_systematic_error_pct=round(worst_es, 4))
    emit(figure="wall_time_s", speed=args.speed, dose=round(t_dose - t0, 2),
         verification=round(t_verify - t_dose, 2), depth=round(t_depth - t_verify, 2),
         dose_and_depth=round((t_dose - t0) + (t_depth - t_verify), 2),
         total=round(t_depth - t0, 2), simulated_s=round(simulated_s, 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
