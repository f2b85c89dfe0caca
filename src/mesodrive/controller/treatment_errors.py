"""Why a treatment could not start or resume: one `Failure` kind per cause, so that every front
end (the CLI's exit codes, the console's messages) maps causes, not message texts."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING

from mesodrive.records import RecordsError, RecordStore

if TYPE_CHECKING:
    from mesodrive.controller.treatment_device import DeviceStop
    from mesodrive.plan import PlanError


class Failure(enum.Enum):
    PLAN_FILE = "plan-file"  # the plan (or its library) cannot be read
    PLAN_INVALID = "plan-invalid"  # the plan breaks its product's limits or its own rules
    NOT_ALLOWED_ON_DEVICE = "not-allowed-on-device"  # beyond the connected device's capabilities
    RECORDS_PATH = "records-path"  # the records cannot be written (or read) at that path
    RECORDS_DAMAGED = "records-damaged"
    NO_SESSION = "no-session"
    NOT_RESUMABLE = "not-resumable"  # the recorded plan cannot be restored, or no treatment
    DEVICE = "device"  # cannot connect, or the device failed before anything started
    DEVICE_STOPPED = "device-stopped"  # a latched e-stop or fault: clear it first
    NO_PROFILE = "no-profile"  # a real device without a valid calibration profile
    COURSE_TOO_EARLY = "course-too-early"  # earlier than the product's interval, no reason given


class TreatmentError(Exception):
    """A treatment could not be started or resumed; nothing was sent to the device."""

    def __init__(self, kind: Failure, message: str, *, issues: PlanError | None = None,
                 stop: DeviceStop | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.issues = issues  # the plan's own messages (PLAN_* and NOT_ALLOWED_ON_DEVICE)
        self.stop = stop  # DEVICE_STOPPED: what is latched


class SessionEnded(TreatmentError):
    """`prepare_resume` of a session that already ended (`status`: completed, aborted, ...)."""

    def __init__(self, session: int, status: str) -> None:
        super().__init__(Failure.NOT_RESUMABLE, f"session {session} already ended: {status}")
        self.session, self.status = session, status



def damaged_text(db: Path | str | None, exc: Exception) -> str:
    if isinstance(exc, RecordsError):
        return str(exc)
    return f"{db or RecordStore.default_path()}: the records file is damaged: {exc}"
