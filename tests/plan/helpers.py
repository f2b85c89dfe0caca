"""Shared builders for the plan tests: a valid base plan (as a dict) and the test library."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mesodrive.plan import Plan, ProductLibrary, load_library, parse_plan

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"
EXAMPLES = HERE.parent.parent / "examples"
LIBRARY: ProductLibrary = load_library(BROKEN / "lib" / "products.toml")

BASE: dict[str, Any] = {
    "schema_version": 1,
    "patient_ref": "T-1",
    "library": "products.toml",
    "product": "hair-x",
    "indication": "hair",
    "area": {"kind": "rectangle", "origin_mm": [0, 0], "size_mm": [50, 40]},
    "pattern": "square",
    "spacing_mm": 10,
    "mode": "triggered",
    "defaults": {"depth_mm": 2.0, "volume_ul": 40, "flow_ul_s": 40, "speed_mm_s": 40},
}


def plan_dict(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced (a value of None deletes the key)."""
    d = copy.deepcopy(BASE)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def make_plan(**changes: Any) -> Plan:
    return parse_plan(plan_dict(**changes))


def defaults(**changes: Any) -> dict[str, Any]:
    d = dict(BASE["defaults"])
    d.update(changes)
    return d
