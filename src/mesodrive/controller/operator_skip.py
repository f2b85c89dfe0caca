"""Skipping a point on the operator's word, outside an alarm (the console's Skip control).

Only while the run is paused: then the needle is retracted, nothing is queued on the device
and nothing is in flight, so the point certainly was not (and will not be) injected by a shot
already sent. The skip is recorded before it takes effect, in the words `resume` reads back
("point N: reason"), so a resumed session keeps the point skipped. A point already given, cut
short or uncertain cannot be skipped (it is never injected again anyway): nothing is recorded.

The request is carried out by the run loop (the one writer of the book of points); the caller
waits for `done`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from mesodrive.controller.point_book import PointBook, PointStatus
from mesodrive.records import RecordStore


@dataclass
class SkipRequest:
    point: int
    reason: str
    done: threading.Event = field(default_factory=threading.Event)
    skipped: bool = False
    problem: str = ""  # why not, when not skipped


def skip_point(book: PointBook, store: RecordStore, session: int, request: SkipRequest) -> None:
    """Carry out `request` (on the run loop's thread, while paused) and set its `done`."""
    try:
        reason = request.reason.strip()
        try:
            status = book.status(request.point)
        except KeyError:
            request.problem = f"point {request.point} is not in the plan"
            return
        if not reason:
            request.problem = "skipping a point needs a reason (it is recorded)"
        elif status is not PointStatus.PENDING:
            request.problem = f"point {request.point} is {status.value}: nothing to skip"
        else:
            store.record_action(session, "skip", f"point {request.point}: {reason}")
            request.skipped = book.skip(request.point, reason)
    finally:
        request.done.set()


def refuse_skip(request: SkipRequest | None, why: str) -> None:
    """A request the run can no longer carry out (it left PAUSED, or ended)."""
    if request is not None and not request.done.is_set():
        request.problem = why
        request.done.set()
