#!/usr/bin/env python3
"""Records durability latency, one JSON line per figure.

Replays the write pattern of a run: per shot, the `pending` row written synchronously (persist
before send), then `accepted` and `done` rows queued asynchronously, at a steady shot rate.

- records_sync_write_ms: how long record_shot(sync=True) blocks the caller (p50/p99/max);
- records_async_durable_ms: time from a shot's result (the async `done` row handed to the
  store) to its commit on disk, with the default max_delay_s (p50/p99/max), plus how many rows
  exceeded max_delay_s and how many rows went per commit.

Run: python benchmarks/bench_records.py [--shots 400] [--rate 20] [--busy] [--dir DIR]
(--busy keeps one other process spinning on the CPU; --dir puts the database on that disk.)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from mesodrive.records import RecordStore, ShotRow


def _spin() -> None:
    while True:
        pass


def _row(index: int, state: str) -> ShotRow:
    measured = ({"reached_depth_mm": 2.49, "delivered_ul": 19.9, "start_tick": 10 * index,
                 "end_tick": 10 * index + 4, "peak_pressure_kpa": 31.2, "flags": 0}
                if state == "done" else None)
    return ShotRow(index=index, point=index, state=state, reason="",
                   requested={"depth_mm": 2.5, "volume_ul": 20.0, "flow_ul_s": 10.0,
                              "speed_mm_s": 20.0, "dwell_s": 0.05},
                   commanded={"depth_um": 2500, "volume_nl": 20_000, "flow_nl_s": 10_000,
                              "speed_um_s": 20_000, "dwell_ms": 50, "fire_tick": 1000 + index,
                              "profile": "default"},
                   measured=measured, boot_nonce=0x1234)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _figure(name: str, ms: list[float], **extra: object) -> dict[str, object]:
    return {"figure": name, "unit": "ms", "n": len(ms), "p50": round(_pct(ms, 0.50), 3),
            "p99": round(_pct(ms, 0.99), 3), "max": round(max(ms), 3),
            "mean": round(statistics.fmean(ms), 3), **extra}


def run(shots: int, rate: float, directory: Path) -> list[dict[str, object]]:
    store = RecordStore(directory / "bench.db")  # default max_delay_s
    writer = store._w()  # the commit hook is the writer's; benchmarks may look inside
    commits: list[tuple[int, float]] = []
    writer.commit_listeners.append(lambda seq, t: commits.append((seq, t)))
    sid = store.start_session(plan_snapshot={"points": list(range(shots))}, plan_hash="0" * 64,
                              product={"id": "bench"}, device={}, calibration={}, mode="auto")
    sync_ms: list[float] = []
    handed: list[tuple[int, float]] = []  # (writer seq of the done row, time handed over)
    period = 1.0 / rate
    next_at = time.perf_counter()
    for i in range(shots):
        next_at += period
        t0 = time.perf_counter()
        store.record_shot(sid, _row(i, "pending"), sync=True)
        sync_ms.append((time.perf_counter() - t0) * 1000)
        store.record_shot(sid, _row(i, "accepted"))
        t1 = time.perf_counter()
        store.record_shot(sid, _row(i, "done"))
        handed.append((writer._seq, t1))  # one producer thread: the last seq is this row's
        time.sleep(max(0.0, next_at - time.perf_counter()))
    store.flush()
    stats = store.writer_stats
    store.close()
    durable_ms: list[float] = []
    k = 0
    for seq, t in handed:  # first commit that covered the row
        while commits[k][0] < seq:
            k += 1
        durable_ms.append((commits[k][1] - t) * 1000)
    return [
        _figure("records_sync_write_ms", sync_ms),
        _figure("records_async_durable_ms", durable_ms, max_delay_ms=store.max_delay_s * 1000,
                late_rows=stats.late_rows, rows=stats.rows, commits=stats.commits,
                rows_per_commit=round(stats.rows / stats.commits, 2)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=400)
    ap.add_argument("--rate", type=float, default=20.0, help="shots per second")
    ap.add_argument("--busy", action="store_true", help="keep another core busy meanwhile")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the database")
    args = ap.parse_args()
    print(json.dumps({"figure": "environment", "python": platform.python_version(),
                      "sqlite": sqlite3.sqlite_version, "machine": platform.machine(),
                      "cpus": os.cpu_count(), "shots": args.shots, "rate_per_s": args.rate,
                      "busy_core": args.busy}))
    spinner = None
    if args.busy:
        spinner = multiprocessing.Process(target=_spin, daemon=True)
        spinner.start()
    try:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            for line in run(args.shots, args.rate, Path(tmp)):
                print(json.dumps({**line, "busy_core": args.busy}))
    finally:
        if spinner is not None:
            spinner.terminate()
            spinner.join()


if __name__ == "__main__":
    main()
