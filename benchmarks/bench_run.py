#!/usr/bin/env python3
"""The run engine's timing over a real pty, one JSON line per figure.

A 1,000-point plan at 10 shots/s in auto mode, run by the real RunEngine + Injector over a pty
to the simulated device (served in-process by mesosim's PtyServer), with records written to a
real SQLite file, and — by default — a busy-loop process on the other core. Reported:
minimum schedule slack (queue time → fire time on the device clock), underruns (the look-ahead
ran dry and the cadence slipped), late shots (refused by the device), the device-measured start
lateness of every shot against its commanded fire tick, and the records writer's worst
queued-to-durable lag during the run.

Run: python benchmarks/bench_run.py [--points N] [--idle]   (~105 s for 1,000 points)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time
from pathlib import Path

from mesosim.config import SimConfig
from mesosim.transports import build_device, inner_device
from mesosim.transports.pty_server import PtyServer

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunEngine
from mesodrive.driver.session import Injector
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1000, help="plan size")
    ap.add_argument("--idle", action="store_true", help="do not load the other core")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-"))
    (tmp / "products.toml").write_text(LIBRARY)
    (tmp / "plan.toml").write_text(PLAN)
    # exactly N points, 10 mm apart in rows of 10 (an explicit point list)
    (tmp / "points.csv").write_text("x_mm,y_mm\n" + "".join(
        f"{10 * (i % 10)},{10 * (i // 10)}\n" for i in range(args.points)))
    hog = None if args.idle else multiprocessing.Process(target=busy, daemon=True)
    if hog:
        hog.start()
    server = PtyServer(build_device(SimConfig(seed=1, realtime=True))).start()
    try:
        inj = Injector.connect(server.path)
        assert inj.identity is not None
        vplan = validate_plan(load_plan(tmp / "plan.toml"), load_library(tmp / "products.toml"),
                              device_limits(inj.identity), base_dir=tmp)
        store = RecordStore(tmp / "records.db")
        session = store.start_session(plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                                      product={}, device={}, calibration={}, mode="auto")
        engine = RunEngine(inj, vplan, store, session)
        t0 = time.monotonic()
        result = engine.run()
        wall = time.monotonic() - t0
        rows = store.latest_shots(session)
        log = server.runner.call(lambda dev: list(inner_device(dev).executed_log))
        lateness = sorted(
            e.start_tick - int(rows[e.index].commanded["fire_tick"] or 0) for e in log if e.session == session
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
        p = lambda q: lateness[min(len(lateness) - 1, int(q * len(lateness)))]  # noqa: E731
        print(json.dumps({"figure": "run_start_lateness_us", "p50": p(0.5), "p99": p(0.99),
                          "max": lateness[-1], "shots": len(lateness), **env}))
    print(json.dumps({"figure": "run_records_lag", "rows": writer.rows, "commits": writer.commits,
                      "max_queued_to_durable_ms": round(writer.max_lag_s * 1000, 2),
                      "rows_later_than_50ms": writer.late_rows, **env}))


if __name__ == "__main__":
    main()
