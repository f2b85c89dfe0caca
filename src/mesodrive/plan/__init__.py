"""Treatment plans: the product library, plan files, grids, validation and the estimate.

The front end of the run engine (DESIGN.md): it validates and expands a plan into frozen
standard-form points; the controller only executes a `ValidatedPlan` and re-checks each point
with `check_point` before the shot — the same per-point rule validation applies
(`plan.point_rules`). Validation is a pipeline of stage modules (see `plan.validate`). This
package imports nothing else of mesodrive.

Typical use::

    plan = load_plan(path)
    library = load_library(path.parent / plan.library)
    vp = validate_plan(plan, library, device_limits, base_dir=path.parent)  # or PlanError
"""

from mesodrive.plan.device import DeviceLimits
from mesodrive.plan.estimate import Estimate, estimate, move_time, plan_refills, shot_time
from mesodrive.plan.geometry import Area, Ellipse, Polygon, Rectangle
from mesodrive.plan.grid import MAX_POINTS, SPACING_RANGE_MM, generate_grid
from mesodrive.plan.issues import PlanError, PlanFileError, PlanIssue
from mesodrive.plan.library import (
    TREATMENT_DEPTH_MM,
    DayRange,
    Limits,
    Product,
    ProductLibrary,
    load_library,
)
from mesodrive.plan.models import (
    LimitOverride,
    ParamOverrides,
    Plan,
    PointOverride,
    PointParams,
    Zone,
    load_plan,
    parse_plan,
)
from mesodrive.plan.points import PlannedPoint, SoftOverride
from mesodrive.plan.validate import (
    CsvSource,
    ValidatedPlan,
    check_point,
    compute_plan_hash,
    restore_snapshot,
    validate_plan,
    validate_plan_file,
)

__all__ = [
    "MAX_POINTS",
    "SPACING_RANGE_MM",
    "TREATMENT_DEPTH_MM",
    "Area",
    "CsvSource",
    "DayRange",
    "DeviceLimits",
    "Ellipse",
    "Estimate",
    "LimitOverride",
    "Limits",
    "ParamOverrides",
    "Plan",
    "PlanError",
    "PlanFileError",
    "PlanIssue",
    "PlannedPoint",
    "PointOverride",
    "PointParams",
    "Polygon",
    "Product",
    "ProductLibrary",
    "Rectangle",
    "SoftOverride",
    "ValidatedPlan",
    "Zone",
    "check_point",
    "compute_plan_hash",
    "estimate",
    "generate_grid",
    "load_library",
    "load_plan",
    "move_time",
    "parse_plan",
    "plan_refills",
    "restore_snapshot",
    "shot_time",
    "validate_plan",
    "validate_plan_file",
]
