#!/usr/bin/env python3
"""Host CPU per shot at 1,000 and 10,000 points: work per shot must not grow with the session
(issue 13), one JSON line per figure.

The simulated injector runs in its own process (`mesodrive sim --tcp`, time-warped at K×), so
this process's CPU time (`time.process_time()`: every thread — the run engine, the driver's I/O
thread, the event bus, the records writer) is the host's alone. Each plan is run to the end by
the real RunEngine + Injector over TCP with real SQLite records, at 10 shots/s (simulated);
the figure is CPU seconds per shot for each size, and their ratio (1.0 = flat; a per-shot scan
of the session's history would make it about 10).

Every alarm is answered "retry" (on a loaded machine a warped link can miss the device's
dead-man): the figures count them.

Run: python benchmarks/bench_per_shot.py [--sizes 1000 10000] [--speed 10]
(about 10 s of wall time per 1,000 points at the default speed 10)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_run import write_plan

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunEngine
from mesodrive.controller.recovery import Answer, Decision, Problem
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from mesodrive.plan import load_library, load_plan, validate_plan
from mesodrive.records import RecordStore


def carry_on(problem: Problem) -> Answer:
    """The operator's answer to every alarm: fix it and carry on (on a loaded machine a warped
    link can miss the device's dead-man; the benchmark counts the alarms, it does not stop)."""
    return Answer(Decision.RETRY, "benchmark: carry on", refill_ul=1000.0)


def serve(speed: float) -> tuple[subprocess.Popen[str], str]:
    """`mesodrive sim --tcp` at `speed`× in its own process; (process, socket:// URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "mesodrive", "sim", "--tcp", "127.0.0.1:0",
                             "--quiet", "--config", f"seed=1&speed={speed}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("socket://"):
        proc.kill()
        raise SystemExit(f"mesodrive sim did not start: {url!r}")
    return proc, url


def run(points: int, speed: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        write_plan(Path(tmp), points)  # the same plan as bench_run and bench_warp
        plan = Path(tmp) / "plan.toml"
        sim, url = serve(speed)
        try:
            with Injector.connect(url, timebase=Timebase(speed)) as inj:
                vplan = validate_plan(load_plan(plan), load_library(Path(tmp) / "products.toml"),
                                      device_limits(inj.capabilities), base_dir=Path(tmp))
                with RecordStore(Path(tmp) / "records.db") as store:
                    session = store.start_session(
                        plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                        product={}, device={}, calibration={}, mode="auto")
                    gc.collect()
                    gc.freeze()  # as bench_run: start-up objects out of the collector's way
                    load = os.getloadavg()[0]
                    cpu0, wall0 = time.process_time(), time.monotonic()
                    result = RunEngine(inj, vplan, store, session, policy=carry_on).run()
                    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                    gc.unfreeze()
                    verified = store.verify().ok
                    alarms = [a.code for a in store.session_header(session).alarms]
        finally:
            sim.terminate()
            sim.wait(timeout=10)
    shots = len(result.delivered) + len(result.skipped)
    return {"figure": "host_cpu_per_shot", "points": points, "speed": speed,
            "state": result.state.value, "shots": shots, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 3), "cpu_ms_per_shot": round(1000 * cpu / max(shots, 1), 4),
            "underruns": result.stats.underruns, "late_shots": result.stats.late_shots,
            "alarms": len(alarms), "alarm_kinds": sorted(set(alarms)),
            "records_verified": verified, "load_before": round(load, 2),
            "load_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--speed", type=float, default=10.0, help="time warp (simulated s per s)")
    opts = ap.parse_args()
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))  # as bench_run at K×
    figures = []
    for n in opts.sizes:
        figures.append(run(n, opts.speed))
        print(json.dumps(figures[-1]), flush=True)
    if len(figures) > 1:
        small, large = figures[0], figures[-1]
        print(json.dumps({"figure": "host_cpu_per_shot_ratio", "points": [small["points"],
                                                                           large["points"]],
                          "ratio": round(float(large["cpu_ms_per_shot"])  # type: ignore[arg-type]
                                         / float(small["cpu_ms_per_shot"]), 3)}))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
