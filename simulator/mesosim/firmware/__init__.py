"""The simulated injector firmware: bytes + simulated time in, bytes out (PROTOCOL.md, device side).

`SimDevice` (``mesosim.SimDevice`` / ``mesosim.firmware.SimDevice``) is the public class; it is
composed of small parts, one concept each:

| module | what it is |
|---|---|
| `device.py` | `SimDevice`: construction, the public API (bytes, time, sensors, power hooks) |
| `truth.py` | `DeviceTruth` (`SimDevice.truth`): the one read-only view of the device's truth |
| `core.py` | `FirmwareCore`: the shared state, output path, state register, sensors, seams |
| `power.py` | boot and power loss: nonce, device clock, volatile state, the NVM journal's boots |
| `timers.py` | the event loop: every pending event in one ordered list, `next_wakeup` |
| `safety.py` | dead-man, no start after silence, pressure persistence, contact, the safe state |
| `handlers.py` | receiving: frame -> message -> handler, the table keyed by message type |
| `queries.py` | the unsequenced handlers (link_sync, identify, clock, status, get_shot, estop) |
| `commands.py` | the sequenced command handlers (home, prime, arm, disarm, ...) |
| `admission.py` | queue_shot: the shot book's answers to repeats, the §12.2 check order |
| `execution.py` | a shot from the queue head to its shot_result; faults striking inside it |
| `phases.py` | `Phase` (insert, dispense, dwell, retract, aborted), `Activity`, `ActiveShot` |

Why these cuts. The parts share one state, as the modules of a real firmware share one MCU's
memory, so they are mixins over `FirmwareCore` (which declares every state field and, as
abstract methods, every call one part makes on another) rather than objects holding
references to each other: the state is not duplicated, and the byte-exact behaviour, which
depends on the order of every random draw and every emitted message, stays the very code it
was. The event list stays whole in `timers.py` instead of each part contributing its own
events, because the order of events at one instant is part of that byte-exact contract.
Message handlers are split by channel (queries / commands) with queue_shot apart, since
admission is the one handler with its own normative rules (§12.2, §12.4).
"""

from mesosim.firmware.device import SimDevice
from mesosim.firmware.phases import Phase
from mesosim.firmware.truth import BookEntry, DeviceTruth
from mesosim.shots import ExecutedShot

__all__ = ["BookEntry", "DeviceTruth", "ExecutedShot", "Phase", "SimDevice"]
