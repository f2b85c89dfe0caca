"""The hash chain: canonical row encoding, the row hash, and the verification walk.

Each journal row stores `prev_hash` (the previous row's `hash`, or GENESIS for row 1) and
`hash = sha256(canonical JSON of [prev_hash, id, ts, session, kind, body])`. Hashing the id makes
a reordered or renumbered row fail its own hash; chaining makes a rewritten row (content *and*
hash recomputed) visible at the next row; contiguous ids make a deleted row visible as a gap;
the store's `chain_head` record (updated in the same transaction as every append) makes a
deleted tail visible. None of this stops someone who rewrites the whole chain and the head:
that needs the head kept elsewhere (the `.heads` file, exports, `records verify` output, see
`anchor`) or a keyed chain (`hash = HMAC-SHA256(key, same material)`, see `keys`).

The walk also checks what the hash cannot: every body is JSON, every kind is known, session ids
start unique and increasing, and every row belongs to a session started before it (but a
calibration profile, which belongs to none: session 0). Session ids are derived from these
rows (max + 1), so a reset counter cannot make a session id come twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring as _quote  # how json.dumps(ensure_ascii=False) quotes
from typing import Any

from mesodrive.records.models import (
    KIND_PROFILE,
    KIND_SESSION_START,
    KINDS,
    PROFILE_SESSION,
    VerifyResult,
)

# Row 1 chains from this fixed value (sha256 of a constant string, so it is checkable by hand).
GENESIS = hashlib.sha256(b"mesodrive records genesis v1").hexdigest()

# (id, ts, session, kind, body, prev_hash, hash) as stored.
StoredRow = tuple[Any, Any, Any, Any, Any, Any, Any]


def utc_now() -> str:
    """UTC ISO-8601 with microseconds, e.g. 2025-01-02T03:04:05.123456+00:00."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    """The one encoding of a body: sorted keys, no whitespace, UTF-8, no NaN/Infinity (which
    JSON cannot carry and which would make the hash depend on a non-standard spelling)."""
    _reject_non_finite(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _reject_non_finite(value: Any, path: str = "body") -> None:
    # json.dumps(allow_nan=False) says only "Out of range float values"; name the field instead.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path} is {value!r}: records hold finite numbers only")
    if isinstance(value, dict):
        for k, v in value.items():
            _reject_non_finite(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _reject_non_finite(v, f"{path}[{i}]")


def row_hash(prev_hash: str, row_id: int, ts: str, session: int, kind: str, body: str,
             key: bytes | None = None) -> str:
    # A JSON array is an unambiguous framing of the fields (no separator can be forged).
    material = _material(prev_hash, row_id, ts, session, kind, body).encode("utf-8")
    if key is not None:
        return hmac.new(key, material, hashlib.sha256).hexdigest()
    return hashlib.sha256(material).hexdigest()


def _material(prev_hash: Any, row_id: Any, ts: Any, session: Any, kind: Any, body: Any) -> str:
    """`json.dumps([...], separators=(",", ":"), ensure_ascii=False)`, spelled out for the types
    the store writes (a third of the time of a whole chain's walk went into building an
    encoder per row); anything else, as a damaged row may hold, goes through `json.dumps`."""
    if (type(prev_hash) is str and type(row_id) is int and type(ts) is str
            and type(session) is int and type(kind) is str and type(body) is str):
        q = _quote
        return f"[{q(prev_hash)},{row_id},{q(ts)},{session},{q(kind)},{q(body)}]"
    return json.dumps([prev_hash, row_id, ts, session, kind, body], separators=(",", ":"),
                      ensure_ascii=False)


def verify_rows(rows: Iterable[StoredRow], head: tuple[int, str] | None, *,
                key: bytes | None = None, want: Collection[int] = ()) -> VerifyResult:
    """Walk the journal in id order and report the first bad row.

    `head` is the store's (last_id, last_hash) record; None when that record is missing.
    `key`: the HMAC key of a keyed chain. `want`: row ids whose hashes the result should carry
    (to compare with heads kept elsewhere).
    """
    expected_id, prev = 1, GENESIS
    good = 0
    last_session = 0
    started: set[int] = set()
    hashes: dict[int, str] = {0: GENESIS} if 0 in want else {}

    def bad(row: int | None, problem: str) -> VerifyResult:
        # Ids are contiguous up to the bad row, so exactly the rows before it are intact.
        return VerifyResult(ok=False, rows_checked=good if row is None else row - 1,
                            first_bad_row=row, problem=problem)

    for row_id, ts, session, kind, body, prev_hash, stored_hash in rows:
        if row_id != expected_id:
            if isinstance(row_id, int) and row_id > expected_id:
                span = "" if row_id == expected_id + 1 else f" (rows {expected_id}-{row_id - 1})"
                return bad(expected_id, f"row {expected_id} missing{span}: "
                                        f"row {row_id} follows row {expected_id - 1}")
            return bad(expected_id, f"row {expected_id} altered: its id was changed")
        try:
            computed = row_hash(prev_hash, row_id, ts, session, kind, body, key)
        except (TypeError, ValueError):  # a value of a type the store never writes
            computed = ""
        if computed != stored_hash:
            return bad(row_id, f"row {row_id} altered: its content does not match its hash")
        if prev_hash != prev:
            if row_id == 1:
                return bad(1, "row 1 altered: it does not chain from the genesis value")
            # This row is self-consistent, so the previous one was rewritten (content and hash).
            return bad(row_id - 1, f"row {row_id - 1} altered: its hash no longer matches "
                                   f"the link stored in row {row_id}")
        problem = _row_problem(row_id, session, kind, body, last_session, started)
        if problem:
            return bad(row_id, problem)
        if kind == KIND_SESSION_START:
            last_session = session
            started.add(session)
        if row_id in want:
            hashes[row_id] = stored_hash
        prev, expected_id, good = stored_hash, expected_id + 1, good + 1

    last_id = expected_id - 1
    if head is None:
        return bad(None, "the chain head record is missing (the database was altered)")
    head_id, head_hash = head
    if head_id > last_id:
        span = "" if head_id == last_id + 1 else f" (rows {last_id + 1}-{head_id})"
        return bad(last_id + 1, f"row {last_id + 1} missing{span}: the journal ends at row "
                                f"{last_id} but {head_id} rows were written")
    if head_id < last_id:
        return bad(head_id + 1, f"row {head_id + 1} was not written by mesodrive: the journal "
                                f"goes on past the recorded head (row {head_id})")
    if head_hash != prev:
        if last_id == 0:
            return bad(None, "the chain head record was altered")
        return bad(last_id, f"row {last_id} altered: its hash does not match the recorded head")
    return VerifyResult(ok=True, rows_checked=good, first_bad_row=None, problem="", head_hash=prev,
                        keyed=key is not None, hashes=hashes)


def _row_problem(row_id: int, session: Any, kind: Any, body: Any, last_session: int,
                 started: set[int]) -> str:
    """What is wrong with a row whose hash is right ("" if nothing): a row mesodrive would never
    have written, so one written by someone who could recompute the hash."""
    if kind not in KINDS:
        return f"row {row_id} damaged: unknown kind {kind!r}"
    try:
        parsed = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return f"row {row_id} damaged: its body is not a JSON object"
    if kind == KIND_PROFILE:  # a calibration profile belongs to no treatment session
        if session != PROFILE_SESSION or isinstance(session, bool):
            return (f"row {row_id} damaged: a calibration profile row with session "
                    f"{session!r} (profiles are kept outside sessions, as session "
                    f"{PROFILE_SESSION})")
        return ""
    if not isinstance(session, int) or isinstance(session, bool) or session < 1:
        return f"row {row_id} damaged: session {session!r} is not a session id"
    if kind == KIND_SESSION_START:
        if session <= last_session:
            return (f"row {row_id} starts session {session}, but session {last_session} started "
                    f"before it: session ids must be unique and increasing (a reused session "
                    f"id means the records were rewound)")
    elif session not in started:
        return f"row {row_id} belongs to session {session}, which was never started before it"
    return ""
