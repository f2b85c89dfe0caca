"""Validation is a pipeline of small stages, each returning its issues; the per-point rule is
one module the controller's pre-shot re-check shares."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mesodrive.plan import DeviceLimits, PlannedPoint, SoftOverride, check_point
from mesodrive.plan.overrides import soft_overrides
from mesodrive.plan.point_rules import check_point as rule_check_point
from mesodrive.plan.point_rules import point_problems
from mesodrive.plan.positions import plan_positions
from mesodrive.plan.timing import mode_issues
from mesodrive.plan.zones import expand_points

from .helpers import LIBRARY, defaults, make_plan

PLAN_PACKAGE = Path(__file__).resolve().parents[2] / "src" / "mesodrive" / "plan"
HAIR = LIBRARY.get("hair-x")
DEVICE = DeviceLimits.default()


def test_no_plan_module_is_over_400_lines() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PLAN_PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_the_public_check_point_is_the_per_point_rule() -> None:
    assert check_point is rule_check_point


def test_positions_stage_alone() -> None:
    positions, issues = plan_positions(make_plan(), None)
    assert issues == [] and len(positions.xy) == 25 and positions.xy[0] == (5.0, 0.0)
    _, issues = plan_positions(make_plan(spacing_mm=1), None)
    assert [i.field for i in issues] == ["spacing_mm"]


def test_zone_stage_alone_gives_points_and_their_sources() -> None:
    zones = [{"name": "a", "shape": {"kind": "rectangle", "origin_mm": [0, 0],
                                     "size_mm": [10, 10]}, "overrides": {"depth_mm": 2.5}}]
    plan = make_plan(zones=zones, point_overrides=[{"point": 2, "volume_ul": 30}])
    positions, _ = plan_positions(plan, None)
    expanded, issues = expand_points(plan, positions)
    assert issues == []
    p1, p2 = expanded.points[:2]
    assert (p1.zone, p1.depth_mm) == ("a", 2.5) and p2.volume_ul == 30
    assert expanded.sources[0]["depth_mm"] == "zones[0].overrides.depth_mm"
    assert expanded.sources[1]["volume_ul"] == "point_overrides[0].volume_ul"


def test_override_stage_alone() -> None:
    plan = make_plan(defaults=defaults(volume_ul=70),
                     overrides=[{"field": "volume_ul", "value": 70, "reason": "dense"},
                                {"field": "depth_mm", "value": 4.5, "reason": "x"}])
    indexed, issues = soft_overrides(plan, HAIR, 25)
    assert [i for i, _ in indexed] == [0]
    assert [i.field for i in issues] == ["overrides[1].value"]


def test_timing_stage_alone() -> None:
    no_timed = dataclasses.replace(DEVICE, timed=False)
    assert [i.field for i in mode_issues(make_plan(mode="auto"), no_timed)] == ["mode", "cadence_hz"]


def test_point_rule_without_a_product_checks_the_device_only() -> None:
    p = PlannedPoint(1, 0.0, 0.0, None, 2.0, 300.0, 40.0, 40.0, 0.0)
    assert [q.param for q in point_problems(None, DEVICE, p, ())] == ["volume_ul"]
    ok = SoftOverride("volume_ul", None, 70.0, "soft_max 60 µL", "r")
    assert check_point(HAIR, DEVICE, dataclasses.replace(p, volume_ul=70.0), [ok]) == []
