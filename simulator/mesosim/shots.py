"""Shot bookkeeping: what the firmware remembers (`ShotBook`) and what truly happened
(`ExecutedShot`, the simulator's ground truth for tests, calibration and logs)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from mesodrive.protocol.messages import QueueShot, RejectReason, ShotResult, ShotStatus

# PROTOCOL.md §12.4 asks for at least 4096; twice that costs nothing here.
RECORDS_KEPT = 8192


@dataclass
class ExecutedShot:
    """One shot that started moving (phase 2 began), with the TRUE outcome.

    ``true_*`` values come from the physics model (hidden errors, noise, faults included);
    ``reported_*`` are what the device sent in ``shot_result``. A shot cut short by power loss
    has ``power_lost`` set and no ``end_tick`` (the device never reported it).
    """

    boot_nonce: int
    session: int
    index: int
    trigger: int
    start_tick: int
    start_time: float
    depth_um: int  # commanded
    volume_nl: int  # commanded
    flow_nl_s: int
    speed_um_s: int
    dwell_ms: int
    end_tick: int | None = None
    end_time: float | None = None
    true_depth_um: float = 0.0  # deepest TRUE needle protrusion past the skin plane
    true_delivered_nl: float = 0.0  # liquid this shot pushed out of the needle (eventually)
    true_into_tissue_nl: float = 0.0  # of which left the needle while it was in tissue
    reported_depth_um: int = 0
    reported_delivered_nl: int = 0
    peak_pressure_pa: int = 0
    flags: int = 0  # ShotFlag bitmask as reported (0 if power was lost)
    injected: tuple[str, ...] = ()  # scheduled fault kinds that struck this shot
    power_lost: bool = False


@dataclass
class ShotRecord:
    """The firmware's memory of one (session, index) in the current boot."""

    params: QueueShot
    status: ShotStatus
    reason: RejectReason = RejectReason.NONE
    start_tick: int = 0
    result: ShotResult | None = None

    def same_params(self, other: QueueShot) -> bool:
        return self.params == other


class ShotBook:
    """Records of the last `RECORDS_KEPT` shots of this boot, oldest evicted first.

    A record still queued or executing is never evicted (the queue is tiny in comparison).
    ``max_index`` remembers, per session, the highest index ever queued (INDEX_ORDER); it is
    not subject to eviction.
    """

    def __init__(self, keep: int = RECORDS_KEPT) -> None:
        self._keep = keep
        self._records: OrderedDict[tuple[int, int], ShotRecord] = OrderedDict()
        self.max_index: dict[int, int] = {}
        self.last_started: dict[int, int] = {}
        self._evicted_max: dict[int, int] = {}  # per session: highest index evicted

    def __len__(self) -> int:
        return len(self._records)

    def get(self, session: int, index: int) -> ShotRecord | None:
        return self._records.get((session, index))

    def complete_above(self, session: int, index: int) -> bool:
        """True if no record of `session` at or above `index` was ever evicted, so a missing
        record there means the shot was never received."""
        return index > self._evicted_max.get(session, -1)

    def add(self, record: ShotRecord) -> None:
        key = (record.params.session, record.params.index)
        self._records[key] = record
        self._records.move_to_end(key)
        guard = len(self._records)
        while len(self._records) > self._keep and guard > 0:
            guard -= 1
            old_key, old = self._records.popitem(last=False)
            if old.status in (ShotStatus.QUEUED, ShotStatus.EXECUTING):
                self._records[old_key] = old  # still live: keep, try the next oldest
            else:
                top = self._evicted_max.get(old_key[0], -1)
                self._evicted_max[old_key[0]] = max(top, old_key[1])
        if record.status is ShotStatus.QUEUED:
            prev = self.max_index.get(key[0])
            if prev is None or key[1] > prev:
                self.max_index[key[0]] = key[1]
