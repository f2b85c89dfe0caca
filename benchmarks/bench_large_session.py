#!/usr/bin/env python3
"""`records show` and `records export` of long sessions, one JSON line per figure.

Builds sessions of 1,000 and 10,000 shots through the records API (not a run: a pending,
accepted and done row per shot, and a plan snapshot holding every point, as `run` stores it),
then runs each command as a user does — a fresh `python -m mesodrive` process, output to
/dev/null — and reports per command and size:

- wall time (median and max of --runs), the process's CPU time (user + system, with that of
  the child that verifies the chain beside the reading on a machine with two cores or more:
  `records.background`) and its peak RSS (VmHWM, read by the process itself as it exits; the
  child's is its own), with the load average: issue 13's target is under 1 s at 10,000 shots;
- the Python heap's peak while the command's work runs in-process (tracemalloc), and the part
  of it that is the session's header alone (its plan snapshot: one row holding every point,
  read whole). Streaming means no Python object per row is kept: what grows beyond the header
  is the plan again (`verify` parses the snapshot row too) and SQLite's sort of the latest rows
  (about 130 bytes a shot); `in_memory_heap_mb` is the same export done the old way
  (`RecordStore.session` + `journal` + `write_json`), for scale.

Run: python benchmarks/bench_large_session.py [--runs 5] [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from rich.console import Console

from mesodrive.cli.records_show import print_session
from mesodrive.records import RecordStore, ShotRow
from mesodrive.records.export import write_json

# The command in a process that reports its own peak RSS (VmHWM starts afresh at exec; the
# rusage of a forked child would count the parent's memory from before the exec).
_CHILD = """import sys
from mesodrive.cli import main
try:
    code = main(sys.argv[1:])
finally:
    sys.stdout.flush()
    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]
    sys.stderr.write('\\nVmHWM ' + (hwm[0].split()[1] if hwm else '0') + '\\n')
sys.exit(code)
"""
COMMANDS = {"show": ["show", "1"], "export_csv": ["export", "1", "--format", "csv"],
            "export_json": ["export", "1", "--format", "json"]}


def _row(index: int, state: str) -> ShotRow:
    measured = ({"reached_depth_mm": 2.49, "delivered_ul": 19.9, "start_tick": 10 * index,
                 "end_tick": 10 * index + 4, "peak_pressure_kpa": 31.2, "flags": 0}
                if state == "done" else None)
    return ShotRow(index=index, point=index + 1, state=state, reason="",
                   requested={"depth_mm": 2.5, "volume_ul": 20.0, "flow_ul_s": 10.0,
                              "speed_mm_s": 20.0, "dwell_s": 0.05},
                   commanded={"depth_um": 2500, "volume_nl": 20_000, "flow_nl_s": 10_000,
                              "speed_um_s": 20_000, "dwell_ms": 50, "fire_tick": 1000 + index,
                              "profile": "default"},
                   measured=measured, boot_nonce=0x1234)


def build(path: Path, shots: int) -> float:
    """A completed session of `shots` points, one shot each; returns the seconds it took."""
    start = time.perf_counter()
    points = [{"point": i + 1, "x_mm": float(i % 100), "y_mm": float(i // 100),
               "zone": "crown" if i % 3 else None, "depth_mm": 2.5, "volume_ul": 20.0,
               "flow_ul_s": 10.0, "speed_mm_s": 20.0, "dwell_s": 0.05} for i in range(shots)]
    with RecordStore(path, max_delay_s=0.5) as store:
        sid = store.start_session(plan_snapshot={"points": points, "source": "bench.toml"},
                                  plan_hash="0" * 64, product={"id": "bench"},
                                  device={"serial": "SIM-0001"}, calibration={}, mode="auto",
                                  operator="bench")
        for i in range(shots):
            for state in ("pending", "accepted", "done"):
                store.record_shot(sid, _row(i, state))
        store.end_session(sid, "completed", {"points_planned": shots})
    return time.perf_counter() - start


def _run(db: Path, args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS KiB) of one `mesodrive records` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, "records", "--db", str(db), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args} exited {proc.returncode}: {err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, int(err.rsplit("VmHWM ", 1)[1].split()[0])


class _Discard(io.StringIO):
    def write(self, s: str) -> int:
        return len(s)


def _traced(work: object) -> int:
    tracemalloc.start()
    try:
        work()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def heap_peaks(db: Path, command: str) -> dict[str, float]:
    """Peak Python heap (MB) of the command's work in-process, of its header alone, and (for
    the JSON export) of the old in-memory way."""
    out = _Discard()
    mb = 2**20
    with RecordStore(db, readonly=True) as store:
        store.verify()

        def work() -> None:
            header = store.session_header(1)
            if command == "show":
                print_session(Console(file=out, width=80), header,
                              lambda: store.point_outcomes(header))
            else:
                store.export(1, "csv" if command == "export_csv" else "json", out, header=header)

        def in_memory() -> None:
            detail = store.session(1)
            write_json(detail, store.journal(1), out, store.verify())

        figures = {"heap_peak_mb": _traced(work) / mb,
                   "header_heap_mb": _traced(lambda: store.session_header(1)) / mb}
        if command == "export_json":
            figures["in_memory_heap_mb"] = _traced(in_memory) / mb
    return {k: round(v, 2) for k, v in figures.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {}
        for n in opts.sizes:
            dbs[n] = Path(tmp) / f"s{n}.db"
            print(json.dumps({"figure": "build_session", "shots": n, "unit": "s",
                              "seconds": round(build(dbs[n], n), 3),
                              "db_mb": round(dbs[n].stat().st_size / 2**20, 1)}), flush=True)
        heaps: dict[str, dict[int, float]] = {}
        for name, args in COMMANDS.items():
            for n in opts.sizes:
                _run(dbs[n], args)  # warm the page cache and .pyc
                load = os.getloadavg()[0]
                runs = [_run(dbs[n], args) for _ in range(opts.runs)]
                peaks = heap_peaks(dbs[n], name)
                heaps.setdefault(name, {})[n] = peaks["heap_peak_mb"] - peaks["header_heap_mb"]
                print(json.dumps({
                    "figure": f"records_{name}", "shots": n, "unit": "s", "runs": len(runs),
                    "wall_median": round(statistics.median(r[0] for r in runs), 3),
                    "wall_max": round(max(r[0] for r in runs), 3),
                    "cpu_median": round(statistics.median(r[1] for r in runs), 3),
                    "peak_rss_mb": round(max(r[2] for r in runs) / 1024, 1),
                    **peaks,
                    "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2),
                    "cpus": os.cpu_count()}), flush=True)
            small, large = min(opts.sizes), max(opts.sizes)
            if small != large:
                print(json.dumps({"figure": f"records_{name}_heap_beyond_header",
                                  "unit": "MB", "shots": [small, large],
                                  "mb": [round(heaps[name][small], 2),
                                         round(heaps[name][large], 2)]}), flush=True)


if __name__ == "__main__":
    main()
