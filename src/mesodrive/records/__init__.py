"""Tamper-evident treatment records in SQLite (21 CFR Part 11 §11.10(e) style audit trail).

One append-only, hash-chained journal holds every record: session start and end, every state
change of every shot, alarms and operator actions. `RecordStore.verify` names the first altered
or missing row. Writes go through one writer thread (`sync=True` waits until the row is on disk:
a shot is persisted before it is sent); reads derive everything from the journal.

This layer imports nothing else of mesodrive: the controller maps driver shots to `ShotRow`.
"""

from mesodrive.records.chain import GENESIS
from mesodrive.records.models import (
    DELIVERED_STATES,
    SHOT_STATES,
    ActionEntry,
    AlarmEntry,
    JournalEntry,
    RecordsError,
    SessionDetail,
    SessionSummary,
    ShotRow,
    StoreClosedError,
    UnknownSessionError,
    VerifyResult,
    WriterFailedError,
)
from mesodrive.records.store import RecordStore
from mesodrive.records.writer import WriterStats

__all__ = [
    "DELIVERED_STATES",
    "GENESIS",
    "SHOT_STATES",
    "ActionEntry",
    "AlarmEntry",
    "JournalEntry",
    "RecordStore",
    "RecordsError",
    "SessionDetail",
    "SessionSummary",
    "ShotRow",
    "StoreClosedError",
    "UnknownSessionError",
    "VerifyResult",
    "WriterFailedError",
    "WriterStats",
]
