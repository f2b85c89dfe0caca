"""What a transport drives: a `ByteDevice` — bytes and a simulated clock in, bytes out.

The simulated firmware (`mesosim.firmware.SimDevice`) is one; `LinkFaultManipulator` wraps one
and is one too, so every transport works the same with or without link faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mesosim.config import SimConfig


@runtime_checkable
class ByteDevice(Protocol):
    """A deterministic device: it changes only when written to or advanced.

    `now` is simulated seconds. `advance_to(t)` simulates every internal event up to `t`
    (`t >= now`); `write` hands it host bytes at the current `now`; `read` drains what it has
    sent since the last read; `next_wakeup` is the simulated time of its next internal event
    (None: nothing happens until the host writes), so a runner can sleep until then.
    """

    @property
    def now(self) -> float: ...

    def write(self, data: bytes) -> None: ...

    def advance_to(self, t: float) -> None: ...

    def read(self) -> bytes: ...

    def next_wakeup(self) -> float | None: ...


def build_device(config: SimConfig | None = None) -> ByteDevice:
    """The simulated injector for `config`, behind a link fault manipulator when the
    config asks for link faults (both directions' probabilities all zero: no wrapper)."""
    from mesosim.config import SimConfig
    from mesosim.firmware import SimDevice
    from mesosim.transports.faults import LinkFaultManipulator, faults_active

    config = config if config is not None else SimConfig()
    device: ByteDevice = SimDevice(config)
    if faults_active(config.host_to_device) or faults_active(config.device_to_host):
        device = LinkFaultManipulator(
            device, config.host_to_device, config.device_to_host, seed=config.seed
        )
    return device


def inner_device(device: ByteDevice) -> ByteDevice:
    """The innermost device under any wrappers (for truth such as `executed_log`)."""
    while True:
        inner = getattr(device, "device", None)
        if inner is None or inner is device:
            return device
        device = inner
