"""Is a new treatment too early in the patient's course? Asked before the screening, and again
when the session starts (`TreatmentService.start`), so no front end can skip it.

A session earlier than its product's recommended minimum interval after the patient's previous
session of the same course (`records.course`: same indication, something given) is not
forbidden — a clinician may have a reason — but it is a warning that needs one, and the
reason is recorded with the session (operator action `course-interval`). A product without a
recommended interval is never "too early": the check says it cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mesodrive.plan import Product
from mesodrive.records import RecordStore
from mesodrive.records.course import (
    EARLY_ACTION,
    EARLY_REASON_MARK,
    FIRST,
    NO_INTERVAL,
    TOO_EARLY,
    Course,
    Interval,
    course_key,
    parse_time,
    patient_course,
    timing,
    whole_days,
)

__all__ = ["EARLY_ACTION", "CourseCheck", "check_course", "read_course"]


@dataclass(frozen=True)
class CourseCheck:
    """Where a new session of `product` for `patient` falls in the patient's course."""

    patient: str
    product: str
    course: str  # skin, hair
    verdict: str  # records.course: FIRST, ON_TIME, TOO_EARLY, LATE or NO_INTERVAL
    previous: int | None  # the course's last session in which something was given
    previous_at: str | None
    days_since: int | None
    recommended: Interval | None
    sessions_given: int  # in this course so far

    @property
    def too_early(self) -> bool:
        return self.verdict == TOO_EARLY

    def describe(self) -> str:
        """One sentence for the operator."""
        if self.verdict == FIRST:
            return f"first {self.course} session for patient {self.patient}"
        when = f"{self.days_since} days after session {self.previous} ({self.previous_at})"
        if self.verdict == NO_INTERVAL:
            return (f"patient {self.patient}: {when}; product {self.product} has no "
                    f"recommended interval in its library, so the interval is not checked")
        assert self.recommended is not None
        return (f"patient {self.patient}: {when}: {self.verdict} for {self.product} "
                f"(recommended {self.recommended.describe()} between sessions)")

    def record_text(self, reason: str) -> str:
        """What the session records when it starts too early."""
        return f"{self.describe()}{EARLY_REASON_MARK}{reason}"


def read_course(store: RecordStore | None, db: Path | str | None, patient: str) -> Course:
    """The patient's course from an open store, else from the database read-only (a database
    that does not exist yet holds no course)."""
    if store is not None:
        return patient_course(store, patient)
    path = Path(db) if db is not None else RecordStore.default_path()
    if not path.exists():
        return Course(patient, ())
    with RecordStore(path, readonly=True) as reader:
        return patient_course(reader, patient)


def check_course(course: Course, product: Product, now: datetime | None = None) -> CourseCheck:
    """Where a session of `product` starting `now` (default: now, UTC) falls in `course`."""
    snapshot = product.model_dump(mode="json")
    key = course_key(snapshot)
    last = course.last_given(key)
    given = sum(1 for s in course.sessions if s.course == key and s.given)
    interval = None if product.interval_days is None else Interval(
        product.interval_days.min, product.interval_days.max)
    if last is None:
        return CourseCheck(course.patient, product.id, key, FIRST, None, None, None, interval,
                           given)
    days = whole_days(parse_time(last.started_at), now or datetime.now(UTC))
    return CourseCheck(course.patient, product.id, key, timing(days, interval), last.session,
                       last.started_at[:16].replace("T", " "), days, interval, given)
