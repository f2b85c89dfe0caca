"""The treatment service: start and resume treatments below every front end (CLI, web console).

A front end does only input and output; everything else is here, in the order a start needs it
(each step fails with a `TreatmentError` whose `kind` the front end turns into words and an
exit code or a page):

1. `load_plan(path)` reads the plan and its product library and validates them against
   `ANY_DEVICE` — with no device connected, so a plan or library error is never "not allowed on
   this device" and nothing is sent;
2. `check_records(create=True)` — the records path and key, before any device (nothing created);
3. `connect_device(url)`, then `latched_stop(inj)`: a latched e-stop or fault is refused before
   the screening and before a records session exists (`clear_device` clears it, on the record);
4. `validate_for_device(plan, inj)`: the device's capabilities ("not allowed on this device");
5. `choose_profile(inj)`: the newest valid calibration profile stored for this device
   (`treatment_profile`); a real device without one is refused (NO_PROFILE) unless a
   technician's override reason is given; the front end shows what will be applied;
6. the front end asks the contraindication screening and passes a `Screening`;
7. `start(...)` installs the profile in the driver, creates the records session (plan
   snapshot, device, calibration), records the screening, the profile and every soft-limit
   override as operator actions, and returns a `Treatment` (the run engine, with the front
   end's recovery policy). Without a choice from step 5 it makes the default one itself.

`prepare_resume(session)` + `resume(...)` continue a session a crashed host left open:
`controller.resume.settle_open_shots` settles every open shot by asking the device first; the
profile is chosen again (the newest valid one now) and recorded.

Operator actions carry the operator's name: the service's store stamps it on every action,
also on those the engine records (pause, resume, abort, e-stop, recovery answers).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

from mesodrive.controller.attribution import Actor
from mesodrive.controller.course_check import EARLY_ACTION, CourseCheck, check_course, read_course
from mesodrive.controller.device_connect import connect_device
from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunConfig, RunEngine
from mesodrive.controller.recovery import RecoveryPolicy, abort_policy
from mesodrive.controller.resume import ResumePoint, settle_open_shots
from mesodrive.controller.treatment_device import (
    ClearResult,
    DeviceStop,
    clear_device,
    latched_stop,
)
from mesodrive.controller.treatment_errors import (
    Failure,
    SessionEnded,
    TreatmentError,
    damaged_text,
)
from mesodrive.controller.treatment_estop import DeviceEstop, estop_device
from mesodrive.controller.treatment_profile import (
    DEFAULT_NEEDLE,
    ProfileChoice,
    find_profile,
    record_choice,
    today,
    unreachable,
)
from mesodrive.controller.treatment_records import SCREENING, OperatorRecords, Screening
from mesodrive.controller.treatment_run import Treatment
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState
from mesodrive.plan import (
    DeviceLimits,
    Plan,
    PlanError,
    PlanFileError,
    ProductLibrary,
    ValidatedPlan,
    load_library,
    load_plan,
    restore_snapshot,
    validate_plan,
)
from mesodrive.records import (
    DamagedRecordsError,
    RecordsError,
    RecordStore,
    SessionDetail,
    UnknownSessionError,
    db_path_problem,
)

__all__ = [
    "ANY_DEVICE",
    "DEFAULT_NEEDLE",
    "SCREENING",
    "ClearResult",
    "DeviceStop",
    "Failure",
    "PlanFile",
    "ProfileChoice",
    "Resumable",
    "Screening",
    "SessionEnded",
    "Treatment",
    "TreatmentError",
    "TreatmentService",
    "connect_device",
    "latched_stop",
]

# The widest device any plan could meet: validated against it, only the plan's and its product
# library's own rules can fail (the device's limits are checked once it is connected).
ANY_DEVICE = DeviceLimits(
    depth_min_mm=0.0, depth_max_mm=1e6, volume_min_ul=0.0, volume_max_ul=1e12,
    flow_min_ul_s=1e-9, flow_max_ul_s=1e12, speed_min_mm_s=1e-9, speed_max_mm_s=1e12,
    dwell_max_s=1e9, syringe_ul=1e12, timed=True, triggered=True,
    needle_accel_mm_s2=1e12, retract_speed_mm_s=1e12, approach_mm=0.0,
)


@dataclass(frozen=True)
class PlanFile:
    """A plan read from its file and valid against its product library (no device yet)."""

    path: Path
    plan: Plan
    library: ProductLibrary
    checked: ValidatedPlan  # against ANY_DEVICE: points, overrides, estimate for a preview


@dataclass(frozen=True)
class Resumable:
    """An open session whose recorded plan was restored and matches its hash."""

    session: int
    detail: SessionDetail
    plan: ValidatedPlan


class TreatmentService:
    """One records database and one operator; owns the record store it opens (`close`)."""

    def __init__(self, db: Path | str | None, *, operator: str | None = None) -> None:
        self.db = db
        self.operator = operator
        self._store: OperatorRecords | None = None
        self._profile_status: tuple[tuple[str, int, dt.date], ProfileChoice] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    @property
    def store(self) -> OperatorRecords:
        """The record store, opened on first use (after `check_records`)."""
        if self._store is None:
            try:
                self._store = OperatorRecords(self.db, operator=self.operator)
            except (DamagedRecordsError, sqlite3.DatabaseError) as exc:
                raise TreatmentError(Failure.RECORDS_DAMAGED, damaged_text(self.db, exc)) from exc
            except RecordsError as exc:
                raise TreatmentError(Failure.RECORDS_PATH, str(exc)) from exc
        return self._store

    # ----- checks before the device ----------------------------------------------------------
    @staticmethod
    def load_plan(path: Path) -> PlanFile:
        try:
            plan = load_plan(path)
            library = load_library((path.parent / plan.library).resolve())
        except PlanFileError as exc:
            raise TreatmentError(Failure.PLAN_FILE, f"cannot read plan {path}", issues=exc) from exc
        except PlanError as exc:
            raise TreatmentError(Failure.PLAN_INVALID, f"plan {path} is invalid", issues=exc) from exc
        except OSError as exc:
            raise TreatmentError(Failure.PLAN_FILE, f"cannot read {path}: {exc}") from exc
        try:
            checked = validate_plan(plan, library, ANY_DEVICE, base_dir=path.parent)
        except PlanError as exc:
            raise TreatmentError(Failure.PLAN_INVALID, f"plan {path} is invalid", issues=exc) from exc
        return PlanFile(path, plan, library, checked)

    def check_records(self, *, create: bool) -> None:
        """Could the records be opened at this path, with this key? Looks only."""
        if (problem := db_path_problem(self.db, create=create)) is not None:
            raise TreatmentError(Failure.RECORDS_PATH, problem)

    # ----- with the device -------------------------------------------------------------------
    @staticmethod
    def refuse_latched(inj: Injector) -> None:
        """TreatmentError(DEVICE_STOPPED) if the device holds a latched e-stop or fault."""
        stop = latched_stop(inj)
        if stop is not None:
            raise TreatmentError(Failure.DEVICE_STOPPED, f"the device {stop.serial} is "
                                 f"{stop.describe()}", stop=stop)

    @staticmethod
    def validate_for_device(plan: PlanFile, inj: Injector) -> ValidatedPlan:
        try:
            return validate_plan(plan.plan, plan.library, device_limits(inj.capabilities),
                                 base_dir=plan.path.parent)
        except PlanError as exc:
            raise TreatmentError(Failure.NOT_ALLOWED_ON_DEVICE, f"plan {plan.path} is not "
                                 f"allowed on this device", issues=exc) from exc

    def choose_profile(self, inj: Injector, *, needle: str = DEFAULT_NEEDLE,
                       override: str | None = None) -> ProfileChoice:
        """The calibration profile a treatment on `inj` will apply (looks only: nothing is
        installed or recorded). TreatmentError(NO_PROFILE) for a real device with no valid
        profile and no `override` reason; RECORDS_DAMAGED if a profile row is unreadable."""
        caps = inj.capabilities
        try:
            found = find_profile(self.db, caps.serial, needle)
            choice = ProfileChoice.of(caps, found, needle, override, self.db)
        except (RecordsError, sqlite3.DatabaseError) as exc:
            raise TreatmentError(Failure.RECORDS_DAMAGED, damaged_text(self.db, exc)) from exc
        self._profile_status = ((caps.serial, caps.boot_nonce, today()), choice)
        if choice.refused:
            raise TreatmentError(Failure.NO_PROFILE, choice.problem())
        return choice

    def profile_status(self, inj: Injector) -> ProfileChoice | None:
        """What `choose_profile` says for this device now (cached per device, boot and day),
        for a status line; None if it cannot be told. Never raises."""
        try:
            caps = inj.capabilities
            key = (caps.serial, caps.boot_nonce, today())
            if self._profile_status is None or self._profile_status[0] != key:
                found = find_profile(self.db, caps.serial, DEFAULT_NEEDLE)
                self._profile_status = (key, ProfileChoice.of(caps, found, DEFAULT_NEEDLE,
                                                              None, self.db))
            return self._profile_status[1]
        except Exception:  # noqa: BLE001 - a status line must never fail
            return None

    def start(self, vplan: ValidatedPlan, inj: Injector, screening: Screening, *,
              policy: RecoveryPolicy = abort_policy, source: str = "",
              config: RunConfig | None = None, profile: ProfileChoice | None = None,
              interval_reason: str | None = None,
              operator: str | None = None) -> Treatment:
        """The records session (plan snapshot, device, calibration, screening, overrides) and
        the engine, not yet running (`Treatment.run` or `Treatment.start`). `profile`: from
        `choose_profile` (None: chosen now, with the default needle and no override). A session
        too early in the patient's course (`course_check`) needs `interval_reason`, which is
        recorded. `operator`: who starts it, when not the service's operator (a console page's);
        they answer for the session's actions nobody else claims."""
        course, reason = self.course_check(vplan), (interval_reason or "").strip()
        if course.too_early and not reason:
            raise TreatmentError(Failure.COURSE_TOO_EARLY, f"{course.describe()}: a reason is "
                                 f"needed to treat now (it is recorded)")
        choice = profile if profile is not None else self.choose_profile(inj)
        if problems := unreachable(vplan.points, choice.profile, inj.capabilities):
            raise TreatmentError(Failure.NOT_ALLOWED_ON_DEVICE, "with its calibration, the "
                                 "plan is not allowed on this device:\n" + "\n".join(problems))
        inj.profile = choice.profile  # the driver's calibration hook: every shot from now on
        store = self.store
        operator = self.operator if operator is None else operator
        session = store.start_session(
            plan_snapshot={"plan": vplan.snapshot(), "points": [asdict(p) for p in vplan.points],
                           "source": source},
            plan_hash=vplan.plan_hash, product=vplan.product.model_dump(mode="json"),
            device=inj.capabilities.as_record(), calibration=choice.record(),
            mode=vplan.mode, operator=operator,
        )
        store.attributions.responsible(session, operator)
        store.record_action(session, "screening", screening.record_text(),
                            operator=screening.operator)
        if course.too_early:
            store.record_action(session, EARLY_ACTION, course.record_text(reason))
        for o in vplan.overrides:  # soft-limit breaches the plan justified: on the record
            where = f"point {o.point}" if o.point is not None else "plan"
            store.record_action(session, "override", f"{o.field} = {o.value} ({where}) beyond "
                                f"{o.limit}: {o.reason}")
        if choice.override:  # the technician's decision to treat uncalibrated
            record_choice(store, session, choice)
        engine = RunEngine(inj, vplan, store, session, policy=policy, config=config)
        return Treatment(engine, self.close)

    def course_check(self, vplan: ValidatedPlan) -> CourseCheck:
        """Where a session of this plan, starting now, falls in the patient's course."""
        try:
            course = read_course(self._store, self.db, vplan.plan.patient_ref)
        except (RecordsError, sqlite3.DatabaseError) as exc:
            raise TreatmentError(Failure.RECORDS_DAMAGED, damaged_text(self.db, exc)) from exc
        return check_course(course, vplan.product)

    def clear_device(self, inj: Injector, reason: str, *,
                     operator: str | None = None) -> ClearResult | None:
        """Clear a latched e-stop or fault, on the record (None: nothing is latched)."""
        if latched_stop(inj) is None:
            return None
        return clear_device(self.store, inj, reason,
                            self.operator if operator is None else operator)

    def estop_device(self, inj: Injector, by: Actor, why: str = "emergency stop") -> DeviceEstop:
        """An e-stop outside a run: the device first, then its record (`treatment_estop`)."""
        return estop_device(self.store, inj, by, why)

    # ----- resume ----------------------------------------------------------------------------
    def prepare_resume(self, session: int) -> Resumable:
        """Read the session and restore its recorded plan (no device yet)."""
        self.check_records(create=False)
        try:  # read-only first: a damaged file is reported as such, never written to
            with RecordStore(self.db, readonly=True) as reader:
                detail = reader.session(session)
        except UnknownSessionError as exc:
            raise TreatmentError(Failure.NO_SESSION, f"no session {session} in "
                                 f"{reader.path}") from exc
        except (RecordsError, sqlite3.DatabaseError) as exc:
            raise TreatmentError(Failure.RECORDS_DAMAGED, damaged_text(self.db, exc)) from exc
        if detail.status != "open":
            raise SessionEnded(session, detail.status)
        if detail.mode == "device":
            raise TreatmentError(Failure.NOT_RESUMABLE, f"session {session} records a device "
                                 f"action, not a treatment")
        try:
            # Re-validated, and refused if the stored plan no longer matches its hash.
            vplan = restore_snapshot(detail.plan_snapshot["plan"])
        except (PlanError, KeyError, TypeError) as exc:
            raise TreatmentError(Failure.NOT_RESUMABLE, f"cannot resume session {session} from "
                                 f"its recorded plan",
                                 issues=exc if isinstance(exc, PlanError) else None) from exc
        if vplan.plan_hash != detail.plan_hash:
            raise TreatmentError(Failure.NOT_RESUMABLE, f"session {session}'s plan hash "
                                 f"{vplan.plan_hash} differs from the recorded "
                                 f"{detail.plan_hash}: refusing to resume")
        return Resumable(session, detail, vplan)

    def resume(self, target: Resumable, inj: Injector, *, policy: RecoveryPolicy = abort_policy,
               config: RunConfig | None = None,
               profile: ProfileChoice | None = None,
               by: Actor | None = None) -> tuple[Treatment, ResumePoint]:
        """Settle every open shot by asking the device, then an engine that continues after
        them. A latched e-stop is refused (`refuse_latched`); a fault — a crashed host leaves
        LINK_LOST — is cleared, on the record (the engine re-homes). `profile` as for `start`.
        `by`: who resumes it, when not the service's operator; they answer for the rest of the
        session."""
        stop = latched_stop(inj)
        if stop is not None and stop.state is DeviceState.ESTOPPED:
            raise TreatmentError(Failure.DEVICE_STOPPED, f"the device {stop.serial} is "
                                 f"{stop.describe()}", stop=stop)
        choice = profile if profile is not None else self.choose_profile(inj)
        if problems := unreachable(target.plan.points, choice.profile, inj.capabilities):
            raise TreatmentError(Failure.NOT_RESUMABLE, "with its calibration now, the plan is "
                                 "not allowed on this device:\n" + "\n".join(problems))
        inj.profile = choice.profile
        store, session = self.store, target.session
        if by is not None:
            store.attributions.responsible(session, by.name)
        try:
            planned = {p.point: p.volume_ul for p in target.plan.points}
            state = settle_open_shots(store, session, inj, planned)
        except RecordsError as exc:
            raise TreatmentError(Failure.RECORDS_DAMAGED, str(exc)) from exc
        settled = (f"settled {len(state.settled)} open shot(s): "
                   + ", ".join(f"{r.index}={r.state}" for r in state.settled))
        store.record_action(session, "resume-after-crash", by.note(settled) if by else settled)
        record_choice(store, session, choice)
        if stop is not None:
            store.record_action(session, "clear-fault", f"on resume: {stop.describe()}")
            inj.clear_fault()
            inj.wait_state(DeviceState.IDLE, timeout=5)
        engine = RunEngine(inj, target.plan, store, session, policy=policy, config=config,
                           first_index=state.first_index, delivered=state.delivered,
                           uncertain=state.uncertain, partial=state.partial,
                           skipped=state.skipped)
        return Treatment(engine, self.close), state

