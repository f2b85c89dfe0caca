"""One session exported as it is read (`RecordStore.export`): CSV or JSON, any length.

The chain's verification is asked for only where the export needs it (it may be running beside
the reading: `background.Verification`): for CSV at the end (its trailer), for JSON before the
shots list. A verified chain had every body parsed and found a JSON object, so the JSON export
then writes the shots' latest rows and the journal's bodies as stored instead of parsing and
serialising them again (the bulk of a long session's export); otherwise each is parsed, and a
row that is not what mesodrive writes is named.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, TextIO

from mesodrive.records import export, reading
from mesodrive.records.background import Verification
from mesodrive.records.models import (
    JournalEntry,
    KeyRequiredError,
    RawJournalEntry,
    VerifyResult,
)
from mesodrive.records.reading import SessionHeader

if TYPE_CHECKING:
    from mesodrive.records.store import RecordStore


def export_session(store: RecordStore, session_id: int, fmt: Literal["csv", "json"],
                   out: TextIO, places: export.Places | None, header: SessionHeader | None,
                   verification: Verification | None) -> VerifyResult:
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r} (csv or json)")
    if header is None or header.summary.id != session_id:
        header = store.session_header(session_id)
    pending = verification or Verification(store.verify, store.verify, beside=False)

    @functools.cache
    def check() -> VerifyResult:
        try:
            return pending.result()
        except KeyRequiredError as exc:
            return VerifyResult(False, 0, None, f"not verified: {exc}")

    if fmt == "csv":
        export.write_csv_rows(session_id, store.shot_keys(session_id), store.shots(session_id),
                              out, check, places)
        return check()
    journal = store.journal_rows(session_id)  # an unknown session fails here (read lazily)
    stream = store._stream_conn

    def shots() -> Iterator[str]:
        if check().ok:
            yield from reading.raw_shot_entries(stream, store.path, session_id)
        else:
            yield from (export.shot_line(r, t) for r, t in store.shots(session_id))

    def rows() -> Iterator[JournalEntry | RawJournalEntry]:
        if check().ok:
            yield from reading.raw_journal_rows(stream, store.path, session_id)
        else:
            yield from journal

    export.write_json_stream(header, store.point_outcomes(header), shots(), rows(), out, check,
                             places)
    return check()
