"""`mesodrive demo`: fire three shots on the device clock and print what the device reported.

The shortest end-to-end path through every layer; with no `--device` it runs on the built-in
simulator in real time and says so.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mesodrive.cli.exit_codes import ExitCode
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotRequest

SIMULATOR_URL = "sim://?seed=1&realtime=1"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEVICE = (ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE,
                                             ExitCode.DEVICE)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="fire three shots on the device (built-in simulator by default)"
    )
    p.add_argument("--device", metavar="URL", help="device URL (default: the built-in simulator)")
    p.add_argument("--depth", type=float, default=1.5, metavar="MM", help="depth per shot in mm (1–4)")
    p.add_argument("--volume", type=float, default=2.0, metavar="UL", help="volume per shot in µL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = args.device or SIMULATOR_URL
    if args.device is None:
        print("SIMULATOR: no --device given, using the built-in simulated injector")
    # Checked before anything connects: a refused shot after homing and priming would have
    # changed the device for nothing (nan and inf fail every comparison).
    if not 1.0 <= args.depth <= 4.0:
        print(f"error: --depth {args.depth} mm is outside the 1–4 mm range", file=sys.stderr)
        return EXIT_USAGE
    if not 0.1 <= args.volume <= 100.0:
        print(f"error: --volume {args.volume} µL is outside the 0.1–100 µL range of the demo",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        with Injector.connect(url) as inj:
            caps = inj.capabilities
            print(f"connected: {caps.serial} firmware {caps.firmware}, boot {caps.boot_nonce:#010x}")
            inj.home()
            inj.prime(volume_ul=20.0, flow_ul_s=50.0)
            session = inj.arm()
            start = inj.device_now() + 0.3  # first shot 0.3 s from now, on the device clock
            for i in range(3):
                inj.queue_shot(ShotRequest(
                    index=i, depth_mm=args.depth, volume_ul=args.volume, flow_ul_s=20.0,
                    speed_mm_s=20.0, dwell_s=0.05, fire_at=start + i * 0.5,
                ))
            failed = 0
            for i in range(3):
                shot = inj.wait_shot(session, i, timeout=10.0)
                r = shot.outcome
                if r is None:
                    failed += 1
                    print(f"shot {i}: {shot.state.value} ({shot.reason})")
                    continue
                late_ms = (r.start_at - (start + i * 0.5)) * 1000
                print(f"shot {i}: {shot.state.value}: depth {r.reached_depth_mm:.3f} mm, "
                      f"volume {r.delivered_ul:.2f} µL, start {late_ms:+.3f} ms vs schedule, "
                      f"peak {r.peak_pressure_kpa:.1f} kPa")
            inj.disarm()
            return EXIT_OK if failed == 0 else EXIT_FAILED
    except DriverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DEVICE
