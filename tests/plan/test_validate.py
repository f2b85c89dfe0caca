"""validate_plan / check_point: expansion, limits, overrides, refills, hash and snapshot."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.plan import (
    DeviceLimits,
    PlanError,
    PlannedPoint,
    SoftOverride,
    check_point,
    compute_plan_hash,
    restore_snapshot,
    validate_plan,
)

from .helpers import BASE, LIBRARY, defaults, make_plan, plan_dict

HAIR = LIBRARY.get("hair-x")
DEVICE = DeviceLimits.default()
# The base plan's hash, pinned: the canonical form must not drift between runs or releases
# (records store it). Change it only together with a schema version.
BASE_HASH = "75f1afc31b02576a8450a928b8cf20e0643a3721069d23d9aa4a4dc2701c6faf"


def issues_of(**changes: Any) -> list[tuple[str, str]]:
    with pytest.raises(PlanError) as ei:
        validate_plan(make_plan(**changes), LIBRARY)
    return [(i.field, str(i)) for i in ei.value.issues]


def test_base_plan_expands_to_frozen_points() -> None:
    vp = validate_plan(make_plan(), LIBRARY)
    assert len(vp.points) == 25 and [p.point for p in vp.points] == list(range(1, 26))
    assert vp.points[0] == PlannedPoint(1, 5.0, 0.0, None, 2.0, 40.0, 40.0, 40.0, 0.0)
    assert vp.mode == "triggered" and vp.cadence_hz is None
    assert vp.overrides == () and vp.refill_before == ()
    assert vp.estimate.total_volume_ul == 1000.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        vp.points[0].depth_mm = 3.0  # type: ignore[misc]


def test_parameter_precedence_defaults_zone_point() -> None:
    zones = [
        {"name": "a", "shape": {"kind": "rectangle", "origin_mm": [0, 0], "size_mm": [20, 20]},
         "overrides": {"depth_mm": 2.5, "dwell_s": 0.2}},
        # overlaps "a": the first zone containing a point wins
        {"name": "b", "shape": {"kind": "rectangle", "origin_mm": [0, 0], "size_mm": [50, 10]},
         "overrides": {"depth_mm": 1.8}},
    ]
    vp = validate_plan(make_plan(zones=zones, point_overrides=[{"point": 1, "volume_ul": 30}]),
                       LIBRARY)
    p1, p3 = vp.points[0], vp.points[2]  # (5, 0) in a and b; (25, 0) only in b
    assert (p1.zone, p1.depth_mm, p1.dwell_s, p1.volume_ul) == ("a", 2.5, 0.2, 30.0)
    assert (p3.zone, p3.depth_mm, p3.dwell_s, p3.volume_ul) == ("b", 1.8, 0.0, 40.0)
    assert vp.points[-1].zone is None


def test_issues_name_the_source_field_once_with_points() -> None:
    zones = [{"name": "deep", "shape": {"kind": "rectangle", "origin_mm": [0, 0],
                                        "size_mm": [20, 20]}, "overrides": {"depth_mm": 4.5}}]
    found = issues_of(zones=zones)
    fields = {f for f, _ in found}
    assert fields == {"zones[0].overrides.depth_mm"}
    text = "\n".join(t for _, t in found)
    assert "hard_max 4 mm" in text and "(6 points: 1, 2, 9, 10, 11, …)" in text


def test_all_issues_are_reported_together() -> None:
    found = issues_of(indication="skin", spacing_mm=1, mode="auto",
                      defaults=defaults(flow_ul_s=500))
    fields = {f for f, _ in found}
    assert {"indication", "spacing_mm", "cadence_hz"} <= fields


def test_soft_breach_needs_override_with_reason_and_records_it() -> None:
    d = defaults(volume_ul=70)
    assert issues_of(defaults=d)[0][0] == "defaults.volume_ul"
    ov = [{"field": "volume_ul", "value": 70, "reason": "dense thinning"}]
    vp = validate_plan(make_plan(defaults=d, overrides=ov), LIBRARY)
    assert vp.overrides == (SoftOverride("volume_ul", None, 70.0, "soft_max 60 µL",
                                         "dense thinning"),)
    # An acknowledgement is for the planned value: another value is not covered.
    ov_other = [{"field": "volume_ul", "value": 65, "reason": "x"}]
    fields = {f for f, _ in issues_of(defaults=d, overrides=ov_other)}
    assert fields == {"defaults.volume_ul", "overrides[0]"}


def test_point_specific_override() -> None:
    po = [{"point": 4, "depth_mm": 3.5}]
    assert issues_of(point_overrides=po)[0][0] == "point_overrides[0].depth_mm"
    ov = [{"field": "depth_mm", "point": 4, "value": 3.5, "reason": "scar tissue"}]
    vp = validate_plan(make_plan(point_overrides=po, overrides=ov), LIBRARY)
    assert vp.points[3].depth_mm == 3.5 and vp.overrides[0].point == 4
    ov_wrong = [{"field": "depth_mm", "point": 5, "value": 3.5, "reason": "scar tissue"}]
    assert {f for f, _ in issues_of(point_overrides=po, overrides=ov_wrong)} == {
        "point_overrides[0].depth_mm", "overrides[0]"}


def test_unneeded_override_is_an_issue() -> None:
    ov = [{"field": "depth_mm", "value": 2.0, "reason": "habit"}]
    (field, text), = issues_of(overrides=ov)
    assert field == "overrides[0].value" and "no override needed" in text


def test_session_volume_soft_and_hard() -> None:
    big = {"kind": "rectangle", "origin_mm": [0, 0], "size_mm": [140, 110]}  # 15 × 11 points
    found = issues_of(area=big, defaults=defaults(volume_ul=50))  # 165 × 50 = 8250 µL
    assert [f for f, _ in found] == ["session_volume_ul"] and "soft_max 8000" in found[0][1]
    ov = [{"field": "session_volume_ul", "value": 8250, "reason": "large area"}]
    vp = validate_plan(make_plan(area=big, defaults=defaults(volume_ul=50), overrides=ov), LIBRARY)
    assert vp.total_volume_ul == 8250 and vp.overrides[0].field == "session_volume_ul"
    bigger = {"kind": "rectangle", "origin_mm": [0, 0], "size_mm": [140, 130]}  # 15 × 13
    found = dict(issues_of(area=bigger, defaults=defaults(volume_ul=55)))  # 10725 µL
    assert "hard_max 10000" in found["session_volume_ul"]
    assert "cannot be overridden" in found["session_volume_ul"]


def test_missing_limit_means_not_allowed() -> None:
    found = issues_of(product="hair-nolimit")
    assert [f for f, _ in found] == ["product.flow_ul_s"]
    assert "not allowed" in found[0][1]


def test_refills_are_planned() -> None:
    vp = validate_plan(make_plan(refill_ul=200), LIBRARY)  # 5 points of 40 µL per fill
    assert vp.refill_before == (6, 11, 16, 21) and vp.estimate.refills == 4
    small = DeviceLimits(**{**dataclasses.asdict(DEVICE), "syringe_ul": 300.0})
    vp = validate_plan(make_plan(), LIBRARY, small)
    assert vp.refill_before == (8, 15, 22)


def test_device_capabilities_are_absolute() -> None:
    narrow = DeviceLimits(**{**dataclasses.asdict(DEVICE), "depth_max_mm": 1.8, "timed": False})
    with pytest.raises(PlanError) as ei:
        validate_plan(make_plan(mode="auto", cadence_hz=0.5), LIBRARY, narrow)
    text = str(ei.value)
    assert "defaults.depth_mm = 2: outside the device's capability" in text
    assert "mode = 'auto'" in text


def test_auto_cadence_must_be_achievable() -> None:
    vp = validate_plan(make_plan(mode="auto", cadence_hz=0.8), LIBRARY)
    assert vp.cadence_hz == 0.8 and vp.estimate.achievable_cadence_hz > 0.8
    (field, text), = issues_of(mode="auto", cadence_hz=0.9)
    assert field == "cadence_hz" and "<= 0.857 Hz" in text


def test_csv_points(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text(
        "# forehead line\nx_mm,y_mm,volume_ul,depth_mm\n0,0,,\n10,0,30,\n\n5,5,,1.6\n"
    )
    changes: dict[str, Any] = {"area": None, "spacing_mm": None, "pattern": None,
                               "points_csv": "pts.csv"}
    zones = [{"name": "z", "shape": {"kind": "ellipse", "center_mm": [5, 5], "radii_mm": [1, 1]},
              "overrides": {"depth_mm": 2.5, "volume_ul": 25}}]
    vp = validate_plan(make_plan(**changes, zones=zones), LIBRARY, base_dir=tmp_path)
    assert [(p.x_mm, p.y_mm) for p in vp.points] == [(0, 0), (10, 0), (5, 5)]  # file order
    assert [p.volume_ul for p in vp.points] == [40, 30, 25]
    assert [p.depth_mm for p in vp.points] == [2.0, 2.0, 1.6]  # the CSV cell beats the zone
    assert vp.points_csv is not None and "forehead" in vp.points_csv.text
    h = vp.plan_hash
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n0,0\n10,0\n5,5\n")
    vp2 = validate_plan(make_plan(**changes, zones=zones), LIBRARY, base_dir=tmp_path)
    assert vp2.plan_hash != h  # the point list is part of the plan
    with pytest.raises(PlanError, match="points_csv\\[3\\].*same position as line 2"):
        (tmp_path / "pts.csv").write_text("x_mm,y_mm\n0,0\n0,0\n")
        validate_plan(make_plan(**changes), LIBRARY, base_dir=tmp_path)
    with pytest.raises(PlanError, match="pattern = 'hex': has no effect"):
        validate_plan(make_plan(**{**changes, "pattern": "hex"}), LIBRARY, base_dir=tmp_path)


# ---- check_point (the controller's re-check) ----------------------------------------------


def pt(**changes: float) -> PlannedPoint:
    base = PlannedPoint(7, 0.0, 0.0, None, 2.0, 40.0, 40.0, 40.0, 0.0)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "field", "limit"),
    [
        ({"depth_mm": 4.2}, "points[7].depth_mm", "hard_max 4 mm"),
        ({"depth_mm": 0.9}, "points[7].depth_mm", "treatment range 1–4 mm"),
        ({"volume_ul": 70}, "points[7].volume_ul", "soft_max 60 µL"),
        ({"flow_ul_s": 150}, "points[7].flow_ul_s", "device 1–100 µL/s"),
        ({"speed_mm_s": 5}, "points[7].speed_mm_s", "hard_min 10 mm/s"),
        ({"dwell_s": 4}, "points[7].dwell_s", "device 0–3 s"),
        ({"depth_mm": float("nan")}, "points[7].depth_mm", "a finite number"),
    ],
)
def test_check_point_rejects(changes: dict[str, float], field: str, limit: str) -> None:
    issues = check_point(HAIR, DEVICE, pt(**changes), ())
    assert issues and any(i.field == field and limit in (i.limit or "") for i in issues), issues


def test_check_point_overrides() -> None:
    p = pt(volume_ul=70)
    ok = SoftOverride("volume_ul", None, 70.0, "soft_max 60 µL", "reason")
    assert check_point(HAIR, DEVICE, p, (ok,)) == []
    assert check_point(HAIR, DEVICE, p, (dataclasses.replace(ok, point=7),)) == []
    assert check_point(HAIR, DEVICE, p, (dataclasses.replace(ok, point=8),))
    assert check_point(HAIR, DEVICE, p, (dataclasses.replace(ok, reason=" "),))
    assert check_point(HAIR, DEVICE, p, (dataclasses.replace(ok, value=69.0),))
    # A hard limit is never overridable.
    hard = SoftOverride("depth_mm", None, 4.2, "x", "reason")
    assert check_point(HAIR, DEVICE, pt(depth_mm=4.2), (hard,))
    assert check_point(HAIR, DEVICE, pt(), ()) == []


def test_check_point_missing_limit() -> None:
    issues = check_point(LIBRARY.get("hair-nolimit"), DEVICE, pt(), ())
    assert [(i.field, i.value) for i in issues] == [("product.flow_ul_s", None)]


# ---- hash and snapshot --------------------------------------------------------------------


def test_hash_is_pinned_and_ignores_spelling() -> None:
    vp = validate_plan(make_plan(), LIBRARY)
    assert vp.plan_hash == BASE_HASH
    # 2 vs 2.0, explicit defaults and key order are the same plan.
    same = plan_dict(defaults=defaults(depth_mm=2, dwell_s=0.0), ordering="serpentine",
                     zones=[], overrides=[])
    same = dict(reversed(list(same.items())))
    assert validate_plan(make_plan(**same), LIBRARY).plan_hash == BASE_HASH


MUTATIONS: list[dict[str, Any]] = [
    {"patient_ref": "T-2"},
    {"library": "other.toml"},
    {"spacing_mm": 9.5},
    {"pattern": "hex"},
    {"ordering": "raster"},
    {"mode": "auto", "cadence_hz": 0.5},
    {"refill_ul": 500},
    {"defaults": defaults(depth_mm=2.1)},
    {"defaults": defaults(volume_ul=41)},
    {"defaults": defaults(flow_ul_s=41)},
    {"defaults": defaults(speed_mm_s=41)},
    {"defaults": defaults(dwell_s=0.1)},
    {"area": {"kind": "rectangle", "origin_mm": [0, 0.5], "size_mm": [50, 40]}},
    {"area": {"kind": "ellipse", "center_mm": [25, 20], "radii_mm": [25, 20]}},
    {"zones": [{"name": "z", "shape": {"kind": "ellipse", "center_mm": [5, 0],
                                       "radii_mm": [1, 1]}}]},
    {"point_overrides": [{"point": 2, "dwell_s": 0.1}]},
]


@given(st.sampled_from(MUTATIONS))
def test_hash_changes_when_the_plan_changes(change: dict[str, Any]) -> None:
    assert compute_plan_hash(make_plan(**change), HAIR) != BASE_HASH


@given(st.sampled_from(["name", "depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s",
                        "session_volume_ul"]))
def test_hash_changes_when_the_product_changes(field: str) -> None:
    if field == "name":
        prod = HAIR.model_copy(update={"name": "renamed"})
    else:
        lim = HAIR.limit(field)
        assert lim is not None
        prod = HAIR.model_copy(update={field: lim.model_copy(update={"hard_max": lim.hard_max - 0.5})})
    assert compute_plan_hash(make_plan(), prod) != BASE_HASH


def test_snapshot_is_json_and_restores(tmp_path: Path) -> None:
    zones = [{"name": "z", "shape": {"kind": "polygon",
                                     "vertices_mm": [[0, 0], [20, 0], [0, 20]]},
              "overrides": {"depth_mm": 1.2}}]
    ov = [{"field": "depth_mm", "value": 1.2, "reason": "thin skin"}]
    vp = validate_plan(make_plan(zones=zones, overrides=ov, mode="auto", cadence_hz=0.5), LIBRARY)
    snap = json.loads(json.dumps(vp.snapshot(), allow_nan=False))
    assert snap["plan_hash"] == vp.plan_hash and snap["product"]["id"] == "hair-x"
    assert snap["summary"]["overrides"][0]["reason"] == "thin skin"
    back = restore_snapshot(snap)
    assert back.points == vp.points and back.plan_hash == vp.plan_hash and back.device == vp.device
    snap["plan"]["defaults"]["volume_ul"] = 45.0
    with pytest.raises(PlanError, match="plan_hash"):
        restore_snapshot(snap)


def test_snapshot_keeps_the_csv(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("x_mm,y_mm\n0,0\n10,0\n")
    plan = make_plan(area=None, spacing_mm=None, pattern=None, points_csv="p.csv")
    vp = validate_plan(plan, LIBRARY, base_dir=tmp_path)
    (tmp_path / "p.csv").unlink()
    snap = json.loads(json.dumps(vp.snapshot()))
    back = restore_snapshot(snap)
    assert back.points == vp.points and back.plan_hash == vp.plan_hash
    snap["points_csv"]["text"] = "x_mm,y_mm\n0,0\n10,1\n"
    with pytest.raises(PlanError, match="plan_hash"):
        restore_snapshot(snap)


def test_base_is_unchanged_by_helpers() -> None:
    assert BASE["defaults"]["depth_mm"] == 2.0
