"""A patient's course: every session for one patient reference, how long after the previous
one it came against the product's recommended interval, and the volume given so far.

Mesotherapy is a course, not a session (skin: 4–6 sessions 2–4 weeks apart; hair: monthly for
4–6 months, then maintenance). Skin and hair are separate treatments, so a patient may follow
two courses at once; a course here is the patient's sessions of one *indication* (the
product's, as recorded with the session), and an interval is measured from the previous
session of that course in which something was given (a session aborted before its first shot
is listed but starts nothing).

The recommended interval is the one recorded with each session's product (the library entry
as it was when the session ran: `interval_days = {min, max}`). A product without one has
none: the course says so and never guesses. Elapsed time is counted in whole days (rounded),
so a session booked "two weeks later" at another hour is on time.

This layer imports nothing else of mesodrive: the product is read as the dict the session
recorded, by name, as `summary` reads the plan snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mesodrive.records.models import KIND_SESSION_START, SessionDetail

if TYPE_CHECKING:
    from mesodrive.records.store import RecordStore

# How a session's timing compares with its product's recommended interval.
FIRST, ON_TIME, TOO_EARLY, LATE, NO_INTERVAL, NOTHING_GIVEN = (
    "first of the course", "on time", "too early", "later than recommended",
    "no recommended interval", "nothing given")
# The operator action that records why a session started earlier than recommended.
EARLY_ACTION = "course-interval"
EARLY_REASON_MARK = "; treated now because: "  # what the action's text says before the reason


@dataclass(frozen=True)
class Interval:
    """A product's recommended interval between sessions, in days."""

    min_days: int
    max_days: int

    def describe(self) -> str:
        return (f"{self.min_days} days" if self.min_days == self.max_days
                else f"{self.min_days}–{self.max_days} days")


def recommended_interval(product: Mapping[str, Any] | None) -> Interval | None:
    """The product's `interval_days`, or None when it has none (or not a readable one)."""
    value = (product or {}).get("interval_days")
    if not isinstance(value, Mapping):
        return None
    lo, hi = value.get("min"), value.get("max")
    if not (isinstance(lo, int) and isinstance(hi, int)) or isinstance(lo, bool) \
            or isinstance(hi, bool) or not 0 < lo <= hi:
        return None
    return Interval(lo, hi)


def course_sessions_text(product: Mapping[str, Any] | None) -> str | None:
    """The product's recommended number of sessions ("4–6"), or None."""
    value = (product or {}).get("course_sessions")
    if not isinstance(value, Mapping):
        return None
    lo, hi = value.get("min"), value.get("max")
    if not (isinstance(lo, int) and isinstance(hi, int)):
        return None
    return str(lo) if lo == hi else f"{lo}–{hi}"


def parse_time(ts: str) -> datetime:
    """A records timestamp (ISO 8601, UTC) as an aware datetime."""
    return datetime.fromisoformat(ts)


def whole_days(earlier: datetime, later: datetime) -> int:
    """Elapsed days, rounded to the nearest whole day."""
    return round((later - earlier).total_seconds() / 86400)


def timing(days: int, interval: Interval | None) -> str:
    """One rule for every front end: too early below the minimum, late beyond the maximum."""
    if interval is None:
        return NO_INTERVAL
    if days < interval.min_days:
        return TOO_EARLY
    if days > interval.max_days:
        return LATE
    return ON_TIME


def course_key(product: Mapping[str, Any] | None) -> str:
    """Which course a session belongs to: its product's indication (skin, hair), else the
    product id (a product without an indication is a course of its own)."""
    p = product or {}
    indication = p.get("indication")
    if isinstance(indication, str) and indication:
        return indication
    return f"product {p.get('id') or '?'}"


@dataclass(frozen=True)
class CourseSession:
    session: int
    started_at: str
    status: str
    product_id: str | None
    course: str  # the indication (skin, hair) or "product ID"
    points_done: int
    points_planned: int | None
    volume_ul: float
    given: bool  # something was delivered (counts as a session of the course)
    number: int | None  # its place among the course's given sessions (1-based)
    previous: int | None  # the course's previous given session
    days_since: int | None
    recommended: Interval | None
    timing: str  # FIRST, ON_TIME, TOO_EARLY, LATE, NO_INTERVAL or NOTHING_GIVEN
    early_reason: str | None  # why it started earlier than recommended, as recorded
    cumulative_ul: float  # given in this course so far, this session included
    course_of: str | None = None  # the product's recommended number of sessions ("4–6")

    @property
    def outcome(self) -> str:
        planned = "?" if self.points_planned is None else str(self.points_planned)
        return f"{self.status}: {self.points_done} of {planned} points"

    @property
    def timing_text(self) -> str:
        """The timing in words, with the figures it compares."""
        if self.timing in (FIRST, NOTHING_GIVEN) or self.days_since is None:
            return self.timing
        text = f"{self.days_since} days after session {self.previous}"
        if self.recommended is None:
            return f"{text}; the product has no recommended interval"
        text = f"{text} ({self.timing}: recommended {self.recommended.describe()})"
        if self.early_reason:
            text += f"; reason: {self.early_reason}"
        return text


@dataclass(frozen=True)
class Course:
    patient: str
    sessions: tuple[CourseSession, ...]  # in the order they started

    @property
    def total_ul(self) -> float:
        return round(sum(s.volume_ul for s in self.sessions), 6)

    def courses(self) -> list[str]:
        return list(dict.fromkeys(s.course for s in self.sessions))

    def last_given(self, course: str) -> CourseSession | None:
        given = [s for s in self.sessions if s.course == course and s.given]
        return given[-1] if given else None

    def next_window(self, course: str) -> tuple[date, date] | None:
        """When the course's next session is due (UTC dates), from its last given session
        and that session's recommended interval; None without either."""
        last = self.last_given(course)
        if last is None or last.recommended is None:
            return None
        start = parse_time(last.started_at).date()
        return (start + timedelta(days=last.recommended.min_days),
                start + timedelta(days=last.recommended.max_days))

    def summary(self, course: str) -> str:
        """One line per course: sessions given, volume, when the next one is due."""
        mine = [s for s in self.sessions if s.course == course]
        given = [s for s in mine if s.given]
        last = given[-1] if given else None
        text = f"{course} course: {len(given)} session{'s' * (len(given) != 1)} given"
        if last is not None and last.course_of:
            text += f" (a course is {last.course_of} sessions)"
        if mine:
            text += f", {mine[-1].cumulative_ul:.1f} µL in all"
        window = self.next_window(course)
        if window is not None:
            text += f"; next session from {window[0]} to {window[1]}"
        elif last is not None:
            text += (f"; the product of session {last.session} ({last.product_id}) has no "
                     f"recommended interval")
        return text


def _early_reason(detail: SessionDetail) -> str | None:
    """The reason given for starting early (the whole recorded text if it is not ours)."""
    texts = [a.reason for a in detail.actions if a.action == EARLY_ACTION]
    if not texts:
        return None
    _, mark, reason = texts[-1].rpartition(EARLY_REASON_MARK)
    return reason if mark else texts[-1]


def build_course(patient: str, details: Iterable[SessionDetail]) -> Course:
    """The course from the patient's sessions (any order; device sessions are left out)."""
    ordered = sorted((d for d in details if d.mode != "device"), key=lambda d: d.id)
    last: dict[str, tuple[SessionDetail, int]] = {}  # course -> (last given, its number)
    cumulative: dict[str, float] = {}
    out = []
    for d in ordered:
        key = course_key(d.product)
        s = d.summary
        given = s.points_done > 0 or s.volume_delivered_ul > 0
        cumulative[key] = cumulative.get(key, 0.0) + s.volume_delivered_ul
        interval = recommended_interval(d.product)
        prev = last.get(key)
        days = whole_days(parse_time(prev[0].started_at), parse_time(d.started_at)) \
            if prev is not None else None
        if not given:
            verdict = NOTHING_GIVEN
        elif days is None:
            verdict = FIRST
        else:
            verdict = timing(days, interval)
        number = (prev[1] + 1 if prev else 1) if given else None
        out.append(CourseSession(
            session=d.id, started_at=d.started_at, status=d.status, product_id=s.product_id,
            course=key, points_done=s.points_done, points_planned=s.points_planned,
            volume_ul=s.volume_delivered_ul, given=given, number=number,
            previous=prev[0].id if prev else None, days_since=days, recommended=interval,
            timing=verdict, early_reason=_early_reason(d),
            cumulative_ul=round(cumulative[key], 6),
            course_of=course_sessions_text(d.product)))
        if given:
            last[key] = (d, number or 1)
    return Course(patient, tuple(out))


def patient_sessions(store: RecordStore, patient: str) -> list[int]:
    """The ids of the sessions whose plan names `patient`, in order.

    Only the session starts that spell the reference are read (their canonical JSON holds
    `"patient_ref":"…"` as written), then each is confirmed from its summary: the course check
    runs before every treatment and must not aggregate every shot of every session (a
    300-session database: ~0.4 s that way)."""
    needle = '"patient_ref":' + json.dumps(patient, ensure_ascii=False)
    # the store's reader, from within the records package
    rows = store._read("SELECT DISTINCT session FROM journal WHERE kind = ? AND "
                       "instr(body, ?) > 0 ORDER BY session", (KIND_SESSION_START, needle))
    return [int(r[0]) for r in rows]


def patient_course(store: RecordStore, patient: str) -> Course:
    """The course of `patient` (exactly as recorded) from the records; no sessions = empty."""
    details = [store.session(i) for i in patient_sessions(store, patient)]
    return build_course(patient, [d for d in details if d.summary.patient_ref == patient])


def similar_patients(store: RecordStore, patient: str) -> list[str]:
    """Recorded patient references that differ from `patient` only in case or spaces (a
    likely typo); never the whole list, which is other patients' business."""
    want = "".join(patient.split()).casefold()
    refs = {s.patient_ref for s in store.sessions() if s.patient_ref}
    return sorted(r for r in refs if r != patient and "".join(r.split()).casefold() == want)
