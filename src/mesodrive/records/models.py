"""What the records hold, as plain frozen values: a shot row, session summaries, verify results.

These types are the records' own (the layer imports nothing of mesodrive): the controller maps
the driver's `Shot` snapshots onto `ShotRow`, so the journal format never follows driver internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Every state a shot row may be journalled in; the driver's ShotState values plus "skipped"
# (the controller's: a point the operator skipped, never sent).
SHOT_STATES = frozenset(
    {"pending", "accepted", "done", "rejected", "cancelled", "not_received", "uncertain", "skipped"}
)
# States that count as delivered (DOMAIN.md: an uncertain shot is assumed delivered).
DELIVERED_STATES = frozenset({"done", "uncertain"})

# Journal row kinds.
KIND_SESSION_START = "session_start"
KIND_SESSION_END = "session_end"
KIND_SHOT = "shot"
KIND_ALARM = "alarm"
KIND_ACTION = "action"
# A calibration profile (records/profiles.py): chained like every row, but in no treatment
# session (its session column is PROFILE_SESSION, which no session_start ever takes).
KIND_PROFILE = "calibration_profile"
PROFILE_SESSION = 0
KINDS = frozenset({KIND_SESSION_START, KIND_SESSION_END, KIND_SHOT, KIND_ALARM, KIND_ACTION,
                   KIND_PROFILE})


class RecordsError(Exception):
    """Base of the records' own errors."""


class UnknownSessionError(RecordsError, KeyError):
    """No session with that id in the database."""

    def __init__(self, session_id: int) -> None:
        super().__init__(f"no session {session_id}")
        self.session_id = session_id

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class NoDatabaseError(RecordsError, FileNotFoundError):
    """Reading a records database that does not exist (looking never creates one)."""


class DbPathError(RecordsError):
    """The records path cannot be used as asked (a folder, read-only, another program's file...).

    Raised before anything is opened, created or changed."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class DamagedRecordsError(RecordsError):
    """The records file cannot be read back: a dropped table, damaged pages, a row that is not
    what mesodrive writes. Nothing is guessed: the reader stops and says so."""


class KeyRequiredError(RecordsError):
    """A keyed chain cannot be written or verified without its key (or with another key)."""


class StoreClosedError(RecordsError):
    """A write on a closed (or read-only) store."""


class WriterFailedError(RecordsError):
    """The writer could not commit: rows may be missing, so the caller must stop treating."""


@dataclass(frozen=True)
class ShotRow:
    """One state of one shot (a new row per change; the latest row per index is the truth)."""

    index: int
    point: int
    state: str
    reason: str
    requested: dict[str, float]  # depth_mm, volume_ul, flow_ul_s, speed_mm_s, dwell_s
    # depth_um, volume_nl, flow_nl_s, speed_um_s, dwell_ms, fire_tick, profile
    commanded: dict[str, float | int | str | None]
    # reached_depth_mm, delivered_ul, start_tick, end_tick, peak_pressure_kpa, flags
    measured: dict[str, float | int] | None
    boot_nonce: int
    # The stored calibration profile the driver applied to this shot (its journal row id);
    # None: none (the identity), and in rows written before profiles were stored.
    profile_id: int | None = None

    def __post_init__(self) -> None:
        # Caught in the caller's thread, not later in the writer where nobody could react.
        if self.state not in SHOT_STATES:
            raise ValueError(f"unknown shot state {self.state!r}")

    def to_body(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "point": self.point,
            "state": self.state,
            "reason": self.reason,
            "requested": dict(self.requested),
            "commanded": dict(self.commanded),
            "measured": None if self.measured is None else dict(self.measured),
            "boot_nonce": self.boot_nonce,
            "profile_id": self.profile_id,
        }

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ShotRow:
        return cls(
            index=int(body["index"]),
            point=int(body["point"]),
            state=str(body["state"]),
            reason=str(body.get("reason", "")),
            requested=dict(body.get("requested") or {}),
            commanded=dict(body.get("commanded") or {}),
            measured=None if body.get("measured") is None else dict(body["measured"]),
            boot_nonce=int(body.get("boot_nonce", 0)),
            profile_id=None if body.get("profile_id") is None else int(body["profile_id"]),
        )

    @property
    def delivered_ul(self) -> float:
        """Volume this row counts as delivered: measured when done; requested when uncertain
        (assume delivered, DOMAIN.md); zero otherwise."""
        measured = None if self.measured is None else self.measured.get("delivered_ul")
        return delivered_volume(self.state, measured, self.requested.get("volume_ul"))


def delivered_volume(state: str, measured_ul: float | None, requested_ul: float | None) -> float:
    """What a shot in `state` counts as delivered: the measured volume when done (requested if
    none was measured); the requested volume when uncertain (assume delivered, DOMAIN.md)."""
    if state == "done" and measured_ul is not None:
        return float(measured_ul)
    if state in DELIVERED_STATES:
        return float(requested_ul or 0.0)
    return 0.0


@dataclass(frozen=True)
class JournalEntry:
    """One journal row as stored (body parsed)."""

    id: int
    ts: str
    session: int
    kind: str
    body: dict[str, Any]
    prev_hash: str
    hash: str


class RawJournalEntry(NamedTuple):
    """One journal row with its body as the JSON text it is stored as (not parsed); a named
    tuple, built straight from the cursor's row (a long session's export makes 30,000)."""

    id: int
    ts: str
    session: int
    kind: str
    body_text: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AlarmEntry:
    id: int
    ts: str
    code: str
    detail: str


@dataclass(frozen=True)
class ActionEntry:
    id: int
    ts: str
    action: str
    reason: str
    operator: str | None


@dataclass(frozen=True)
class SessionSummary:
    id: int
    started_at: str
    ended_at: str | None
    status: str  # "open" until end_session (a crashed run stays open until resumed and ended)
    patient_ref: str | None
    product_id: str | None
    plan_hash: str
    mode: str
    device_session: int
    points_done: int  # distinct points with a delivered (done or uncertain) shot
    points_planned: int | None
    volume_delivered_ul: float
    uncertain_shots: int


@dataclass(frozen=True)
class SessionDetail:
    summary: SessionSummary
    plan_snapshot: dict[str, Any]
    product: dict[str, Any]
    device: dict[str, Any]
    calibration: dict[str, Any]
    operator: str | None
    end_summary: dict[str, Any] | None
    shots: list[ShotRow]  # latest row per index, by index
    shot_times: dict[int, str]  # index -> timestamp of its latest row
    alarms: list[AlarmEntry] = field(default_factory=list)
    actions: list[ActionEntry] = field(default_factory=list)

    @property
    def shot_profiles(self) -> dict[str, int]:
        """How many shots were given with each calibration profile ("none": without one)."""
        counts: dict[str, int] = {}
        for row in self.shots:
            key = "none" if row.profile_id is None else str(row.profile_id)
            counts[key] = counts.get(key, 0) + 1
        return counts

    # The summary's headline fields, directly on the detail (detail.status, detail.plan_hash).
    @property
    def id(self) -> int:
        return self.summary.id

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def plan_hash(self) -> str:
        return self.summary.plan_hash

    @property
    def mode(self) -> str:
        return self.summary.mode

    @property
    def device_session(self) -> int:
        return self.summary.device_session

    @property
    def started_at(self) -> str:
        return self.summary.started_at

    @property
    def ended_at(self) -> str | None:
        return self.summary.ended_at


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    first_bad_row: int | None  # journal id of the first altered row, or of the first missing one
    problem: str  # "" when ok; else e.g. "row 57 altered: ..." / "row 58 missing: ..."
    head_hash: str = ""  # when ok: the last row's hash; kept elsewhere, it pins the whole chain
    keyed: bool = False  # the chain was checked with its HMAC key
    notes: tuple[str, ...] = ()  # what else was checked, e.g. the heads recorded beside the file
    # Hashes of the rows asked for (anchor checks), as found by the walk.
    hashes: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def head(self) -> str:
        """ROWS:HASH when ok: the value to keep elsewhere and give to `--expect-head` later."""
        return f"{self.rows_checked}:{self.head_hash}" if self.ok else ""
