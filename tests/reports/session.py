"""A real treated session for the report and course tests: the small 9-point skin plan on the
time-warped simulator, through the treatment service, with an air alarm (point 1 cut short,
retried), a planned refill skipped with a reason (point 4), and a reboot whose lost boot event
leaves the last shots uncertain (the run then aborts)."""

from __future__ import annotations

from pathlib import Path

from mesodrive.controller.recovery import (
    Answer,
    Decision,
    Problem,
    ProblemKind,
    RecoveryPolicy,
    ScriptedPolicy,
)
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import Screening, TreatmentService
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from tests.controller.conftest import write_plan

# Time-warped, but gently: at K× the device's "no shot after 100 ms of host silence" is
# 100/K ms of wall time, which a loaded machine (two cores, the suite on both) does not always
# keep at 10×.
SPEED = 3
EVENTFUL = (f"sim://?seed=4&realtime=1&speed={SPEED}&faults=air@1,reboot@7&lose_boot_event=1"
            "&nvm_journal=0")
CALM = f"sim://?seed=2&realtime=1&speed={SPEED}"
SKIP_REASON = "bruise at the site"


def plan_file(folder: Path, *, patient: str = "TEST", refill_ul: float | None = None,
              product: str = "skin-booster-ha") -> Path:
    path = write_plan(folder)
    text = path.read_text().replace('patient_ref = "TEST"', f'patient_ref = "{patient}"')
    text = text.replace('product = "skin-booster-ha"', f'product = "{product}"')
    if refill_ul is not None:
        text = text.replace('mode = "auto"', f'refill_ul = {refill_ul}\nmode = "auto"')
    path.write_text(text)
    return path


def treat(db: Path, plan: Path, *, device: str = CALM, interval_reason: str | None = None,
          policy: RecoveryPolicy | None = None) -> tuple[int, RunState]:
    """One session of `plan` into `db` (time-warped); returns (session, final state)."""
    with TreatmentService(db, operator="dr-r") as service:
        loaded = service.load_plan(plan)
        with Injector.connect(device, timebase=Timebase(SPEED)) as inj:
            vplan = service.validate_for_device(loaded, inj)
            treatment = service.start(vplan, inj, Screening("flag", "--yes", "dr-r"),
                                      policy=policy or ScriptedPolicy(), source=str(plan),
                                      interval_reason=interval_reason)
            return treatment.session, treatment.run().state


def eventful_session(folder: Path) -> tuple[Path, int]:
    """The records database (folder/records.db) and the eventful session's number."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "records.db"
    session, _ = treat(db, plan_file(folder, refill_ul=30), device=EVENTFUL,
                       policy=eventful_policy)
    return db, session


def eventful_policy(problem: Problem) -> Answer:
    """The operator of the eventful session, by what happened (not by the order of asking, so
    an extra alarm on a loaded machine cannot shift every answer): purge the air and go on,
    skip the point before the first refill, refill before the second, stop after a reboot."""
    if problem.kind is ProblemKind.AIR:
        return Answer(Decision.RETRY, "line purged")
    if problem.kind is ProblemKind.REFILL_DUE and problem.point == 4:
        return Answer(Decision.SKIP, SKIP_REASON)
    if problem.kind is ProblemKind.REFILL_DUE:
        return Answer(Decision.RETRY, "new syringe", refill_ul=5000)
    return Answer(Decision.ABORT, f"{problem.kind.value}: stop")
