#!/usr/bin/env python3
"""The run engine's timing over a real pty, one JSON line per figure.

A 1,000-point plan at 10 shots/s in auto mode, run by the real RunEngine + Injector over a pty
to the simulated device (mesosim's PtyServer in a process of its own, as a real injector is its
own hardware, and at real-time priority where allowed, as hardware is not kept waiting by the
host machine's load; `--sim inproc` serves it from this process, where its pty reader shares the
interpreter lock with the host and, on a loaded machine, can be late to read a heartbeat the
host wrote in time), with records written to a
real SQLite file, and — by default — a busy-loop process on the other core. Reported:
minimum schedule slack (queue time → fire time on the device clock), underruns (the look-ahead
ran dry and the cadence slipped), late shots (refused by the device), the device-measured start
lateness of every shot against its commanded fire tick, and the records writer's worst
queued-to-durable lag during the run.

With `--warp K [K ...]` it instead measures time-warped runs: the same engine, driver, records
and simulated device, with the simulator's runner and the host's Timebase both at K× real time
(in-process `sim://?speed=K`); it reports wall time, simulated seconds per wall second and
whether the run stayed clean (no underruns, no late shots) at that speed.

With `--runs N` it runs a series, one line per figure per run (tagged "run") and a
`run_series` summary: aborted runs, late shots, underruns, the worst host frame gap of all runs,
whether every run's records verify, and the machine's load average; `--load N` starts N
busy-loop processes for the series (default 1, the other core; `--idle` is `--load 0`).

Run: python benchmarks/bench_run.py [--points N] [--idle]   (~105 s for 1,000 points)
     python benchmarks/bench_run.py --runs 10 --load 2    (both cores loaded; ~18 min)
     python benchmarks/bench_run.py --warp 10 20 40 --idle
For long time-warped runs (10,000 points, a series, aborts explained) see bench_warp.py.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from mesosim.config import SimConfig
from mesosim.transports import build_device, inner_device
from mesosim.transports.pty_server import PtyServer
from mesosim.transports.runner import dedicate_process_to_device

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
    # (The warped runner lowers the GIL switch interval and the engine holds off full garbage
    # collections itself: this measures what every sim://?speed=K user gets.)
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


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def executed(server: PtyServer) -> list[tuple[int, int, int]]:
    """(session, index, start tick) of every shot the device started."""
    return server.runner.call(lambda dev: [(e.session, e.index, e.start_tick)
                                           for e in inner_device(dev).executed_log])


def serve_sim(seed: int, conn: Connection) -> None:  # pragma: no cover - child process
    """The simulated device in a process of its own, as a real injector is its own hardware:
    it shares no interpreter lock with the host, so what it sees of the host's frames is what
    the host wrote, not when a starved reader thread of the host's own process got to them."""
    try:  # and, like hardware, it is not kept waiting by the load on the host's machine
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))  # its threads inherit it
        priority = "SCHED_FIFO"
    except (AttributeError, OSError):
        priority = "normal"
    dedicate_process_to_device()  # frames stamped on arrival, as a UART interrupt would
    server = PtyServer(build_device(SimConfig(seed=seed, realtime=True))).start()
    try:
        conn.send((server.path, priority))
        conn.recv()  # the run is over
        conn.send(executed(server))
    finally:
        server.close()


class Simulator:
    """The device for one run: in its own process (default) or in this one."""

    def __init__(self, seed: int, where: str) -> None:
        self._server: PtyServer | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        if where == "inproc":
            self._server = PtyServer(build_device(SimConfig(seed=seed, realtime=True))).start()
            self.path = self._server.path
            self.priority = "shared with the host"
            return
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve_sim, args=(seed, child), daemon=True)
        self._proc.start()
        if not self._conn.poll(30):
            raise RuntimeError("the simulator process did not start")
        self.path, self.priority = self._conn.recv()

    def executed(self) -> list[tuple[int, int, int]]:
        if self._server is not None:
            return executed(self._server)
        self._conn.send("done")
        log: list[tuple[int, int, int]] = self._conn.recv()
        return log

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._proc is not None:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.terminate()


def real_time_run(tmp: Path, run: int, env: dict[str, object], sim: str = "process") -> list[dict[str, object]]:
    """One 1× run over a pty; its figures, each tagged with the run number."""
    load0 = loadavg()
    server = Simulator(run, sim)
    priority = server.priority
    try:
        inj = Injector.connect(server.path)
        vplan = validate_plan(load_plan(tmp / "plan.toml"), load_library(tmp / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp)
        store = RecordStore(tmp / f"records-{run}.db")
        session = store.start_session(plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                                      product={}, device={}, calibration={}, mode="auto")
        engine = RunEngine(inj, vplan, store, session)
        inj.channel.reset_gap()
        t0 = time.monotonic()
        result = engine.run()
        wall = time.monotonic() - t0
        tx_gap = inj.channel.reset_gap()
        fault = inj.last_fault
        rows = store.latest_shots(session)
        inj.close()
        log = server.executed()
        lateness = sorted(
            tick - int(rows[index].commanded["fire_tick"] or 0)
            for session_id, index, tick in log if session_id in engine.device_sessions
        )
        writer = store.writer_stats
        verified = store.verify().ok
        store.close()
    finally:
        server.close()
    env = {**env, "run": run, "simulator": sim, "simulator_priority": priority}
    s = result.stats
    figures: list[dict[str, object]] = [{
        "figure": "run_schedule", "points": len(vplan.points), "cadence_hz": 10,
        "state": result.state.value, "delivered": len(result.delivered),
        "aborted": result.state.value != "completed",
        "device_fault": None if fault is None else fault.text,
        "min_slack_ms": round((s.min_slack_s or 0) * 1000, 1),
        "steady_min_slack_ms": round((s.steady_min_slack_s or 0) * 1000, 1),
        "underruns": s.underruns, "late_shots": s.late_shots, "wall_s": round(wall, 1),
        "records_verified": verified, "loadavg_before": load0, "loadavg_after": loadavg(), **env}]
    if lateness:
        p = lambda q: lateness[min(len(lateness) - 1, int(q * len(lateness)))]
        figures.append({"figure": "run_start_lateness_us", "p50": p(0.5), "p99": p(0.99),
                        "max": lateness[-1], "shots": len(lateness), **env})
    figures.append({"figure": "run_worst_host_frame_gap_ms", "ms": round(tx_gap * 1000, 1),
                    "deadman_ms": 250, "no_start_after_ms": 100, **env})
    figures.append({"figure": "run_records_lag", "rows": writer.rows, "commits": writer.commits,
                    "max_queued_to_durable_ms": round(writer.max_lag_s * 1000, 2),
                    "rows_later_than_50ms": writer.late_rows, **env})
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1000, help="plan size")
    ap.add_argument("--runs", type=int, default=1, help="runs in the series (1x)")
    ap.add_argument("--load", type=int, default=1, metavar="N",
                    help="busy-loop processes to start for the series (default 1: the other core)")
    ap.add_argument("--idle", action="store_true", help="no busy-loop process (--load 0)")
    ap.add_argument("--sim", choices=("process", "inproc"), default="process",
                    help="the simulated device in its own process (default) or in this one")
    ap.add_argument("--warp", type=float, nargs="+", metavar="K", help="time-warp speeds to try")
    args = ap.parse_args()
    load = 0 if args.idle else args.load
    if args.warp:
        for speed in args.warp:
            warp(args.points, speed, busy_core=load > 0)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-"))
    write_plan(tmp, args.points)
    hogs = [multiprocessing.Process(target=busy, daemon=True) for _ in range(load)]
    for h in hogs:
        h.start()
    env: dict[str, object] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "transport": "pty", "busy_processes": load,
                              "other_core_busy": load > 0}
    runs: list[dict[str, object]] = []
    gaps: list[float] = []
    try:
        for run in range(1, args.runs + 1):
            for fig in real_time_run(tmp, run, env, args.sim):
                print(json.dumps(fig), flush=True)
                if fig["figure"] == "run_schedule":
                    runs.append(fig)
                elif fig["figure"] == "run_worst_host_frame_gap_ms":
                    gaps.append(float(fig["ms"]))  # type: ignore[arg-type]
    finally:
        for h in hogs:
            h.terminate()
    if args.runs > 1:
        print(json.dumps({"figure": "run_series", "runs": len(runs), "points": args.points,
                          "cadence_hz": 10, "aborts": sum(1 for r in runs if r["aborted"]),
                          "late_shots": sum(int(r["late_shots"]) for r in runs),  # type: ignore[call-overload]
                          "underruns": sum(int(r["underruns"]) for r in runs),  # type: ignore[call-overload]
                          "worst_host_frame_gap_ms": max(gaps),
                          "records_verified": all(r["records_verified"] for r in runs),
                          "loadavg": loadavg(), **{k: v for k, v in env.items() if k != "run"}}))


if __name__ == "__main__":
    main()
