"""`mesodrive run`: where the new session falls in the patient's course, before the screening.

A session earlier than the product's recommended interval after the patient's previous one is
a warning that needs a reason: `--interval-reason TEXT`, or typed at the terminal (asked again
until given); without either (no terminal, or `--yes`) nothing starts (exit 2). The reason is
recorded with the session (`controller.course_check`). Otherwise a line says where the session
falls (first of the course, N days after session M, or that the product has no recommended
interval).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from mesodrive.cli import terminal
from mesodrive.cli.terminal import EndOfInput
from mesodrive.controller.course_check import CourseCheck
from mesodrive.controller.treatment import TreatmentService
from mesodrive.plan import ValidatedPlan

REFUSED = object()  # nothing starts: the caller exits with ExitCode.USAGE


def add_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval-reason", metavar="TEXT", default=None,
                   help="why this session starts earlier than the product's recommended "
                        "interval after the patient's previous one (recorded); asked at a "
                        "terminal when needed")


def interval_reason(service: TreatmentService, vplan: ValidatedPlan, args: argparse.Namespace,
                    console: Console, ask: Any) -> str | None | object:
    """The reason to give `TreatmentService.start` (None: none needed), or REFUSED.
    `ask` is the terminal's prompt (`Terminal.ask`). TreatmentError propagates (damaged
    records)."""
    check = service.course_check(vplan)
    console.print(Text(f"course: {check.describe()}"))
    if not check.too_early:
        return None
    given = (getattr(args, "interval_reason", None) or "").strip()
    console.print(Text("WARNING: earlier than the product's recommended interval; a reason is "
                       "needed and is recorded with the session", style="bold yellow"))
    if given:
        return given
    if getattr(args, "yes", False) or not terminal.interactive():
        print(f"error: {_refusal(check)}: give --interval-reason TEXT (recorded), or run in a "
              f"terminal; nothing was started", file=sys.stderr)
        return REFUSED
    try:
        return terminal.ask_text(ask, "reason for treating now (recorded): ")
    except EndOfInput:
        console.print("no reason given: nothing was done")
        return REFUSED


def _refusal(check: CourseCheck) -> str:
    interval = check.recommended.describe() if check.recommended else "?"
    return (f"this session is too early in patient {check.patient}'s {check.course} course "
            f"({check.days_since} days after session {check.previous}; recommended {interval})")
