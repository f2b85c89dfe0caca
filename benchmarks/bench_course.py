#!/usr/bin/env python3
"""The cost of the course check and of a treatment report on a clinic-sized database, one JSON
line per figure.

Builds a records database of N sessions of the face plan (105 points, a pending, accepted and
done row per shot, as a run writes them), spread over P patients, then times:

- course_check_ms: `TreatmentService.course_check` for one patient (what `run` and the console
  do before the screening, and `start` again): every session summary, then the patient's own;
- report_build_ms / report_html_ms: `build_report` (reads the session, verifies the whole
  chain) and `render_html` (the two SVG maps, every point) for one session;
- report_bytes: the size of that page.

Run: python benchmarks/bench_course.py [--sessions 300] [--patients 50] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from mesodrive.controller.treatment import TreatmentService
from mesodrive.plan import validate_plan_file
from mesodrive.records import RecordStore, ShotRow
from mesodrive.reports import build_report, render_html

FACE = Path(__file__).resolve().parents[1] / "examples" / "face.toml"


def _row(index: int, point: int, state: str, volume: float, depth: float) -> ShotRow:
    measured = None
    if state == "done":
        measured = {"reached_depth_mm": depth + 0.01, "delivered_ul": volume,
                    "start_tick": index * 1000, "end_tick": index * 1000 + 300,
                    "peak_pressure_kpa": 150.0, "flags": 0}
    return ShotRow(index, point, state, "", {"depth_mm": depth, "volume_ul": volume,
                                              "flow_ul_s": 40.0, "speed_mm_s": 80.0,
                                              "dwell_s": 0.0},
                   {"depth_um": int(depth * 1000), "volume_nl": int(volume * 1000)}, measured, 1)


def build(db: Path, sessions: int, patients: int) -> None:
    vp = validate_plan_file(FACE)
    snapshot = vp.snapshot()
    points = [asdict(p) for p in vp.points]
    with RecordStore(db, max_delay_s=0.5) as store:
        for n in range(sessions):
            plan = dict(snapshot)
            plan["plan"] = {**snapshot["plan"], "patient_ref": f"P-{n % patients:04d}"}
            sid = store.start_session(plan_snapshot={"plan": plan, "points": points},
                                      plan_hash=vp.plan_hash,
                                      product=vp.product.model_dump(mode="json"), device={},
                                      calibration={}, mode="auto")
            for i, p in enumerate(vp.points):
                for state in ("pending", "accepted", "done"):
                    store.record_shot(sid, _row(i, p.point, state, p.volume_ul, p.depth_mm))
            store.end_session(sid, "completed", {})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--patients", type=int, default=50)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        db = Path(tmp) / "records.db"
        t0 = time.perf_counter()
        build(db, args.sessions, args.patients)
        rows = args.sessions * (3 * 105 + 2)
        print(json.dumps({"figure": "database", "sessions": args.sessions,
                          "patients": args.patients, "journal_rows": rows,
                          "build_s": round(time.perf_counter() - t0, 1)}))
        vp = validate_plan_file(FACE)
        plan = vp.plan.model_copy(update={"patient_ref": "P-0001"})
        vp = type(vp)(**{**vp.__dict__, "plan": plan})
        times = []
        with TreatmentService(db) as service:
            for _ in range(5):
                t = time.perf_counter()
                check = service.course_check(vp)
                times.append((time.perf_counter() - t) * 1000)
        print(json.dumps({"figure": "course_check_ms", "best": round(min(times), 1),
                          "median": round(sorted(times)[2], 1),
                          "sessions_of_patient": check.sessions_given,
                          "verdict": check.verdict}))
        with RecordStore(db, readonly=True) as store:
            t = time.perf_counter()
            report = build_report(store, args.sessions)
            built = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            page = render_html(report)
            rendered = (time.perf_counter() - t) * 1000
        print(json.dumps({"figure": "report_build_ms", "value": round(built, 1),
                          "chain_rows_verified": report.chain.rows}))
        print(json.dumps({"figure": "report_html_ms", "value": round(rendered, 1),
                          "points": len(report.points)}))
        print(json.dumps({"figure": "report_bytes", "value": len(page.encode())}))


if __name__ == "__main__":
    main()
