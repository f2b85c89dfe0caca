"""Whatever a plan, library, point list or snapshot holds, the answer is a valid plan or a
PlanError whose issues name a field — never another exception (a traceback for the user)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesodrive.cli import main
from mesodrive.plan import PlanError, load_library, parse_plan, restore_snapshot, validate_plan

from .helpers import BASE, BROKEN, LIBRARY, make_plan

LIB_TEXT = (BROKEN / "lib" / "products.toml").read_text()
NASTY_FLOATS = st.sampled_from([0.0, -0.0, 1e-320, 1e-300, 1e300, 1.7e308, -1.7e308,
                                float("nan"), float("inf"), 2.0**53 + 1])
LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), NASTY_FLOATS,
    st.text(max_size=20),
    st.sampled_from(["", "x" * 5000, "auto", "hex", "rectangle", "../../etc/passwd", "\x00"]),
)
VALUES = st.recursive(LEAF, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)),
    max_leaves=12)
ZONE = {"name": "z", "shape": {"kind": "polygon", "vertices_mm": [[0, 0], [20, 0], [0, 20]]},
        "overrides": {"depth_mm": 2.5}}
FULL = {**copy.deepcopy(BASE), "zones": [ZONE], "point_overrides": [{"point": 2, "dwell_s": 0.1}],
        "overrides": [{"field": "volume_ul", "value": 70, "reason": "r"}], "refill_ul": 500}


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


def put(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


def refused_cleanly(exc: PlanError) -> None:
    assert exc.issues
    for issue in exc.issues:
        assert issue.field and issue.message
        str(issue)  # printable


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(paths(FULL)), VALUES)
def test_any_value_anywhere_in_a_plan_is_refused_cleanly(path: tuple[Any, ...], value: Any) -> None:
    doc = put(FULL, path, value)
    try:
        validate_plan(parse_plan(doc), LIBRARY)
    except PlanError as exc:
        refused_cleanly(exc)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s"]),
       st.one_of(NASTY_FLOATS, st.floats(allow_nan=False, allow_infinity=False)),
       st.sampled_from(["triggered", "auto"]), st.one_of(NASTY_FLOATS, st.floats(0.001, 1e6)))
def test_extreme_numbers_are_refused_cleanly(
    param: str, value: float, mode: str, cadence: float
) -> None:
    d = {**BASE["defaults"], param: value}
    try:
        plan = make_plan(defaults=d, mode=mode, cadence_hz=cadence if mode == "auto" else None)
        validate_plan(plan, LIBRARY)
    except PlanError as exc:
        refused_cleanly(exc)


@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_bytes_as_point_list_are_refused_cleanly(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "pts.csv").write_bytes(b"x_mm,y_mm,depth_mm\n" + data)
    plan = make_plan(area=None, spacing_mm=None, pattern=None, points_csv="pts.csv")
    try:
        validate_plan(plan, LIBRARY, base_dir=tmp_path)
    except PlanError as exc:
        refused_cleanly(exc)


@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), prefix=st.sampled_from(["", 'schema_version = 1\n']))
def test_any_bytes_as_plan_or_library_never_crash(
    tmp_path: Path, data: bytes, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "products.toml").write_bytes(prefix.encode() + data)
    with pytest.raises(PlanError) as ei:
        load_library(tmp_path / "products.toml")
    refused_cleanly(ei.value)
    (tmp_path / "plan.toml").write_bytes(prefix.encode() + data)
    assert main(["plan", "check", str(tmp_path / "plan.toml")]) in (1, 2)
    assert main(["plan", "check", "--json", str(tmp_path / "plan.toml")]) in (1, 2)
    capsys.readouterr()


def snapshot() -> dict[str, Any]:
    vp = validate_plan(make_plan(zones=[ZONE]), LIBRARY)
    snap: dict[str, Any] = json.loads(json.dumps(vp.snapshot()))
    return snap


SNAPSHOT = snapshot()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(paths(SNAPSHOT)), VALUES)
def test_a_damaged_snapshot_is_refused_cleanly(path: tuple[Any, ...], value: Any) -> None:
    try:
        restore_snapshot(put(SNAPSHOT, path, value))
    except PlanError as exc:
        refused_cleanly(exc)


@pytest.mark.parametrize("snap", [None, [], "x", {"format": "mesodrive.plan-snapshot/1"},
                                  {**SNAPSHOT, "device": None}, {**SNAPSHOT, "points_csv": 3}])
def test_malformed_snapshots(snap: Any) -> None:
    with pytest.raises(PlanError) as ei:
        restore_snapshot(snap)
    refused_cleanly(ei.value)


@pytest.mark.parametrize(("field", "value"), [("needle_accel_mm_s2", 0.0),
                                              ("retract_speed_mm_s", -1.0),
                                              ("depth_min_mm", 5.0),
                                              ("syringe_ul", float("nan")),
                                              ("timed", 1)])
def test_an_impossible_device_is_refused_cleanly(field: str, value: object) -> None:
    import dataclasses

    from mesodrive.plan import DeviceLimits

    device = dataclasses.replace(DeviceLimits.default(), **{field: value})
    with pytest.raises(PlanError) as ei:
        validate_plan(make_plan(mode="auto", cadence_hz=0.5), LIBRARY, device)
    assert [i.field for i in ei.value.issues] == [f"device.{field}"]
