"""Validation: a `Plan` + its product + the device -> a frozen `ValidatedPlan`, or a `PlanError`
listing every issue.

The rules (DOMAIN.md, smart-pump drug libraries):
* product hard limits, the device's capabilities and the 1–4 mm treatment depth are absolute;
* a soft-limit breach needs an override with a non-empty reason (recorded), whose value equals
  the planned value; an override that matches nothing is an error (a stale acknowledgement);
* a limit the product does not define means "not allowed";
* hair and skin never mix; shapes must be simple and non-degenerate; an area without points,
  a zone without points and an unachievable auto cadence are errors.

Per-point issues are reported against the plan field the value came from (``defaults.depth_mm``,
``zones[1].overrides.volume_ul``, ``points_csv[7].depth_mm``, ``point_overrides[0].flow_ul_s``)
with the affected point numbers, so one wrong default gives one message, not 150.
`check_point` is the same per-point rule for the controller's re-check before each shot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import ValidationError

from mesodrive.plan.csvpoints import parse_points_csv
from mesodrive.plan.device import DeviceLimits
from mesodrive.plan.estimate import Estimate, estimate, plan_refills, shot_time
from mesodrive.plan.files import read_text_file
from mesodrive.plan.geometry import Ellipse, Polygon, Rectangle
from mesodrive.plan.grid import SPACING_RANGE_MM, GridTooLarge, generate_grid
from mesodrive.plan.issues import PlanError, PlanIssue, fmt, issues_from_validation_error
from mesodrive.plan.library import (
    POINT_LIMITS,
    SESSION_LIMIT,
    TREATMENT_DEPTH_MM,
    UNITS,
    Limits,
    Product,
    ProductLibrary,
    load_library,
)
from mesodrive.plan.models import Plan, load_plan, parse_plan
from mesodrive.plan.points import PlannedPoint, SoftOverride, same_value

PARAMS = ("depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s")
# Device capability bounds per parameter (DeviceLimits attribute names).
_DEVICE_RANGE = {
    "depth_mm": ("depth_min_mm", "depth_max_mm"),
    "volume_ul": ("volume_min_ul", "volume_max_ul"),
    "flow_ul_s": ("flow_min_ul_s", "flow_max_ul_s"),
    "speed_mm_s": ("speed_min_mm_s", "speed_max_mm_s"),
}
SNAPSHOT_FORMAT = "mesodrive.plan-snapshot/1"


@dataclass(frozen=True)
class CsvSource:
    """The explicit point list a plan used: kept verbatim in the snapshot and in the hash."""

    path: str
    text: str
    sha256: str


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


# ---- the per-point rule (also the controller's re-check) --------------------------------------


def _breach(value: float, bound: float, above: bool) -> bool:
    tol = 1e-9 * max(1.0, abs(bound))  # far below the wire's 1 nL / 1 µm resolution
    return value > bound + tol if above else value < bound - tol


class _Problem(NamedTuple):
    param: str
    value: object
    limit: str | None
    message: str
    product_level: bool = False  # a limit missing from the product, not this point's value


def _point_problems(
    product: Product | None,
    device: DeviceLimits,
    point: PlannedPoint,
    overrides: Sequence[SoftOverride],
    used: set[int] | None = None,
) -> list[_Problem]:
    """Everything wrong with one point; ``used`` collects the indexes of covering overrides."""
    out: list[_Problem] = []
    for name in ("x_mm", "y_mm", *PARAMS):
        v = getattr(point, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            out.append(_Problem(name, v, "a finite number", "not a finite number"))
    if out:
        return out
    for name, unit in POINT_LIMITS.items():
        v = float(getattr(point, name))
        lo_attr, hi_attr = _DEVICE_RANGE[name]
        lo, hi = getattr(device, lo_attr), getattr(device, hi_attr)
        if _breach(v, lo, above=False) or _breach(v, hi, above=True):
            out.append(_Problem(name, v, f"device {fmt(lo)}–{fmt(hi)} {unit}",
                         "outside the device's capability"))
        if name == "depth_mm":
            tlo, thi = TREATMENT_DEPTH_MM
            if _breach(v, tlo, above=False) or _breach(v, thi, above=True):
                out.append(_Problem(name, v, f"treatment range {fmt(tlo)}–{fmt(thi)} mm",
                            "outside the 1–4 mm mesotherapy depth range"))
        if name == "volume_ul" and _breach(v, device.syringe_ul, above=True):
            out.append(_Problem(name, v, f"syringe {fmt(device.syringe_ul)} µL",
                        "more than the syringe holds"))
        lim = product.limit(name) if product is not None else None
        if product is not None and lim is None:
            out.append(_Problem(name, None, f"a {name} limit in the product library",
                                _missing_limit_message(product, name), product_level=True))
            continue
        if lim is None:
            continue
        problem = _limit_problem(name, v, lim, point.point, overrides, used)
        if problem is not None:
            out.append(_Problem(name, v, *problem))
    dwell = float(point.dwell_s)
    if _breach(dwell, 0.0, above=False) or _breach(dwell, device.dwell_max_s, above=True):
        out.append(_Problem("dwell_s", dwell, f"device 0–{fmt(device.dwell_max_s)} s",
                    "outside the device's capability"))
    return out


def _missing_limit_message(product: Product, name: str) -> str:
    return (f"product {product.id!r} defines no {name} limit, so it may not be used "
            "(a missing limit means not allowed, never unlimited)")


def _limit_problem(
    name: str,
    v: float,
    lim: Limits,
    point: int | None,
    overrides: Sequence[SoftOverride],
    used: set[int] | None,
) -> tuple[str, str] | None:
    """(limit, message) if ``v`` breaks ``lim`` without a covering override, else None."""
    unit = UNITS[name]
    if _breach(v, lim.hard_min, above=False):
        return (f"hard_min {fmt(lim.hard_min)} {unit}",
                "below the product's hard minimum (cannot be overridden)")
    if _breach(v, lim.hard_max, above=True):
        return (f"hard_max {fmt(lim.hard_max)} {unit}",
                "above the product's hard maximum (cannot be overridden)")
    low, high = _breach(v, lim.soft_low, above=False), _breach(v, lim.soft_high, above=True)
    if not (low or high):
        return None
    for k, o in enumerate(overrides):
        if o.reason.strip() and o.covers(name, point, v):
            if used is not None:
                used.add(k)
            return None
    where = "below the soft minimum" if low else "above the soft maximum"
    bound = f"soft_min {fmt(lim.soft_low)}" if low else f"soft_max {fmt(lim.soft_high)}"
    # The hint names no point, so that one message covers every point with this value.
    hint = f'[[overrides]] field = "{name}", value = {fmt(v)}, reason = "..."'
    return (f"{bound} {unit} ({lim.describe(unit)})",
            f"{where}: needs an override with a reason ({hint})")


def check_point(
    product: Product,
    device: DeviceLimits,
    point: PlannedPoint,
    overrides: tuple[SoftOverride, ...],
) -> list[PlanIssue]:
    """Issues with one point: product hard limits and device capabilities are absolute, a
    soft-limit breach needs a matching override with a reason, a missing limit is not allowed.
    Fields are ``points[N].param`` (N = point number); an empty list means the shot may go."""
    return [
        PlanIssue(f"product.{p.param}" if p.product_level else f"points[{point.point}].{p.param}",
                  p.value, p.limit, p.message)
        for p in _point_problems(product, device, point, overrides)
    ]


# ---- whole-plan validation --------------------------------------------------------------------


def read_points_csv(plan: Plan, base_dir: Path | None) -> tuple[CsvSource | None, list[PlanIssue]]:
    """The plan's point list, read with `files.read_text_file`'s bounds (None without one)."""
    if plan.points_csv is None:
        return None, []
    path = (base_dir or Path.cwd()) / plan.points_csv
    try:
        text = read_text_file(path, "points_csv", plan.points_csv, "point list")
    except PlanError as exc:
        return None, exc.issues
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return CsvSource(plan.points_csv, text, sha), []


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
    if snapshot.get("format") != SNAPSHOT_FORMAT:
        raise PlanError([PlanIssue("format", snapshot.get("format"), SNAPSHOT_FORMAT,
                                   "not a plan snapshot")])
    plan = parse_plan(snapshot.get("plan"))
    try:
        product = Product.model_validate(snapshot.get("product"))
    except ValidationError as exc:
        raise PlanError(issues_from_validation_error(exc, Product, prefix="product")) from None
    if device is None:
        device = DeviceLimits(**snapshot["device"])
    csv = snapshot.get("points_csv")
    # The sha is recomputed, never taken from the snapshot: the hash check below must see edits.
    csv_source = (CsvSource(csv["path"], csv["text"],
                            hashlib.sha256(csv["text"].encode("utf-8")).hexdigest())
                  if csv else None)
    library = ProductLibrary(schema_version=1, products=(product,))
    vp = _validate(plan, library, device, csv_source, [])
    if vp.plan_hash != snapshot.get("plan_hash"):
        raise PlanError([PlanIssue("plan_hash", snapshot.get("plan_hash"), vp.plan_hash,
                                   "the snapshot does not match its hash")])
    return vp


@dataclass
class _Grouped:
    """Per-point issues from one plan field, gathered over the points they affect."""

    value: object
    limit: str | None
    message: str
    points: list[int]


def _validate(
    plan: Plan,
    library: ProductLibrary,
    device: DeviceLimits,
    csv_source: CsvSource | None,
    issues: list[PlanIssue],
) -> ValidatedPlan:
    product: Product | None = None
    try:
        product = library.get(plan.product)
    except PlanError as exc:
        issues.extend(exc.issues)
    if product is not None:
        if product.indication != plan.indication:
            issues.append(PlanIssue(
                "indication", plan.indication, f"the product's indication: {product.indication}",
                f"product {product.id!r} is a {product.indication} product; hair and skin are "
                "never mixed in one plan",
            ))
        for name in product.missing_limits():
            issues.append(PlanIssue(f"product.{name}", None, f"a {name} limit in the product "
                                    "library", _missing_limit_message(product, name)))
    issues.extend(_mode_issues(plan, device))

    xy, sources = _points_xy(plan, csv_source, issues)
    n = len(xy)
    zone_of = _assign_zones(plan, xy, issues)
    params, src = _expand(plan, n, zone_of, sources, issues)
    points = tuple(
        PlannedPoint(k + 1, float(xy[k][0]), float(xy[k][1]),
                     plan.zones[zone_of[k]].name if zone_of[k] >= 0 else None,
                     **{p: params[k][p] for p in PARAMS})
        for k in range(n)
    )
    indexed = _soft_overrides(plan, product, n, issues)  # (index in plan.overrides, override)
    soft = tuple(o for _, o in indexed)

    grouped: dict[tuple[str, str | None, str, str], _Grouped] = {}
    used: set[int] = set()
    for k, pp in enumerate(points):
        for prob in _point_problems(product, device, pp, soft, used):
            if prob.product_level:
                continue  # the missing product limit is reported once, above
            field = src[k].get(prob.param, f"points[{pp.point}].{prob.param}")
            key = (field, prob.limit, prob.message, repr(prob.value))
            g = grouped.setdefault(key, _Grouped(prob.value, prob.limit, prob.message, []))
            g.points.append(pp.point)
    for (field, _, _, _), g in grouped.items():
        issues.append(PlanIssue(field, g.value, g.limit, f"{g.message} {_at_points(g.points)}"))

    total = float(np.sum([p.volume_ul for p in points])) if points else 0.0
    if product is not None and product.session_volume_ul is not None and points:
        problem = _limit_problem(SESSION_LIMIT, total, product.session_volume_ul, None,
                                 soft, used)
        if problem is not None:
            issues.append(PlanIssue(SESSION_LIMIT, total, problem[0],
                                    f"the session total is {problem[1]}"))
    for k, (i, o) in enumerate(indexed):
        if k not in used:
            issues.append(PlanIssue(
                f"overrides[{i}]", o.value, o.limit,
                f"acknowledges {o.field} = {fmt(o.value)}"
                + (f" at point {o.point}" if o.point is not None else "")
                + " but no planned value matches it: fix the value or remove the override",
            ))

    refill_ul = plan.refill_ul or device.syringe_ul
    if plan.refill_ul is not None and _breach(plan.refill_ul, device.syringe_ul, above=True):
        issues.append(PlanIssue("refill_ul", plan.refill_ul, f"syringe {fmt(device.syringe_ul)} µL",
                                "more than the device's syringe holds"))
    biggest = max((p.volume_ul for p in points), default=0.0)
    if biggest > refill_ul + 1e-9 and not _breach(biggest, device.syringe_ul, above=True):
        issues.append(PlanIssue("refill_ul", refill_ul, f">= the largest point volume "
                                f"{fmt(biggest)} µL", "one fill cannot deliver every point"))

    est: Estimate | None = None
    if points and all(p.flow_ul_s > 0 and p.speed_mm_s > 0 and p.depth_mm >= 0 for p in points):
        est = estimate(points, device, plan.mode, plan.cadence_hz, refill_ul=refill_ul)
        if plan.mode == "auto" and plan.cadence_hz is not None and _breach(
            plan.cadence_hz, est.achievable_cadence_hz, above=True
        ):
            slow = max(points, key=lambda p: shot_time(p, device))
            issues.append(PlanIssue(
                "cadence_hz", plan.cadence_hz, f"<= {est.achievable_cadence_hz:.3g} Hz",
                f"the device cannot keep up: the slowest shot (point {slow.point}) takes "
                f"{est.per_shot_s:.3g} s",
            ))

    if issues:
        raise PlanError(_dedupe(issues))
    assert product is not None and est is not None
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


def _at_points(points: list[int]) -> str:
    if len(points) == 1:
        return f"(point {points[0]})"
    shown = ", ".join(str(p) for p in points[:5])
    return f"({len(points)} points: {shown}{', …' if len(points) > 5 else ''})"


def _dedupe(issues: list[PlanIssue]) -> list[PlanIssue]:
    seen: set[str] = set()
    out = []
    for i in issues:
        key = repr(i)
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


def _mode_issues(plan: Plan, device: DeviceLimits) -> list[PlanIssue]:
    out = []
    if plan.mode == "auto":
        if not device.timed:
            out.append(PlanIssue("mode", "auto", "a device with timed shots",
                                 "the device does not support auto (timed) mode"))
        if plan.cadence_hz is None:
            out.append(PlanIssue("cadence_hz", None, "shots per second, > 0",
                                 "auto mode needs a cadence"))
    else:
        if not device.triggered:
            out.append(PlanIssue("mode", "triggered", "a device with triggered shots",
                                 "the device does not support triggered mode"))
        if plan.cadence_hz is not None:
            out.append(PlanIssue("cadence_hz", plan.cadence_hz, "only with mode = \"auto\"",
                                 "a cadence has no meaning in triggered mode"))
    return out


def _points_xy(
    plan: Plan, csv_source: CsvSource | None, issues: list[PlanIssue]
) -> tuple[list[tuple[float, float]], list[dict[str, tuple[float, str]]]]:
    """The point positions in order, and per point the CSV-given params with their source."""
    if plan.area is not None and plan.points_csv is not None:
        issues.append(PlanIssue("points_csv", plan.points_csv, "either area or points_csv",
                                "give an area or an explicit point list, not both"))
        return [], []
    if plan.area is None and plan.points_csv is None:
        issues.append(PlanIssue("area", None, "an area (with spacing_mm) or points_csv",
                                "the plan has no points: give an area or points_csv"))
        return [], []
    if plan.area is not None:
        return _grid_xy(plan, plan.area, issues), []
    # Not model_fields_set: a snapshot's dump spells out every default.
    for name, default in (("spacing_mm", None), ("pattern", "square"), ("ordering", "serpentine")):
        if getattr(plan, name) != default:
            issues.append(PlanIssue(name, getattr(plan, name), "only with an area",
                                    "has no effect with points_csv (points keep file order)"))
    if csv_source is None:
        return [], []  # the read error is already an issue
    rows, csv_issues = parse_points_csv(csv_source.text)
    issues.extend(csv_issues)
    seen: dict[tuple[float, float], int] = {}
    for r in rows:
        if (r.x_mm, r.y_mm) in seen:
            issues.append(PlanIssue(f"points_csv[{r.line}]", (r.x_mm, r.y_mm), "distinct points",
                                    f"same position as line {seen[(r.x_mm, r.y_mm)]}"))
        seen.setdefault((r.x_mm, r.y_mm), r.line)
    srcs = [{k: (v, f"points_csv[{r.line}].{k}") for k, v in r.params.items()} for r in rows]
    return [(r.x_mm, r.y_mm) for r in rows], srcs


def _grid_xy(
    plan: Plan, area: Rectangle | Ellipse | Polygon, issues: list[PlanIssue]
) -> list[tuple[float, float]]:
    problems = [PlanIssue(f"area.{p.field}", p.value, p.limit, p.message)
                for p in area.problems()]
    issues.extend(problems)
    lo, hi = SPACING_RANGE_MM
    spacing = plan.spacing_mm
    if spacing is None:
        issues.append(PlanIssue("spacing_mm", None, f"{fmt(lo)}–{fmt(hi)} mm",
                                "a grid over an area needs spacing_mm"))
    elif _breach(spacing, lo, above=False) or _breach(spacing, hi, above=True):
        issues.append(PlanIssue("spacing_mm", spacing, f"{fmt(lo)}–{fmt(hi)} mm",
                                "outside the spacing range for mesotherapy grids"))
    if problems or spacing is None or any(i.field == "spacing_mm" for i in issues):
        return []
    try:
        xy = generate_grid(area, plan.pattern, spacing, plan.ordering)
    except GridTooLarge as exc:
        issues.append(PlanIssue("area", str(exc), "<= 10000 points",
                                "the grid has too many points (area or spacing in mm?)"))
        return []
    if len(xy) == 0:
        issues.append(PlanIssue("area", area.describe(), f"at least one {plan.pattern} grid point "
                                f"at {fmt(spacing)} mm spacing",
                                "the area is empty: no grid point falls inside it"))
    return [(float(x), float(y)) for x, y in xy]


def _assign_zones(
    plan: Plan, xy: list[tuple[float, float]], issues: list[PlanIssue]
) -> list[int]:
    """Per point, the index of the first zone (in plan order) that contains it, or -1."""
    zone_of = [-1] * len(xy)
    arr = np.asarray(xy, dtype=float).reshape(-1, 2)
    names: dict[str, int] = {}
    for zi, zone in enumerate(plan.zones):
        if zone.name in names:
            issues.append(PlanIssue(f"zones[{zi}].name", zone.name, "unique zone names",
                                    f"same name as zones[{names[zone.name]}]"))
        names.setdefault(zone.name, zi)
        problems = zone.shape.problems()
        for p in problems:
            issues.append(PlanIssue(f"zones[{zi}].shape.{p.field}", p.value, p.limit, p.message))
        if problems or len(xy) == 0:
            continue
        inside = zone.shape.contains(arr[:, 0], arr[:, 1])
        if not inside.any():
            issues.append(PlanIssue(f"zones[{zi}].shape", zone.shape.describe(),
                                    "at least one planned point inside the zone",
                                    f"zone {zone.name!r} contains no point"))
        for k in np.flatnonzero(inside):
            if zone_of[k] < 0:
                zone_of[k] = zi
    return zone_of


def _expand(
    plan: Plan,
    n: int,
    zone_of: list[int],
    csv_params: list[dict[str, tuple[float, str]]],
    issues: list[PlanIssue],
) -> tuple[list[dict[str, float]], list[dict[str, str]]]:
    """Each point's parameters and where each came from. Precedence, lowest first: defaults,
    the point's zone, the CSV row, point_overrides."""
    base = {p: float(getattr(plan.defaults, p)) for p in PARAMS}
    base_src = {p: f"defaults.{p}" for p in PARAMS}
    params = [dict(base) for _ in range(n)]
    src = [dict(base_src) for _ in range(n)]
    for k in range(n):
        zi = zone_of[k]
        if zi >= 0:
            for p in PARAMS:
                v = getattr(plan.zones[zi].overrides, p)
                if v is not None:
                    params[k][p], src[k][p] = float(v), f"zones[{zi}].overrides.{p}"
        if csv_params:
            for p, (v, where) in csv_params[k].items():
                params[k][p], src[k][p] = v, where
    seen: dict[int, int] = {}
    for i, po in enumerate(plan.point_overrides):
        if po.point in seen:
            issues.append(PlanIssue(f"point_overrides[{i}].point", po.point, "each point once",
                                    f"point {po.point} is already in point_overrides[{seen[po.point]}]"))
            continue
        seen[po.point] = i
        if po.point > n:
            if n:
                issues.append(PlanIssue(f"point_overrides[{i}].point", po.point, f"1–{n}",
                                        "no such point"))
            continue
        for p in PARAMS:
            v = getattr(po, p)
            if v is not None:
                params[po.point - 1][p] = float(v)
                src[po.point - 1][p] = f"point_overrides[{i}].{p}"
    return params, src


def _soft_overrides(
    plan: Plan, product: Product | None, n: int, issues: list[PlanIssue]
) -> list[tuple[int, SoftOverride]]:
    """The plan's [[overrides]] as recorded SoftOverrides, with their index in the plan. Only
    ones that acknowledge a real soft-only breach with a reason are kept; the rest are issues."""
    out: list[tuple[int, SoftOverride]] = []
    for i, o in enumerate(plan.overrides):
        f = f"overrides[{i}]"
        ok = True
        if not o.reason.strip():
            issues.append(PlanIssue(f"{f}.reason", o.reason, "a non-empty reason",
                                    f"a soft-limit override of {o.field} must say why"))
            ok = False
        if o.point is not None and o.field == SESSION_LIMIT:
            issues.append(PlanIssue(f"{f}.point", o.point, "no point for session_volume_ul",
                                    "the session volume is not per point"))
            ok = False
        elif o.point is not None and n and o.point > n:
            issues.append(PlanIssue(f"{f}.point", o.point, f"1–{n}", "no such point"))
            ok = False
        lim = product.limit(o.field) if product is not None else None
        if lim is None:
            continue  # unknown product or missing limit: reported elsewhere
        unit = UNITS[o.field]
        v = o.value
        if _breach(v, lim.hard_min, above=False) or _breach(v, lim.hard_max, above=True):
            issues.append(PlanIssue(f"{f}.value", v, lim.describe(unit),
                                    "beyond a hard limit: hard limits cannot be overridden"))
            continue
        low, high = _breach(v, lim.soft_low, above=False), _breach(v, lim.soft_high, above=True)
        if not (low or high):
            issues.append(PlanIssue(f"{f}.value", v, lim.describe(unit),
                                    "within the soft limits: no override needed, remove it"))
            continue
        limit = (f"soft_min {fmt(lim.soft_low)} {unit}" if low
                 else f"soft_max {fmt(lim.soft_high)} {unit}")
        if ok:
            out.append((i, SoftOverride(o.field, o.point, float(v), limit, o.reason.strip())))
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
