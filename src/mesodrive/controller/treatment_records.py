"""What the treatment service puts on the record besides shots: the contraindication screening
(who confirmed what, when, and how) and the operator's name on every operator action."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

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
    terminal, or clicked in the console) or they were confirmed in advance by a flag
    (`flag`: `--yes`, nobody was asked during this run); `answer` is what was typed or which
    flag; `at` is when (UTC), before the records session that it then opens."""

    how: Literal["typed", "flag"]
    answer: str
    operator: str | None
    at: str = field(default_factory=_now)
    questions: tuple[str, ...] = SCREENING

    def record_text(self) -> str:
        if self.how == "typed":
            way = f"answered {self.answer!r} when asked at the terminal"
        else:
            way = f"confirmed in advance by the {self.answer} flag (not asked during the run)"
        who = self.operator if self.operator is not None else "an operator who gave no name"
        return (f"none of these applies: {'; '.join(self.questions)} — {way} by {who} "
                f"at {self.at}")


class OperatorRecords(RecordStore):
    """The record store with this operator's name on every operator action whose caller gives
    none: the engine records pause, resume, abort, e-stop and recovery answers without one."""

    def __init__(self, path: Path | str | None, *, operator: str | None) -> None:
        super().__init__(path)
        self.operator = operator

    def record_action(self, session_id: int, action: str, reason: str = "", *,
                      operator: str | None = None, sync: bool = True) -> None:
        super().record_action(session_id, action, reason,
                              operator=self.operator if operator is None else operator,
                              sync=sync)
