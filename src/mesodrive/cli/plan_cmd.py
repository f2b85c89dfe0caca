"""`mesodrive plan check PLAN` and `mesodrive plan show PLAN -o grid.png`.

`check` validates a plan offline against the built-in simulator's capabilities
(`DeviceLimits.default()`) and prints a summary, or every issue. `show` draws the points
(coloured by depth or volume: a legend entry per value when there are a few, else a colour
bar), zone outlines, the treatment order, the patient's left and right, refills and the points
under a soft-limit override (`cli.pictures`).

Exit codes: 0 valid · 1 invalid plan · 2 unreadable plan file, bad arguments, or the drawing
could not be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from mesodrive.cli.exit_codes import ExitCode
from mesodrive.plan import PlanError, PlanFileError, ValidatedPlan, validate_plan_file
from mesodrive.plan.files import shown_path
from mesodrive.plan.issues import clipped_repr, fmt

EXIT_OK, EXIT_INVALID, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE

# `cli.pictures` (matplotlib, the records) is imported by `show` only: `check` starts faster.


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "plan", help="check or draw a treatment plan", description=__doc__.splitlines()[0]
    )
    actions = p.add_subparsers(dest="plan_action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate a plan and print its summary or errors")
    check.add_argument("plan", type=Path, metavar="PLAN", help="plan file (TOML)")
    check.add_argument("--json", action="store_true", help="print a JSON result instead")
    check.set_defaults(func=run_check)
    show = actions.add_parser("show", help="draw the plan's points to an image (PNG, SVG, PDF)")
    show.add_argument("plan", type=Path, metavar="PLAN", help="plan file (TOML)")
    show.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                      help="image to write, e.g. grid.png")
    show.add_argument("--color", choices=("depth", "volume"), default="depth",
                      help="colour the points by depth (default) or volume")
    show.add_argument("--numbers", action="store_true", help="label every point with its number")
    show.set_defaults(func=run_show)


def _load(path: Path, report: Any) -> ValidatedPlan | int:
    """The validated plan, or an exit code after printing why not."""
    if not path.is_file():
        print(f"error: cannot read plan file {shown_path(path)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return validate_plan_file(path)
    except PlanFileError as exc:
        print(f"error: cannot read plan file {shown_path(path)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PlanError as exc:
        n = len(exc.issues)
        print(f"{path}: INVALID, {n} issue{'s' if n != 1 else ''}:", file=report)
        for issue in exc.issues:
            print(f"  {issue}", file=report)
        return EXIT_INVALID


def run_check(args: argparse.Namespace) -> int:
    if args.json:
        return _check_json(args.plan)
    vp = _load(args.plan, sys.stdout)
    if isinstance(vp, int):
        return vp
    for line in summary_lines(vp, args.plan):
        print(line)
    print("VALID")
    return EXIT_OK


def _check_json(path: Path) -> int:
    if not path.is_file():
        print(f"error: cannot read plan file {shown_path(path)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        vp = validate_plan_file(path)
    except PlanFileError as exc:
        print(f"error: cannot read plan file {shown_path(path)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PlanError as exc:
        issues = [{"field": i.field,
                   "value": clipped_repr(i.value, 200) if i.value is not None else None,
                   "limit": i.limit, "message": i.message} for i in exc.issues]
        print(json.dumps({"valid": False, "issues": issues}, ensure_ascii=False, indent=2))
        return EXIT_INVALID
    snap = vp.snapshot()
    print(json.dumps({"valid": True, "plan_hash": vp.plan_hash, **snap["summary"]},
                     ensure_ascii=False, indent=2))
    return EXIT_OK


def _span(values: list[float], unit: str) -> str:
    lo, hi = min(values), max(values)
    return f"{fmt(lo)} {unit}" if lo == hi else f"{fmt(lo)}–{fmt(hi)} {unit}"


def summary_lines(vp: ValidatedPlan, path: Path) -> list[str]:
    plan, prod, est, pts = vp.plan, vp.product, vp.estimate, vp.points
    if plan.area is not None:
        layout = (f"{plan.area.describe()}, {plan.pattern} grid at {fmt(plan.spacing_mm or 0)} mm, "
                  f"{plan.ordering}")
    else:
        layout = f"explicit point list {plan.points_csv} (file order)"
    zones = Counter(p.zone for p in pts if p.zone is not None)
    lines = [
        f"plan       {path}  (sha256 {vp.plan_hash[:16]}…)",
        f"patient    {plan.patient_ref}",
        f"product    {prod.id}: {prod.name} [{prod.indication}]",
        f"layout     {layout}",
        f"points     {len(pts)}"
        + (f"  (zones: {', '.join(f'{z} {c}' for z, c in zones.items())})" if zones else ""),
        f"depth      {_span([p.depth_mm for p in pts], 'mm')}",
        (f"volume     {_span([p.volume_ul for p in pts], 'µL')} per point, "
         f"{fmt(round(est.total_volume_ul, 3))} µL total"),
        (f"flow       {_span([p.flow_ul_s for p in pts], 'µL/s')}, needle speed "
         f"{_span([p.speed_mm_s for p in pts], 'mm/s')}, "
         f"dwell {_span([p.dwell_s for p in pts], 's')}"),
        f"syringe    {fmt(vp.refill_ul)} µL per fill, {est.refills} refill(s)"
        + (f" before points {', '.join(map(str, vp.refill_before))}" if vp.refill_before else ""),
    ]
    if vp.mode == "auto":
        lines.append(f"mode       auto at {fmt(vp.cadence_hz or 0)} shots/s "
                     f"(achievable {est.achievable_cadence_hz:.2f}/s; slowest shot "
                     f"{est.per_shot_s:.2f} s)")
    else:
        lines.append(f"mode       triggered, one shot per trigger (slowest shot "
                     f"{est.per_shot_s:.2f} s)")
    lines.append(f"estimate   {duration(est.duration_s)}")
    if vp.overrides:
        lines.append(f"overrides  {len(vp.overrides)} soft-limit override(s):")
        for o in vp.overrides:
            where = f"point {o.point}" if o.point is not None else "every matching point"
            if o.field == "session_volume_ul":
                where = "session total"
            lines.append(f"  {o.field} = {fmt(o.value)} at {where} (breaches {o.limit}): "
                         f"{o.reason!r}")
    else:
        lines.append("overrides  none")
    return lines


def duration(seconds: float) -> str:
    """A plan's estimated duration in words, as the summary and the plan's map say it."""
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def run_show(args: argparse.Namespace) -> int:
    from mesodrive.cli import pictures

    try:
        pictures.pyplot()
    except ImportError:
        print("error: `plan show` needs matplotlib (pip install matplotlib)", file=sys.stderr)
        return EXIT_USAGE
    vp = _load(args.plan, sys.stderr)
    if isinstance(vp, int):
        return vp
    fig = draw(vp, args.plan, color=args.color, numbers=args.numbers)
    try:
        pictures.save(fig, args.output)
    except (OSError, ValueError) as exc:
        print(f"error: cannot write {args.output}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {args.output} ({len(vp.points)} points)")
    return EXIT_OK


def draw(vp: ValidatedPlan, path: Path, *, color: str = "depth", numbers: bool = False) -> Any:
    """A matplotlib Figure of the plan (the caller saves and closes it): `pictures.draw_plan`."""
    from mesodrive.cli import pictures

    return pictures.draw_plan(vp, path.name, color=color, numbers=numbers)
