"""The book of points: where every point of the plan stands, and the running totals.

A *point* is a place in the plan; a *shot* is one attempt to inject it, with its own never
reused index. Each point is in exactly one of: pending, in flight (a shot sent, not final),
delivered, cut short, uncertain (counted as delivered) or skipped. A final shot moves its
point by the one rule in `delivery.py`; a point whose shot was certainly not given goes back
to pending and is tried again only under a new index — so nothing is ever injected twice.

Why a book and not a few sets: every per-shot operation here is O(log n) at worst (a heap of
pending points, running totals), so a 2,000-point session costs the same per shot as a
9-point one. Whole-book views (`pending_points`, `summary`) are for state changes and the end.
"""

from __future__ import annotations

import enum
import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mesodrive.controller.delivery import Delivery, delivery
from mesodrive.controller.run_result import RunResult
from mesodrive.driver.shots import Shot

MAX_QUEUE = 255  # the most shots a device can hold queued (queue_len is a u8)


class PointStatus(enum.Enum):
    PENDING = "not done"
    IN_FLIGHT = "in flight"
    DELIVERED = "delivered"
    CUT_SHORT = "cut short"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class FinishedShot:
    index: int
    point: int
    shot: Shot
    delivery: Delivery


class PointBook:
    """Writes the outcome collections of `result` (its public face) and keeps the totals."""

    def __init__(self, planned_ul: Mapping[int, float], result: RunResult, *,
                 delivered: Mapping[int, float], uncertain: Iterable[int],
                 partial: Iterable[int], skipped: Mapping[int, str], recent: int) -> None:
        self.result = result
        self._planned = dict(planned_ul)
        self.planned_ul = sum(self._planned.values())
        self._status = dict.fromkeys(self._planned, PointStatus.PENDING)
        cut = set(partial)
        unsure = set(uncertain)
        # Earlier runs' outcomes (resume): a cut-short point arrives among `delivered` (with
        # the µL it got) and in `partial`; it is booked as cut short, not delivered.
        for point, ul in delivered.items():
            if point in cut:
                continue
            result.delivered[point] = ul
            if point in unsure:
                result.uncertain.add(point)
            self._status[point] = PointStatus.UNCERTAIN if point in unsure else PointStatus.DELIVERED
        for point in cut:
            result.partial.add(point)
            result.cut_short_ul[point] = delivered.get(point, 0.0)
            self._status[point] = PointStatus.CUT_SHORT
        for point, reason in skipped.items():
            if self._status.get(point, PointStatus.PENDING) is PointStatus.PENDING:
                result.skipped[point] = reason
                self._status[point] = PointStatus.SKIPPED
        self._heap = [p for p, s in self._status.items() if s is PointStatus.PENDING]
        heapq.heapify(self._heap)
        self._open = len(self._heap)  # pending + in flight
        self.given_ul = result.given_ul
        self._in_flight: dict[int, tuple[int, int]] = {}  # shot index -> (point, device session)
        self._index_point: dict[int, int] = {}  # every shot index sent -> its point
        # The last shots to become final since the device was armed, newest last: `recent`
        # (a device queue's length and some, e.g. MAX_QUEUE + 2) is enough to find the one a
        # fault struck — after it come at most a queue of cancelled ones — and it never holds
        # the whole session.
        self.recent: deque[FinishedShot] = deque(maxlen=recent)
        self.result.pending = self.pending_points()

    # ----- views ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._planned)

    def status(self, point: int) -> PointStatus:
        return self._status[point]

    def planned(self, point: int) -> float:
        return self._planned[point]

    @property
    def open_points(self) -> int:
        """Points not yet settled: pending or in flight."""
        return self._open

    @property
    def in_flight(self) -> dict[int, tuple[int, int]]:
        """shot index -> (point, device session), for shots sent and not yet final."""
        return self._in_flight

    def point_of(self, index: int) -> int | None:
        return self._index_point.get(index)

    def next_point(self) -> int | None:
        """The lowest pending point not already in flight (amortised O(log n))."""
        heap = self._heap
        while heap and self._status[heap[0]] is not PointStatus.PENDING:
            heapq.heappop(heap)
        return heap[0] if heap else None

    def pending_points(self) -> list[int]:
        """Every point not yet given, in order (in flight included). O(n log n): not per shot."""
        open_ = (PointStatus.PENDING, PointStatus.IN_FLIGHT)
        return sorted(p for p, s in self._status.items() if s in open_)

    def words(self, point: int) -> str:
        """The point's outcome as the records word it: "cut short: 0 of 10 µL", ..."""
        status = self._status[point]
        if status is PointStatus.CUT_SHORT:
            planned = self._planned.get(point)
            return (f"cut short: {_fmt(self.result.cut_short_ul.get(point, 0.0))} of "
                    + (f"{_fmt(planned)} µL" if planned is not None else "? µL"))
        if status is PointStatus.SKIPPED:
            return f"skipped: {self.result.skipped.get(point) or 'no reason given'}"
        if status is PointStatus.UNCERTAIN:
            return "uncertain (counted as delivered)"
        return str(status.value)

    # ----- changes -------------------------------------------------------------------------------
    def reserve(self, index: int, point: int) -> None:
        """Name the point of a shot index before it is journalled (and sent)."""
        self._index_point[index] = point

    def unreserve(self, index: int) -> None:
        """The shot was never sent: its index names nothing."""
        self._index_point.pop(index, None)

    def sent(self, index: int, point: int, device_session: int) -> None:
        self._in_flight[index] = (point, device_session)
        self._status[point] = PointStatus.IN_FLIGHT

    def finished(self, index: int, shot: Shot) -> FinishedShot:
        """A shot became final: book its point by the one rule."""
        point, _ = self._in_flight.pop(index)
        verdict = delivery(shot.state, shot.outcome)
        r = shot.outcome
        if verdict is Delivery.NOT_GIVEN:
            self._status[point] = PointStatus.PENDING
            heapq.heappush(self._heap, point)
        else:
            self._open -= 1
            if verdict is Delivery.CUT_SHORT:
                ul = r.delivered_ul if r is not None else 0.0
                self.result.partial.add(point)  # under-dosed: reported, never topped up
                self.result.cut_short_ul[point] = ul
                self._status[point] = PointStatus.CUT_SHORT
            else:
                ul = r.delivered_ul if r is not None else self._planned[point]
                if verdict is Delivery.UNCERTAIN:
                    self.result.uncertain.add(point)
                    self._status[point] = PointStatus.UNCERTAIN
                else:
                    self._status[point] = PointStatus.DELIVERED
                self.result.delivered[point] = ul
            self.given_ul += ul
        done = FinishedShot(index, point, shot, verdict)
        self.recent.append(done)
        return done

    def new_arm(self) -> None:
        """A new device session: a fault from now on struck one of the shots sent from now on."""
        self.recent.clear()

    def skip(self, point: int, reason: str) -> bool:
        """Skip a point that is still pending; False (nothing changes) for any other point:
        a point already given, cut short or uncertain is never injected again anyway."""
        if self._status.get(point) is not PointStatus.PENDING:
            return False
        self._status[point] = PointStatus.SKIPPED
        self.result.skipped[point] = reason
        self._open -= 1
        return True

    def summary(self) -> dict[str, object]:
        """The points part of the session's end summary (once, at the end)."""
        r = self.result
        return {
            "points": len(self._planned),
            "delivered": len(r.delivered),
            "uncertain": sorted(r.uncertain),
            "partial": sorted(r.partial),
            "cut_short": {str(p): self.words(p) for p in sorted(r.partial)},
            "skipped": {str(k): v for k, v in r.skipped.items()},
            "pending": self.pending_points(),
            "delivered_ul": round(self.given_ul, 3),
        }


def _fmt(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")
