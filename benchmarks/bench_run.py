#!/usr/bin/env python3
"""The run engine's timing over a real pty, one JSON line per figure.

A 1,000-point plan at 10 shots/s in auto mode, run by the real RunEngine + Injector over a pty
to the simulated device (served in-process by mesosim's PtyServer), with records written to a
real SQLite file, and — by default — a busy-loop process on the other core. Reported:
minimum schedule slack (queue time → fire time on the device clock), underruns (the look-ahead
ran dry and the cadence slipped), late shots (refused by the device), the device-measured start
lateness of every shot against its commanded fire tick, and the records writer's worst
queued-to-durable lag during the run.

With `--warp K [K ...]` it instead measures time-warped runs: the same engine, driver, records
and simulated device, with the simulator's runner and the host's Timebase both at K× real time
(in-process `sim://?speed=K`); it reports wall time, simulated seconds per wall second and
whether the run stayed clean (no underruns, no late shots) at that speed.

Run: python benchmarks/bench_run.py [--points N] [--idle]   (~105 s for 1,000 points)
     python benchmarks/bench_run.py --warp 10 20 40 --idle
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from mesosim.config import SimConfig
from mesosim.transports import build_device, inner_device
from mesosim.transports.pty_server import PtyServer

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunEngine
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from mesodrive.plan import load_library, load_plan, validate_plan
from mesodrive.records import RecordStore

LIBRARY = """
schema_version = 1
[[products]]
id = "bench"
name = "benchmark saline"
indication = "skin"
depth_mm = { hard_min = 1.0, hard_max = 4.0 }
volume_ul = { hard_min = 0.5, hard_max = 100 }
flow_ul_s = { hard_min = 1, hard_max = 100 }
speed_mm_s = { hard_min = 5, hard_max = 200 }
session_volume_ul = { hard_min = 0, hard_max = 10000 }
"""

PLAN = """
schema_version = 1
patient_ref = "BENCH"
library = "products.toml"
product = "bench"
indication = "skin"
points_csv = "points.csv"
mode = "auto"
cadence_hz = 10
[defaults]
depth_mm = 1.0
volume_ul = 0.5
flow_ul_s = 100
speed_mm_s = 200
dwell_s = 0.0
"""


def busy() -> None:  # pragma: no cover - child process
    while True:
        pass


def write_plan(tmp: Path, points: int) -> None:
    (tmp / "products.toml").write_text(LIBRARY)
    (tmp / "plan.toml").write_text(PLAN)
    # exactly N points on a square grid (an explicit point list) that keeps to the plan rules:
    # at most 500 mm across, at least 2 mm apart (10 mm when there is room)
    side = math.ceil(math.sqrt(points))
    pitch = max(2.0, min(10.0, 490.0 / side))
    (tmp / "points.csv").write_text("x_mm,y_mm\n" + "".join(
        f"{pitch * (i % side):.2f},{pitch * (i // side):.2f}\n" for i in range(points)))


def warp(points: int, speed: float, *, busy_core: bool) -> None:
    # At K× a 100 ms (simulated) heartbeat gap is 100/K ms of wall time, less than Python's
    # default 5 ms thread switch interval lets the I/O thread wait for the GIL: switch faster.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
    tmp = Path(tempfile.mkdtemp(prefix="bench-warp-"))
    write_plan(tmp, points)
    hog = multiprocessing.Process(target=busy, daemon=True) if busy_core else None
    if hog:
        hog.start()
    try:
        inj = Injector.connect(f"sim://?seed=1&realtime=1&speed={speed}", timebase=Timebase(speed))
        vplan = validate_plan(load_plan(tmp / "plan.toml"), load_library(tmp / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp)
        store = RecordStore(tmp / "records.db")
        session = store.start_session(plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                                      product={}, device={}, calibration={}, mode="auto")
        # A gen-2 collection over the start-up objects pauses every thread for ~20 ms: nothing at
        # real time (the dead-man allows 250 ms) but most of the margin at 10×. Freeze them.
        gc.collect()
        gc.freeze()
        t0 = time.monotonic()
        result = RunEngine(inj, vplan, store, session).run()
        wall = time.monotonic() - t0
        verified = store.verify().ok
        store.close()
        inj.close()
    finally:
        if hog:
            hog.terminate()
    simulated = wall * speed
    s = result.stats
    print(json.dumps({"figure": "run_time_warp", "points": len(vplan.points), "cadence_hz": 10,
                      "speed": speed, "state": result.state.value, "delivered": len(result.delivered),
                      "wall_s": round(wall, 2), "simulated_s": round(simulated, 1),
                      "sim_s_per_wall_s": round(simulated / wall, 1), "underruns": s.underruns,
                      "late_shots": s.late_shots, "records_verified": verified,
                      "clean": result.state.value == "completed" and s.underruns == 0 and s.late_shots == 0,
                      "python": platform.python_version(), "cpus": os.cpu_count(),
                      "other_core_busy": busy_core}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1000, help="plan size")
    ap.add_argument("--idle", action="store_true", help="do not load the other core")
    ap.add_argument("--warp", type=float, nargs="+", metavar="K", help="time-warp speeds to try")
    args = ap.parse_args()
    if args.warp:
        for speed in args.warp:
            warp(args.points, speed, busy_core=not args.idle)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-"))
    write_plan(tmp, args.points)
    hog = None if args.idle else multiprocessing.Process(target=busy, daemon=True)
    if hog:
        hog.start()
    server = PtyServer(build_device(SimConfig(seed=1, realtime=True))).start()
    try:
        inj = Injector.connect(server.path)
        vplan = validate_plan(load_plan(tmp / "plan.toml"), load_library(tmp / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp)
        store = RecordStore(tmp / "records.db")
        session = store.start_session(plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                                      product={}, device={}, calibration={}, mode="auto")
        engine = RunEngine(inj, vplan, store, session)
        inj.channel.reset_gap()
        t0 = time.monotonic()
        result = engine.run()
        wall = time.monotonic() - t0
        tx_gap = inj.channel.reset_gap()
        rows = store.latest_shots(session)
        log = server.runner.call(lambda dev: list(inner_device(dev).executed_log))
        lateness = sorted(
            e.start_tick - int(rows[e.index].commanded["fire_tick"] or 0) for e in log if e.session in engine.device_sessions
        )
        writer = store.writer_stats
        store.close()
        inj.close()
    finally:
        server.close()
        if hog:
            hog.terminate()
    env = {"python": platform.python_version(), "cpus": os.cpu_count(), "transport": "pty",
           "other_core_busy": not args.idle}
    s = result.stats
    print(json.dumps({"figure": "run_schedule", "points": len(vplan.points), "cadence_hz": 10,
                      "state": result.state.value, "delivered": len(result.delivered),
                      "min_slack_ms": round((s.min_slack_s or 0) * 1000, 1),
                      "steady_min_slack_ms": round((s.steady_min_slack_s or 0) * 1000, 1),
                      "underruns": s.underruns,
                      "late_shots": s.late_shots, "wall_s": round(wall, 1), **env}))
    if lateness:
        p = lambda q: lateness[min(len(lateness) - 1, int(q * len(lateness)))]
        print(json.dumps({"figure": "run_start_lateness_us", "p50": p(0.5), "p99": p(0.99),
                          "max": lateness[-1], "shots": len(lateness), **env}))
    print(json.dumps({"figure": "run_worst_host_frame_gap_ms", "ms": round(tx_gap * 1000, 1),
                      "deadman_ms": 250, "no_start_after_ms": 100, **env}))
    print(json.dumps({"figure": "run_records_lag", "rows": writer.rows, "commits": writer.commits,
                      "max_queued_to_durable_ms": round(writer.max_lag_s * 1000, 2),
                      "rows_later_than_50ms": writer.late_rows, **env}))


if __name__ == "__main__":
    main()
