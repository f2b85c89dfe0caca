"""What validation reports: `PlanIssue` (one finding) and `PlanError` (all of them at once).

Every issue names the field (a dotted path such as ``defaults.depth_mm`` or
``points[12].volume_ul``), the offending value and the limit it broke, so a practitioner can fix
a plan from the message alone. Validation collects *every* issue before raising: fixing one
error at a time through repeated runs is how people give up on checks.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

_MAX_VALUE_REPR = 60


class PlanIssue(NamedTuple):
    field: str  # dotted path, e.g. "defaults.depth_mm", "points[12].volume_ul"
    value: object  # the offending value (None when the value is missing)
    limit: str | None  # the limit that was broken, in words and units
    message: str

    def __str__(self) -> str:
        text = f"{self.field} = {format_value(self.value)}: {self.message}"
        return f"{text} [limit: {self.limit}]" if self.limit else text


class PlanError(ValueError):
    """A plan, product library or point list that must not be run. ``issues`` lists them all."""

    def __init__(self, issues: Iterable[PlanIssue]) -> None:
        self.issues: list[PlanIssue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(i) for i in self.issues)


class PlanFileError(PlanError):
    """The plan file itself could not be read (missing, unreadable, not UTF-8): a usage error,
    not an invalid plan (the CLI exits 2 rather than 1)."""


def format_value(value: object) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, float):
        return f"{value:g}"
    return clipped_repr(value, _MAX_VALUE_REPR)


def clipped_repr(value: object, max_chars: int) -> str:
    """``repr(value)`` cut to ``max_chars``: an issue may carry a 100 kB input as its value."""
    text = repr(value)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def fmt(x: float) -> str:
    """Numbers in messages: short, no float noise (``2.5``, ``0.1``, ``10000``)."""
    return f"{x:.6g}"


def loc_to_path(loc: Sequence[int | str], model: type[BaseModel] | None = None) -> str:
    """``("zones", 0, "shape", "ellipse", "radii_mm", 1)`` -> ``zones[0].shape.radii_mm[1]``.

    Discriminated unions put the tag into pydantic's location; a user never wrote it, so it is
    dropped (resolved against ``model``'s annotations)."""
    out = ""
    tp: Any = model
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            tp = _element_type(tp)
            continue
        members = _union_models(tp)
        if members and part in _tags(members) and part not in _fields(members):
            tp = _tags(members)[part]  # the discriminator tag: skip it
            continue
        out += f".{part}" if out else part
        tp = _field_type(tp, part)
    return out or "(file)"


def issues_from_validation_error(
    exc: ValidationError, model: type[BaseModel], prefix: str = ""
) -> list[PlanIssue]:
    """pydantic's errors as PlanIssues: the field path, the input and the violated constraint."""
    issues: list[PlanIssue] = []
    errors = exc.errors(include_url=False)
    for err in errors:
        loc = err["loc"]
        # pydantic counts only the items that validated: a bad item also yields a spurious
        # "too short" for its list. The item's own error says it all.
        if err["type"] == "too_short" and any(
            len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in errors
        ):
            continue
        path = loc_to_path(loc, model)
        if prefix:  # "lib.toml:" joins as "lib.toml:products[0]", "area" as "area.size_mm"
            sep = "" if prefix.endswith(":") else "."
            path = f"{prefix}{sep}{path}" if path != "(file)" else prefix.rstrip(":")
        kind, ctx, msg = err["type"], err.get("ctx") or {}, err["msg"]
        value: object = err.get("input")
        limit: str | None = _limit_from_ctx(kind, ctx)
        if kind == "missing":
            value, msg = None, "required field is missing"
        elif kind == "extra_forbidden":
            allowed = sorted(_fields(_union_models(_resolve(model, loc[:-1]))) or ())
            key = str(loc[-1]) if loc else ""
            close = difflib.get_close_matches(key, allowed, n=1)
            msg = f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            limit = "allowed keys: " + ", ".join(allowed) if allowed else "no such key"
        elif kind == "value_error":
            msg = str(ctx.get("error", msg))
        issues.append(PlanIssue(path, value, limit, msg))
    return issues


_TYPE_WORDS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _limit_from_ctx(kind: str, ctx: dict[str, Any]) -> str | None:
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    for key, word in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if key in ctx:
            return f"{word} {ctx[key]}"
    if "expected" in ctx:
        return f"one of {ctx['expected']}"
    if "expected_tags" in ctx:
        return f"kind one of {ctx['expected_tags']}"
    if "min_length" in ctx:
        return f"at least {ctx['min_length']} items/characters"
    if "max_length" in ctx:
        return f"at most {ctx['max_length']} items/characters"
    if "pattern" in ctx:
        return f"matching {ctx['pattern']}"
    return None


# ---- walking a model's annotations along an error location (for tags and allowed keys) -------


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _union_models(tp: Any) -> list[type[BaseModel]]:
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        out: list[type[BaseModel]] = []
        for arg in typing.get_args(tp):
            out.extend(_union_models(arg))
        return out
    return []


def _tags(members: list[type[BaseModel]]) -> dict[str, type[BaseModel]]:
    tags: dict[str, type[BaseModel]] = {}
    for m in members:
        kind = m.model_fields.get("kind")
        if kind is not None and typing.get_origin(kind.annotation) is typing.Literal:
            for value in typing.get_args(kind.annotation):
                tags[str(value)] = m
    return tags if len(members) > 1 else {}


def _fields(members: list[type[BaseModel]]) -> set[str]:
    return {name for m in members for name in m.model_fields}


def _field_type(tp: Any, name: str) -> Any:
    for m in _union_models(tp):
        if name in m.model_fields:
            return m.model_fields[name].annotation
    return None


def _element_type(tp: Any) -> Any:
    tp = _strip(tp)
    for arg in typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else [tp]:
        arg = _strip(arg)
        if typing.get_origin(arg) in (list, tuple):
            args = [a for a in typing.get_args(arg) if a is not Ellipsis]
            return args[0] if args else None
    return None


def _resolve(model: Any, loc: Sequence[int | str]) -> Any:
    tp = model
    for part in loc:
        if isinstance(part, int):
            tp = _element_type(tp)
            continue
        members = _union_models(tp)
        if members and part in _tags(members) and part not in _fields(members):
            tp = _tags(members)[part]
        else:
            tp = _field_type(tp, part)
    return tp
