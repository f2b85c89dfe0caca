"""Plan and library models: strict types, unknown keys, limits ordering, readable issues."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mesodrive.plan import (
    Limits,
    PlanError,
    PlanFileError,
    Product,
    ProductLibrary,
    load_library,
    load_plan,
    parse_plan,
)

from .helpers import BROKEN, LIBRARY, defaults, plan_dict


def fields(exc: PlanError) -> list[str]:
    return [i.field for i in exc.issues]


def test_base_plan_parses() -> None:
    plan = parse_plan(plan_dict())
    assert plan.defaults.depth_mm == 2.0 and isinstance(plan.defaults.volume_ul, float)
    assert plan.area is not None and plan.area.kind == "rectangle"
    assert plan.ordering == "serpentine" and plan.defaults.dwell_s == 0.0


@pytest.mark.parametrize(
    ("value", "limit"),
    [("2.0", "a number"), (True, "a number"), (float("nan"), "a finite number"),
     (float("inf"), "a finite number"), ([2.0], "a number")],
)
def test_numbers_are_strict_and_finite(value: object, limit: str) -> None:
    with pytest.raises(PlanError) as ei:
        parse_plan(plan_dict(defaults=defaults(depth_mm=value)))
    (issue,) = ei.value.issues
    assert issue.field == "defaults.depth_mm" and issue.limit == limit and issue.value == value or (
        issue.field == "defaults.depth_mm" and issue.limit == limit
    )


def test_unknown_keys_name_the_path_and_suggest() -> None:
    d = plan_dict()
    d["defaults"]["volume_uL"] = 3
    d["zones"] = [{"name": "z", "shape": {"kind": "ellipse", "center_mm": [0, 0],
                                          "radii_mm": [5, 5], "radius": 3}}]
    with pytest.raises(PlanError) as ei:
        parse_plan(d)
    by_field = {i.field: i for i in ei.value.issues}
    assert "did you mean 'volume_ul'" in by_field["defaults.volume_uL"].message
    # The union tag ("ellipse") never appears in the path: the user did not write it.
    assert "zones[0].shape.radius" in by_field
    assert "center_mm" in (by_field["zones[0].shape.radius"].limit or "")


def test_every_issue_is_printed_one_per_line() -> None:
    with pytest.raises(PlanError) as ei:
        parse_plan(plan_dict(product=None, spacing_mm="10", mode="fast"))
    text = str(ei.value)
    assert len(text.splitlines()) == len(ei.value.issues) == 3
    assert "product = (missing)" in text
    assert "spacing_mm = '10'" in text and "mode = 'fast'" in text and "triggered" in text


def test_area_tuple_fields_accept_toml_arrays_not_strings() -> None:
    plan = parse_plan(plan_dict(area={"kind": "polygon", "vertices_mm": [[0, 0], [10, 0], [0, 10]]}))
    assert plan.area is not None and plan.area.kind == "polygon"
    with pytest.raises(PlanError) as ei:
        parse_plan(plan_dict(area={"kind": "polygon", "vertices_mm": [[0, 0], [10, "0"], [0, 10]]}))
    assert fields(ei.value) == ["area.vertices_mm[1][1]"]


def test_plan_is_frozen() -> None:
    plan = parse_plan(plan_dict())
    with pytest.raises(ValidationError):
        plan.spacing_mm = 3  # type: ignore[misc]


def test_limits_must_be_ordered() -> None:
    Limits(hard_min=1, soft_min=1, soft_max=2, hard_max=2)
    with pytest.raises(ValueError, match="soft_max 5 > hard_max 4"):
        Limits(hard_min=1, soft_max=5, hard_max=4)
    with pytest.raises(ValueError, match="hard_min 3 > soft_min 2"):
        Limits(hard_min=3, soft_min=2, hard_max=4)
    lim = Limits(hard_min=1, hard_max=4)
    assert (lim.soft_low, lim.soft_high) == (1, 4)


def test_product_depth_must_stay_in_treatment_range() -> None:
    with pytest.raises(ValueError, match="treatment range 1–4 mm"):
        Product(id="p", name="P", indication="hair", depth_mm=Limits(hard_min=0.5, hard_max=4))


def test_library_get_and_unknown_product() -> None:
    assert LIBRARY.get("skin-x").indication == "skin"
    with pytest.raises(PlanError) as ei:
        LIBRARY.get("nope")
    (issue,) = ei.value.issues
    assert issue.field == "product" and "hair-x" in (issue.limit or "")


def test_library_rejects_duplicate_ids_and_bad_files(tmp_path: Path) -> None:
    p = Product(id="a", name="A", indication="hair")
    with pytest.raises(ValueError, match="more than once"):
        ProductLibrary(schema_version=1, products=(p, p))
    bad = tmp_path / "lib.toml"
    bad.write_text('schema_version = 1\n[[products]]\nid = "a"\nname = "A"\nindication = "face"\n')
    with pytest.raises(PlanError) as ei:
        load_library(bad)
    assert fields(ei.value) == ["lib.toml:products[0].indication"]
    with pytest.raises(PlanError, match="file not found"):
        load_library(tmp_path / "missing.toml")


def test_missing_limit_loads_but_is_listed() -> None:
    prod = LIBRARY.get("hair-nolimit")
    assert prod.flow_ul_s is None and prod.missing_limits() == ["flow_ul_s"]


def test_load_plan_errors(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError):
        load_plan(tmp_path / "absent.toml")
    bad = tmp_path / "p.toml"
    bad.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(PlanFileError):
        load_plan(bad)
    bad.write_text("x = = 1\n")
    with pytest.raises(PlanError, match="TOML syntax") as ei:
        load_plan(bad)
    assert not isinstance(ei.value, PlanFileError)
    # The missing library is reported together with the schema issues.
    (tmp_path / "q.toml").write_text((BROKEN / "missing_library.toml").read_text()
                                     .replace("spacing_mm = 10", 'spacing_mm = "10"'))
    with pytest.raises(PlanError) as ei:
        load_plan(tmp_path / "q.toml")
    assert sorted(fields(ei.value)) == ["library", "spacing_mm"]
