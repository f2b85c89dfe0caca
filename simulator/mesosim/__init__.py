"""mesosim: the simulated mesodrive injector — firmware in Python, speaking PROTOCOL.md.

It imports nothing of `mesodrive` above `mesodrive.protocol`. See ``README.md`` next to this
file for the hidden defaults, the fault syntax and how to drive it.
"""

from mesosim.config import SimConfig
from mesosim.device_faults import FAULT_KINDS, FaultSchedule, parse_shot_faults
from mesosim.firmware import BookEntry, DeviceTruth, SimDevice
from mesosim.link_faults import LinkFaults
from mesosim.physics import Axis, DeviceClock, LineModel, Move, move_duration
from mesosim.shots import ExecutedShot, ShotBook, ShotRecord

__all__ = [
    "FAULT_KINDS",
    "Axis",
    "BookEntry",
    "DeviceClock",
    "DeviceTruth",
    "ExecutedShot",
    "FaultSchedule",
    "LineModel",
    "LinkFaults",
    "Move",
    "ShotBook",
    "ShotRecord",
    "SimConfig",
    "SimDevice",
    "move_duration",
    "parse_shot_faults",
]
