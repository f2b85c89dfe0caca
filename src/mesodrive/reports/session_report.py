"""What a treatment report says, gathered once from the records (and the session's recorded
plan) so that the HTML, the maps and the tests read the same values.

Everything comes from the journal: the summary (patient, product, device, calibration
profile, operator, screening, times), what happened at each point (`records.point_outcomes`,
the words `records show` uses) with where the point is and how deep the needle went against
the plan, totals against the plan, alarms and operator actions, the patient's course, and
whether the whole chain verifies, with its head — a printed report is one more copy of the
head kept outside the database (`records.anchor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mesodrive.records import (
    KeyRequiredError,
    PointOutcome,
    RecordStore,
    SessionDetail,
    VerifyResult,
    point_outcomes,
)
from mesodrive.records.course import CourseSession, patient_course
from mesodrive.records.outcomes import CUT_SHORT, NOT_DONE, NOT_SETTLED, SKIPPED, UNCERTAIN
from mesodrive.reports.recorded_plan import RecordedPlan, recorded_plan


@dataclass(frozen=True)
class PointLine:
    """One point: what happened (`outcome`), where, and the depth reached against the plan."""

    outcome: PointOutcome
    x_mm: float | None
    y_mm: float | None
    zone: str | None

    @property
    def depth_error_mm(self) -> float | None:
        o = self.outcome
        if o.reached_mm is None or o.depth_mm is None or not o.counts_delivered:
            return None
        return round(o.reached_mm - o.depth_mm, 4)


@dataclass(frozen=True)
class Totals:
    """The session against its plan."""

    planned_points: int
    planned_ul: float | None  # None: the records hold no planned volumes
    given_points: int  # delivered, cut short or uncertain: punctured, never repeated
    delivered: int
    cut_short: int
    uncertain: int
    skipped: int
    not_done: int
    not_settled: int
    delivered_ul: float

    @property
    def volume_share(self) -> float | None:
        return None if not self.planned_ul else self.delivered_ul / self.planned_ul


@dataclass(frozen=True)
class ChainCheck:
    """The records' verification when the report was made."""

    ok: bool
    rows: int
    head: str  # ROWS:HASH when ok
    keyed: bool
    problem: str  # "" when ok

    @classmethod
    def of(cls, result: VerifyResult) -> ChainCheck:
        return cls(result.ok, result.rows_checked, result.head, result.keyed, result.problem)


@dataclass(frozen=True)
class SessionReport:
    detail: SessionDetail
    points: tuple[PointLine, ...]
    totals: Totals
    recorded: RecordedPlan
    chain: ChainCheck
    course: CourseSession | None  # this session in the patient's course
    generated_at: str  # UTC, ISO 8601

    @property
    def screening(self) -> str | None:
        texts = [a.reason for a in self.detail.actions if a.action == "screening"]
        return texts[-1] if texts else None

    @property
    def duration_s(self) -> float | None:
        d = self.detail
        if d.ended_at is None:
            return None
        start, end = _time(d.started_at), _time(d.ended_at)
        return None if start is None or end is None else (end - start).total_seconds()


def _time(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None



def totals(detail: SessionDetail, recorded: RecordedPlan,
           outcomes: list[PointOutcome]) -> Totals:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    planned_ul: float | None
    if recorded.points:
        planned_ul = sum(p.volume_ul for p in recorded.points)
        planned = len(recorded.points)
    else:
        known = [o.planned_ul for o in outcomes if o.planned_ul is not None]
        planned_ul = sum(known) if known and len(known) == len(outcomes) else None
        planned = detail.summary.points_planned or len(outcomes)
    return Totals(
        planned_points=planned, planned_ul=None if planned_ul is None else round(planned_ul, 6),
        given_points=sum(1 for o in outcomes if o.counts_delivered),
        delivered=counts.get("delivered", 0), cut_short=counts.get(CUT_SHORT, 0),
        uncertain=counts.get(UNCERTAIN, 0), skipped=counts.get(SKIPPED, 0),
        # A planned point without any record was not done either.
        not_done=counts.get(NOT_DONE, 0) + max(0, planned - len(outcomes)),
        not_settled=counts.get(NOT_SETTLED, 0),
        delivered_ul=round(sum(o.delivered_ul for o in outcomes), 6))


def _check(store: RecordStore) -> ChainCheck:
    try:
        return ChainCheck.of(store.verify())
    except KeyRequiredError as exc:
        return ChainCheck(False, 0, "", False, f"not verified: {exc}")


def _course(store: RecordStore, detail: SessionDetail) -> CourseSession | None:
    patient = detail.summary.patient_ref
    if patient is None or detail.mode == "device":
        return None
    found = [s for s in patient_course(store, patient).sessions if s.session == detail.id]
    return found[0] if found else None


def build_report(store: RecordStore, session: int) -> SessionReport:
    """Read one session (UnknownSessionError, DamagedRecordsError as `RecordStore.session`)
    and verify the whole chain, which a report states."""
    detail = store.session(session)
    chain = _check(store)
    recorded = recorded_plan(detail)
    outcomes = point_outcomes(detail)
    places = {p.point: p for p in recorded.points}
    lines = []
    for o in outcomes:
        p = places.get(o.point)
        lines.append(PointLine(o, p.x_mm if p else None, p.y_mm if p else None,
                               p.zone if p else None))
    return SessionReport(
        detail=detail, points=tuple(lines), totals=totals(detail, recorded, outcomes),
        recorded=recorded, chain=chain, course=_course(store, detail),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"))
