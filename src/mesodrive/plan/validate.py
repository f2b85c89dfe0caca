"""Validation: a `Plan` + its product + the device -> a frozen `ValidatedPlan`, or a `PlanError`
listing every issue.

A pipeline of stages, each its own module returning its issues, all of which run so that one
`plan check` reports everything:

0. the device's capabilities are possible at all, and the product exists, has every limit
   and matches the plan's indication (here);
1. positions, from a grid or a CSV list (`positions`);
2. zones and parameter precedence: the expanded points (`zones`);
3. the per-point rules, product limits and device capabilities (`point_rules`; the controller
   re-checks each shot with the same `check_point`);
4. the soft-limit overrides and the session total (`overrides`);
5. mode, refills, cadence and session duration (`timing`).

Per-point issues are reported against the plan field the value came from (``defaults.depth_mm``,
``zones[1].overrides.volume_ul``, ``points_csv[7].depth_mm``, ``point_overrides[0].flow_ul_s``)
with the affected point numbers, so one wrong default gives one message, not 150.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mesodrive.plan.device import DeviceLimits
from mesodrive.plan.estimate import plan_refills
from mesodrive.plan.files import read_text_file
from mesodrive.plan.issues import PlanError, PlanIssue, issues_from_validation_error
from mesodrive.plan.library import Product, ProductLibrary, load_library
from mesodrive.plan.models import Plan, load_plan, parse_plan
from mesodrive.plan.overrides import session_issues, soft_overrides, stale_override_issues
from mesodrive.plan.point_rules import check_point, missing_limit_message, point_issues
from mesodrive.plan.points import same_value
from mesodrive.plan.positions import plan_positions
from mesodrive.plan.timing import mode_issues, refill_issues, timing
from mesodrive.plan.validated import (
    SNAPSHOT_FORMAT,
    CsvSource,
    ValidatedPlan,
    compute_plan_hash,
)
from mesodrive.plan.zones import expand_points


def read_points_csv(plan: Plan, base_dir: Path | None) -> tuple[CsvSource | None, list[PlanIssue]]:
    """The plan's point list, read with `files.read_text_file`'s bounds (None without one)."""
    if plan.points_csv is None:
        return None, []
    path = (base_dir or Path.cwd()) / plan.points_csv
    try:
        text = read_text_file(path, "points_csv", plan.points_csv, "point list")
    except PlanError as exc:
        return None, exc.issues
    return CsvSource.of(plan.points_csv, text), []


def validate_plan(
    plan: Plan,
    library: ProductLibrary,
    device: DeviceLimits | None = None,
    *,
    base_dir: Path | None = None,
) -> ValidatedPlan:
    """Validate and expand a plan (``base_dir``: where ``points_csv`` is resolved, normally the
    plan file's directory). Raises PlanError listing all issues."""
    csv_source, issues = read_points_csv(plan, base_dir)
    return _validate(plan, library, device or DeviceLimits.default(), csv_source, issues)


def validate_plan_file(path: Path, device: DeviceLimits | None = None) -> ValidatedPlan:
    """load_plan + load_library (relative to the plan) + validate_plan, in one call."""
    path = Path(path)
    plan = load_plan(path)
    library = load_library(path.parent / plan.library)
    return validate_plan(plan, library, device, base_dir=path.parent)


def restore_snapshot(snapshot: dict[str, Any], device: DeviceLimits | None = None) -> ValidatedPlan:
    """Rebuild a ValidatedPlan from `ValidatedPlan.snapshot()` (e.g. to resume a session),
    re-validating it against ``device`` (default: the device in the snapshot) and checking
    that the plan hash is unchanged."""
    if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
        got = snapshot.get("format") if isinstance(snapshot, dict) else type(snapshot).__name__
        raise PlanError([PlanIssue("format", got, SNAPSHOT_FORMAT, "not a plan snapshot")])
    plan = parse_plan(snapshot.get("plan"))
    try:
        product = Product.model_validate(snapshot.get("product"))
    except ValidationError as exc:
        raise PlanError(issues_from_validation_error(exc, Product, prefix="product")) from None
    if device is None:
        device = _snapshot_device(snapshot.get("device"))
    csv = snapshot.get("points_csv")
    if csv is not None and not (isinstance(csv, dict) and isinstance(csv.get("path"), str)
                                and isinstance(csv.get("text"), str)):
        raise PlanError([PlanIssue("points_csv", "(malformed)", "path and text strings",
                                   "the snapshot's point list is malformed")])
    # The sha is recomputed, never taken from the snapshot: the hash check below must see edits.
    csv_source = CsvSource.of(csv["path"], csv["text"]) if csv else None
    library = ProductLibrary(schema_version=1, products=(product,))
    vp = _validate(plan, library, device, csv_source, [])
    if vp.plan_hash != snapshot.get("plan_hash"):
        raise PlanError([PlanIssue("plan_hash", snapshot.get("plan_hash"), vp.plan_hash,
                                   "the snapshot does not match its hash")])
    return vp


def _snapshot_device(data: object) -> DeviceLimits:
    try:
        if not isinstance(data, dict):
            raise TypeError("not a table")
        return DeviceLimits(**data)
    except TypeError as exc:
        raise PlanError([PlanIssue("device", "(malformed)", "the device's capabilities",
                                   f"the snapshot's device is malformed: {exc}")]) from None


def _product_stage(plan: Plan, library: ProductLibrary) -> tuple[Product | None, list[PlanIssue]]:
    try:
        product = library.get(plan.product)
    except PlanError as exc:
        return None, exc.issues
    issues = []
    if product.indication != plan.indication:
        issues.append(PlanIssue(
            "indication", plan.indication, f"the product's indication: {product.indication}",
            f"product {product.id!r} is a {product.indication} product; hair and skin are "
            "never mixed in one plan",
        ))
    for name in product.missing_limits():
        issues.append(PlanIssue(f"product.{name}", None, f"a {name} limit in the product "
                                "library", missing_limit_message(product, name)))
    return product, issues


def _validate(
    plan: Plan,
    library: ProductLibrary,
    device: DeviceLimits,
    csv_source: CsvSource | None,
    issues: list[PlanIssue],
) -> ValidatedPlan:
    bad_device = [PlanIssue(f"device.{name}", value, limit, "the device reports an impossible "
                            "capability: no plan can be checked against it")
                  for name, value, limit in device.problems()]
    if bad_device:  # every later stage computes with these figures
        raise PlanError(issues + bad_device)
    product, found = _product_stage(plan, library)
    issues += found
    issues += mode_issues(plan, device)
    positions, found = plan_positions(plan, csv_source.text if csv_source else None)
    issues += found
    expanded, found = expand_points(plan, positions)
    issues += found
    points = expanded.points
    indexed, found = soft_overrides(plan, product, len(points))
    issues += found
    soft = tuple(o for _, o in indexed)
    used: set[int] = set()  # which of `soft` covered a breach: the rest are stale
    issues += point_issues(product, device, points, expanded.sources, soft, used)
    total = sum((p.volume_ul for p in points), 0.0)  # absurd volumes sum to inf: refused
    issues += session_issues(product, total, len(points), soft, used)
    issues += stale_override_issues(indexed, used)
    issues += refill_issues(plan, device, points)
    est, found = timing(plan, device, points)
    issues += found

    if issues:
        raise PlanError(_dedupe(issues))
    assert product is not None and est is not None
    refill_ul = plan.refill_ul or device.syringe_ul
    return ValidatedPlan(
        plan=plan,
        product=product,
        device=device,
        points=points,
        mode=plan.mode,
        cadence_hz=plan.cadence_hz if plan.mode == "auto" else None,
        overrides=soft,
        refill_before=plan_refills(points, refill_ul),
        estimate=est,
        plan_hash=compute_plan_hash(plan, product, csv_source.sha256 if csv_source else None),
        points_csv=csv_source,
    )


def _dedupe(issues: list[PlanIssue]) -> list[PlanIssue]:
    seen: set[str] = set()
    out = []
    for i in issues:
        key = repr(i)
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


__all__ = [
    "CsvSource",
    "ValidatedPlan",
    "check_point",
    "compute_plan_hash",
    "restore_snapshot",
    "same_value",
    "validate_plan",
    "validate_plan_file",
]
