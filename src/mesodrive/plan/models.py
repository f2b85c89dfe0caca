"""The plan file (TOML, schema version 1) as strict pydantic models, and `load_plan`.

Only the *shape* of a plan is checked here (types, required keys, unknown keys, positive sizes).
Everything that needs the product, the device or the expanded points (limits, overrides,
geometry, cadence) is `validate_plan`'s job, so that one run reports every issue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, Strict, ValidationError

from mesodrive.plan.base import FilePath, FreeText, Name, NonNegNum, Num, PosNum, StrictModel
from mesodrive.plan.files import file_problem, shown_path
from mesodrive.plan.geometry import Area
from mesodrive.plan.grid import MAX_POINTS
from mesodrive.plan.issues import (
    PlanError,
    PlanFileError,
    PlanIssue,
    issues_from_validation_error,
)
from mesodrive.plan.library import read_toml

PointNumber = Annotated[int, Strict(), Field(ge=1)]
# Bounds on list lengths: far above any real plan, low enough that checking every zone
# against every point stays quick.
MAX_ZONES = 100
MAX_LIMIT_OVERRIDES = 100


class PointParams(StrictModel):
    """Per-point injection parameters (the plan's defaults)."""

    depth_mm: Num
    volume_ul: Num
    flow_ul_s: Num
    speed_mm_s: Num  # needle insertion speed
    dwell_s: NonNegNum = 0.0  # needle held at depth after dispensing (lets the bleb settle)


class ParamOverrides(StrictModel):
    """Any subset of the per-point parameters (zones)."""

    depth_mm: Num | None = None
    volume_ul: Num | None = None
    flow_ul_s: Num | None = None
    speed_mm_s: Num | None = None
    dwell_s: NonNegNum | None = None


class PointOverride(ParamOverrides):
    """Parameters for one point, by its number (1-based, as `plan show` labels them)."""

    point: PointNumber


class Zone(StrictModel):
    name: Name
    shape: Area
    overrides: ParamOverrides = ParamOverrides()


class LimitOverride(StrictModel):
    """The practitioner's acknowledgement of a soft-limit breach (recorded with the session).

    ``value`` must equal the planned value it acknowledges (for ``session_volume_ul``, the
    planned total): changing the plan invalidates the acknowledgement, as on a smart pump.
    Without ``point`` it covers every point that has this value for ``field``."""

    field: Literal["depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "session_volume_ul"]
    point: PointNumber | None = None
    value: Num
    reason: FreeText = ""  # required non-empty: validation says so in domain words


class Plan(StrictModel):
    schema_version: Literal[1]
    patient_ref: Name  # a code, never a patient's name
    library: FilePath  # relative to the plan file (or absolute; see files.py)
    product: Name  # product id in the library
    indication: Literal["hair", "skin"]  # must match the product: hair and skin never mix
    # Either a generated grid (area + pattern + spacing) ...
    area: Area | None = None
    pattern: Literal["square", "hex"] = "square"
    spacing_mm: PosNum | None = None
    ordering: Literal["serpentine", "raster"] = "serpentine"
    # ... or an explicit list of points (CSV: x_mm,y_mm[,depth_mm,volume_ul,...]), in file order.
    points_csv: FilePath | None = None
    defaults: PointParams
    zones: Annotated[tuple[Zone, ...], Strict(False), Field(max_length=MAX_ZONES)] = ()
    point_overrides: Annotated[
        tuple[PointOverride, ...], Strict(False), Field(max_length=MAX_POINTS)
    ] = ()
    mode: Literal["triggered", "auto"] = "triggered"
    cadence_hz: PosNum | None = None  # shots per second, auto mode only
    overrides: Annotated[
        tuple[LimitOverride, ...], Strict(False), Field(max_length=MAX_LIMIT_OVERRIDES)
    ] = ()
    refill_ul: PosNum | None = None  # usable volume per syringe fill; default the device syringe


def parse_plan(data: object) -> Plan:
    """Validate already-parsed TOML/JSON data as a Plan (PlanError naming every field)."""
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(issues_from_validation_error(exc, Plan)) from None


def load_plan(path: Path) -> Plan:
    """Read and structurally validate a plan file. PlanFileError if the file cannot be read;
    PlanError for TOML syntax, wrong types, unknown or missing keys, or a missing library file
    (reported together with the other issues)."""
    path = Path(path)
    try:
        data = read_toml(path, "plan", "plan")
    except PlanError as exc:
        if any("TOML syntax" in i.message for i in exc.issues):
            raise
        raise PlanFileError(exc.issues) from None
    issues: list[PlanIssue] = []
    plan: Plan | None = None
    try:
        plan = parse_plan(data)
    except PlanError as exc:
        issues.extend(exc.issues)
    library = data.get("library")  # also when the rest of the plan has issues
    if isinstance(library, str) and library and len(library) <= 4096:
        problem = file_problem(path.parent / library)
        if problem is not None:
            issues.append(PlanIssue("library", library, "an existing regular file, relative to "
                                    "the plan", f"library file {problem}: "
                                    f"{shown_path(path.parent / library)}"))
    if issues or plan is None:
        raise PlanError(issues)
    return plan
