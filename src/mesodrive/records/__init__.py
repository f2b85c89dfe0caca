"""Tamper-evident treatment records in SQLite (21 CFR Part 11 §11.10(e) style audit trail).

One append-only, hash-chained journal holds every record: session start and end, every state
change of every shot, alarms and operator actions. `RecordStore.verify` names the first altered,
missing or damaged row, and checks heads kept outside the database (`anchor`: truncation,
rollback); an optional key makes the chain an HMAC chain (`keys`). Writes go through one writer
thread (`sync=True` waits until the row is on disk: a shot is persisted before it is sent);
reads derive everything from the journal. Calibration profiles are journal rows too (`profiles`):
a treatment applies the newest valid one and every shot row names it. Front ends call `check_db_path`/`db_path_problem`
before they connect to a device, and show `point_outcomes` to people.

This layer imports nothing else of mesodrive: the controller maps driver shots to `ShotRow`.
"""

from mesodrive.records.anchor import Head, heads_path, parse_head
from mesodrive.records.chain import GENESIS
from mesodrive.records.keys import KEY_FILE_ENV, key_from_env, load_key
from mesodrive.records.models import (
    DELIVERED_STATES,
    SHOT_STATES,
    ActionEntry,
    AlarmEntry,
    DamagedRecordsError,
    DbPathError,
    JournalEntry,
    KeyRequiredError,
    NoDatabaseError,
    RecordsError,
    SessionDetail,
    SessionSummary,
    ShotRow,
    StoreClosedError,
    UnknownSessionError,
    VerifyResult,
    WriterFailedError,
)
from mesodrive.records.outcomes import PointOutcome, point_outcomes
from mesodrive.records.paths import check_db_path
from mesodrive.records.preflight import db_path_problem
from mesodrive.records.profiles import (
    NewProfile,
    ProfileLookup,
    StoredProfile,
    UnknownProfileError,
    select_profile,
)
from mesodrive.records.store import RecordStore
from mesodrive.records.writer import WriterStats

__all__ = [
    "DELIVERED_STATES",
    "GENESIS",
    "KEY_FILE_ENV",
    "SHOT_STATES",
    "ActionEntry",
    "AlarmEntry",
    "DamagedRecordsError",
    "DbPathError",
    "Head",
    "JournalEntry",
    "KeyRequiredError",
    "NewProfile",
    "NoDatabaseError",
    "PointOutcome",
    "ProfileLookup",
    "RecordStore",
    "RecordsError",
    "SessionDetail",
    "SessionSummary",
    "ShotRow",
    "StoreClosedError",
    "StoredProfile",
    "UnknownProfileError",
    "UnknownSessionError",
    "VerifyResult",
    "WriterFailedError",
    "WriterStats",
    "check_db_path",
    "db_path_problem",
    "heads_path",
    "key_from_env",
    "load_key",
    "parse_head",
    "point_outcomes",
    "select_profile",
]
