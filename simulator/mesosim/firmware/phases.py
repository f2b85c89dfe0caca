"""Execution phases of a shot and of the device's other timed activities (PROTOCOL.md §12.3).

A shot moves through `Phase.INSERT` -> `DISPENSE` -> `DWELL` -> `RETRACT` (or is cut short:
`ABORTED`); `ActiveShot` is the firmware's view of the one shot in progress plus its link
into the truth log. Homing and priming are `Activity`s: timed, but not shots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from mesodrive.protocol.messages import QueueShot
from mesosim.shots import ExecutedShot, ShotRecord


class Phase(Enum):
    """Where the shot in progress is: each phase ends at `ActiveShot.phase_end`."""

    INSERT = "insert"  # phase 2: the needle moves to depth
    DISPENSE = "dispense"  # phase 3: the plunger pushes
    DWELL = "dwell"  # phase 4: the needle stays, the line relaxes into the tissue
    RETRACT = "retract"  # phase 5: the needle returns to park at maximum speed
    ABORTED = "aborted"  # cut short by the safe state: the needle is on its way out

    @property
    def in_tissue(self) -> bool:
        """The needle is (on its way) in the skin: contact matters, liquid goes to tissue."""
        return self in _IN_TISSUE


_IN_TISSUE = frozenset((Phase.INSERT, Phase.DISPENSE, Phase.DWELL))


class Activity(Enum):
    """A timed non-shot activity (ends at the device's ``_activity_end``)."""

    HOMING = "homing"
    PRIMING = "priming"


@dataclass
class ActiveShot:
    """The shot being executed (firmware view plus the links into the truth log)."""

    rec: ShotRecord
    q: QueueShot
    log: ExecutedShot
    start_tick: int
    k_true: float  # TRUE nL pushed per commanded nL (hidden gain/offset and noise)
    phase: Phase = Phase.INSERT
    phase_end: float = math.inf
    reached_dev_um: float = 0.0
    travel0: float = 0.0  # plunger travel (belief) when dispensing began
    encoder_nl: float = 0.0  # plunger travel of this shot (belief)
    p_int0: float = 0.0
    dispense_t0: float = 0.0
    peak_pa: float = 0.0
    flags: int = 0
    air_ratio: float | None = None  # measured/expected pressure integral when AIR was seen
    timers: dict[str, float] = field(default_factory=dict)  # injected fault moments
    disp0: float = 0.0  # line.displaced_nl at start
    air0: float = 0.0  # line.air_out_nl at start
    tissue0: float = 0.0  # line.liquid_out_nl when the needle entered
