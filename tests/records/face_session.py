"""A recorded session of examples/face.toml with every outcome a map shows, stored the way
`mesodrive run` stores its plan (snapshot + the executed point list)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from mesodrive.plan import ValidatedPlan, validate_plan_file
from mesodrive.records import RecordStore, ShotRow

from .helpers import shot, start

FACE = Path(__file__).resolve().parents[2] / "examples" / "face.toml"
# point → outcome the session gives it; every other point is delivered.
CUT_SHORT = {40: 12.0, 41: 5.0}  # µL given of 20: 60 % and 25 %
SKIPPED = (60,)
UNCERTAIN = (61,)
NOT_DONE_FROM = 101  # 101..105 never sent: the run was aborted there


def face_plan() -> ValidatedPlan:
    return validate_plan_file(FACE)


def face_session(path: Path, vp: ValidatedPlan | None = None, *,
                 with_points: bool = True) -> int:
    """A closed database with one aborted session of the face plan; returns its id."""
    vp = vp or face_plan()
    snapshot = {"plan": vp.snapshot(), "source": str(FACE)}
    if with_points:
        snapshot["points"] = [asdict(p) for p in vp.points]
    with RecordStore(path) as store:
        sid = start(store, plan_snapshot=snapshot, plan_hash=vp.plan_hash,
                    product=vp.product.model_dump(mode="json"), mode=vp.mode)
        index = 0
        for p in vp.points:
            if p.point >= NOT_DONE_FROM:
                break
            row: ShotRow
            if p.point in SKIPPED:
                store.record_action(sid, "skip", f"point {p.point}: occlusion, needle changed",
                                    operator="dr-a")
                continue
            if p.point in UNCERTAIN:
                row = shot(index, "uncertain", point=p.point)
            else:
                row = shot(index, "done", point=p.point, delivered=CUT_SHORT.get(p.point))
            store.record_shot(sid, row)
            index += 1
        store.end_session(sid, "aborted", {"points_planned": len(vp.points)})
    return sid
