"""What the treatment service puts on the record besides shots: the contraindication screening
(who confirmed what, when, and how) and the operator's name on every operator action."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from mesodrive.controller.attribution import Attributions
from mesodrive.records import RecordStore

# DOMAIN.md: the contraindications a console should ask about.
SCREENING = (
    "pregnancy or breast-feeding",
    "bleeding disorders or anticoagulants",
    "active skin infection at the site",
    "autoimmune disease",
    "known allergy to an ingredient of the product",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Screening:
    """The operator's confirmation that none of `questions` applies to the patient.

    `how` says whether a person answered the questions (`typed`: the answer typed at a
    terminal; `console`: each item ticked in the web console) or they were confirmed in
    advance by a flag (`flag`: `--yes`, nobody was asked during this run); `answer` is what was
    typed, which flag, or what the page showed; `at` is when (UTC), before the records session
    that it then opens."""

    how: Literal["typed", "console", "flag"]
    answer: str
    operator: str | None
    at: str = field(default_factory=_now)
    questions: tuple[str, ...] = SCREENING

    def record_text(self) -> str:
        if self.how == "typed":
            way = f"answered {self.answer!r} when asked at the terminal"
        elif self.how == "console":
            way = f"each item ticked in the web console ({self.answer})"
        else:
            way = f"confirmed in advance by the {self.answer} flag (not asked during the run)"
        who = self.operator if self.operator is not None else "an operator who gave no name"
        return (f"none of these applies: {'; '.join(self.questions)} — {way} by {who} "
                f"at {self.at}")


class OperatorRecords(RecordStore):
    """The record store with an operator's name on every operator action whose caller gives
    none: the engine records pause, resume, abort, e-stop and recovery answers without one.
    The name is the action's claimant, else the session's responsible operator, else this
    store's `operator` (`controller.attribution`)."""

    def __init__(self, path: Path | str | None, *, operator: str | None) -> None:
        super().__init__(path)
        self.operator = operator
        self.attributions = Attributions()

    def record_action(self, session_id: int, action: str, reason: str = "", *,
                      operator: str | None = None, sync: bool = True) -> None:
        if operator is None:
            operator, reason = self.attributions.resolve(session_id, action, reason,
                                                         self.operator)
        super().record_action(session_id, action, reason, operator=operator, sync=sync)
