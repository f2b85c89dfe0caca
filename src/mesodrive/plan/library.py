"""The product library (the cocktails) and its limits, like a smart pump's drug library.

Per product: hard limits (never overridable) enclosing optional soft limits (a breach needs an
override with a reason, which is recorded). A limit the product does not define means the
parameter is **not allowed** with that product — never unlimited; validation reports it.

A product may also say how its course runs: the recommended interval between sessions
(`interval_days`, from the manufacturer's protocol) and how many sessions a course has
(`course_sessions`). These are advice, not limits: a session earlier than the interval's
minimum is a warning that needs a reason (`controller.course_check`). A product without an
interval has none: reports say so and nothing is invented in its place.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    BeforeValidator,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from mesodrive.plan.base import Label, Num, StrictModel
from mesodrive.plan.files import read_text_file
from mesodrive.plan.issues import PlanError, PlanIssue, fmt, issues_from_validation_error
from mesodrive.plan.text import normalise_name

# The mission's absolute depth range for hair and skin mesotherapy (DOMAIN.md): no product,
# device or override may go outside it.
TREATMENT_DEPTH_MM = (1.0, 4.0)

# The per-point parameters a product limits, with their units (also used in messages).
POINT_LIMITS: dict[str, str] = {
    "depth_mm": "mm",
    "volume_ul": "µL",
    "flow_ul_s": "µL/s",
    "speed_mm_s": "mm/s",
}
SESSION_LIMIT = "session_volume_ul"
LIMITED_FIELDS = (*POINT_LIMITS, SESSION_LIMIT)
UNITS = {**POINT_LIMITS, SESSION_LIMIT: "µL", "dwell_s": "s"}


class Limits(StrictModel):
    """``hard_min <= soft_min <= soft_max <= hard_max``; absent soft bounds equal the hard ones."""

    hard_min: Num
    hard_max: Num
    soft_min: Num | None = None
    soft_max: Num | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        chain = [("hard_min", self.hard_min)]
        if self.soft_min is not None:
            chain.append(("soft_min", self.soft_min))
        if self.soft_max is not None:
            chain.append(("soft_max", self.soft_max))
        chain.append(("hard_max", self.hard_max))
        for (a, va), (b, vb) in itertools.pairwise(chain):
            if va > vb:
                raise ValueError(f"limits out of order: {a} {fmt(va)} > {b} {fmt(vb)}")
        return self

    @property
    def soft_low(self) -> float:
        return self.hard_min if self.soft_min is None else self.soft_min

    @property
    def soft_high(self) -> float:
        return self.hard_max if self.soft_max is None else self.soft_max

    def describe(self, unit: str) -> str:
        text = f"hard {fmt(self.hard_min)}–{fmt(self.hard_max)} {unit}"
        if self.soft_min is not None or self.soft_max is not None:
            text += f", soft {fmt(self.soft_low)}–{fmt(self.soft_high)} {unit}"
        return text


class DayRange(StrictModel):
    """A recommended interval between two sessions of a course, in whole days."""

    min: Annotated[int, Strict(), Field(ge=1, le=366)]
    max: Annotated[int, Strict(), Field(ge=1, le=366)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"interval out of order: min {self.min} > max {self.max} days")
        return self

    def describe(self) -> str:
        return f"{self.min} days" if self.min == self.max else f"{self.min}–{self.max} days"


class SessionCount(StrictModel):
    """How many sessions a course of the product has (then maintenance)."""

    min: Annotated[int, Strict(), Field(ge=1, le=100)]
    max: Annotated[int, Strict(), Field(ge=1, le=100)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"course out of order: min {self.min} > max {self.max} sessions")
        return self


ProductId = Annotated[str, BeforeValidator(normalise_name), Strict(),
                      Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class Product(StrictModel):
    id: ProductId
    name: Label  # for display; the id identifies
    indication: Literal["hair", "skin"]
    # None (key absent) = not allowed; validation names the missing limit.
    depth_mm: Limits | None = None
    volume_ul: Limits | None = None
    flow_ul_s: Limits | None = None
    speed_mm_s: Limits | None = None
    session_volume_ul: Limits | None = None
    # The course: None = the library does not say (never guessed).
    interval_days: DayRange | None = None
    course_sessions: SessionCount | None = None

    @field_validator("depth_mm")
    @classmethod
    def _depth_in_treatment_range(cls, v: Limits | None) -> Limits | None:
        lo, hi = TREATMENT_DEPTH_MM
        if v is not None and not lo <= v.hard_min <= v.hard_max <= hi:
            raise ValueError(
                f"hard depth limits {fmt(v.hard_min)}–{fmt(v.hard_max)} mm leave the "
                f"treatment range {fmt(lo)}–{fmt(hi)} mm"
            )
        return v

    def limit(self, field: str) -> Limits | None:
        value = getattr(self, field)
        assert value is None or isinstance(value, Limits)
        return value

    def missing_limits(self) -> list[str]:
        return [f for f in LIMITED_FIELDS if self.limit(f) is None]


class ProductLibrary(StrictModel):
    schema_version: Literal[1]
    products: Annotated[tuple[Product, ...], Strict(False)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for p in self.products:
            if p.id in seen:
                raise ValueError(f"product id {p.id!r} appears more than once")
            seen.add(p.id)
        return self

    def get(self, product_id: str) -> Product:
        for p in self.products:
            if p.id == product_id:
                return p
        known = ", ".join(p.id for p in self.products) or "(library is empty)"
        raise PlanError([PlanIssue("product", product_id, f"one of: {known}", "unknown product")])


def read_toml(path: Path, field: str, what: str = "file") -> dict[str, object]:
    """Parse a TOML file (bounded, regular files only: `files.read_text_file`); a read or
    syntax error becomes a PlanIssue on ``field``. tomllib's messages give line and column,
    never the text, so a file that is not TOML is not echoed back."""
    text = read_text_file(path, field, str(path), what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(
            [PlanIssue(field, str(path), "valid TOML", f"TOML syntax error: {exc}")]
        ) from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise PlanError([PlanIssue(field, str(path), "valid TOML",
                                   "TOML syntax error: arrays or tables nested too deeply")]
                        ) from None


def load_library(path: Path) -> ProductLibrary:
    """Load a product library TOML file. Issues in it are prefixed with the file name, because
    they usually surface while checking a plan that points at the library."""
    path = Path(path)
    data = read_toml(path, "library", "product library")
    if "schema_version" not in data and "products" not in data:
        # Some other TOML file (a config with secrets, say): show nothing of it.
        raise PlanError([PlanIssue("library", str(path), "a product library (schema_version, "
                                   "[[products]])", "not a product library: it has neither "
                                   "schema_version nor [[products]]")])
    try:
        return ProductLibrary.model_validate(data)
    except ValidationError as exc:
        raise PlanError(issues_from_validation_error(exc, ProductLibrary, prefix=f"{path.name}:")) from None
