"""`mesodrive records course PATIENT`: a patient's course, session by session.

    mesodrive records [--db PATH] course PATIENT

Every session recorded for the patient reference (as a plan spells it; the name is
normalised the way plans normalise it): date, product, points, volume delivered, outcome, how
many days after the previous session of the same course (skin or hair) against the product's
recommended interval — too early is flagged, with the reason recorded when the session
started — and the cumulative volume; then one line per course with when the next session is
due. A product without a recommended interval is said to have none (`records.course`).

Exit codes: 0 shown · 1 the records file is damaged · 2 no database, no sessions for that
patient (a reference differing only in case or spaces is suggested), a patient reference
that is not a valid name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from rich.console import Console

from mesodrive.cli import records_cmd
from mesodrive.cli.exit_codes import ExitCode
from mesodrive.cli.tables import Column, cell, print_table
from mesodrive.records.course import (
    TOO_EARLY,
    Course,
    CourseSession,
    patient_course,
    similar_patients,
)


def register(action: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Add `course` to `records` (`action` is records_cmd's sub-parser factory)."""
    course = action("course", "a patient's course: every session (date, product, points, "
                              "volume, outcome), the interval since the previous one against "
                              "the product's recommendation, the cumulative volume")
    course.add_argument("patient", metavar="PATIENT",
                        help="the patient reference, as in the plan's patient_ref")
    course.set_defaults(func=run)


def patient_ref(text: str) -> str:
    """The reference as a plan stores it (NFKC, single spaces); _InputError if not a name."""
    # Here, not at the top: the plan package (pydantic, numpy) would slow every `records` command.
    from mesodrive.plan.text import normalise_name

    try:
        value = normalise_name(text)
    except ValueError as exc:
        raise records_cmd._InputError(f"patient {cell(text)!r}: {exc}") from None
    if not isinstance(value, str) or not value:
        raise records_cmd._InputError("patient: give a patient reference")
    return value


_COLUMNS = [Column("session", right=True), Column("date UTC"), Column("product"),
            Column("points", right=True), Column("µL", right=True), Column("status"),
            Column("days", right=True), Column("recommended"), Column("total µL", right=True),
            Column("timing", free=True)]


def _cells(s: CourseSession) -> list[str]:
    planned = "?" if s.points_planned is None else str(s.points_planned)
    timing = s.timing.upper() if s.timing == TOO_EARLY else s.timing
    if s.early_reason:
        timing += f" — reason: {s.early_reason}"
    return [str(s.session), s.started_at[:16].replace("T", " "), cell(s.product_id or "-"),
            f"{s.points_done}/{planned}", f"{s.volume_ul:.1f}", cell(s.status),
            "-" if s.days_since is None else str(s.days_since),
            s.recommended.describe() if s.recommended else "none", f"{s.cumulative_ul:.1f}",
            cell(timing)]


def print_course(console: Console, course: Course) -> None:
    for key in course.courses():
        rows = [_cells(s) for s in course.sessions if s.course == key]
        print_table(console, _COLUMNS, rows,
                    title=f"patient {cell(course.patient)}: {cell(key)} course")
        console.file.write(cell(course.summary(key)) + "\n")


@records_cmd._guarded
def run(args: argparse.Namespace) -> int:
    patient = patient_ref(args.patient)
    with records_cmd._open(args) as store:
        course = patient_course(store, patient)
        similar = similar_patients(store, patient) if not course.sessions else []
        records_cmd._warn_unverified(store.verify)
    if not course.sessions:
        hint = f" (did you mean {', '.join(repr(cell(r)) for r in similar)}?)" if similar else ""
        raise records_cmd._InputError(f"no sessions for patient {cell(patient)!r} in "
                                      f"{store.path}{hint}")
    print_course(Console(highlight=False), course)
    return ExitCode.OK
