"""Validation stage 4: the plan's ``[[overrides]]`` — the practitioner's acknowledgements of
soft-limit breaches (DOMAIN.md, smart-pump drug libraries).

`soft_overrides` turns them into recorded `SoftOverride`s: an override needs a non-empty
reason, must name a real soft-only breach (never a hard one, never a value within the soft
limits) and a point that exists. After the per-point rule has run, `session_issues` checks the
session total and `stale_override_issues` refuses an override that matched nothing: it
acknowledges a value the plan no longer has.
"""

from __future__ import annotations

from collections.abc import Sequence

from mesodrive.plan.issues import PlanIssue, fmt
from mesodrive.plan.library import SESSION_LIMIT, UNITS, Product
from mesodrive.plan.models import Plan
from mesodrive.plan.point_rules import breach, limit_problem
from mesodrive.plan.points import SoftOverride

IndexedOverride = tuple[int, SoftOverride]  # (index in plan.overrides, the override)


def soft_overrides(
    plan: Plan, product: Product | None, n_points: int
) -> tuple[list[IndexedOverride], list[PlanIssue]]:
    """The valid overrides with their index in the plan, and the issues with the others."""
    out: list[IndexedOverride] = []
    issues: list[PlanIssue] = []
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
        elif o.point is not None and n_points and o.point > n_points:
            issues.append(PlanIssue(f"{f}.point", o.point, f"1–{n_points}", "no such point"))
            ok = False
        lim = product.limit(o.field) if product is not None else None
        if lim is None:
            continue  # unknown product or missing limit: reported by the product stage
        unit = UNITS[o.field]
        v = o.value
        if breach(v, lim.hard_min, above=False) or breach(v, lim.hard_max, above=True):
            issues.append(PlanIssue(f"{f}.value", v, lim.describe(unit),
                                    "beyond a hard limit: hard limits cannot be overridden"))
            continue
        low, high = breach(v, lim.soft_low, above=False), breach(v, lim.soft_high, above=True)
        if not (low or high):
            issues.append(PlanIssue(f"{f}.value", v, lim.describe(unit),
                                    "within the soft limits: no override needed, remove it"))
            continue
        limit = (f"soft_min {fmt(lim.soft_low)} {unit}" if low
                 else f"soft_max {fmt(lim.soft_high)} {unit}")
        if ok:
            out.append((i, SoftOverride(o.field, o.point, float(v), limit, o.reason.strip())))
    return out, issues


def session_issues(
    product: Product | None,
    total_ul: float,
    n_points: int,
    overrides: Sequence[SoftOverride],
    used: set[int],
) -> list[PlanIssue]:
    """The session total against the product's session limit (soft breaches overridable)."""
    lim = product.session_volume_ul if product is not None else None
    if lim is None or not n_points:
        return []
    problem = limit_problem(SESSION_LIMIT, total_ul, lim, None, overrides, used)
    if problem is None:
        return []
    return [PlanIssue(SESSION_LIMIT, total_ul, problem[0], f"the session total is {problem[1]}")]


def stale_override_issues(indexed: Sequence[IndexedOverride], used: set[int]) -> list[PlanIssue]:
    """Overrides no planned value matched (``used`` holds the positions in ``indexed``)."""
    return [
        PlanIssue(f"overrides[{i}]", o.value, o.limit,
                  f"acknowledges {o.field} = {fmt(o.value)}"
                  + (f" at point {o.point}" if o.point is not None else "")
                  + " but no planned value matches it: fix the value or remove the override")
        for k, (i, o) in enumerate(indexed)
        if k not in used
    ]
