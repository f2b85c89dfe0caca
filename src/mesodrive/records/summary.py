"""Session summaries from journal bodies, and reading those bodies safely.

The plan snapshot's layout belongs to the plan layer, so the records look values up by name
(a few levels deep) instead of hard-coding it. A body that is not what mesodrive writes raises
`DamagedRecordsError` naming the row: the reader says the file is damaged, never guesses.
"""

from __future__ import annotations

import json
from typing import Any

from mesodrive.records.models import DamagedRecordsError, SessionSummary


def parse_body(path: object, row_id: int, body: Any) -> dict[str, Any]:
    """A journal row's body as a dict; DamagedRecordsError if it is anything else."""
    try:
        value = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise DamagedRecordsError(f"{path}: the records file is damaged: journal row {row_id}'s "
                                  f"body is not a JSON object")
    return value


def summarize(session: int, started_at: str, start: dict[str, Any],
             end: tuple[str, dict[str, Any]] | None,
             agg: tuple[set[int], float, int]) -> SessionSummary:
    points, volume, uncertain = agg
    end_body = end[1] if end else {}
    return SessionSummary(
        id=session, started_at=started_at, ended_at=end[0] if end else None,
        status=str(end_body.get("status", "open")),
        patient_ref=_patient_ref(start.get("plan_snapshot") or {}),
        product_id=_product_id(start.get("product") or {}),
        plan_hash=str(start.get("plan_hash", "")), mode=str(start.get("mode", "")),
        device_session=int(start.get("device_session") or session),
        points_done=len(points),
        points_planned=_points_planned(start.get("plan_snapshot") or {},
                                       end_body.get("summary") or {}),
        volume_delivered_ul=round(volume, 6), uncertain_shots=uncertain,
    )


def _find_key(data: dict[str, Any], key: str, depth: int = 3) -> Any:
    """The value of `key` in `data` or in its nested dicts (breadth first, a few levels): the
    plan snapshot's layout belongs to the plan layer, so the records do not hard-code it."""
    level = [data]
    for _ in range(depth):
        for d in level:
            if d.get(key) is not None:
                return d[key]
        level = [v for d in level for v in d.values() if isinstance(v, dict)]
    return None


def _patient_ref(plan: dict[str, Any]) -> str | None:
    ref = _find_key(plan, "patient_ref")
    return None if ref is None else str(ref)


def _product_id(product: dict[str, Any]) -> str | None:
    for key in ("id", "product_id", "name"):
        if product.get(key) is not None:
            return str(product[key])
    return None


def _points_planned(plan: dict[str, Any], end_summary: dict[str, Any]) -> int | None:
    # The snapshot's point list when there is one, else a count from the snapshot or summary.
    if isinstance(plan.get("points"), list):
        return len(plan["points"])
    for source in (plan, end_summary):
        for key in ("points_planned", "n_points", "point_count", "points"):
            value = source.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None
