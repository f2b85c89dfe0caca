"""Plan mistakes that used to pass `plan check` and fire shots: a zone shadowed by earlier
zones, CSV points closer or wider than a grid allows, an absurd session length, coordinates
so large that float rounding stacks points, and non-ASCII digits in a point list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesodrive.plan import Limits, PlanError, ProductLibrary, generate_grid, validate_plan

from .helpers import LIBRARY, defaults, make_plan

CSV_PLAN: dict[str, Any] = {"area": None, "spacing_mm": None, "pattern": None,
                            "points_csv": "pts.csv"}


def issues(tmp_path: Path | None = None, **changes: Any) -> str:
    with pytest.raises(PlanError) as ei:
        validate_plan(make_plan(**changes), LIBRARY, base_dir=tmp_path)
    return str(ei.value)


def rect(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {"kind": "rectangle", "origin_mm": [x, y], "size_mm": [w, h]}


def test_zone_shadowed_by_earlier_zones_is_refused() -> None:
    zones = [
        {"name": "left", "shape": rect(0, 0, 30, 40), "overrides": {"depth_mm": 2.5}},
        # every grid point inside "inner" is already in "left": its overrides never apply
        {"name": "inner", "shape": rect(0, 0, 20, 20), "overrides": {"depth_mm": 1.6}},
    ]
    text = issues(zones=zones)
    assert "zones[1].shape" in text and "'inner' receives no point" in text
    assert "zones[0] ('left')" in text


def test_partly_overlapping_zones_are_fine() -> None:
    zones = [{"name": "a", "shape": rect(0, 0, 20, 20)}, {"name": "b", "shape": rect(0, 0, 50, 10)}]
    vp = validate_plan(make_plan(zones=zones), LIBRARY)
    assert {p.zone for p in vp.points} == {"a", "b", None}


def test_csv_points_closer_than_the_grid_minimum_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n0,0\n10,0\n10.5,0.5\n")
    text = issues(tmp_path, **CSV_PLAN)
    assert "points_csv[4]" in text and "from line 3" in text
    assert "minimum spacing" in text and ">= 2 mm" in text


def test_csv_points_spread_beyond_the_largest_area_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n0,0\n10,0\n900,0\n")
    text = issues(tmp_path, **CSV_PLAN)
    assert "points_csv" in text and "900 mm across" in text and "<= 500 mm" in text


def test_csv_numbers_must_be_plain_ascii_decimals(tmp_path: Path) -> None:
    # float() accepts Arabic-Indic and full-width digits and underscores: a list must not.
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n0,0\n١٢,0\n1_0,20\n", encoding="utf-8")
    text = issues(tmp_path, **CSV_PLAN)
    assert "points_csv[3].x_mm" in text and "points_csv[4].x_mm" in text


def test_absurd_auto_cadence_is_refused() -> None:
    # 25 points at one shot per hour: an estimate of a whole day.
    text = issues(mode="auto", cadence_hz=1 / 3600)
    assert "cadence_hz" in text and "24 h" in text and "2 h" in text


def test_absurdly_slow_triggered_plan_is_refused() -> None:
    # 1271 points, each within every limit (a slow 5 µL/s flow and a 3 s dwell acknowledged),
    # add up to well over two hours of needle time.
    hair = LIBRARY.get("hair-x")
    roomy = hair.model_copy(update={"session_volume_ul": Limits(hard_min=0, hard_max=1e6)})
    lib = ProductLibrary(schema_version=1, products=(roomy,))
    plan = make_plan(area=rect(0, 0, 400, 300), refill_ul=10_000,
                     defaults=defaults(volume_ul=20, flow_ul_s=5, dwell_s=3),
                     overrides=[{"field": "flow_ul_s", "value": 5, "reason": "slow"}])
    with pytest.raises(PlanError) as ei:
        validate_plan(plan, lib)
    text = str(ei.value)
    assert "estimate" in text and "2 h" in text


def test_a_normal_plan_is_well_under_the_duration_limit() -> None:
    vp = validate_plan(make_plan(mode="auto", cadence_hz=0.5), LIBRARY)
    assert vp.estimate.duration_s < 2 * 3600


@pytest.mark.parametrize("origin", [[1e17, 0], [0, -1e15], [2e4, 0]])
def test_huge_grid_coordinates_are_refused(origin: list[float]) -> None:
    text = issues(area={"kind": "rectangle", "origin_mm": origin, "size_mm": [50, 40]})
    assert "area" in text and "10000 mm" in text


def test_huge_csv_coordinates_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n1e17,0\n")
    text = issues(tmp_path, **CSV_PLAN)
    assert "points_csv[2].x_mm" in text and "10000 mm" in text


def test_duplicate_grid_positions_after_rounding_are_refused() -> None:
    from mesodrive.plan.positions import duplicate_positions

    xy = [(0.0, 0.0), (10.0, 0.0), (10.0000001, 0.0), (20.0, 0.0)]
    assert duplicate_positions(xy) == [(2, 1)]  # index 2 repeats index 1 at µm resolution
    assert duplicate_positions([(0.0, 0.0), (2.0, 0.0)]) == []


@settings(max_examples=60, deadline=None)
@given(
    cx=st.floats(-5000, 5000), cy=st.floats(-5000, 5000),
    w=st.floats(1, 60), h=st.floats(1, 60),
    spacing=st.floats(2, 50), pattern=st.sampled_from(["square", "hex"]),
    ordering=st.sampled_from(["serpentine", "raster"]),
)
def test_grid_generation_never_produces_duplicates(
    cx: float, cy: float, w: float, h: float, spacing: float, pattern: Any, ordering: Any
) -> None:
    from mesodrive.plan import Rectangle
    from mesodrive.plan.positions import duplicate_positions

    area = Rectangle(kind="rectangle", origin_mm=(cx, cy), size_mm=(w, h))
    xy = np.asarray(generate_grid(area, pattern, spacing, ordering))
    assert duplicate_positions(generate_grid(area, pattern, spacing, ordering)) == []
    if len(xy) > 1:  # and neighbours are a full spacing apart
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        assert d.min() >= spacing * (1 - 1e-9)


def test_many_csv_points_on_one_spot_are_each_refused(tmp_path: Path) -> None:
    rows = "".join(f"{k * 1e-4:.4f},0\n" for k in range(3000))  # 3000 points within 0.3 mm
    (tmp_path / "pts.csv").write_text("x_mm,y_mm\n" + rows)
    with pytest.raises(PlanError) as ei:
        validate_plan(make_plan(**CSV_PLAN), LIBRARY, base_dir=tmp_path)
    kinds = ("minimum spacing", "same position")  # at 1 µm, ten of these points coincide
    assert len([i for i in ei.value.issues if any(k in i.message for k in kinds)]) == 2999


@pytest.mark.parametrize("n_points", [None, 1])
def test_an_auto_plan_without_cadence_and_an_endless_shot_is_refused_not_crashed(
    tmp_path: Path, n_points: int | None
) -> None:
    """Absurd volume over absurd flow: each shot takes inf s, so no cadence is achievable. The
    estimate used to divide by that zero (an internal error); now every field is named."""
    changes: dict[str, Any] = {"mode": "auto", "cadence_hz": None,
                               "defaults": defaults(volume_ul=1e308, flow_ul_s=1e-300)}
    if n_points == 1:
        (tmp_path / "pts.csv").write_text("x_mm,y_mm\n0,0\n")
        changes.update(CSV_PLAN)
    text = issues(tmp_path, **changes)
    assert "defaults.volume_ul = 1e+308" in text and "defaults.flow_ul_s = 1e-300" in text
    assert "cadence_hz" in text
