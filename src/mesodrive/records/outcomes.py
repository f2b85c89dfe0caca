"""What happened at each point, in the words a clinician reads.

A shot's row state is the driver's vocabulary ("done" also for a shot the device cut short or
stopped at the contact check); a treatment record must say what the patient received. One
line per *point* (shot numbers drift away from point numbers as soon as a shot is re-sent
after a pause), with one of:

    delivered · cut short: X of Y µL · skipped: reason · not done · uncertain · not settled

"uncertain" counts as delivered (DOMAIN.md: never re-injected, assumed given). "not settled"
is a shot still open in a session that has not ended (a crashed run; `resume` settles it).

The flag bits are the device's ShotResult flags (firmware_protocol/messages.toml); the records
layer may not import the protocol, so the few it needs are named here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mesodrive.records.models import ActionEntry, SessionDetail, SessionSummary, ShotRow

FLAG_WORDS = {1: "stopped by the device", 2: "occlusion", 4: "air in the line",
              8: "contact lost", 16: "stall", 32: "under-delivered", 64: "syringe empty"}
FLAG_ABORTED, FLAG_UNDER_DELIVERED = 1, 32
# Below the commanded volume by more than this share (without a flag) is still cut short;
# within it is the plunger's step quantisation.
SHORT_TOLERANCE = 0.01

DELIVERED, CUT_SHORT, SKIPPED, NOT_DONE, UNCERTAIN, NOT_SETTLED = (
    "delivered", "cut short", "skipped", "not done", "uncertain", "not settled")
COUNTS_AS_DELIVERED = frozenset({DELIVERED, CUT_SHORT, UNCERTAIN})


def _num(m: Mapping[str, Any] | None, key: str) -> float:
    value = (m or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def counts_delivered(state: str, measured: Mapping[str, Any] | None) -> bool:
    """Is this (latest) shot state the point's delivery? Uncertain is; done is, unless the
    device refused it at the contact check (stopped before the needle moved)."""
    if state == "uncertain":
        return True
    if state != "done":
        return False
    flags = int(_num(measured, "flags"))
    never_moved = (bool(flags & FLAG_ABORTED) and _num(measured, "delivered_ul") == 0
                   and _num(measured, "reached_depth_mm") == 0)
    return not never_moved


def commanded_ul(row: ShotRow) -> float | None:
    """The volume the device was told to give (its own units, like `delivered_ul`)."""
    nl = row.commanded.get("volume_nl")
    if isinstance(nl, (int, float)) and not isinstance(nl, bool):
        return float(nl) / 1000
    ul = row.requested.get("volume_ul")
    return float(ul) if isinstance(ul, (int, float)) else None


def is_cut_short(row: ShotRow) -> bool:
    if row.state != "done" or row.measured is None:
        return False
    if int(_num(row.measured, "flags")) & (FLAG_ABORTED | FLAG_UNDER_DELIVERED):
        return True
    want = commanded_ul(row)
    return want is not None and _num(row.measured, "delivered_ul") < want * (1 - SHORT_TOLERANCE)


def flag_words(measured: Mapping[str, Any] | None) -> str:
    flags = int(_num(measured, "flags"))
    return ", ".join(w for bit, w in FLAG_WORDS.items() if flags & bit)


@dataclass(frozen=True)
class PointOutcome:
    point: int
    outcome: str  # one of the words above
    text: str  # the outcome in full: "cut short: 12.5 of 20 µL (occlusion)"
    shots: tuple[int, ...]  # shot numbers sent for this point, in order
    depth_mm: float | None  # planned (requested) depth
    reached_mm: float | None
    planned_ul: float | None
    delivered_ul: float  # what counts as given (the planned volume when uncertain)
    peak_kpa: float | None

    @property
    def counts_delivered(self) -> bool:
        return self.outcome in COUNTS_AS_DELIVERED


def _fmt(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


class SessionFacts(Protocol):
    """What the outcomes need of a session besides its shots: a `SessionDetail`, or the
    header of a session that is read as a stream (`records.reading.SessionHeader`)."""

    @property
    def summary(self) -> SessionSummary: ...
    @property
    def plan_snapshot(self) -> dict[str, Any]: ...
    @property
    def end_summary(self) -> dict[str, Any] | None: ...
    @property
    def actions(self) -> list[ActionEntry]: ...


def _skips(detail: SessionFacts) -> dict[int, str]:
    """point -> reason, from the skip actions (and the end summary, if one was written)."""
    out: dict[int, str] = {}
    summary = detail.end_summary or {}
    skipped = summary.get("skipped") if isinstance(summary, dict) else None
    if isinstance(skipped, dict):
        for k, v in skipped.items():
            if str(k).lstrip("-").isdigit():
                out[int(k)] = str(v)
    for a in detail.actions:
        if a.action == "skip" and a.reason.startswith("point "):
            number, _, reason = a.reason[len("point "):].partition(":")
            if number.strip().isdigit():
                out[int(number)] = reason.strip()
    return out


def _planned(detail: SessionFacts) -> dict[int, Mapping[str, Any]]:
    """point number -> planned point, from the snapshot's list (points without a number are
    not guessed at: they show up through their shots only)."""
    points = detail.plan_snapshot.get("points")
    out: dict[int, Mapping[str, Any]] = {}
    if isinstance(points, list):
        for p in points:
            if isinstance(p, dict) and isinstance(p.get("point"), int):
                out[p["point"]] = p
    return out


def point_outcomes(detail: SessionDetail) -> list[PointOutcome]:
    """One outcome per point: every planned point and every point a shot was sent for."""
    by_point = sorted(detail.shots, key=lambda r: r.point)  # stable: by shot number within
    return list(stream_point_outcomes(detail, by_point))


def stream_point_outcomes(session: SessionFacts,
                          shots_by_point: Iterable[ShotRow]) -> Iterator[PointOutcome]:
    """`point_outcomes`, one point at a time, from the latest row of each shot ordered by point
    and then by shot number (as `RecordStore.point_outcomes` reads them): only one point's
    shots are held at a time."""
    planned = _planned(session)
    skips = _skips(session)
    open_session = session.summary.status == "open"
    without_shots = iter(sorted(set(planned) | set(skips)))
    nxt = next(without_shots, None)
    last: int | None = None
    for point, rows in itertools.groupby(shots_by_point, key=lambda r: r.point):
        if last is not None and point <= last:
            raise ValueError(f"shots not ordered by point: {point} after {last}")
        last = point
        while nxt is not None and nxt < point:
            yield _outcome(nxt, [], planned.get(nxt, {}), skips.get(nxt), open_session)
            nxt = next(without_shots, None)
        if nxt == point:
            nxt = next(without_shots, None)
        yield _outcome(point, rows, planned.get(point, {}), skips.get(point), open_session)
    while nxt is not None:
        yield _outcome(nxt, [], planned.get(nxt, {}), skips.get(nxt), open_session)
        nxt = next(without_shots, None)


def _outcome(point: int, rows: Iterable[ShotRow], plan: Mapping[str, Any], skip: str | None,
             open_session: bool) -> PointOutcome:
    rows = list(rows)
    given = [r for r in rows if counts_delivered(r.state, r.measured)]
    last = given[-1] if given else (rows[-1] if rows else None)
    planned_ul = (last.requested.get("volume_ul") if last else None) or plan.get("volume_ul")
    depth = (last.requested.get("depth_mm") if last else None) or plan.get("depth_mm")
    delivered = sum(r.delivered_ul for r in given)
    if any(r.state == "uncertain" for r in given):
        why = next(r.reason for r in given if r.state == "uncertain")
        outcome, text = UNCERTAIN, "uncertain" + (f": {why}" if why else "") + \
            " (counted as delivered)"
    elif any(is_cut_short(r) for r in given):
        short = next(r for r in given if is_cut_short(r))
        want = commanded_ul(short)
        words = flag_words(short.measured)
        outcome = CUT_SHORT
        text = (f"cut short: {_fmt(delivered)} of {_fmt(want or 0.0)} µL"
                + (f" ({words})" if words else ""))
    elif given:
        outcome, text = DELIVERED, DELIVERED
    elif skip is not None or any(r.state == "skipped" for r in rows):
        reason = skip if skip is not None else next(r.reason for r in rows if r.state == "skipped")
        outcome, text = SKIPPED, f"skipped: {reason or 'no reason given'}"
    elif open_session and any(r.state in ("pending", "accepted") for r in rows):
        outcome, text = NOT_SETTLED, ("not settled: the run stopped before its outcome was "
                                      "known (`mesodrive resume` settles it)")
    else:
        outcome, text = NOT_DONE, NOT_DONE + _why_not(last)
    m = (last.measured if last is not None else None) or {}
    reached = m.get("reached_depth_mm")
    peak = m.get("peak_kpa", m.get("peak_pressure_kpa"))
    return PointOutcome(
        point=point, outcome=outcome, text=text, shots=tuple(r.index for r in rows),
        depth_mm=_opt(depth), reached_mm=_opt(reached), planned_ul=_opt(planned_ul),
        delivered_ul=round(delivered, 6), peak_kpa=_opt(peak))


def _why_not(last: ShotRow | None) -> str:
    if last is None:
        return ""
    if last.state == "done":  # counts_delivered said no: stopped before the needle moved
        return ": stopped by the device before the needle moved"
    words = {"rejected": "refused by the device", "cancelled": "cancelled",
             "not_received": "never reached the device", "pending": "never sent",
             "accepted": "queued, then not fired"}.get(last.state, last.state)
    return f": {words}" + (f" ({last.reason})" if last.reason else "")


def _opt(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
