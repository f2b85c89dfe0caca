#!/usr/bin/env python3
"""Long time-warped runs (issue 13): does a 10,000-point plan finish cleanly at K× real time?

Each run is the real RunEngine + Injector + records (a real SQLite file) against the in-process
simulated device (`sim://?realtime=1&speed=K`), the simulator's runner and the host's Timebase
both at K×. A run that meets any problem (a LINK_LOST from the device's dead-man or its "no
start after silence" rule, a late shot, ...) is aborted and counted; nothing is retried.

One JSON line per run, then one summary line. Per run: completed, points, delivered, aborts
(with the device's fault and its detail: the silence it measured), underruns, late shots, wall
time, the worst host frame gap towards the armed device in device milliseconds (the dead-man's
view of the host; the device refuses to start a shot after 100 ms, and goes safe after 250 ms;
a gap that ended with the device going safe counts up to when the host learned of it), the
worst lateness of the simulator runner's wake-ups (device ms: how long the simulated device
itself was held up — as long as the host's gap, it says the whole process was stalled, by the
OS or a garbage collection, rather than the host alone), the longest garbage collection while
armed (wall ms) and how many were full ones, the GIL switch interval in force, the process's
CPU seconds per wall second, whether `records verify` passes, and the machine's load average
before and after.

At K×, a stall of S wall ms is K·S ms of device time. The simulator therefore judges the
host's silence on the wall clock in warp (mesosim README "Real time"): the dead-man and the
"no start after silence" windows are K× longer in simulated time. `--strict-watchdogs` judges
it in simulated time instead, where at 20× the 100 ms rule leaves the host 2.5 ms of wall time
past each 50 ms heartbeat (measured: 0 of 5 runs clean even on an idle machine).

Run: python benchmarks/bench_warp.py --points 10000 --speed 20 --runs 5
     python benchmarks/bench_warp.py --points 10000 --speed 10 --runs 5 --load 1
     python benchmarks/bench_warp.py --points 10000 --speed 20 --runs 5 --strict-watchdogs
(~50 s of wall time per 10,000-point run at 20×, ~100 s at 10×.)
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_run import busy, write_plan
from mesosim.transports import inner_device

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunEngine
from mesodrive.controller.recovery import Answer, Decision, Problem
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from mesodrive.plan import load_library, load_plan, validate_plan
from mesodrive.records import RecordStore


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


class GcTimer:
    """The longest garbage collection while the device is armed (wall ms), and how many full
    ones ran then (the engine's own full collection before it arms is not counted)."""

    def __init__(self, armed: Callable[[], bool]) -> None:
        self._armed = armed
        self.max_ms = 0.0
        self.max_gen = -1
        self.full = 0
        self._t = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
            return
        if not self._armed():
            return
        ms = (time.perf_counter() - self._t) * 1000
        if info["generation"] == 2:
            self.full += 1
        if ms > self.max_ms:
            self.max_ms, self.max_gen = ms, info["generation"]


class CountingPolicy:
    """Abort at the first problem, and remember it."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def __call__(self, problem: Problem) -> Answer:
        self.problems.append(problem)
        return Answer(Decision.ABORT, f"benchmark: {problem.kind.value}")


def one_run(tmp: Path, speed: float, run: int, strict: bool = False) -> dict[str, Any]:
    # strict: the device judges the host's silence in simulated time (K× the protocol's
    # strictness; mesosim README "Real time"), instead of on the wall clock.
    inj = Injector.connect(f"sim://?seed={run + 1}&realtime=1&speed={speed}"
                           f"&warp_watchdogs_in_sim_time={int(strict)}", timebase=Timebase(speed))
    runner = inj.transport.port.sim.runner  # type: ignore[attr-defined]
    vplan = validate_plan(load_plan(tmp / "plan.toml"), load_library(tmp / "products.toml"),
                          device_limits(inj.capabilities), base_dir=tmp)
    store = RecordStore(tmp / f"records-{run}.db")
    session = store.start_session(plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                                  product={}, device={}, calibration={}, mode="auto")
    policy = CountingPolicy()
    engine = RunEngine(inj, vplan, store, session, policy=policy)
    timer = GcTimer(lambda: inj.device.armed_session is not None)
    gc.callbacks.append(timer)
    inj.channel.reset_gap()
    runner.max_lag = 0.0
    load0 = loadavg()
    switch = sys.getswitchinterval()  # as the warped simulator set it
    cpu0 = time.process_time()
    t0 = time.monotonic()
    try:
        result = engine.run()
    finally:
        gc.callbacks.remove(timer)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    gap = inj.channel.reset_gap()
    fault = inj.last_fault
    executed = runner.call(lambda dev: len(inner_device(dev).executed_log))
    verified = store.verify().ok
    store.close()
    inj.close()
    s = result.stats
    return {"figure": "warp_run", "run": run + 1, "speed": speed,
            "host_silence_judged_in": "simulated time" if strict else "wall time",
            "completed": result.state.value == "completed", "state": result.state.value,
            "points": len(vplan.points), "delivered": len(result.delivered), "executed": executed,
            "aborts": len(policy.problems),
            "problems": [f"{p.kind.value} at point {p.point}" for p in policy.problems],
            "device_fault": None if fault is None else {"code": fault.code, "detail": fault.detail,
                                                         "text": fault.text},
            "underruns": s.underruns, "late_shots": s.late_shots, "wall_s": round(wall, 2),
            "worst_host_frame_gap_ms": round(gap * 1000, 1),
            "worst_runner_lag_ms": round(runner.max_lag * 1000, 1),
            "longest_gc_ms": round(timer.max_ms, 2), "longest_gc_gen": timer.max_gen,
            "full_gcs": timer.full, "records_verified": verified,
            "switch_interval_ms": round(switch * 1000, 3),
            "process_cpu_per_wall": round(cpu / wall, 2),
            "loadavg_before": load0, "loadavg_after": loadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=10000, help="plan size (10 shots/s)")
    ap.add_argument("--speed", type=float, default=20, help="time-warp factor K")
    ap.add_argument("--runs", type=int, default=5, help="runs in the series")
    ap.add_argument("--strict-watchdogs", action="store_true",
                    help="the device judges the host's silence in simulated time (K× stricter)")
    ap.add_argument("--load", type=int, default=0, metavar="N",
                    help="busy-loop processes to start for the series (each takes one core)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-warp-"))
    write_plan(tmp, args.points)
    hogs = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.load)]
    for h in hogs:
        h.start()
    rows = []
    try:
        for run in range(args.runs):
            row = one_run(tmp, args.speed, run, args.strict_watchdogs)
            row["busy_processes"] = args.load
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        for h in hogs:
            h.terminate()
    clean = [r for r in rows if r["completed"] and r["underruns"] == 0 and r["late_shots"] == 0
             and r["records_verified"]]
    print(json.dumps({"figure": "warp_series", "points": args.points, "speed": args.speed,
                      "runs": len(rows), "clean_runs": len(clean),
                      "aborts": sum(r["aborts"] for r in rows),
                      "underruns": sum(r["underruns"] for r in rows),
                      "late_shots": sum(r["late_shots"] for r in rows),
                      "worst_host_frame_gap_ms": max(r["worst_host_frame_gap_ms"] for r in rows),
                      "wall_s": [r["wall_s"] for r in rows], "busy_processes": args.load,
                      "loadavg": loadavg(), "python": platform.python_version(),
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
