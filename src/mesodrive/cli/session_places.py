"""Where each point of a recorded session is, read from its stored point list without importing
the plan package (pydantic, numpy: a tenth of a second that `records export` need not pay).

The rule is `session_plan`'s for the stored list (a list of dicts with exactly the fields of
a `PlannedPoint`, an int point number, finite coordinates, a zone that is text or none); when
the list is absent or not like that, `None`, and the caller asks `session_plan.recorded_plan`,
which restores the plan. tests/records check that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mesodrive.records.export import PointPlace

# The fields of `plan.PlannedPoint` (a test keeps the two the same).
POINT_FIELDS = frozenset({"point", "x_mm", "y_mm", "zone", "depth_mm", "volume_ul", "flow_ul_s",
                          "speed_mm_s", "dwell_s"})


def stored_places(snapshot: Mapping[str, Any]) -> dict[int, PointPlace] | None:
    raw = snapshot.get("points")
    if not isinstance(raw, list) or not raw:
        return None
    places: dict[int, PointPlace] = {}
    for item in raw:
        if not isinstance(item, dict) or item.keys() != POINT_FIELDS:
            return None
        point, x, y, zone = item["point"], item["x_mm"], item["y_mm"], item["zone"]
        if (not isinstance(point, int) or isinstance(point, bool)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in (x, y))
                or not (zone is None or isinstance(zone, str))):
            return None
        places[point] = PointPlace(x, y, zone)
    return places
