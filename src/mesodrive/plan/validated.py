"""The result of validation: a frozen `ValidatedPlan`, its hash and its snapshot format."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mesodrive.plan.device import DeviceLimits
from mesodrive.plan.estimate import Estimate
from mesodrive.plan.library import Product
from mesodrive.plan.models import Plan
from mesodrive.plan.points import PlannedPoint, SoftOverride

SNAPSHOT_FORMAT = "mesodrive.plan-snapshot/1"


@dataclass(frozen=True)
class CsvSource:
    """The explicit point list a plan used: kept verbatim in the snapshot and in the hash."""

    path: str
    text: str
    sha256: str

    @classmethod
    def of(cls, path: str, text: str) -> CsvSource:
        return cls(path, text, hashlib.sha256(text.encode("utf-8")).hexdigest())


@dataclass(frozen=True)
class ValidatedPlan:
    plan: Plan
    product: Product
    device: DeviceLimits
    points: tuple[PlannedPoint, ...]
    mode: str
    cadence_hz: float | None
    overrides: tuple[SoftOverride, ...]
    refill_before: tuple[int, ...]  # point numbers before which the syringe must be refilled
    estimate: Estimate
    plan_hash: str
    points_csv: CsvSource | None = None

    @property
    def total_volume_ul(self) -> float:
        return self.estimate.total_volume_ul

    @property
    def refill_ul(self) -> float:
        return self.plan.refill_ul or self.device.syringe_ul

    def snapshot(self) -> dict[str, Any]:
        """JSON-able record of what was validated (stored with the session);
        `restore_snapshot` rebuilds the ValidatedPlan from it and checks the hash."""
        return {
            "format": SNAPSHOT_FORMAT,
            "plan_hash": self.plan_hash,
            "plan": self.plan.model_dump(mode="json"),
            "product": self.product.model_dump(mode="json"),
            "device": dataclasses.asdict(self.device),
            "points_csv": dataclasses.asdict(self.points_csv) if self.points_csv else None,
            "summary": {
                "points": len(self.points),
                "total_volume_ul": self.total_volume_ul,
                "refill_ul": self.refill_ul,
                "refill_before": list(self.refill_before),
                "overrides": [dataclasses.asdict(o) for o in self.overrides],
                "estimate": dataclasses.asdict(self.estimate),
            },
        }


def compute_plan_hash(plan: Plan, product: Product, csv_sha256: str | None = None) -> str:
    """sha256 of the canonical JSON of (plan, product[, the CSV's sha256]).

    Canonical: sorted keys, no whitespace, values as validated (``2`` and ``2.0`` hash alike),
    fields left at their defaults omitted (writing a default out does not change the plan)."""
    doc: dict[str, Any] = {
        "plan": plan.model_dump(mode="json", exclude_defaults=True),
        "product": product.model_dump(mode="json", exclude_defaults=True),
    }
    if csv_sha256 is not None:
        doc["points_csv_sha256"] = csv_sha256
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
